from __future__ import annotations

from ..core.batch import Batch
from ..core.model import Record, Severity
from ..core.vocabulary import meaning
from . import register
from ._series import entry_metric, event_rows, lr_arrays, previous_same
from .base import Rule, is_final


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
    being positive, the finding waits until a later report shows training continuing at 0; so
    does a first LR of 0 past the start of training (after the second epoch or 1000 steps: the
    log begins mid-run, as an excerpt of a schedule's last epoch does).

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
    A schedule that reaches 0 only on its final step is not reported. A lone first LR of 0
    that no later step prints (spaCy's `Initial learn rate: 0.0`) while a validation loss or
    metric then improves by a fifth or more is a warm-up's start value: information (tag
    `learns`). A tiny warm-up LR
    printed as `0.000003` is not 0. While fp16 loss scaling skips steps (overflow events,
    skipped-iteration counters, DeepSpeed's `returning lr=0` warning) a printed 0 is an
    artefact of the skipped steps and is not reported (see `fp16-overflow`). A group frozen on purpose with LR 0 is reported; ignore
    the rule for such runs.
    """

    id = "zero-lr"
    category = "zero-lr"
    severity = Severity.error
    # (validation losses and metrics: whether the run learns after a lone first LR of 0)
    wants = frozenset({"lr", "skipped_steps", "event", "val_loss", "val_metric"})
    options = {"confirm_reports": 2}

    def __init__(self, **options):
        super().__init__(**options)
        self.seen_positive: set[str] = set()
        self.pending: dict[str, tuple[Record, int]] = {}   # group -> (first zero record, reports)
        self.reported: set[str] = set()
        self.skipping = False     # fp16 loss scaling is skipping steps: a printed 0 is not the schedule
        self.first_step_zero: dict[str, Record] = {}   # per-step logs: a 0 on the first report waits
        self.after_zero = _Progress()   # the qualities printed after a first zero still waiting

    def observe_batch(self, b: Batch):
        yield from self._observe_lrs(b)
        if self.first_step_zero:      # (after the LRs: a zero of this batch is waiting too)
            self.after_zero.update(b, min(r.line for r in self.first_step_zero.values()))

    def _observe_lrs(self, b: Batch):
        rows, values, keys, key = lr_arrays(b)
        skips = event_rows(b, SKIP_EVENTS, also=_counted_skips(b))
        if not rows.size:
            self.skipping = self.skipping or bool(skips.size)
            return
        import numpy as np

        positive = values > 0
        read = self._entries_to_read(values, positive, keys, key)
        *skipping, skipping_after = self._skipping_before(rows, positive, skips, np.append(read, rows.size))
        starts, at = [], -1                     # groups whose schedule starts at 0, on row `at`
        for j, skipping_j in zip(read.tolist(), skipping):
            i = int(rows[j])
            if i != at:
                yield from self._schedule_start(b, at, starts)
                starts, at = [], i
            self.skipping = skipping_j
            yield from self._read(b, rows, j, float(values[j]), keys[key[j]], starts)
        yield from self._schedule_start(b, at, starts)
        shown = np.flatnonzero(np.bincount(key[positive], minlength=len(keys))).tolist()
        self.seen_positive.update(keys[c] for c in shown)
        self.skipping = skipping_after

    def _entries_to_read(self, values, positive, keys, key):
        """The LRs that may change the state beyond what `_skipping_before` and the bulk update
        of `seen_positive` carry: the zeros of groups not yet reported, each group's first
        positive LR when it has never shown one, and the first non-zero LR of a group after
        such a zero (or at the start, when the group has a zero pending or waiting)."""
        import numpy as np

        zero = values == 0.0
        reported = np.array([g in self.reported for g in keys], bool)[key]
        read = zero & ~reported
        # Zeros of reported groups change nothing: without them, a non-zero LR changes the
        # state when its group's report before it is such a zero.
        waiting = np.array([g in self.pending or g in self.first_step_zero for g in keys], bool)
        if read.any() or waiting.any():         # (else no group has a zero to follow up)
            kept = np.flatnonzero(~(zero & reported))
            prev = previous_same(key[kept])
            after_zero = np.where(prev >= 0, read[kept[np.maximum(prev, 0)]], waiting[key[kept]])
            read[kept[~zero[kept] & after_zero]] = True
        unseen = np.array([g not in self.seen_positive for g in keys], bool)[key] & positive
        if unseen.any():
            at = np.flatnonzero(unseen)
            read[at[np.unique(key[at], return_index=True)[1]]] = True
        return np.flatnonzero(read)

    def _skipping_before(self, rows, positive, skips, at):
        """Whether fp16 loss scaling is skipping steps just before each LR entry of `at`
        (positions; `rows.size`: after the batch): a skip record sets it (before the LRs of its
        own record), a positive LR clears it."""
        import numpy as np

        last_positive = np.flatnonzero(positive)
        k = np.searchsorted(last_positive, at) - 1             # the last positive entry before
        has_positive = k >= 0
        positive_row = rows[last_positive[np.maximum(k, 0)]] if last_positive.size else -1
        if skips.size:
            up_to = np.append(rows, np.iinfo(np.int64).max)[at]     # after the batch: every skip
            last_skip = np.searchsorted(skips, up_to, "right") - 1
            has_skip = last_skip >= 0
            skip_row = np.where(has_skip, skips[np.maximum(last_skip, 0)], -1)
        else:
            has_skip, skip_row = np.zeros(at.size, bool), -1
        skipped = has_skip & (~has_positive | (skip_row > positive_row))
        return np.where(skipped, True, np.where(has_positive, False, self.skipping)).tolist()

    def _read(self, b: Batch, rows, j: int, value: float, group: str, starts: list):
        """LR entry j (`value` of param group `group`) on its record: the rule's criterion."""
        seen_positive, pending, reported = self.seen_positive, self.pending, self.reported
        first_step_zero, i = self.first_step_zero, int(rows[j])
        if value != 0.0:
            if value > 0:
                seen_positive.add(group)
                self.skipping = False
                first_step = first_step_zero.pop(group, None)
                if first_step is not None and group not in reported and _whole_epoch_between(first_step, b.record(i)):
                    reported.add(group)             # a whole epoch at 0 before the warm-up started
                    starts.append((entry_metric(b, "lr", rows, j).name, group, first_step))
                elif first_step is not None and group not in reported:
                    reported.add(group)
                    f = self.finding(
                        first_step, f"learning rate of {_name(group)} is 0 only at the first step "
                                    f"({first_step.position()}): one wasted optimizer step, then the "
                                    "warm-up starts", evidence=[b.record(i)],
                        metric=entry_metric(b, "lr", rows, j).name, tags=("first-step",))
                    f.severity = Severity.info
                    yield f
            pending.pop(group, None)
            return
        if group in reported or self.skipping:
            return
        rec = b.record(i)
        if group not in seen_positive and not _past_start(rec):
            first_step = first_step_zero.get(group)
            if first_step is None and not _sums_up_an_epoch(rec):
                first_step_zero[group] = rec            # maybe one step: wait for the next report
                return
            if (first_step is not None and (rec.step, rec.epoch) == (first_step.step, first_step.epoch)
                    and (rec.step is not None or rec.epoch is not None)):
                return                                   # the same step printed again
            reported.add(group)
            starts.append((entry_metric(b, "lr", rows, j).name, group, first_step or rec))
            return
        first, reports = pending.get(group) or (rec, 0)
        reports += 1
        if reports >= self.opt["confirm_reports"] and not is_final(rec):
            reported.add(group)
            pending.pop(group, None)
            # (a first LR of 0 past the start: the excerpt began after the schedule did)
            how = "decayed to 0" if group in seen_positive else "is 0 from the first report"
            yield self.finding(
                first, f"learning rate of {_name(group)} {how} at {first.position()} "
                       f"and training continued (still 0 at line {rec.line})",
                evidence=[rec], metric=entry_metric(b, "lr", rows, j).name, tags=("decayed",))
        else:
            pending[group] = (first, reports)

    def _schedule_start(self, b: Batch, i: int, starts: list):
        """The finding of the groups whose schedule starts at 0 on row i, if any."""
        if starts:
            where = starts[0][2]
            yield self.finding(
                where, f"learning rate of {' and '.join(_name(group) for _, group, _ in starts)} is 0 "
                       f"at {where.position()}: the schedule starts at 0, "
                       "so the optimizer does not update the weights",
                evidence=[b.record(i)], metric=starts[0][0], tags=("schedule-start",))

    def finish(self):
        # A log that ends before showing a second LR: nothing proves it warmed up, unless the
        # run visibly learns after the zero (then the one print was a warm-up's start value).
        for group, rec in self.first_step_zero.items():
            if group in self.reported:
                continue
            learned = self.after_zero.learned()
            if learned is None:
                yield self.finding(rec, f"learning rate of {_name(group)} is 0 at {rec.position()}: the "
                                        "schedule starts at 0", tags=("schedule-start",))
                continue
            name, first, best, line = learned
            f = self.finding(rec, f"learning rate of {_name(group)} is 0 at {rec.position()} and no later "
                                  f"step prints it, but the run learns after it ({name} {first:g} -> "
                                  f"{best:g} by line {line}): the start of a warm-up",
                             tags=("schedule-start", "learns"))
            f.severity = Severity.info
            yield f


class _Progress:
    """The first and best value of each validation loss and metric printed after a line, in
    its better direction (the vocabulary's): evidence that the weights move. (Not training
    losses: new batches or rollouts move them with the weights standing still.)"""

    # (a relative improvement this large is no noise of a model whose weights stand still)
    IMPROVES = 0.2
    MAX_NAMES = 256

    def __init__(self):
        self.seen: dict[str, list] = {}      # name -> [first, best, line of best, sign]

    def update(self, b: Batch, after_line: int) -> None:
        import math

        lines = b.np_line()
        for role in ("val_loss", "val_metric"):
            rows, names, values, _ = b.series(role)
            for r, name, value in zip(rows, names, values):
                line = int(lines[r])           # (not b.record(r): no Record built per entry)
                if line <= after_line or not math.isfinite(value):
                    continue
                got = self.seen.get(name)
                if got is None:
                    if len(self.seen) >= self.MAX_NAMES:
                        continue
                    direction = meaning(name, role).direction
                    if direction not in ("lower", "higher"):
                        continue
                    self.seen[name] = [value, value, line, 1.0 if direction == "higher" else -1.0]
                elif (value - got[1]) * got[3] > 0:
                    got[1], got[2] = value, line

    def learned(self):
        """(name, first, best, line) of the quality that improved most, if one improved by
        IMPROVES of its first value; else None."""
        best = None
        for name, (first, value, line, sign) in self.seen.items():
            gain = (value - first) * sign / max(abs(first), 1e-12)
            if gain >= self.IMPROVES and (best is None or gain > best[0]):
                best = (gain, name, first, value, line)
        return None if best is None else best[1:]


def _at_whole_epoch(rec: Record) -> bool:
    """Positioned by a whole epoch alone (no step, no fraction)."""
    return rec.step is None and rec.epoch is not None and float(rec.epoch).is_integer()


def _sums_up_an_epoch(rec: Record) -> bool:
    """A record at a whole epoch from 1 on (`Epoch 1/30`, `[LR] epoch=1`) reports a whole
    epoch. Anything else may be one step: a step counter, a fractional or 0-based epoch
    (`'epoch': 0.0` then `0.01` in Hugging Face logs), or no position at all."""
    return _at_whole_epoch(rec) and rec.epoch >= 1


def _whole_epoch_between(first: Record, later: Record) -> bool:
    """`later` is at least one whole epoch after `first`, both at whole epochs: the first
    report covered an epoch, not a step."""
    return _at_whole_epoch(first) and _at_whole_epoch(later) and later.epoch - first.epoch >= 1


def _past_start(rec: Record) -> bool:
    """Past the first two epochs (0- or 1-based) or the first 1000 steps: a first LR seen
    there is not where a schedule starts."""
    if rec.epoch is not None:
        return rec.epoch > 2
    return rec.step is not None and rec.step > 1000


def _name(group: str) -> str:
    return f"param group '{group}'" if not group.startswith(("lr", "learning")) else group



def _counted_skips(b: Batch):
    """Rows whose skipped-steps counter is above 0."""
    if "skipped_steps" not in b.roles:
        return None
    s_rows, s_values = b.np_series("skipped_steps")
    return s_rows[s_values > 0]
