from __future__ import annotations

from ..core.batch import Batch
from ..core.model import Severity
from . import register
from ._series import entry_metric, lr_arrays, progress_np
from .base import Rule, fmt, near_start


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
        rows, values, keys, key = lr_arrays(b)
        import numpy as np

        entries = np.flatnonzero(np.isfinite(values))          # only finite LRs are read
        if not entries.size:
            return
        if self.from_start is None:                 # the first record with a finite LR says
            self.from_start = near_start(b.record(int(rows[entries[0]])))
            if not self.from_start:
                return
        rows, values, key = rows[entries], values[entries], key[entries]
        judged = self._follow_new_groups(b, rows, values, keys, key)
        # Each rising group's reports in order (grouped by a stable sort): a fall ends its
        # warm-up for good; a rise at or past `min_increases` rises is judged by the progress.
        idx = judged[np.argsort(key[judged], kind="stable")]
        k, v = key[idx], values[idx]
        head = np.ones(idx.size, bool)
        np.not_equal(k[1:], k[:-1], out=head[1:])
        last, increases = self._carried(keys)
        before = np.empty(idx.size)
        before[1:] = v[:-1]
        before[head] = last[k[head]]
        rises, falls = v > before, v < before
        # (running counts only where there is something to count: most batches change nothing)
        alive = _cumsum_per_group(falls, head) == 0 if falls.any() else np.ones(idx.size, bool)
        count = increases[k] + _cumsum_per_group(rises, head) if rises.any() else increases[k]
        judge = np.flatnonzero(alive & rises & (count >= self.opt["min_increases"]))
        done, known = progress_np(b, rows[idx[judge]])
        fires = judge[known & (done >= self.opt["fraction"])]
        if fires.size:
            at = fires[np.argmin(idx[fires])]         # the earliest report over all groups
            yield from self._fire(b, rows, values, entries, int(idx[at]), keys[k[at]],
                                  float(done[np.searchsorted(judge, at)]))
            return
        self._carry(keys, k, v, head, alive, count)

    def _follow_new_groups(self, b: Batch, rows, values, keys, key):
        """Follow the groups first seen here (up to 64 in all, in order of appearance) from
        their first report; the positions of the reports left to judge: those of followed,
        still rising groups, but for these first ones."""
        import numpy as np

        known = self.groups
        codes, first = np.unique(key, return_index=True)
        new = sorted((int(at), keys[c]) for c, at in zip(codes.tolist(), first.tolist()) if keys[c] not in known)
        judged = np.ones(key.size, bool)
        for at, group in new[:max(0, 64 - len(known))]:
            known[group] = [b.record(int(rows[at])), float(values[at]), 0, True]
            judged[at] = False
        rising = np.array([group in known and known[group][3] for group in keys], bool)
        return np.flatnonzero(judged & rising[key])

    def _carried(self, keys):
        """(last LR, rises so far) of each followed group, by key code."""
        import numpy as np

        last, increases = np.full(len(keys), np.nan), np.zeros(len(keys), np.int64)
        for c, group in enumerate(keys):
            g = self.groups.get(group)
            if g is not None:
                last[c], increases[c] = g[1], g[2]
        return last, increases

    def _carry(self, keys, k, v, head, alive, count) -> None:
        """Each judged group's state after the batch: its last LR and rises, or fallen."""
        import numpy as np

        ends = np.append(np.flatnonzero(head)[1:] - 1, k.size - 1) if k.size else ()
        for end in ends:
            g = self.groups[keys[k[end]]]
            if alive[end]:
                g[1], g[2] = float(v[end]), int(count[end])
            else:
                g[3] = False                          # fell once: can never fire

    def _fire(self, b: Batch, rows, values, entries, j: int, group: str, done: float):
        i, value, g = int(rows[j]), float(values[j]), self.groups[group]
        name = entry_metric(b, "lr", b.np_series("lr")[0], int(entries[j])).name
        self.fired = True
        yield self.finding(
            b.record(i), f"learning rate {name} is still rising at {b.position(i)} ({done:.0%} of "
                         f"training; {fmt(g[0].by_role('lr')[0].value)} at line {g[0].line} → "
                         f"{fmt(value)}): the warm-up never ends", evidence=[g[0]], metric=name)


def _cumsum_per_group(x, head):
    """Running count of `x` within each group of consecutive positions (`head`: where one
    starts)."""
    import numpy as np

    total = np.cumsum(x)
    start = (total - x)[head]
    return total - start[np.cumsum(head) - 1]

