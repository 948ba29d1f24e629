"""What a rule is: a small stateful observer of the record stream.

A rule sees the records in batches (`observe_batch`, see logdoc.batch) and may emit
findings; at end of input the engine calls `finish` for verdicts that need the whole run.
A rule may instead implement `observe(rec)`, one record at a time: the default
`observe_batch` then calls it for each record the rule wants. Rules on frequent roles (loss,
grad_norm, lr) implement `observe_batch` and loop over plain columns, because per-record
objects cost more than the rule itself on a long log. State lives on the instance and
must stay bounded (counters, short windows), because `watch` feeds a live stream of any
length through the same rules. The class docstring is the rule's documentation: a summary
line, then the sections in DOC_SECTIONS (rendered by `logdoc explain`, checked by tests).
"""
from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from itertools import chain, compress, repeat
from math import isfinite, isnan
from operator import eq, ne, or_
from typing import TYPE_CHECKING, ClassVar

from ..model import Evidence, Finding, Record, Severity

if TYPE_CHECKING:
    from ..batch import Batch

DOC_SECTIONS = ("What it does", "Why is this bad?", "Example", "Fix", "Options", "False positives")


class Rule:
    id: ClassVar[str]                       # kebab-case, reads well as "allow <id>"
    category: ClassVar[str]                 # one of model.CATEGORIES
    severity: ClassVar[Severity] = Severity.warning
    options: ClassVar[dict] = {}            # name -> default value
    # The roles (and "event" for event lines) this rule reads; the engine routes only such
    # records to it. None: every record.
    wants: ClassVar[frozenset[str] | None] = None

    def __init__(self, **options):
        unknown = set(options) - set(self.options)
        if unknown:
            raise ValueError(f"rule {self.id}: unknown option(s) {', '.join(sorted(unknown))}")
        self.opt = {**self.options, **options}

    def observe_batch(self, batch: "Batch") -> Iterable[Finding]:
        """Default: `observe` for each record of the batch this rule wants."""
        if type(self).observe is Rule.observe:
            raise NotImplementedError(f"rule {self.id} implements neither observe nor observe_batch")
        for i in batch.rows_for(self.wants):
            yield from self.observe(batch.record(i))

    def observe(self, rec: Record) -> Iterable[Finding]:
        """Default: a batch of this one record."""
        from ..batch import Batch

        return self.observe_batch(Batch.from_records([rec]))

    def finish(self) -> Iterable[Finding]:
        return ()

    def finding(self, rec: Record, message: str, *, evidence: Iterable[Record] = (),
                metric: str | None = None, tags: Iterable[str] = ()) -> Finding:
        """A finding located at `rec`, quoting it first and then any further evidence."""
        quoted = [rec, *[e for e in evidence if e is not rec]]
        return Finding(rule=self.id, category=self.category, severity=self.severity,
                       message=message, line=rec.line,
                       evidence=[Evidence(r.line, r.text) for r in quoted],
                       epoch=rec.epoch, step=rec.step, metric=metric, tags=frozenset(tags))

    # ---- documentation
    @classmethod
    def summary(cls) -> str:
        return (cls.__doc__ or "").strip().splitlines()[0].strip() if cls.__doc__ else ""

    @classmethod
    def doc_sections(cls) -> dict[str, str]:
        """Split the docstring into {section title: body}; the summary is 'What it does'."""
        import inspect

        text = inspect.cleandoc(cls.__doc__ or "")
        parts = re.split(r"^## (.+)$", text, flags=re.M)
        sections = {"What it does": parts[0].strip()}
        for title, body in zip(parts[1::2], parts[2::2]):
            sections[title.strip()] = body.strip()
        return sections


def fmt(value: float) -> str:
    """A number as a log would show it: 0.0, 1.92, 3.3e-05, inf, nan."""
    if value != value:
        return "nan"
    if value in (float("inf"), float("-inf")):
        return "inf" if value > 0 else "-inf"
    text = repr(float(value))
    return text if len(text) <= 10 else f"{value:.6g}"


# ---- helpers shared by the rules (they read roles, never a framework's spelling)

def train_loss(rec: Record):
    """The training loss a record reports, or None.

    A record may carry several loss-role metrics (components such as `loss_cls`, `loss_box`
    beside their total). The total of non-negative components is the largest of them, so the
    largest value stands for the record; a non-finite one wins, because it poisons the total.
    """
    global _last_train_loss
    if _last_train_loss[0] is rec:        # several rules ask about the same record in a row
        return _last_train_loss[1]
    result = None
    if rec.phase == "train":
        losses = [m for m in rec.metrics if m.role == "loss"]
        if losses:
            bad = [m for m in losses if not m.finite]
            result = bad[0] if bad else max(losses, key=lambda m: m.value)
    _last_train_loss = (rec, result)
    return result


_last_train_loss: tuple = (None, None)


def is_final(rec: Record) -> bool:
    """True when the record is at the last step or epoch the log announced."""
    if rec.step is not None and rec.step_total:
        return rec.step >= rec.step_total
    if rec.epoch is not None and rec.epoch_total:
        return rec.epoch >= rec.epoch_total
    return False


def position_key(rec: Record):
    """Epoch and step of a record; (None, None) when the log gives neither."""
    return (rec.epoch, rec.step)


def loss_label(name: str) -> str:
    """`train_loss` stays itself; a bare `loss` becomes `training loss`."""
    return name if "train" in name.lower() else f"training {name}"


class Hold:
    """A condition that must hold for `n` consecutive reports before it counts (Prometheus'
    `for:`): `update` returns True once per episode, on the report that completes it; a report
    where the condition fails ends the episode. `first` is the record where the episode began.

    `update_at(holds, batch, i)` is the same for row i of a batch: the first row is kept as
    (batch, row) and only turned into a Record when `first` is read (for a finding)."""

    __slots__ = ("n", "_first", "count", "fired")

    def __init__(self, n: int):
        self.n = n
        self._first = None
        self.count = 0
        self.fired = False

    @property
    def first(self) -> Record | None:
        first = self._first
        if first is None or isinstance(first, Record):
            return first
        batch, i = first
        return batch.record(i)

    def update(self, holds: bool, rec: Record) -> bool:
        return self._update(holds, rec)

    def update_at(self, holds: bool, batch: "Batch", i: int) -> bool:
        return self._update(holds, (batch, i)) if holds or self._first is not None else False

    def _update(self, holds: bool, where) -> bool:
        if not holds:
            self._first, self.count, self.fired = None, 0, False
            return False
        if self._first is None:
            self._first = where
        self.count += 1
        if self.count >= self.n and not self.fired:
            self.fired = True
            return True
        return False


class Reports:
    """Tells a new report of a series from a reprint of the last one, and per-epoch series
    from per-step ones.

    With a step, a report is new when the (epoch, step) changes: progress bars redraw the
    same step several times. Without a step, lines of the same epoch are separate reports
    unless the line is repeated verbatim (many loops print per-batch losses with the epoch
    only). A series is per-epoch as long as every new report is at a new, whole epoch
    without a step.

    With `one_series`, only records of the first pattern that reports are followed: a log
    that prints per-step losses and per-epoch averages on different lines holds two series
    whose values must not be mixed.
    """

    __slots__ = ("pos", "text", "per_epoch", "count", "one_series", "pattern")

    def __init__(self, one_series: bool = False):
        self.pos = None
        self.text: str | None = None
        self.per_epoch = True
        self.count = 0
        self.one_series = one_series
        self.pattern: str | None = None

    def state(self) -> tuple:
        return (self.one_series, self.pattern, self.pos, self.text, self.per_epoch, self.count)

    def restore(self, state: tuple) -> None:
        self.one_series, self.pattern, self.pos, self.text, self.per_epoch, self.count = state

    def is_new(self, rec: Record) -> bool:
        return self.is_new_at(rec.pattern, rec.epoch, rec.step, rec.text)

    def is_new_at(self, pattern: str, epoch, step, text: str) -> bool:
        """`is_new` from a batch's columns (no Record needed)."""
        if self.one_series:
            if self.pattern is None:
                self.pattern = pattern
            elif pattern != self.pattern:
                return False
        pos = (epoch, step)
        if epoch is None and step is None:
            new = True
        elif step is not None:
            new = pos != self.pos
        else:
            new = pos != self.pos or text != self.text
        if new:
            if (step is not None or epoch is None or not float(epoch).is_integer()
                    or (self.pos is not None and epoch == self.pos[0])):
                self.per_epoch = False     # fractional epochs (HF's 2.47) are per-step reports
            self.count += 1
        self.pos, self.text = pos, text
        return new


def near_start(rec: Record) -> bool:
    """The record is in the first epoch and the first 1000 steps (or does not say)."""
    return (rec.epoch is None or rec.epoch <= 1) and (rec.step is None or rec.step <= 1000)


def significant_digits(value: float) -> int:
    """Significant digits of the shortest repr: a proxy for the printed precision."""
    mantissa = repr(abs(value)).lower().split("e")[0].replace(".", "").lstrip("0")
    return len(mantissa)


# ---- reports in bulk (shared by the loss-* rules)

_NEVER = object()      # a report key equal to no other


def new_finite_losses(reports: Reports, b: "Batch"):
    """`new_reports` over the batch's finite training losses: (rows, values, n_epoch).

    The loss rules judge finite values only (non-finite ones are the nonfinite rule's); the
    filtered lists are kept on the batch, so every rule passes the same lists and
    `new_reports` can answer the rules that follow in the same state from its memo. A batch
    over BlockColumns is answered from its arrays (`new_finite_losses_np`) when it can be."""
    if b.columns is not None:
        got = new_finite_losses_np(reports, b)
        if got is not None:
            rows, values, n_epoch = got
            return rows.tolist(), values.tolist(), n_epoch
    got = b.memo.get("finite_train_loss")
    if got is None:
        rows, _, values = b.train_loss()
        if rows and not isfinite(sum(values)):     # (a finite sum: every value is finite)
            keep = list(map(isfinite, values))
            rows, values = list(compress(rows, keep)), list(compress(values, keep))
        got = b.memo["finite_train_loss"] = (rows, values)
    rows, values = got
    if not rows:
        return [], [], 0
    return new_reports(reports, b, rows, values)


def new_reports(reports: Reports, b: "Batch", rows: list[int], values: list[float]):
    """`reports.is_new_at` for every row of `rows` (batch rows, in order), in bulk.

    Returns (rows, values) of the new reports (`values` runs parallel to `rows`) and how many
    of the first new ones still saw `reports.per_epoch` True; `reports` is left as the
    row-by-row calls leave it. A report is new when its position differs from the previous
    row's, or, without a step, its text does; a row with neither epoch nor step is always
    new.
    """
    if len(rows) <= _FEW:               # a live stream's batch: the plain calls cost less
        return _new_reports_few(reports, b, rows, values)
    # Several loss rules follow the same series from the same state: the first one's answer
    # is remembered on the batch and replayed to the others. The key holds the input lists
    # themselves (compared by identity, kept alive) and the whole state of `reports`.
    state = reports.state()
    memo = b.memo.setdefault("new_reports", [])
    for seen_rows, seen_values, seen_state, answer, end_state in memo:
        if seen_rows is rows and seen_values is values and seen_state == state:
            reports.restore(end_state)
            kept_rows, kept_values, n_epoch = answer
            return list(kept_rows), list(kept_values), n_epoch
    answer = _new_reports_bulk(reports, b, rows, values)
    if len(memo) < 8:
        memo.append((rows, values, state, answer, reports.state()))
    kept_rows, kept_values, n_epoch = answer
    return list(kept_rows), list(kept_values), n_epoch


def _new_reports_bulk(reports: Reports, b: "Batch", rows: list[int], values: list[float]):
    if reports.one_series:
        if reports.pattern is None:
            reports.pattern = b.pattern[rows[0]]
        same = list(map(eq, map(b.pattern.__getitem__, rows), repeat(reports.pattern)))
        if False in same:
            rows, values = list(compress(rows, same)), list(compress(values, same))
            if not rows:
                return [], [], 0
    epoch, step, text = b.epoch, b.step, b.text
    n = len(rows)
    pos = reports.pos
    fresh = pos is None or (pos[0] is None and pos[1] is None)
    # Positions compared field by field, no tuple per row. The tuple path takes what that
    # cannot: missing epochs, steps on some rows only, nan (a tuple finds the same nan object
    # equal to itself).
    steps = step[rows[0]] is not None
    try:
        simple = not isnan(sum(map(epoch.__getitem__, rows))) and (
            not isnan(sum(map(step.__getitem__, rows))) if steps
            else list(map(step.__getitem__, rows)).count(None) == n)
    except (TypeError, OverflowError):   # a None among numbers
        simple = False
    if simple:
        # New: another step (or, without steps, another text) than the row before, or the
        # same one at another epoch. The first test settles most rows; the epoch is read
        # where it does not.
        if steps:
            pe, ps = (_NEVER, _NEVER) if fresh else pos
            get, prev = step.__getitem__, ps
        else:
            pe = _NEVER if fresh or pos[1] is not None else pos[0]
            get, prev = text.__getitem__, reports.text
        flags = list(map(ne, map(get, rows), chain((prev,), map(get, rows))))
        same = flags.count(False)
        if same * 8 > n:
            get = epoch.__getitem__
            flags = list(map(or_, flags, map(ne, map(get, rows), chain((pe,), map(get, rows)))))
        elif same:
            k = -1
            for _ in range(same):
                k = flags.index(False, k + 1)
                flags[k] = epoch[rows[k]] != (epoch[rows[k - 1]] if k else pe)
    else:
        keys = [(e, s) if s is not None else ((e, None, text[i]) if e is not None else j)
                for j, (i, e, s) in enumerate(zip(rows, map(epoch.__getitem__, rows),
                                                  map(step.__getitem__, rows)))]
        if fresh:
            prev = _NEVER
        else:
            prev = pos if pos[1] is not None else (pos[0], None, reports.text)
        flags = list(map(ne, keys, chain((prev,), keys)))
    n_epoch = 0
    if reports.per_epoch:
        last_epoch = pos[0] if pos is not None else _NEVER
        for i, is_new in zip(rows, flags):
            e = epoch[i]
            if is_new:
                if (step[i] is not None or e is None or not float(e).is_integer()
                        or (last_epoch is not _NEVER and e == last_epoch)):
                    reports.per_epoch = False
                    break
                n_epoch += 1
            last_epoch = e
    last = rows[-1]
    reports.pos, reports.text = (epoch[last], step[last]), text[last]
    if False in flags:
        rows, values = list(compress(rows, flags)), list(compress(values, flags))
    reports.count += len(rows)
    return rows, values, n_epoch


_FEW = 4


def loss_name_at(b: "Batch", i: int) -> str:
    """The name of the training loss that batch row i reports (`b.train_loss`)."""
    rows, names, _ = b.train_loss()
    return names[bisect_left(rows, i)]


def _new_reports_few(reports: Reports, b: "Batch", rows: list[int], values: list[float]):
    """`new_reports` for a few rows, one `is_new_at` call each."""
    is_new_at, pattern, epoch, step, text = reports.is_new_at, b.pattern, b.epoch, b.step, b.text
    keep, kept_values, n_epoch, counting = [], [], 0, reports.per_epoch
    for i, v in zip(rows, values):
        if is_new_at(pattern[i], epoch[i], step[i], text[i]):
            keep.append(i)
            kept_values.append(v)
            if counting and reports.per_epoch:
                n_epoch += 1
            else:
                counting = False
    return keep, kept_values, n_epoch


# ---- the same in NumPy, for batches over BlockColumns (big blocks of the vector parser)
#
# Building a list column of such a batch (b.text, b.epoch, b.pattern...) costs more than a loss
# rule's own work, so the new reports are found from the arrays: pattern codes (`rc`), the
# counter arrays, and the texts' spans in the block. Only the cases the list code settles
# field by field are taken (every followed row with a finite epoch, and a step on all or none
# of them); others return None and the list code answers, from the untouched state.

def finite_losses_np(b: "Batch"):
    """(rows int64, values float64, row codes, codes) of `b.train_loss()`'s finite values,
    from a columns batch's arrays; None when some record holds two losses (the list code
    merges them). Row codes (`b.columns.rc` of each row) index `b.columns.attrs`; `codes`
    lists those of the batch's loss rows (a superset of the row codes). Kept on the batch;
    shared: never modify them."""
    got = b.memo.get("np_finite_train_loss", _NEVER)
    if got is _NEVER:
        got = b.memo["np_finite_train_loss"] = _finite_losses_np(b)
    return got


def _finite_losses_np(b: "Batch"):
    import numpy as np

    c = b.columns
    rows, values = b.np_series("loss")
    if rows.size > 1 and not (rows[1:] != rows[:-1]).all():
        return None                                  # a record with two losses
    codes = c.rc[rows]
    present: list[int] = []
    if rows.size:
        attrs = c.attrs
        present = np.flatnonzero(np.bincount(codes)).tolist()
        if any(attrs[k][3] != "train" for k in present):     # losses of eval records: dropped
            train = np.zeros(len(attrs), bool)
            train[present] = [attrs[k][3] == "train" for k in present]
            keep = np.flatnonzero(train[codes])
            rows, values, codes = rows[keep], values[keep], codes[keep]
        finite = np.isfinite(values)
        if not finite.all():
            keep = np.flatnonzero(finite)
            rows, values, codes = rows[keep], values[keep], codes[keep]
    return rows, values, codes, present


def new_finite_losses_np(reports: Reports, b: "Batch"):
    """`new_finite_losses` of a columns batch as arrays: (rows int64, values float64, n_epoch),
    or None (and `reports` untouched) where the list code must answer. The arrays may be
    shared with other rules: never modify them."""
    got = finite_losses_np(b)
    if got is None:
        return None
    rows, values, codes, present = got
    if not rows.size:
        return rows, values, 0
    state = reports.state()
    memo = b.memo.setdefault("np_new_reports", [])
    for seen_state, answer, end_state in memo:
        if seen_state == state:
            reports.restore(end_state)
            return answer
    answer = _new_reports_np(reports, b.columns, rows, values, codes, present)
    if answer is not None and len(memo) < 8:
        memo.append((state, answer, reports.state()))
    return answer


def _new_reports_np(reports: Reports, c, rows, values, codes, present: list[int]):
    """`_new_reports_bulk` from the arrays, or None (state untouched) for the cases it leaves
    to the list code. `codes`: the row codes; `present`: a superset of them."""
    import numpy as np

    attrs = c.attrs
    pattern = reports.pattern
    if reports.one_series:
        if pattern is None:
            pattern = attrs[int(codes[0])][0]
        if any(attrs[k][0] != pattern for k in present):
            same = np.zeros(len(attrs), bool)
            same[present] = [attrs[k][0] == pattern for k in present]
            keep = np.flatnonzero(same[codes])
            if not keep.size:
                reports.pattern = pattern
                return keep, values[keep], 0
            rows, values, codes = rows[keep], values[keep], codes[keep]
    # counters are nan where unknown: all finite means all known (and no nan, which tuples
    # compare by identity)
    ev, ek = c.counters["epoch"]
    sv, sk = c.counters["step"]
    e = ev[rows]
    if np.isfinite(e).all():
        e_all = True
    elif ek is not None and not ek[rows].any():
        e_all = False
    else:
        return None                                  # some epochs only, or nan/inf: tuples
    s_known = None if sk is None else sk[rows]
    if s_known is not None and not s_known.any():
        s, mode = None, "text" if e_all else "none"
    else:
        s = sv[rows]
        if not e_all or not np.isfinite(s).all():
            return None                              # steps on some rows only, or nan: tuples
        mode = "step"
    pos = reports.pos
    fresh = pos is None or (pos[0] is None and pos[1] is None)
    n = rows.size
    if mode == "none":                               # no position: every row is a report
        flags = np.ones(n, bool)
    elif mode == "step":                             # new: another step or epoch
        flags = np.empty(n, bool)
        np.not_equal(s[1:], s[:-1], out=flags[1:])
        flags[1:] |= e[1:] != e[:-1]
        flags[0] = fresh or float(s[0]) != pos[1] or float(e[0]) != pos[0]
    else:                                            # new: another epoch or text
        flags = np.empty(n, bool)
        np.not_equal(e[1:], e[:-1], out=flags[1:])
        if not flags[1:].all():
            # Texts proved different without building them: a row read by a template
            # (text_start >= 0) has its rc below the number of templates: its line shape
            # (digits as 7), shared only by rows of the same template. When its span ends in a
            # printable non-blank byte (the shape tells: one row per code is read), the span is
            # its text. Two such rows differ when their shapes differ, or when a value read at
            # the same place of the same shape differs. (Rows read line by line have an rc of
            # their own and text_start -1.)
            one_row = np.zeros(len(attrs), np.int64)
            one_row[codes] = rows
            at = one_row[present]
            start, end = c.text_start[at], c.text_end[at]
            last = np.frombuffer(c.src, np.uint8)[np.where(end > start, end - 1, 0)]
            plain_code = np.zeros(len(attrs), bool)
            plain_code[present] = (start >= 0) & (end > start) & (last > 32) & (last < 127)
            plain = plain_code[codes]
            flags[1:] |= plain[1:] & plain[:-1] & ((codes[1:] != codes[:-1]) | (values[1:] != values[:-1]))
            for k in np.flatnonzero(~flags[1:]).tolist():      # left: compare the texts
                flags[k + 1] = c.text(int(rows[k + 1])) != c.text(int(rows[k]))
        pe = _NEVER if fresh or pos[1] is not None else pos[0]
        flags[0] = (pe is _NEVER or float(e[0]) != pe
                    or c.text(int(rows[0])) != reports.text)
    n_epoch = 0
    if reports.per_epoch:
        new = np.flatnonzero(flags)
        if new.size:
            if mode != "text":
                reports.per_epoch = False            # a step, or no epoch: per-step reports
            else:
                # a new report counts as per-epoch while its epoch is whole and differs from
                # the row before's
                ok = e == np.floor(e)
                ok[1:] &= e[1:] != e[:-1]
                if pos is not None and float(e[0]) == pos[0]:
                    ok[0] = False
                bad = np.flatnonzero(~ok[new])
                if bad.size:
                    n_epoch = int(bad[0])
                    reports.per_epoch = False
                else:
                    n_epoch = int(new.size)
    last = int(rows[-1])
    reports.pos = (None if mode == "none" else float(e[-1]), float(s[-1]) if mode == "step" else None)
    reports.text = c.text(last)
    reports.pattern = pattern
    if not flags.all():
        keep = np.flatnonzero(flags)
        rows, values = rows[keep], values[keep]
    reports.count += int(rows.size)
    return rows, values, n_epoch


# ---- rows of a columns batch, for rules that read them one by one


def columns_rows(b: Batch, roles) -> list[int]:
    """Rows with a metric of one of `roles`, in order (`Batch.rows_for` for roles only), from
    the batch's `np_series` (shared with the other rules that read them)."""
    import numpy as np

    got = [b.np_series(r)[0] for r in roles if r in b.roles]
    if not got:
        return []
    return np.unique(np.concatenate(got) if len(got) > 1 else got[0]).tolist()


def report_key(b: "Batch", i: int) -> tuple:
    """(pattern, epoch, step, text) of row i, what `Reports.is_new_at` reads; from a columns
    batch without building its list columns."""
    c = b.columns
    if c is None:
        return b.pattern[i], b.epoch[i], b.step[i], b.text[i]
    a = c.attrs[c.rc[i]]
    return (None if a is None else a[0], c.counter("epoch", i), c.counter("step", i), c.text(i))


class LatestLoss:
    """The latest finite training loss up to each row, read forward through a batch (a loss
    on the row itself counts): evaluation rules pair each evaluation with it. With
    `train_only`, losses of evaluation-phase records do not count."""

    def __init__(self, b: "Batch", train_only: bool):
        self.done = 0                 # losses before this one are behind us
        if b.columns is None:
            rows, _, values, _ = b.series("loss") if "loss" in b.roles else ((), (), (), ())
            phase = b.phase
            self.rows, self.values = rows, values
            self.ok = [k for k, (r, v) in enumerate(zip(rows, values))
                       if isfinite(v) and (not train_only or phase[r] == "train")]
            return
        import numpy as np

        rows, values = b.np_series("loss") if "loss" in b.roles else (np.zeros(0, np.int64), np.zeros(0))
        ok = np.isfinite(values)
        if train_only and len(rows):
            c = b.columns
            if not all(a is None or a[3] == "train" for a in c.attrs):   # (usually all train)
                train = np.array([a is not None and a[3] == "train" for a in c.attrs], bool)
                ok &= train[c.rc[rows]]
        self.rows, self.values, self.ok = rows, values, np.flatnonzero(ok)

    def up_to(self, row: float) -> float | None:
        """The last finite loss on rows up to `row` not read before, or None."""
        end = bisect_right(self.rows, row, self.done)
        k = bisect_right(self.ok, end - 1) - 1
        found = float(self.values[self.ok[k]]) if k >= 0 and self.ok[k] >= self.done else None
        self.done = end
        return found
