"""What the terminal report draws, kept in bounded memory whatever the length of the log.

The full tables (logdoc.tables) hold one row per metric: fine for `tables`, `compare` and
`report`, which ask for them, but gigabytes on a long run. The terminal report only shows the
first and last epochs and a 48-character curve per key series, so this keeps:

* the last value of each key metric for the first HEAD and the last TAIL epochs announced;
* each key series squeezed to at most 2 × MAX_POINTS points: when full, neighbouring points
  are merged pairwise (their mean, and the first line each covers), so the curve keeps its
  shape at any length; a point holding a nan/inf stays non-finite;
* the exact minimum and maximum of each series' finite values.
"""
from __future__ import annotations

import math
from collections import OrderedDict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .batch import Batch

# Which metrics a per-epoch overview shows first, by role.
EPOCH_ROLES = ("loss", "val_loss", "lr", "param_delta", "grad_norm", "val_metric", "metric")
TREND_ROLES = ("loss", "val_loss", "lr", "param_delta", "grad_norm")
HEAD, TAIL = 6, 6
MAX_POINTS = 2048
MAX_NAMES = 64


class Series:
    """A series squeezed to a bounded number of points (see the module docstring)."""

    __slots__ = ("role", "lines", "sums", "counts", "lo", "hi", "per_point")

    def __init__(self, role: str):
        self.role = role
        self.lines: list[int] = []     # first line each point covers
        self.sums: list[float] = []    # sum of the values (nan when one was not finite)
        self.counts: list[int] = []
        self.lo = math.inf
        self.hi = -math.inf
        self.per_point = 1             # values per point before the last merge

    def add(self, line: int, value: float) -> None:
        if math.isfinite(value):
            if value < self.lo:
                self.lo = value
            if value > self.hi:
                self.hi = value
        else:
            value = math.nan
        if self.counts and self.counts[-1] < self.per_point:
            self.sums[-1] += value
            self.counts[-1] += 1
            return
        self.lines.append(line)
        self.sums.append(value)
        self.counts.append(1)
        if len(self.lines) >= 2 * MAX_POINTS:
            self.lines = self.lines[::2]
            self.sums = [a + b for a, b in zip(self.sums[::2], self.sums[1::2])]
            self.counts = [a + b for a, b in zip(self.counts[::2], self.counts[1::2])]
            self.per_point *= 2

    def values(self) -> list[float]:
        """One value per point: the mean of what it covers (nan if any was not finite)."""
        return [s / c for s, c in zip(self.sums, self.counts)]

    def points_at(self, lines: set[int]) -> list[int]:
        """Indexes of the points covering any of these lines."""
        out = []
        bounds = self.lines
        for i, first in enumerate(bounds):
            if self.counts[i] == 1:
                if first in lines:
                    out.append(i)
                continue
            end = bounds[i + 1] if i + 1 < len(bounds) else math.inf
            if any(first <= line < end for line in lines):
                out.append(i)
        return out

    @property
    def finite_range(self) -> tuple[float, float] | None:
        return (self.lo, self.hi) if self.lo <= self.hi else None


class Overview:
    def __init__(self):
        self.head: dict[float, dict[str, float]] = {}
        self.tail: OrderedDict[float, dict[str, float]] = OrderedDict()
        self.epochs_seen = 0
        self.role_of: dict[str, str] = {}
        self.series: dict[str, Series] = {}

    def add_batch(self, b: "Batch") -> None:
        epochs = b.epoch
        lines = b.line
        for r, name, role, value in zip(b.m_row, b.m_name, b.m_role, b.m_value):
            if role in TREND_ROLES:
                s = self.series.get(name)
                if s is None and len(self.series) < MAX_NAMES:
                    s = self.series[name] = Series(role)
                if s is not None:
                    s.add(lines[r], value)
            epoch = epochs[r]
            if epoch is None or role not in EPOCH_ROLES:
                continue
            if name not in self.role_of and len(self.role_of) < MAX_NAMES:
                self.role_of[name] = role
            self._epoch(epoch)[name] = value

    def add_rows(self, rows) -> "Overview":
        """Fill from the long rows of logdoc.tables (for Results that kept tables)."""
        from .batch import Batch

        b = Batch()
        for i, (line, epoch, step, name, role, group, value, phase, pattern) in enumerate(rows):
            b.line.append(line)
            b.epoch.append(epoch)
            b.m_row.append(i)
            b.m_name.append(name)
            b.m_role.append(role)
            b.m_value.append(value)
        self.add_batch(b)
        return self

    def _epoch(self, epoch: float) -> dict[str, float]:
        row = self.head.get(epoch)
        if row is None:
            row = self.tail.get(epoch)
        if row is None:
            row = {}
            self.epochs_seen += 1
            if len(self.head) < HEAD:
                self.head[epoch] = row
            else:
                self.tail[epoch] = row
                if len(self.tail) > TAIL:
                    self.tail.popitem(last=False)
        return row

    def epoch_rows(self) -> tuple[list[str], list[tuple | None], bool]:
        """(columns, rows, skipped): rows of the first and last epochs; `skipped` tells that
        epochs between them are not shown."""
        cols = sorted(self.role_of, key=lambda n: EPOCH_ROLES.index(self.role_of[n]))[:7]
        shown = [*self.head.items(), *self.tail.items()]
        rows = [(epoch, *[vals.get(c) for c in cols]) for epoch, vals in shown]
        return cols, rows, self.epochs_seen > len(shown)
