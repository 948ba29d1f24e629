from __future__ import annotations

from collections import deque

from ..core.batch import Batch
from ..core.model import Record, Severity
from . import register
from ._series import block_means, loss_name, loss_reports
from .base import Reports, Rule, fmt


@register
class LossDivergence(Rule):
    """The training loss rises well above its best level and stays there.

    Averages the training loss over blocks of `window` consecutive reports (one report per
    block when the log prints one loss per epoch; redraws of a progress bar count once;
    per-step block means are smoothed, see `smoothing`) and keeps the lowest block mean.
    A per-epoch series is filtered with a running median of 3 epochs (two of the last three
    must show a level, and judging starts at the third epoch), so one lucky-low or spiking
    epoch is neither the reference nor a rise; a spike in the very last report (the run died
    right after it) is still judged. Fires when
    `patience` consecutive blocks are at least `factor` times that best, or at once when one
    block is `explode` times above it.

    ## Why is this bad?
    A loss that climbs back above where it has been means the optimizer is moving away from
    the minimum: the learning rate is too high for this phase, the loss scale or batch
    statistics blew up, or the data changed. Left alone it ends in nan or in a useless model.

    ## Example
    ```
    step 12972   loss = 0.428
    …            (mean of 10 steps: 0.66)
    step 13030   loss = 1.541
    …            (mean of 10 steps: 1.54, then 1.89)
    ```

    ## Fix
    Lower the learning rate (or add/extend warmup), clip gradients (`max_norm=1.0`), and
    check the data at the step where the rise starts. Resume from a checkpoint taken before
    the rise.

    ## Options
    - `window` (default 10): reports averaged into one block (Lightning SpikeDetection's
      running-mean window).
    - `factor` (default 1.5): block mean / best block mean that counts as risen.
    - `patience` (default 3): consecutive risen blocks before firing (Lightning
      EarlyStopping's patience).
    - `explode` (default 10): one block this many times above the best fires at once.
    - `sigmas` (default 4): for per-step losses, how many standard errors of a block mean
      (from the batch-to-batch spread) a risen block must also stand above the best level.
    - `smoothing` (default 0.1): for per-step losses the best level is the lowest point of an
      exponential average of block means with this weight (about 10 blocks of memory).

    ## False positives
    The lowest block of a long, noisy, flat run is lower than the typical block by luck; the
    `sigmas` test keeps such runs quiet. A loss that jumps when a new curriculum stage, task or dataset mix starts; the first
    blocks of a run are the reference, so a short warm-up bump is not reported.
    """

    id = "loss-divergence"
    category = "loss-divergence"
    severity = Severity.error
    wants = frozenset({"loss"})
    options = {"window": 10, "factor": 1.5, "patience": 3, "explode": 10.0, "sigmas": 4.0,
               "smoothing": 0.1}

    def __init__(self, **options):
        super().__init__(**options)
        # Places (`first`, `last`, `best`...) are Records, or while a batch is read, rows of it
        # (`_rec` turns them into Records; the batch's end does for those that stay).
        self.block: list[float] = []
        self.block_first: Record | int | None = None
        self.best: tuple[float, Record | int] | None = None
        self.risen = 0
        self.risen_first: Record | int | None = None
        self.fired = False
        self.last = None                  # (metric name or None, place) of the latest report
        self.reports = Reports(one_series=True)
        self.size = 0                     # reports per block in use
        self.level: float | None = None   # smoothed block mean (per-step series)
        self.spread_sum = 0.0             # sum of within-block spreads (per-step series)
        self.spread_blocks = 0
        self.epoch_values: deque[float] = deque(maxlen=3)   # per-epoch series: median-of-3 filter
        self.last_raw: tuple[float, Record | int] | None = None

    def observe_batch(self, b: Batch):
        if self.fired:
            return
        rows, vals, n_epoch = loss_reports(self.reports, b)
        if not rows.size:
            return
        # Reports while the series still looks per-epoch are blocks of one (there is one per
        # epoch); after that, blocks of `window` reports.
        f = self._take(b, rows[:n_epoch], vals[:n_epoch], 1) if n_epoch else None
        if f is None and n_epoch < len(rows):
            f = self._take(b, rows[n_epoch:], vals[n_epoch:], self.opt["window"])
        if f is not None:
            yield f
            return
        # places that outlive the batch become Records
        rec = self._rec
        if self.block_first is not None:
            self.block_first = rec(b, self.block_first) if self.block else None
        if self.best is not None:
            self.best = (self.best[0], rec(b, self.best[1]))
        if self.risen_first is not None:
            self.risen_first = rec(b, self.risen_first)
        if self.last is not None and self.last[0] is None:
            self.last = (loss_name(b, self.last[1]), rec(b, self.last[1]))
        if self.last_raw is not None:
            self.last_raw = (self.last_raw[0], rec(b, self.last_raw[1]))

    @staticmethod
    def _rec(b: Batch | None, place: Record | int) -> Record:
        return place if isinstance(place, Record) else b.record(place)

    def _resize(self, size: int):
        """The series turned out to be per-step: start over."""
        self.size, self.block, self.best, self.level = size, [], None, None
        self.epoch_values.clear()

    def _take(self, b: Batch, rows, vals, size: int):
        """New reports (arrays) into blocks of `size`; the finding if a block fires."""
        if size != self.size:
            self._resize(size)
        if size == 1:
            return self._epochs(b, rows, vals)
        return self._steps(b, rows, vals, max(size, 1))

    def _epochs(self, b: Batch, rows, vals):
        """Reports of a series in blocks of one, each the median of its report and the two
        before: converged or noisy per-epoch losses jump by 2-10x for one epoch (a loss of 1e-5
        printing 1e-4 once, or 1e-5 after a run of 2e-5); a divergence is a level that holds,
        so the median of the last three epochs stands for the current one."""
        import numpy as np

        before = list(self.epoch_values)[-2:]     # (the median of the third is judged already)
        held = len(before)
        seq = np.concatenate((np.array(before, np.float64), vals)) if held else vals
        self.epoch_values.extend(vals[-3:].tolist())
        self.last_raw = (float(vals[-1]), int(rows[-1]))
        self.block_first = None
        if len(seq) < 3:
            return None
        # (a stable sort: the middle of three is the one `sorted` picks)
        threes = np.stack((seq[:-2], seq[1:-1], seq[2:]), axis=1)
        medians = np.sort(threes, axis=1, kind="stable")[:, 1]
        at = rows[max(0, 2 - held):]      # the reports whose median is judged
        self.last = (None, int(at[-1]))
        return self._judge(b, medians, None, 1, lambda j: int(at[j]), lambda j: int(at[j]))

    def _steps(self, b: Batch, rows, vals, size: int):
        """Reports in blocks of `size`, the open block going on from the last batch."""
        import numpy as np

        carried = self.block
        held = len(carried)
        self.last = (None, int(rows[-1]))
        if held + len(vals) < size:       # no block closes
            if not held:
                self.block_first = int(rows[0])
            self.block = carried + vals.tolist()
            return None
        seq = np.concatenate((np.array(carried, np.float64), vals)) if held else vals
        count = len(seq) // size
        end = count * size
        first_place = self.block_first

        def first(j: int):                # where block j starts (a row, or the carried place)
            return first_place if held and not j else int(rows[j * size - held])

        def last(j: int):
            return int(rows[(j + 1) * size - 1 - held])

        self.block = seq[end:].tolist()
        self.block_first = int(rows[end - held]) if end < len(seq) else None
        means, spreads = _stats(seq[:end].reshape(count, size))
        return self._judge(b, means, spreads, size, first, last)

    def finish(self):
        # A run that explodes and dies leaves a short last block: judge it if it holds at
        # least half a window.
        if not self.fired and self.block and len(self.block) >= max(2, self.opt["window"] // 2):
            import numpy as np

            block, first, last = self.block, self.block_first, self.last[1]
            self.block = []
            means, spreads = _stats(np.array([block], np.float64))
            f = self._judge(None, means, spreads, len(block), lambda j: first, lambda j: last)
            if f is not None:
                yield f
        # A per-epoch run whose last report explodes (and then ends) is not hidden by the
        # median filter.
        if not self.fired and self.size == 1 and self.best and self.last_raw and self.best[0] > 0 \
                and self.last_raw[0] >= self.opt["explode"] * self.best[0]:
            self.fired = True
            value, rec = self.last_raw
            yield self.finding(
                rec, f"training loss exploded from a best average of {_show(self.best[0])} "
                     f"(from line {self.best[1].line}) to {_show(value)} by line {rec.line}",
                evidence=[rec, self.best[1]], metric=self.last[0])

    def _judge(self, b: Batch | None, means, spreads, n: int, first, last):
        """Blocks of `n` reports, in order: their means (array), spreads (scaled MADs, None for
        blocks of one) and places (`first(j)`, `last(j)`: rows of `b`, or Records). The
        finding at the first block that fires, with the state left there; else None, with the
        state after the last block.

        The reference level is a recurrence, so it is a Python loop over the block means; what
        each block does to the best level and to how long the loss has been risen is then read
        from arrays."""
        import numpy as np

        opt = self.opt
        factor, sigmas, explode, patience = opt["factor"], opt["sigmas"], opt["explode"], opt["patience"]
        count = len(means)
        # Per-step series: the reference level is an exponential average of block means, so
        # one lucky block cannot set an unreachably low "best".
        levels = means.tolist()
        if n > 1:
            smoothing, level = opt["smoothing"], self.level
            for k, mean in enumerate(levels):
                level = levels[k] = mean if level is None else level + smoothing * (mean - level)
        lv = np.array(levels, np.float64)
        with np.errstate(all="ignore"):   # inf and nan levels compare as Python's floats do
            if n > 1:
                # With per-step losses the lowest block mean is partly luck: a rise must also
                # stand `sigmas` standard errors above it, or a noisy but flat run would
                # "diverge". (Batch-to-batch noise: the running mean of the blocks' spreads.)
                spread_sums = np.add.accumulate(np.concatenate(([self.spread_sum], 1.4826 * spreads)))[1:]
                noise = spread_sums / np.arange(self.spread_blocks + 1, self.spread_blocks + count + 1) / n ** 0.5
            else:
                noise = np.zeros(count)
            # the best level before each block (a nan best stays: nothing is below it); a block
            # below it is a new best, which resets the count of risen blocks
            start = self.best[0] if self.best is not None else levels[0]
            if start != start:
                low = np.full(count, start)
            else:
                low = np.fmin.accumulate(np.concatenate(([start], lv)))[:-1]
            new_best = lv < low
            if self.best is None:
                new_best[0] = True
            judged = ~new_best & ~(low <= 0)
            risen = judged & (means >= factor * low) & (means >= low + sigmas * noise)
            exploded = judged & (means >= explode * low)
        reset = new_best | (judged & ~risen)
        ups = np.cumsum(risen)
        last_reset = np.maximum.accumulate(np.where(reset, np.arange(count), -1))
        run = np.where(last_reset >= 0, ups - ups[np.maximum(last_reset, 0)], self.risen + ups)
        fires = np.flatnonzero(exploded | (judged & (run >= patience)))
        end = int(fires[0]) + 1 if fires.size else count
        bests = np.flatnonzero(new_best[:end])
        if bests.size:
            j = int(bests[-1])
            self.best = (levels[j], first(j))
        resets = np.flatnonzero(reset[:end])
        r = int(resets[-1]) if resets.size else -1
        if r >= 0 or self.risen_first is None:
            ups_after = np.flatnonzero(risen[r + 1:end])
            self.risen_first = first(r + 1 + int(ups_after[0])) if ups_after.size else None
        e = end - 1
        self.risen, self.level = int(run[e]), levels[e]
        if n > 1:
            self.spread_sum = float(spread_sums[e])
            self.spread_blocks += end
        if not fires.size:
            return None
        self.fired = True
        mean, best = float(means[e]), self.best[0]
        how = "exploded" if exploded[e] else "rose"
        at = self._rec(b, self.risen_first if self.risen_first is not None else first(e))
        rec, best_rec = self._rec(b, last(e)), self._rec(b, self.best[1])
        return self.finding(
            at, f"training loss {how} from a best average of {_show(best)} "
                f"(from line {best_rec.line}) to {_show(mean)} by line {rec.line}",
            evidence=[rec, best_rec], metric=self.last[0] if b is None else loss_name(b, last(e)))


def _stats(blocks):
    """(means, spreads) of the rows of `blocks` (one block of reports per row): the spread is
    the median absolute deviation from the block's median, robust to the spike a block may
    hold."""
    import numpy as np

    half = blocks.shape[1] // 2
    medians = np.sort(blocks, axis=1)[:, half]
    return block_means(blocks), np.sort(np.abs(blocks - medians[:, None]), axis=1)[:, half]


def _show(value: float) -> str:
    """Four significant digits: an average of 1.075e-05 must not print as 0.0."""
    return fmt(float(f"{value:.4g}"))
