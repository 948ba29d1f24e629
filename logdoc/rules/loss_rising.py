from __future__ import annotations

from ..core.batch import Batch
from ..core.model import Severity
from . import register
from ._series import loss_name, loss_reports
from .base import Reports, Rule, fmt, loss_label
from ..core.vocabulary import is_adversarial, is_reinforcement


@register
class LossRising(Rule):
    """The training loss rises report after report (at every report of the log, or at the
    last several epochs), or jumps to a level it never comes back from.

    Follows the new training-loss reports (reprints count once) and judges at the end of the
    log, as a reader of the whole excerpt does: the loss rose at every one of its reports (at
    least `min_reports`, by `min_total` in all), or its last `tail_epochs` per-epoch reports
    each rose, by `tail_total` in all, or every report from some point on is at least
    `shift_ratio` times every report before it (at least `shift_before` reports before,
    `shift_after` after; judged on logs of up to 2,000 reports, the excerpts a person reads
    at a glance: `loss-divergence` follows longer ones). A rise that the log later takes back
    is not one.

    ## Why is this bad?
    Training minimises this loss: if each report is worse than the one before, the updates
    are making the model worse on the very data it trains on. The learning rate is too high
    for this stage (a warm-up to a peak that is too high, a restart), the optimizer state
    was lost on resume, or the loss is computed against the wrong targets. It is not
    overfitting: overfitting makes the validation loss worse while the training loss keeps
    falling.

    ## Example
    ```
    Epoch 5/10 - loss: 1.1043 - acc: 0.6293
    Epoch 6/10 - loss: 1.1402 - acc: 0.6196
    Epoch 7/10 - loss: 1.1855 - acc: 0.6104
    Epoch 8/10 - loss: 1.2136 - acc: 0.6021
    Epoch 9/10 - loss: 1.2371 - acc: 0.5952
    ```

    ## Fix
    Lower the learning rate (or its warm-up peak) by 3–10×; check that a resumed run restored
    the optimizer and scheduler state; check the loss against shuffled or mis-aligned labels.

    ## Options
    - `min_reports` (default 4): reports a whole-log rise needs.
    - `min_total` (default 0.05): how much (relative to its first report) the loss must have
      risen by the end of a whole-log rise.
    - `tail_epochs` (default 5): per-epoch reports, each higher than the one before, at the end
      of the log.
    - `tail_total` (default 0.1): how much the loss must have risen over those.
    - `shift_ratio` (default 2.0), `shift_before` (default 2), `shift_after` (default 3): a
      jump to a level that stays: every report after it at least this many times every report
      before it.

    ## False positives
    Losses that are 0 or negative at some report (GRPO, DPO, RL objectives that legitimately
    grow from 0) are not judged, nor are the losses of a log that prints reinforcement-learning
    signals (rewards, policy or value losses, KL to the old policy): a value loss grows with the
    returns. Nor are adversarial losses (a GAN generator's loss rises as its discriminator
    improves). Per-step losses are noisy: only a rise at every report of
    the log counts for them, never a rising tail.
    """

    id = "loss-rising"
    category = "loss-divergence"
    severity = Severity.warning
    wants = frozenset({"loss"})
    options = {"min_reports": 4, "min_total": 0.05, "tail_epochs": 5, "tail_total": 0.1,
               "shift_ratio": 2.0, "shift_before": 2, "shift_after": 3}
    SHIFT_REPORTS = 2000       # reports kept for the level-shift test (bounded memory)

    def __init__(self, **options):
        super().__init__(**options)
        self.reports = Reports(one_series=True)
        self.count = 0                         # new reports so far
        self.first: tuple | None = None        # (value, record) of the first report
        self.last: tuple | None = None         # (value, line) of the last report
        self.rising_from_start = True          # every report after the first rose
        self.per_epoch = True                  # every report so far is one epoch
        self.run = 0                           # reports in the rising run the log ends in
        self.base: tuple | None = None         # (value, record) of the report before that run
        self.positive = True                   # no report at or below 0, not an RL log
        self.rl_checked: set[str] = set()      # metric names already asked whether they are RL
        self.name = ""
        self.kept: list[tuple[float, int]] | None = []   # (value, row's line) while few
        self.kept_records: dict[int, object] = {}         # line -> record, for the finding
        self.last_epoch = float("nan")                     # of the last kept report

    def observe_batch(self, b: Batch):
        import numpy as np

        if self.positive and not self.rl_checked.issuperset(names := b.metric_names()):
            self.rl_checked |= names
            if len(self.rl_checked) > 4096:
                self.rl_checked = set()
            if any(is_reinforcement(n) or is_adversarial(n) for n in names):
                self.positive = False          # (RL: not judged, as for losses at or below 0)
        rows, vals, n_epoch = loss_reports(self.reports, b)
        if not rows.size or not self.positive:
            return ()
        if not (vals > 0).all():
            self.positive = False
            return ()
        if n_epoch < rows.size:
            self.per_epoch = False
        rose = np.empty(vals.size, bool)       # higher than the report before
        np.greater(vals[1:], vals[:-1], out=rose[1:])
        if self.first is None:
            self.first = self.base = (float(vals[0]), b.record(int(rows[0])))
            rose[0] = False                    # the first report is where a rise starts from
            judged = rose[1:]
        else:
            rose[0] = vals[0] > self.last[0]
            judged = rose
        if self.rising_from_start and not judged.all():
            self.rising_from_start = False
        falls = np.flatnonzero(~rose)
        if falls.size:                         # the run starts after the last report that did not rise
            k = int(falls[-1])
            self.run, self.base = vals.size - 1 - k, (float(vals[k]), b.record(int(rows[k])))
        else:
            self.run += vals.size
        self.count += int(rows.size)
        if self.kept is not None:
            # a counter that goes back starts another run (a second fit() in one log): the
            # level-shift test reads the last run only
            # (or a whole epoch printed again without a step: fastai's second fit() table)
            epochs = b.np_counter("epoch")[0][rows]
            steps_known = b.np_counter("step")[1][rows]
            change = np.diff(np.concatenate(([self.last_epoch], epochs)))
            back = np.flatnonzero((change < 0) | ((change == 0) & (epochs == np.floor(epochs)) & ~steps_known))
            if back.size:
                k = int(back[-1])
                rows, vals, epochs = rows[k:], vals[k:], epochs[k:]
                self.kept, self.kept_records = [], {}
            if epochs.size and not np.isnan(epochs[-1]):
                self.last_epoch = float(epochs[-1])
            if len(self.kept) + rows.size > self.SHIFT_REPORTS:
                self.kept = None
            else:
                lines = b.np_line()[rows]
                self.kept.extend(zip(vals.tolist(), lines.tolist()))
                if len(self.kept_records) < 4 * self.SHIFT_REPORTS:
                    for r, line in zip(rows.tolist(), lines.tolist()):
                        self.kept_records[line] = b.record(r)
        self.last = (float(vals[-1]), int(b.np_line()[int(rows[-1])]))
        self.name = loss_name(b, int(rows[-1]))
        return ()

    def finish(self):
        if not self.positive or self.first is None:
            return
        start, first = self.first
        end, end_line = self.last
        label = loss_label(self.name)
        if (self.rising_from_start and self.count >= self.opt["min_reports"]
                and end >= start * (1 + self.opt["min_total"])):
            yield self.finding(
                first, f"{label} rose at every one of its {self.count} reports (lines {first.line}–"
                       f"{end_line}, {fmt(start)} to {fmt(end)}): training is making the model worse",
                metric=self.name)
            return
        if self.per_epoch and self.run >= self.opt["tail_epochs"]:
            rises, (before, rec) = self.run, self.base
            if end >= before * (1 + self.opt["tail_total"]):
                yield self.finding(
                    rec, f"{label} rose at each of the last {rises} epochs (lines {rec.line}–{end_line}, "
                         f"{fmt(before)} to {fmt(end)}): training is making the model worse",
                    metric=self.name)
                return
        shift = self._level_shift()
        if shift is not None:
            k, before, low = shift
            rec = self.kept_records[self.kept[k][1]]
            yield self.finding(
                rec, f"{label} jumped at line {rec.line} to {fmt(self.kept[k][0])} and stayed at "
                     f"{self.opt['shift_ratio']:g}× or more of its level before (every report until line "
                     f"{end_line} at least {fmt(low)}, all before at most {fmt(before)}): training is "
                     f"making the model worse",
                metric=self.name)

    def _level_shift(self):
        """(index of the first report of the higher level, the highest report before it, the
        lowest from it on), for the earliest split that qualifies, or None."""
        import numpy as np

        if not self.kept:
            return None
        vals = np.array([v for v, _ in self.kept], np.float64)
        n, before, after = vals.size, self.opt["shift_before"], self.opt["shift_after"]
        if n < before + after:
            return None
        prefix_max = np.maximum.accumulate(vals)[:-1]              # before split k: vals[:k]
        suffix_min = np.minimum.accumulate(vals[::-1])[::-1][1:]   # from split k: vals[k:]
        k = np.arange(1, n)
        ok = (k >= before) & (n - k >= after) & (suffix_min >= self.opt["shift_ratio"] * prefix_max)
        hit = np.flatnonzero(ok)
        if not hit.size:
            return None
        j = int(hit[0])
        return j + 1, float(prefix_max[j]), float(suffix_min[j])
