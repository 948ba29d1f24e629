from __future__ import annotations

from collections import deque
from itertools import chain, repeat
from math import inf, isfinite
from operator import itemgetter, sub, truediv

from ..batch import Batch
from ..model import Record, Severity
from . import register
from .base import Reports, Rule, fmt
from ._series import loss_name_at, new_finite_losses, new_finite_losses_np


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
        window = self.opt["window"]
        # A big batch from the vector parser: its new reports come as arrays, and NumPy proves
        # first that no block fires (`_quiet_blocks`); the list code takes the rest.
        got = new_finite_losses_np(self.reports, b) if b.columns is not None else None
        settled = False
        if got is None:
            rows, vals, n_epoch = new_finite_losses(self.reports, b)
        else:
            rows, vals, n_epoch = got
            settled = window > 1 and not n_epoch and len(rows) > 0 and self._quiet_blocks(rows, vals)
            if not settled:
                rows, vals = rows.tolist(), vals.tolist()     # what new_finite_losses returns
        if not settled:
            if not rows:
                return
            # Reports while the series still looks per-epoch go one by one (there is one per
            # epoch); after that, blocks of `window` reports are cut from the batch's values.
            one_by_one = len(rows) if window <= 1 else n_epoch
            if one_by_one:
                yield from self._reports(b, rows, vals, 0, one_by_one, n_epoch)
            if one_by_one < len(rows) and not self.fired:
                yield from self._blocks(b, rows, vals, one_by_one)
        if not self.fired:               # places that outlive the batch become Records
            rec = self._rec
            if self.block_first is not None:
                self.block_first = rec(b, self.block_first) if self.block else None
            if self.best is not None:
                self.best = (self.best[0], rec(b, self.best[1]))
            if self.risen_first is not None:
                self.risen_first = rec(b, self.risen_first)
            if self.last is not None and self.last[0] is None:
                at = rec(b, self.last[1])
                self.last = (_loss_name(b, self.last[1], at), at)
            if self.last_raw is not None:
                self.last_raw = (self.last_raw[0], rec(b, self.last_raw[1]))

    @staticmethod
    def _rec(b: Batch | None, place: Record | int) -> Record:
        return place if isinstance(place, Record) else b.record(place)

    def _resize(self, size: int):
        """The series turned out to be per-step: start over."""
        self.size, self.block, self.best, self.level = size, [], None, None
        self.epoch_values.clear()

    def _reports(self, b: Batch, rows: list[int], vals: list[float], start: int, end: int, n_epoch: int):
        """New reports start..end-1 one at a time."""
        window = self.opt["window"]
        for k in range(start, end):
            i, value = rows[k], vals[k]
            size = 1 if k < n_epoch else window
            if size != self.size:
                self._resize(size)
            if not self.block:
                self.block_first = i
            if size == 1:
                # Converged or noisy per-epoch losses jump by 2-10x for one epoch (a loss of 1e-5
                # printing 1e-4 once, or 1e-5 after a run of 2e-5); a divergence is a level that
                # holds, so the median of the last three epochs stands for the current one.
                self.epoch_values.append(value)
                self.last_raw = (value, i)
                if len(self.epoch_values) < 3:
                    continue
                value = sorted(self.epoch_values)[1]
            self.block.append(value)
            self.last = (None, i)
            if len(self.block) >= size:
                yield from self._close_block(b)
                if self.fired:
                    return

    def _blocks(self, b: Batch, rows: list[int], vals: list[float], start: int):
        """New reports start.. of a per-step series (blocks of `window` > 1), in bulk: the
        means and spreads of the batch's whole blocks at once, then their judgement in order."""
        window = self.opt["window"]
        if self.size != window:
            self._resize(window)
        end = len(rows)
        carried = self.block
        k = start + (window - len(carried) if carried else 0)      # where block 1 starts
        if k > end:                       # not even the carried block fills up
            self.block = carried + vals[start:]
            self.last = (None, rows[-1])
            return
        cuts = range(k, end - window + 1, window)
        firsts = list(map(rows.__getitem__, cuts))
        lasts = list(map(rows.__getitem__, range(k + window - 1, end, window)))
        head = (carried + vals[start:k],) if carried else ()
        if carried:
            firsts.insert(0, self.block_first)
            lasts.insert(0, rows[k - 1])
        rest = (cuts[-1] + window) if cuts else k
        if rest < end:
            self.block, self.block_first = vals[rest:], rows[rest]
        else:
            self.block, self.block_first = [], None
        self.last = (None, rows[-1])

        def blocks():                     # sliced anew for each pass: no list per block stays alive
            return chain(head, map(vals.__getitem__, map(slice, cuts, range(k + window, end + 1, window))))

        # scaled MAD: batch-to-batch noise, robust to the spike a block may hold
        half = window // 2
        means = list(map(truediv, map(sum, blocks()), repeat(window)))
        medians = list(map(itemgetter(half), map(sorted, blocks())))
        spreads = list(map(itemgetter(half), map(sorted, map(
            map, repeat(abs), map(map, repeat(sub), blocks(), map(repeat, medians))))))
        opt = self.opt
        smoothing, factor, sigmas, explode, patience = (opt["smoothing"], opt["factor"], opt["sigmas"],
                                                       opt["explode"], opt["patience"])
        root = window ** 0.5
        level, best, risen, risen_first = self.level, self.best, self.risen, self.risen_first
        spread_sum, spread_blocks = self.spread_sum, self.spread_blocks
        for mean, spread, first, last_row in zip(means, spreads, firsts, lasts):
            spread_sum += 1.4826 * spread
            spread_blocks += 1
            # the reference level is an exponential average of block means, so one lucky
            # block cannot set an unreachably low "best"
            level = mean if level is None else level + smoothing * (mean - level)
            if best is None or level < best[0]:
                best, risen, risen_first = (level, first), 0, None
                continue
            low = best[0]
            if low <= 0:
                continue
            if mean >= factor * low and mean >= low + sigmas * (spread_sum / spread_blocks / root):
                risen += 1
                if risen_first is None:
                    risen_first = first
            else:
                risen, risen_first = 0, None
            if mean >= explode * low or risen >= patience:
                self.fired = True
                how = "exploded" if mean >= explode * low else "rose"
                at = self._rec(b, risen_first if risen_first is not None else first)
                rec, best_rec = b.record(last_row), self._rec(b, best[1])
                yield self.finding(
                    at, f"training loss {how} from a best average of {_show(low)} "
                        f"(from line {best_rec.line}) to {_show(mean)} by line {rec.line}",
                    evidence=[rec, best_rec], metric=loss_name_at(b, last_row))
                return
        self.level, self.best, self.risen, self.risen_first = level, best, risen, risen_first
        self.spread_sum, self.spread_blocks = spread_sum, spread_blocks

    def _quiet_blocks(self, rows, vals) -> bool:
        """`_blocks` from the start, with NumPy, on the arrays of a columns batch's new
        reports (rows int64, values float64): True when no block fires, with the state left
        exactly as `_blocks` leaves it; False (state as it was) otherwise.

        Block means, medians, spreads and the running spread sum are the same IEEE operations
        in the same order as `_blocks` (sums left to right; `np.add.accumulate` is sequential).
        The smoothed level is a recurrence, so it stays a Python loop over the block means;
        the judgement of every block (new best, risen, how long risen, fired) is then done on
        arrays."""
        window = self.opt["window"]
        if self.size != window:
            self._resize(window)         # as `_blocks` does first (it finds it done after a False)
        end = len(rows)
        carried = self.block
        if len(carried) >= window:
            return False
        k = window - len(carried) if carried else 0     # where the first block of the batch starts
        if k > end:
            return False                  # no block closes: `_blocks` is cheap
        whole = (end - k) // window       # blocks cut from this batch alone
        if not whole and not carried:
            return False
        import numpy as np

        rest = k + whole * window
        M = vals[k:rest].reshape(whole, window)
        if carried:
            M = np.concatenate((np.array([carried + vals[:k].tolist()], np.float64), M))
        total = M[:, 0] + 0.0             # sum() starts from 0: 0 + -0.0 is 0.0
        for c in range(1, window):
            total += M[:, c]
        means = total / window
        half = window // 2
        medians = np.sort(M, axis=1)[:, half]
        spreads = np.sort(np.abs(M - medians[:, None]), axis=1)[:, half]
        opt = self.opt
        smoothing, factor, sigmas, explode, patience = (opt["smoothing"], opt["factor"], opt["sigmas"],
                                                       opt["explode"], opt["patience"])
        level = self.level
        levels = []
        append = levels.append
        for mean in means.tolist():
            level = mean if level is None else level + smoothing * (mean - level)
            append(level)
        lv = np.array(levels)
        best = self.best
        if not np.isfinite(lv).all() or (best is not None and not isfinite(best[0])):
            return False                  # nan/inf levels: the running minimum below assumes order
        n = len(levels)
        spread_sums = np.add.accumulate(np.concatenate(([self.spread_sum], 1.4826 * spreads)))[1:]
        counts = np.arange(self.spread_blocks + 1, self.spread_blocks + n + 1)
        # the best level before each block; a block below it is a new best (and resets risen)
        low = np.minimum.accumulate(np.concatenate(([inf if best is None else best[0]], lv)))[:-1]
        new_best = lv < low
        judged = ~new_best & (low > 0)   # where `_blocks` goes on past its two `continue`s
        noise = spread_sums / counts / window ** 0.5
        risen = judged & (means >= factor * low) & (means >= low + sigmas * noise)
        reset = new_best | (judged & ~risen)
        ups = np.cumsum(risen)
        last_reset = np.maximum.accumulate(np.where(reset, np.arange(n), -1))
        run = np.where(last_reset >= 0, ups - ups[np.maximum(last_reset, 0)], self.risen + ups)
        if (judged & ((means >= explode * low) | (run >= patience))).any():
            return False

        def first(j: int):                # where block j starts (a row, or the carried place)
            if carried:
                return self.block_first if j == 0 else int(rows[k + (j - 1) * window])
            return int(rows[k + j * window])

        if new_best.any():
            j = int(np.flatnonzero(new_best)[-1])
            self.best = (levels[j], first(j))
        if reset.any():
            r = int(np.flatnonzero(reset)[-1])
            after = np.flatnonzero(risen[r:])
            self.risen_first = first(r + int(after[0])) if after.size else None
        elif self.risen_first is None and risen.any():
            self.risen_first = first(int(np.flatnonzero(risen)[0]))
        self.risen = int(run[-1])
        self.level = levels[-1]
        self.spread_sum = float(spread_sums[-1])
        self.spread_blocks += n
        if rest < end:
            self.block, self.block_first = vals[rest:].tolist(), int(rows[rest])
        else:
            self.block, self.block_first = [], None
        self.last = (None, int(rows[-1]))
        return True

    def finish(self):
        # A run that explodes and dies leaves a short last block: judge it if it holds at
        # least half a window.
        if not self.fired and self.block and len(self.block) >= max(2, self.opt["window"] // 2):
            yield from self._close_block(None)
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

    def _close_block(self, b: Batch | None):
        block = self.block
        n = len(block)
        mean = sum(block) / n
        if n > 1:      # batch-to-batch noise, robust to the spike a block may hold (scaled MAD)
            med = sorted(block)[n // 2]
            self.spread_sum += 1.4826 * sorted(map(abs, map(sub, block, repeat(med))))[n // 2]
            self.spread_blocks += 1
        first = self.block_first
        name, last = self.last
        self.block = []
        # Per-step series: the reference level is an exponential average of block means, so
        # one lucky block cannot set an unreachably low "best".
        if n > 1 and self.level is not None:
            self.level += self.opt["smoothing"] * (mean - self.level)
        else:
            self.level = mean
        if self.best is None or self.level < self.best[0]:
            self.best = (self.level, first)
            self.risen, self.risen_first = 0, None
            return
        best = self.best[0]
        if best <= 0:
            return
        # With per-step losses the lowest block mean is partly luck: a rise must also stand
        # `sigmas` standard errors above it, or a noisy but flat run would "diverge".
        noise = self.spread_sum / self.spread_blocks / n ** 0.5 if self.spread_blocks and n > 1 else 0.0
        if mean >= self.opt["factor"] * best and mean >= best + self.opt["sigmas"] * noise:
            self.risen += 1
            if self.risen_first is None:
                self.risen_first = first
        else:
            self.risen, self.risen_first = 0, None
        if mean >= self.opt["explode"] * best or self.risen >= self.opt["patience"]:
            self.fired = True
            how = "exploded" if mean >= self.opt["explode"] * best else "rose"
            start = self._rec(b, self.risen_first if self.risen_first is not None else first)
            rec, best_rec = self._rec(b, last), self._rec(b, self.best[1])
            if name is None:
                name = loss_name_at(b, last)
            yield self.finding(
                start, f"training loss {how} from a best average of {_show(best)} "
                       f"(from line {best_rec.line}) to {_show(mean)} by line {rec.line}",
                evidence=[rec, best_rec], metric=name)


def _loss_name(b: Batch, i: int, rec: Record) -> str:
    """`loss_name_at(b, i)`, where `rec` is row i's Record: on a columns batch, from the record
    when it holds one loss (what `b.train_loss` names then), so that `b.train_loss` (and the
    list columns it builds) is not needed for it."""
    if b.columns is not None:
        names = [m.name for m in rec.metrics if m.role == "loss"]
        if len(names) == 1:
            return names[0]
    return loss_name_at(b, i)


def _show(value: float) -> str:
    """Four significant digits: an average of 1.075e-05 must not print as 0.0."""
    return fmt(float(f"{value:.4g}"))
