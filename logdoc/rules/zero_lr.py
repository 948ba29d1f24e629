from __future__ import annotations

from itertools import compress
from math import isnan
from operator import not_

from ..batch import Batch
from ..model import Record, Severity
from . import register
from .base import Rule


# Events saying fp16 loss scaling skips optimizer steps, or that the printed LR is a placeholder
# until the first real step (DeepSpeed: "tried to get lr value before scheduler/optimizer
# started stepping, returning lr=0").
SKIP_EVENTS = frozenset({"loss_scale_overflow", "lr_before_step", "lr_unavailable_before_first_step"})


@register
class ZeroLR(Rule):
    """A learning rate exactly 0 in a param group while training goes on.

    Fires at the first record that prints the zero, naming the param group and the
    epoch/step. When the very first learning rate a group shows is 0, the schedule starts at
    0 (tag `schedule-start`): for a per-epoch log the finding fires at once (a whole epoch at
    0); for a per-step log it waits for the next report: 0 again is the error, a positive LR
    means only the first step was wasted (information, tag `first-step`). When a group decays to 0 after
    being positive, the finding waits until a later report shows training continuing at 0.

    ## Why is this bad?
    With LR 0 the optimizer step multiplies every update by zero: the weights do not move,
    the loss cannot improve, and the epochs are wasted. The usual cause is a warmup lambda
    that returns `step / warmup_steps`, which is 0 at step 0 (LambdaLR multiplies the base
    LR by it), or a decay schedule that ends long before training does.

    ## Example
    ```
    [LR] epoch=1 groups=['backbone', 'head'] lr=[0.0, 0.0]
    [STEP] Δparam L2: median=0.000e+00  max=0.000e+00
    ```

    ## Fix
    Start warmup above zero: `max(0.01, step / warmup_steps)` or `(step + 1) / warmup_steps`;
    check the scheduler's total steps against the real length of training.

    ## Options
    - `confirm_reports` (default 2): after a decay to 0, how many further zero reports of the
      same group prove training continued at 0.

    ## False positives
    A schedule that reaches 0 only on its final step is not reported. A tiny warm-up LR
    printed as `0.000003` is not 0. While fp16 loss scaling skips steps (overflow events,
    skipped-iteration counters, DeepSpeed's `returning lr=0` warning) a printed 0 is an
    artefact of the skipped steps and is not reported (see `fp16-overflow`). A group frozen on purpose with LR 0 is reported; ignore
    the rule for such runs.
    """

    id = "zero-lr"
    category = "zero-lr"
    severity = Severity.error
    wants = frozenset({"lr", "skipped_steps", "event"})
    options = {"confirm_reports": 2}

    def __init__(self, **options):
        super().__init__(**options)
        self.seen_positive: set[str] = set()
        self.pending: dict[str, tuple[Record, int]] = {}   # group -> (first zero record, reports)
        self.reported: set[str] = set()
        self.skipping = False     # fp16 loss scaling is skipping steps: a printed 0 is not the schedule
        self.first_step_zero: dict[str, Record] = {}   # per-step logs: a 0 on the first report waits

    def observe_batch(self, b: Batch):
        if b.columns is not None and not self.first_step_zero and self._quiet(b):
            return                    # proved from the arrays that nothing fires; state updated
        series = rows, names, values, groups = b.series("lr")
        skips = _skip_rows(b)
        if not self.first_step_zero:
            if self.reported and 0.0 in values:
                # A 0 of a group already reported says nothing new (a group frozen at 0 prints
                # one on every line): without them the batch may be all positive.
                keep = list(map(_nonzero, values))
                if all((groups[j] or names[j]) in self.reported for j in compress(range(len(keep)), map(not_, keep))):
                    rows, names, values, groups = (list(compress(column, keep)) for column in series)
            if not values or (min(values) > 0 and not isnan(sum(values))):
                # Every LR of the batch is positive (the usual case): no 0 to judge, only state
                # to carry. Each group has now been positive and ends any decay episode;
                # skipping stops at a positive LR and starts again at a later skip record.
                if skips and (not rows or skips[-1] > rows[-1]):
                    self.skipping = True
                elif rows:
                    self.skipping = False
                if rows:
                    seen = group_keys(groups, names)
                    self.seen_positive |= seen
                    if self.pending:
                        for group in seen:
                            self.pending.pop(group, None)
                return
        yield from self._observe_rows(b, *series, skips)

    def _quiet(self, b: Batch) -> bool:
        """The quick path below on a batch over BlockColumns, in arrays: True (state updated
        as it leaves it) when every LR is positive, once the zeros of groups already reported
        are left out; False, nothing changed: the list code decides."""
        import numpy as np                    # a columns batch: NumPy is loaded already

        rows, values, keys, key = lr_arrays(b)
        zero = values == 0.0
        if zero.any():
            if not self.reported:
                return False
            zero_keys = np.flatnonzero(np.bincount(key[zero], minlength=len(keys))).tolist()
            if not all(keys[k] in self.reported for k in zero_keys):
                return False
            rows, values, key = rows[~zero], values[~zero], key[~zero]
        if not (values > 0).all():            # a negative or nan LR
            return False
        cols, last_skip = b.columns, -1      # the last row saying steps are skipped
        roles = b.roles
        if "event" in roles:
            codes = [k for k, a in enumerate(cols.attrs) if a is not None and a[2] in SKIP_EVENTS]
            if codes:
                at = np.flatnonzero(np.isin(cols.rc, codes))
                if len(at):
                    last_skip = int(at[-1])
        if "skipped_steps" in roles:
            s_rows, s_values = b.np_series("skipped_steps")
            counted = s_rows[s_values > 0]
            if len(counted):
                last_skip = max(last_skip, int(counted[-1]))
        if last_skip >= 0 and (not len(rows) or last_skip > rows[-1]):
            self.skipping = True
        elif len(rows):
            self.skipping = False
        if len(rows):
            seen = {keys[k] for k in np.flatnonzero(np.bincount(key, minlength=len(keys))).tolist()}
            self.seen_positive |= seen
            if self.pending:
                for group in seen:
                    self.pending.pop(group, None)
        return True

    def _observe_rows(self, b: Batch, rows, names, values, groups, skips):
        """The batch record by record (a 0, a negative or nan LR, or a first-step 0 pending)."""
        seen_positive, pending, reported = self.seen_positive, self.pending, self.reported
        first_step_zero, confirm = self.first_step_zero, self.opt["confirm_reports"]
        n, j, k = len(rows), 0, 0
        while j < n:
            i = rows[j]
            while k < len(skips) and skips[k] <= i:     # records up to this one that skip steps
                self.skipping = True
                k += 1
            starts = []
            while j < n and rows[j] == i:
                name, value, group = names[j], values[j], groups[j] or names[j]
                j += 1
                if value != 0.0:
                    if value > 0:
                        seen_positive.add(group)
                        self.skipping = False
                        first_step = first_step_zero.pop(group, None)
                        if first_step is not None and group not in reported:
                            reported.add(group)
                            f = self.finding(
                                first_step, f"learning rate of {_name(group)} is 0 only at the first step "
                                            f"({first_step.position()}): one wasted optimizer step, then the "
                                            "warm-up starts", evidence=[b.record(i)], metric=name,
                                tags=("first-step",))
                            f.severity = Severity.info
                            yield f
                    pending.pop(group, None)
                    continue
                if group in reported or self.skipping:
                    continue
                if group not in seen_positive:
                    first_step = first_step_zero.get(group)
                    if first_step is None and b.step[i] is not None:
                        first_step_zero[group] = b.record(i)    # per-step log: wait for the next report
                        continue
                    if first_step is not None and (b.step[i], b.epoch[i]) == (first_step.step, first_step.epoch):
                        continue                                 # the same step printed again
                    reported.add(group)
                    starts.append((name, group, first_step or b.record(i)))
                    continue
                first, reports = pending.get(group) or (b.record(i), 0)
                reports += 1
                if reports >= confirm and not _is_final_at(b, i):
                    reported.add(group)
                    pending.pop(group, None)
                    yield self.finding(
                        first, f"learning rate of {_name(group)} decayed to 0 at {first.position()} "
                               f"and training continued (still 0 at line {b.line[i]})",
                        evidence=[b.record(i)], metric=name, tags=("decayed",))
                else:
                    pending[group] = (first, reports)
            if starts:
                where = starts[0][2]
                yield self.finding(
                    where, f"learning rate of {' and '.join(_name(group) for _, group, _ in starts)} is 0 "
                           f"at {where.position()}: the schedule starts at 0, "
                           "so the optimizer does not update the weights",
                    evidence=[b.record(i)], metric=starts[0][0], tags=("schedule-start",))
        if k < len(skips):
            self.skipping = True

    def finish(self):
        # A per-step log that ends before showing a second LR: nothing proves it warmed up.
        for group, rec in self.first_step_zero.items():
            if group not in self.reported:
                yield self.finding(rec, f"learning rate of {_name(group)} is 0 at {rec.position()}: the "
                                        "schedule starts at 0", tags=("schedule-start",))


def _name(group: str) -> str:
    return f"param group '{group}'" if not group.startswith(("lr", "learning")) else group


_nonzero = (0.0).__ne__


def group_keys(groups: list, names: list[str]) -> set[str]:
    """The distinct `group or name` of an LR series, in C-level passes (no tuple per entry)."""
    present = set(groups)
    if len(present) == 1 and not next(iter(present)):
        return set(names)                         # no param groups: each name is its group
    keys = {group for group in present if group}
    if None in present or "" in present:
        keys.update(compress(names, map(not_, groups)))
    return keys


def lr_arrays(b: Batch):
    """(rows, values, keys, key) of a batch over BlockColumns' lr metrics, as arrays, without
    building list columns: `key[j]` indexes `keys`, the `group or name` of metric j (a param
    group's key, as `group_keys` gives it). Shared by the lr rules through the batch's memo."""
    got = b.memo.get(_LR_ARRAYS)
    if got is None:
        import numpy as np                    # a columns batch: NumPy is loaded already

        cols = b.columns
        meta = cols.meta
        ids: dict[str, int] = {}
        lut = np.full(len(meta), -1, np.int64)
        for k, m in enumerate(meta):          # (name, role, group, agg) of each metric kind
            if m[1] == "lr":
                lut[k] = ids.setdefault(m[2] or m[0], len(ids))
        idx = cols.metric_index("lr")
        got = b.memo[_LR_ARRAYS] = (cols.m_row[idx], cols.m_value[idx], list(ids), lut[cols.m_meta[idx]])
    return got


_LR_ARRAYS = "zero_lr.lr_arrays"


def _skip_rows(b: Batch) -> list[int]:
    """Rows (in order) saying that fp16 loss scaling skips steps: a skip event, or a
    skipped-steps counter above 0."""
    rows: list[int] = []
    roles = b.roles
    if "event" in roles and not SKIP_EVENTS.isdisjoint(b.event):
        rows = [i for i, event in enumerate(b.event) if event in SKIP_EVENTS]
    if "skipped_steps" in roles:
        s_rows, _, s_values, _ = b.series("skipped_steps")
        counted = [r for r, value in zip(s_rows, s_values) if value > 0]
        if counted:
            rows = sorted({*rows, *counted})
    return rows


def _is_final_at(b: Batch, i: int) -> bool:
    """`is_final` of row i, from the batch's columns."""
    step, step_total = b.step[i], b.step_total[i]
    if step is not None and step_total:
        return step >= step_total
    epoch, epoch_total = b.epoch[i], b.epoch_total[i]
    if epoch is not None and epoch_total:
        return epoch >= epoch_total
    return False
