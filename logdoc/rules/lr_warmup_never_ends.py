from __future__ import annotations

from collections import Counter
from itertools import chain, compress
from math import isfinite
from operator import ne

from ..batch import Batch
from ..model import Record, Severity
from . import register
from .base import Rule, fmt
from .zero_lr import lr_arrays


def progress(rec: Record) -> float | None:
    """How far through the announced training the record is (0..1), when the log says."""
    if rec.step is not None and rec.step_total:
        return rec.step / rec.step_total
    if rec.epoch is not None and rec.epoch_total:
        return rec.epoch / rec.epoch_total
    return None


def _progress_at(b: Batch, i: int) -> float | None:
    """`progress` of row i, from the batch's columns."""
    step, step_total = b.step[i], b.step_total[i]
    if step is not None and step_total:
        return step / step_total
    epoch, epoch_total = b.epoch[i], b.epoch_total[i]
    if epoch is not None and epoch_total:
        return epoch / epoch_total
    return None


def _progress_np(b: Batch, rows):
    """`_progress_at` of several rows, as float64 (nan where it is None)."""
    import numpy as np

    step, step_known = b.np_counter("step")
    step_total, step_total_known = b.np_counter("step_total")
    epoch, epoch_known = b.np_counter("epoch")
    epoch_total, epoch_total_known = b.np_counter("epoch_total")
    s, st, e, et = step[rows], step_total[rows], epoch[rows], epoch_total[rows]
    # `x and y` of Python: known and not 0 (nan is true)
    by_step = step_known[rows] & step_total_known[rows] & (st != 0)
    by_epoch = epoch_known[rows] & epoch_total_known[rows] & (et != 0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.where(by_step, s / np.where(by_step, st, 1.0),
                        np.where(by_epoch, e / np.where(by_epoch, et, 1.0), np.nan))


def _near_start_at(b: Batch, i: int) -> bool:
    """`near_start` of row i, from the batch's columns."""
    epoch, step = b.epoch[i], b.step[i]
    return (epoch is None or epoch <= 1) and (step is None or step <= 1000)


@register
class LRWarmupNeverEnds(Rule):
    """The learning rate is still rising half-way through training: warm-up never ended.

    For a log that starts at the beginning of training and announces its length (total
    steps or epochs), fires when a param group's learning rate has only ever risen (at least
    `min_increases` times), is still rising at this report, and the run is past `fraction`
    of its length. A warm-up that reached a constant LR has ended.

    ## Why is this bad?
    A warm-up is meant to last a few percent of training. One that is still going at half
    time was configured in the wrong unit (warm-up steps given in samples or tokens, a
    per-epoch scheduler stepped per batch the other way round) or with a horizon longer than
    the run: most of training happens at a fraction of the intended learning rate and the
    decay phase never comes.

    ## Example
    ```
    [LR] epoch=1 lr=[1e-06]
    [LR] epoch=10 lr=[1e-05]
    [LR] epoch=16 lr=[1.6e-05]      (of 30 epochs)
    ```

    ## Fix
    Express the warm-up in optimizer steps (after gradient accumulation), e.g. 1–5 % of
    `num_training_steps`, and check the scheduler is stepped once per optimizer step.

    ## Options
    - `fraction` (default 0.5): share of training after which a rising LR is reported.
    - `min_increases` (default 3): rises needed before judging.

    ## False positives
    Schedules that rise on purpose for a long time (LR range tests, some cyclic schedules)
    are reported; ignore the rule for them. Logs that do not announce the total length are
    never reported.
    """

    id = "lr-warmup-never-ends"
    category = "lr-schedule"
    severity = Severity.warning
    wants = frozenset({"lr"})
    options = {"fraction": 0.5, "min_increases": 3}

    def __init__(self, **options):
        super().__init__(**options)
        self.groups: dict[str, list] = {}     # group -> [first record, last value, increases, rising]
        self.from_start: bool | None = None
        self.fired = False

    def observe_batch(self, b: Batch):
        if self.fired or self.from_start is False:
            return
        if self.from_start and b.columns is not None and self._quiet(b):
            return                    # proved from the arrays that nothing fires; state updated
        rows, names, values, groups = b.series("lr")
        n = len(values)
        if not n:
            return
        if self.from_start is None:                 # the first record with a finite LR says
            first = next(compress(range(n), map(isfinite, values)), None)
            if first is None:
                return
            self.from_start = _near_start_at(b, rows[first])
            if not self.from_start:
                return
        known = self.groups
        if n < 16:                                   # a few lines of a live stream
            yield from self._observe_rows(b, rows, names, values, groups)
            return
        where = _positions(names, groups)
        if len(known) + len([key for key in where if key not in known]) > 64:
            yield from self._observe_rows(b, rows, names, values, groups)   # which groups are followed
            return
        # Groups are independent: each one's LRs are read in bulk, and only the reports where its
        # LR changes are looked at (a group that fell once can never fire). The earliest report
        # that fires, over all groups, is the finding.
        fire = None
        min_increases, fraction = self.opt["min_increases"], self.opt["fraction"]
        for key, at in where.items():
            g = known.get(key)
            if g is not None and not g[3]:
                continue
            vs = values if len(where) == 1 else list(map(values.__getitem__, at))
            if not all(map(isfinite, vs)):
                keep = list(map(isfinite, vs))
                at, vs = list(compress(at, keep)), list(compress(vs, keep))
                if not vs:
                    continue
            if g is None:
                g = known[key] = [b.record(rows[at[0]]), vs[0], 0, True]
                changes = compress(range(1, len(vs)), map(ne, vs[1:], vs))
            else:
                changes = compress(range(len(vs)), map(ne, vs, chain((g[1],), vs)))
            last, increases = g[1], g[2]
            for k in changes:
                before = vs[k - 1] if k else last
                if vs[k] < before:
                    g[3] = False
                    break
                increases += 1
                if increases >= min_increases:
                    done = _progress_at(b, rows[at[k]])
                    if done is not None and done >= fraction:
                        if fire is None or at[k] < fire[0]:
                            fire = (at[k], g, done)
                        break
            g[1], g[2] = vs[-1], increases
        if fire is not None:
            j, g, done = fire
            i, name, value = rows[j], names[j], values[j]
            self.fired = True
            yield self.finding(
                b.record(i), f"learning rate {name} is still rising at {b.position(i)} ({done:.0%} of "
                             f"training; {fmt(g[0].by_role('lr')[0].value)} at line {g[0].line} → "
                             f"{fmt(value)}): the warm-up never ends", evidence=[g[0]], metric=name)

    def _quiet(self, b: Batch) -> bool:
        """The bulk path below on a batch over BlockColumns, in arrays: True when no report can
        fire, after leaving `groups` as that path leaves it; False (nothing changed) when one
        may fire or the batch takes the record-by-record path: the list code decides."""
        import numpy as np                          # a columns batch: NumPy is loaded already

        rows, values, keys, key = lr_arrays(b)
        n = len(values)
        if n < 16:
            return not n                            # none: nothing to do; a few: row by row
        count = np.bincount(key, minlength=len(keys))
        present = [keys[k] for k in np.flatnonzero(count).tolist()]
        known = self.groups
        if len(known) + len([k for k in present if k not in known]) > 64:
            return False
        min_increases, fraction = self.opt["min_increases"], self.opt["fraction"]
        single = len(present) == 1
        updates = []
        for name in present:
            g = known.get(name)
            if g is not None and not g[3]:
                continue                            # fell once: can never fire
            mine = None if single else key == keys.index(name)
            vs = values if single else values[mine]
            if g is not None and vs.min() == vs.max() == g[1]:
                continue                            # no change (the usual case): nothing to do
            at = rows if single else rows[mine]
            finite = np.isfinite(vs)
            if not finite.all():
                at, vs = at[finite], vs[finite]
                if not len(vs):
                    continue
            before = np.empty(len(vs))
            before[0] = vs[0] if g is None else g[1]
            before[1:] = vs[:-1]
            falls = vs < before
            end = int(falls.argmax()) if falls.any() else len(vs)   # the first fall ends it
            rises = vs[:end] > before[:end]
            increases = (0 if g is None else g[2]) + np.cumsum(rises)
            judged = np.flatnonzero(rises & (increases >= min_increases))
            if len(judged) and (_progress_np(b, at[judged]) >= fraction).any():
                return False                        # a report may fire: read the rows
            updates.append((name, g, at, vs, int(increases[-1]) if end else
                            (0 if g is None else g[2]), end == len(vs)))
        for name, g, at, vs, increases, rising in updates:
            if g is None:
                g = known[name] = [b.record(int(at[0])), float(vs[0]), 0, True]
            g[1], g[2] = float(vs[-1]), increases
            if not rising:
                g[3] = False
        return True

    def _observe_rows(self, b: Batch, rows, names, values, groups):
        """Record by record: for a small batch, or one that brings groups beyond the 64 followed."""
        known, opt = self.groups, self.opt
        fraction, min_increases = opt["fraction"], opt["min_increases"]
        for i, name, value, group in zip(rows, names, values, groups):
            if not isfinite(value):
                continue
            if self.from_start is None:             # the first record with a finite LR says
                self.from_start = _near_start_at(b, i)
                if not self.from_start:
                    return
            group = group or name
            g = known.get(group)
            if g is None:
                if len(known) < 64:
                    known[group] = [b.record(i), value, 0, True]
                continue
            rising_now = value > g[1]
            if value < g[1]:
                g[3] = False
            elif rising_now:
                g[2] += 1
            g[1] = value
            if g[3] and rising_now and g[2] >= min_increases:
                done = _progress_at(b, i)
                if done is not None and done >= fraction:
                    self.fired = True
                    yield self.finding(
                        b.record(i), f"learning rate {name} is still rising at {b.position(i)} ({done:.0%} of "
                                     f"training; {fmt(g[0].by_role('lr')[0].value)} at line {g[0].line} → "
                                     f"{fmt(value)}): the warm-up never ends", evidence=[g[0]], metric=name)
                    return

def _positions(names: list[str], groups: list) -> dict[str, range | list[int]]:
    """Where each group (`group or name`) of an LR series occurs, in C-level passes: the
    entries of other groups than the commonest one are found in one pass and sorted out one
    by one; the commonest group has what they leave."""
    n = len(names)
    if groups.count(None) == n:
        keys = names
    else:
        keys = names.copy()
        for j in compress(range(n), groups):
            keys[j] = groups[j]
    common = Counter(keys[::16]).most_common(1)[0][0]
    others = list(compress(range(n), map(common.__ne__, keys)))
    if not others:
        return {common: range(n)}
    where: dict[str, range | list[int]] = {}
    for j in others:
        where.setdefault(keys[j], []).append(j)
    bounds = [-1, *others, n]
    where[common] = list(chain.from_iterable(map(range, map((1).__add__, bounds), bounds[1:])))
    return where
