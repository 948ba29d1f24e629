from __future__ import annotations

from bisect import bisect_right
from itertools import chain, compress
from math import isfinite
from operator import and_, ne

from ..batch import Batch
from ..model import Metric, Record, Severity
from . import register
from .base import Reports, Rule, fmt


@register
class ValBetterThanTrain(Rule):
    """Validation loss clearly below the training loss, evaluation after evaluation, or exactly 0.

    From the `start`-th evaluation on, fires (as information) when the validation loss is
    below `ratio` times the latest training loss at `hold` consecutive evaluations, or when a
    validation loss is exactly 0 (UMLAUT's "validation suspiciously good" check, on losses).

    ## Why is this bad?
    A model is rarely better on data it has not seen. A validation loss far below the
    training loss can mean validation samples leaked into training, the validation set is
    easier or tiny, or the two losses are computed differently (train with dropout,
    augmentation or label smoothing; validation without).

    ## Example
    ```
    Epoch 5: train_loss 0.912  val_loss 0.301
    Epoch 6: train_loss 0.887  val_loss 0.295
    Epoch 7: train_loss 0.871  val_loss 0.290
    ```

    ## Fix
    Check that train and validation sets are disjoint (deduplicate by content, split by
    source/patient/user, not by row), and compare both losses under the same conditions
    (evaluate the training set in eval mode).

    ## Options
    - `ratio` (default 0.5): validation/training ratio below which it is suspicious.
    - `hold` (default 3): consecutive suspicious evaluations.
    - `start` (default 3): evaluations to skip at the start (UMLAUT checks from epoch 3).

    ## False positives
    Strong regularisation (dropout, heavy augmentation, mixup) makes the training loss
    legitimately higher; that is why this is information only.
    """

    id = "val-better-than-train"
    category = "overfitting"
    severity = Severity.info
    wants = frozenset({"loss", "val_loss"})
    options = {"ratio": 0.5, "hold": 3, "start": 3}

    def __init__(self, **options):
        super().__init__(**options)
        self.train: float | None = None
        self.evals = 0
        self.count = 0
        self.first: Record | None = None
        self.reports = Reports()
        self.fired = False

    def observe_batch(self, b: Batch):
        if self.fired:
            return
        if b.columns is not None:
            yield from self._observe_columns(b)
            return
        l_rows, _, l_values, _ = b.series("loss") if "loss" in b.roles else ((), (), (), ())
        li = 0                            # losses before li are already in self.train
        evals = first_per_row(*b.series("val_loss")[:3]) if "val_loss" in b.roles else ()
        for i, name, val in zip(*evals):
            # the latest finite training loss up to this row (a loss on the row itself counts)
            end = bisect_right(l_rows, i, li)
            train = _last_finite(l_values, li, end)
            if train is not None:
                self.train = train
            li = end
            if not self.reports.is_new_at(b.pattern[i], b.epoch[i], b.step[i], b.text[i]):
                continue
            self.evals += 1
            if val == 0.0 and self.evals > 1:
                self.fired = True
                yield self.finding(b.record(i), f"{name} is exactly 0 at {b.position(i)}: suspiciously perfect",
                                   metric=name)
                return
            train = self.train
            if self.evals < self.opt["start"] or train is None or train <= 0:
                continue
            if val < self.opt["ratio"] * train:
                self.count += 1
                self.first = self.first or b.record(i)
            else:
                self.count, self.first = 0, None
            if self.count >= self.opt["hold"]:
                self.fired = True
                yield self.finding(
                    self.first, f"{name} ({fmt(val)}) is below half the training loss "
                                f"({fmt(train)}) at {self.count} consecutive evaluations: check for "
                                "leakage or a different loss in evaluation", evidence=[b.record(i)], metric=name)
                return
        train = _last_finite(l_values, li, len(l_values))
        if train is not None:
            self.train = train

    def _observe_columns(self, b: Batch):
        """`observe_batch` on a batch over BlockColumns: the same loop over the evaluations,
        reading their rows and the training losses from arrays (no list column built)."""
        import numpy as np

        c = b.columns
        l_rows, l_values, ok = columns_losses(b, train_only=False)
        li = 0                            # losses before li are already in self.train
        evals = first_per_row(*b.series("val_loss")[:3]) if "val_loss" in b.roles else ()
        for i, name, val in zip(*evals):
            # the latest finite training loss up to this row (a loss on the row itself counts)
            end = int(np.searchsorted(l_rows, i, "right"))
            train = columns_last_ok(l_values, ok, li, end)
            if train is not None:
                self.train = train
            li = end
            if not self.reports.is_new_at(*columns_report_key(c, i)):
                continue
            self.evals += 1
            if val == 0.0 and self.evals > 1:
                self.fired = True
                rec = columns_record(b, i)
                yield self.finding(rec, f"{name} is exactly 0 at {rec.position()}: suspiciously perfect",
                                   metric=name)
                return
            train = self.train
            if self.evals < self.opt["start"] or train is None or train <= 0:
                continue
            if val < self.opt["ratio"] * train:
                self.count += 1
                self.first = self.first or columns_record(b, i)
            else:
                self.count, self.first = 0, None
            if self.count >= self.opt["hold"]:
                self.fired = True
                yield self.finding(
                    self.first, f"{name} ({fmt(val)}) is below half the training loss "
                                f"({fmt(train)}) at {self.count} consecutive evaluations: check for "
                                "leakage or a different loss in evaluation", evidence=[columns_record(b, i)],
                    metric=name)
                return
        train = columns_last_ok(l_values, ok, li, len(l_rows))
        if train is not None:
            self.train = train


def first_per_row(rows: list[int], names: list[str], values: list[float], name_ok=None) -> tuple:
    """(rows, names, values) of the first finite entry of each row of a metric series (whose
    name passes `name_ok`), selected column by column."""
    ok = list(map(isfinite, values))
    if name_ok is not None:
        ok = list(map(and_, ok, map(name_ok, names)))
    if not all(ok):
        rows, names, values = (list(compress(c, ok)) for c in (rows, names, values))
    first = list(map(ne, rows, chain((-1,), rows)))      # rows are in order: repeats are adjacent
    if not all(first):
        rows, names, values = (list(compress(c, first)) for c in (rows, names, values))
    return rows, names, values


def _last_finite(values: list[float], start: int, end: int) -> float | None:
    """The last finite value of values[start:end], or None."""
    for k in range(end - 1, start - 1, -1):
        if isfinite(values[k]):
            return values[k]
    return None


# ---- rows of a batch over BlockColumns (logdoc.columns), read without building its lists
#
# A rule that only reads a few rows of a big NumPy batch (evaluations) reads them here: each
# value is the one the materialised column would hold at that row (tests/test_fast_*.py).

def columns_rows(b: Batch, roles) -> list[int]:
    """Rows with a metric of one of `roles`, in order (`Batch.rows_for` for roles only), from
    the batch's `np_series` (shared with the other rules that read them)."""
    import numpy as np

    got = [b.np_series(r)[0] for r in roles if r in b.roles]
    if not got:
        return []
    return np.unique(np.concatenate(got) if len(got) > 1 else got[0]).tolist()


def columns_text(c, i: int) -> str:
    """Row i's text (BlockColumns.texts for one row, without decoding the whole block)."""
    extra = c.extra
    if extra:
        text = extra.get(i)
        if text is not None:
            return text
    return c.src[int(c.text_start[i]):int(c.text_end[i])].decode("latin-1").rstrip()


def columns_counter(c, name: str, i: int):
    """Row i's epoch, epoch_total, step or step_total: a float, or None when unknown."""
    values, known = c.counters[name]
    return None if known is not None and not known[i] else float(values[i])


def columns_report_key(c, i: int) -> tuple:
    """(pattern, epoch, step, text) of row i: what `Reports.is_new_at` reads."""
    a = c.attrs[c.rc[i]]
    return (None if a is None else a[0], columns_counter(c, "epoch", i), columns_counter(c, "step", i),
            columns_text(c, i))


def columns_record(b: Batch, i: int) -> Record:
    """`b.record(i)` on a batch over BlockColumns, reading only this row's text (not the
    whole block's); kept in the batch's record cache like `b.record` keeps it, so the same
    row is the same Record (a finding quotes a record once)."""
    rec = b._records.get(i)
    if rec is None:
        rec = b._records[i] = _columns_record(b.columns, i)
    return rec


def _columns_record(c, i: int) -> Record:
    pattern, family, event, phase, agg, epoch_base, step_base = c.attrs[c.rc[i]]
    rec = Record(line=int(c.line[i]), text=columns_text(c, i), pattern=pattern, family=family,
                 event=event, phase=phase, agg=agg, epoch_base=epoch_base, step_base=step_base,
                 epoch=columns_counter(c, "epoch", i), epoch_total=columns_counter(c, "epoch_total", i),
                 step=columns_counter(c, "step", i), step_total=columns_counter(c, "step_total", i))
    lo, hi = c.m_row.searchsorted((i, i + 1)).tolist()      # (metric_span in one call)
    meta = c.meta
    rec.metrics = [Metric(*meta[k][:2], v, *meta[k][2:])
                   for k, v in zip(c.m_meta[lo:hi].tolist(), c.m_value[lo:hi].tolist())]
    return rec


def columns_losses(b: Batch, train_only: bool):
    """(rows, values, ok) of the batch's loss series as arrays, `ok` the indexes of its finite
    values (of training-phase rows with `train_only`), for `columns_last_ok`."""
    import numpy as np

    if "loss" not in b.roles:
        empty = np.zeros(0, np.int64)
        return empty, np.zeros(0), empty
    rows, values = b.np_series("loss")
    ok = np.isfinite(values)
    if train_only:
        c = b.columns
        if not all(a is None or a[3] == "train" for a in c.attrs):   # (usually all train)
            train = np.array([a is not None and a[3] == "train" for a in c.attrs], bool)
            ok &= train[c.rc[rows]]
    return rows, values, np.flatnonzero(ok)


def columns_last_ok(values, ok, start: int, end: int):
    """The value at the last index of `ok` in start..end-1 (a float), or None."""
    import numpy as np

    k = int(np.searchsorted(ok, end)) - 1
    if k >= 0 and ok[k] >= start:
        return float(values[ok[k]])
    return None
