from __future__ import annotations

from ..model import Record, Severity
from . import register
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

    def observe(self, rec: Record):
        if rec.event in SKIP_EVENTS or any(
                m.value > 0 for m in rec.by_role("skipped_steps")):
            self.skipping = True
        starts = []
        for m in rec.metrics:
            if m.role != "lr":
                continue
            group = m.group or m.name
            if m.value != 0.0:
                if m.value > 0:
                    self.seen_positive.add(group)
                    self.skipping = False
                    first_step = self.first_step_zero.pop(group, None)
                    if first_step is not None and group not in self.reported:
                        self.reported.add(group)
                        f = self.finding(
                            first_step, f"learning rate of {_name(group)} is 0 only at the first step "
                                        f"({first_step.position()}): one wasted optimizer step, then the "
                                        "warm-up starts", evidence=[rec], metric=m.name, tags=("first-step",))
                        f.severity = Severity.info
                        yield f
                self.pending.pop(group, None)
                continue
            if group in self.reported or self.skipping:
                continue
            if group not in self.seen_positive:
                first_step = self.first_step_zero.get(group)
                if first_step is None and rec.step is not None:
                    self.first_step_zero[group] = rec      # per-step log: wait for the next report
                    continue
                if first_step is not None and (rec.step, rec.epoch) == (first_step.step, first_step.epoch):
                    continue                                 # the same step printed again
                self.reported.add(group)
                starts.append((m, first_step or rec))
                continue
            first, reports = self.pending.get(group, (rec, 0))
            reports += 1
            if reports >= self.opt["confirm_reports"] and not is_final(rec):
                self.reported.add(group)
                self.pending.pop(group, None)
                yield self.finding(
                    first, f"learning rate of {_name(group)} decayed to 0 at {first.position()} "
                           f"and training continued (still 0 at line {rec.line})",
                    evidence=[rec], metric=m.name, tags=("decayed",))
            else:
                self.pending[group] = (first, reports)
        if starts:
            names = " and ".join(_name(m.group or m.name) for m, _ in starts)
            where = starts[0][1]
            yield self.finding(
                where, f"learning rate of {names} is 0 at {where.position()}: the schedule starts at 0, "
                       "so the optimizer does not update the weights",
                evidence=[rec], metric=starts[0][0].name, tags=("schedule-start",))


    def finish(self):
        # A per-step log that ends before showing a second LR: nothing proves it warmed up.
        for group, rec in self.first_step_zero.items():
            if group not in self.reported:
                yield self.finding(rec, f"learning rate of {_name(group)} is 0 at {rec.position()}: the "
                                        "schedule starts at 0", tags=("schedule-start",))


def _name(group: str) -> str:
    return f"param group '{group}'" if not group.startswith(("lr", "learning")) else group
