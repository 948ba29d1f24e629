"""What the terminal report draws, kept in bounded memory whatever the length of the log.

The full tables (logdoc.views.tables) hold one row per metric: fine for `tables`, `compare` and
`report`, which ask for them, but gigabytes on a long run. The terminal report only shows the
first and last epochs and a 48-character curve per key series, so this keeps:

* the last value of each key metric for the first HEAD and the last TAIL epochs announced;
* each key series squeezed to at most 2 × MAX_POINTS (512) points: when full, neighbouring points
  are merged pairwise (their mean, and the first line each covers), so the curve keeps its
  shape at any length; a point holding a nan/inf stays non-finite;
* the exact minimum and maximum of each series' finite values.
"""
from __future__ import annotations

import math
from collections import OrderedDict
from itertools import chain, compress
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..core.batch import Batch

# Which metrics a per-epoch overview shows first, by role.
EPOCH_ROLES = ("loss", "val_loss", "lr", "param_delta", "grad_norm", "val_metric", "metric")
TREND_ROLES = ("loss", "val_loss", "lr", "param_delta", "grad_norm")
HEAD, TAIL = 6, 6
MAX_POINTS = 256           # 512 points at most: a 48-character curve needs no more
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
        self.extend([line], [value])

    def extend(self, lines: list[int], values: list[float]) -> None:
        """Add points in bulk: C-level min/max and list extends; Python only per merged point."""
        if not all(map(math.isfinite, values)):
            finite = [v for v in values if math.isfinite(v)]
            values = [v if math.isfinite(v) else math.nan for v in values]
        else:
            finite = values
        if finite:
            self.lo = min(self.lo, min(finite))
            self.hi = max(self.hi, max(finite))
        self._squeeze(len(values), lambda a, b: sum(values[a:b]),
                      lambda a, b, p: values[a:b] if p == 1 else [sum(values[i:i + p]) for i in range(a, b, p)],
                      lambda a, b, p: lines[a:b:p])

    def extend_array(self, lines, values) -> None:
        """`extend` from NumPy arrays: whole points summed a row of a matrix at a time (a big
        batch adds tens of thousands of values to a few points). Sums may differ from
        `extend`'s in the last bits (NumPy sums pairwise); every other field is the same."""
        import numpy as np

        from ..core.columns import first_extreme

        finite = np.isfinite(values)
        if finite.all():
            kept = values
        else:
            kept = values[finite]
            values = np.where(finite, values, math.nan)
        if kept.size:
            self.lo = min(self.lo, first_extreme(kept, kept.min()))
            self.hi = max(self.hi, first_extreme(kept, kept.max()))
        self._squeeze(len(values), lambda a, b: float(values[a:b].sum()),
                      lambda a, b, p: (values[a:b] if p == 1 else values[a:b].reshape(-1, p).sum(axis=1)).tolist(),
                      lambda a, b, p: lines[a:b:p].tolist())

    def _squeeze(self, n: int, span_sum, point_sums, point_lines) -> None:
        """Add n values: top up the last point, then whole points of `per_point` values (a
        last one partly), halving the points whenever there are 2 * MAX_POINTS of them.
        `span_sum(a, b)`: the sum of values a..b-1; `point_sums(a, b, p)` and `point_lines`:
        the sums and first lines of the points of p values from a to b."""
        k = 0
        while k < n:
            p = self.per_point
            if self.counts and self.counts[-1] < p:       # top up the last point
                take = min(p - self.counts[-1], n - k)
                self.sums[-1] += span_sum(k, k + take)
                self.counts[-1] += take
                k += take
                continue
            whole = min(2 * MAX_POINTS - len(self.lines), (n - k) // p)   # until the next merge
            if whole:
                end = k + whole * p
                self.lines.extend(point_lines(k, end, p))
                self.sums.extend(point_sums(k, end, p))
                self.counts.extend([p] * whole)
                k = end
            else:                                         # a last point, topped up later
                self.lines.append(point_lines(k, k + 1, 1)[0])
                self.sums.append(span_sum(k, n))
                self.counts.append(n - k)
                k = n
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


def _distinct_in_order(values) -> list:
    """The distinct values of an array without nan, in order of first appearance (runs of
    equal values first: epochs come in runs)."""
    import numpy as np

    if not len(values):
        return []
    starts = np.flatnonzero(np.concatenate(([True], values[1:] != values[:-1])))
    return list(dict.fromkeys(values[starts].tolist()))


def _in_order(meta_codes, meta) -> list[str]:
    """Metric names of these meta codes, each once, in order of first appearance."""
    from ..core.columns import first_codes

    return list(dict.fromkeys(meta[c][0] for c in first_codes(meta_codes)))


class Overview:
    def __init__(self):
        self.head: dict[float, dict[str, float]] = {}
        self.tail: OrderedDict[float, dict[str, float]] = OrderedDict()
        self.epochs_seen = 0
        self.role_of: dict[str, str] = {}
        self.series: dict[str, Series] = {}

    def add_batch(self, b: "Batch") -> None:
        if b.columns is not None and self._add_columns(b):
            return
        roles = b.roles
        lines = b.line
        for role in TREND_ROLES:
            if role not in roles:
                continue
            rows, names, values, _ = b.series(role)
            at_line = list(map(lines.__getitem__, rows))          # C-level gathers throughout
            if len(set(names)) == 1:                  # one series of this role: in bulk
                self._series(names[0], role, at_line, values)
            else:
                for name in dict.fromkeys(names):
                    mine = list(map(name.__eq__, names))
                    self._series(name, role, list(compress(at_line, mine)), list(compress(values, mine)))
        epochs = b.epoch
        if epochs.count(None) == len(epochs):
            return
        # in metric order, so epochs and columns appear in the order the log printed them
        m_row, m_name, m_role, m_value = b.m_row, b.m_name, b.m_role, b.m_value
        idx = sorted(chain.from_iterable(b._role_index().get(r, ()) for r in EPOCH_ROLES))
        ep = list(map(epochs.__getitem__, map(m_row.__getitem__, idx)))
        if None in ep:
            present = [e is not None for e in ep]
            idx, ep = list(compress(idx, present)), list(compress(ep, present))
        if not idx:
            return
        names = list(map(m_name.__getitem__, idx))
        for name in dict.fromkeys(names):
            if name not in self.role_of and len(self.role_of) < MAX_NAMES:
                self.role_of[name] = m_role[idx[names.index(name)]]
        distinct = dict.fromkeys(ep)              # each epoch once, in order of appearance
        for epoch in distinct:
            self._epoch(epoch)
        kept = {e: row for e in distinct if (row := self.head.get(e, self.tail.get(e))) is not None}
        # only the epochs still shown need their values (a run of 1000 epochs keeps 12)
        for k in compress(range(len(idx)), map(kept.__contains__, ep)):
            kept[ep[k]][names[k]] = m_value[idx[k]]

    def _add_columns(self, b: "Batch") -> bool:
        """add_batch from a NumPy batch's arrays, without building its list columns (False,
        before any change: a nan epoch, which the list code keeps as the log gave it)."""
        import numpy as np

        from ..core.columns import first_codes

        cols = b.columns
        epochs, known = b.np_counter("epoch")
        if np.isnan(epochs[known]).any():
            return False
        codes, role_names = cols.role_codes()
        meta = cols.meta
        for role in TREND_ROLES:
            idx = cols.metric_index(role)
            if not len(idx):
                continue
            at_line, values, mc = cols.line[cols.m_row[idx]], cols.m_value[idx], cols.m_meta[idx]
            names = _in_order(mc, meta)
            if len(names) == 1:
                self._series(names[0], role, at_line, values)
                continue
            number = {name: k for k, name in enumerate(names)}
            name_of = np.array([number.get(m[0], -1) for m in meta])[mc]    # (ints compare fast)
            for k, name in enumerate(names):
                mine = name_of == k
                self._series(name, role, at_line[mine], values[mine])
        if not known.any():
            return True
        wanted = [k for k, r in enumerate(role_names) if r in EPOCH_ROLES]
        idx = np.flatnonzero(np.isin(codes, wanted))          # in metric order, as printed
        idx = idx[known[cols.m_row[idx]]]
        if not len(idx):
            return True
        mc = cols.m_meta[idx]
        first_meta = {}
        for c in first_codes(mc):
            first_meta.setdefault(meta[c][0], c)
        for name, c in first_meta.items():
            if name not in self.role_of and len(self.role_of) < MAX_NAMES:
                self.role_of[name] = meta[c][1]
        ep = epochs[cols.m_row[idx]]
        distinct = _distinct_in_order(ep)                   # each epoch once, in order
        for epoch in distinct:
            self._epoch(epoch)
        kept = {e: row for e in distinct if (row := self.head.get(e, self.tail.get(e))) is not None}
        # only the epochs still shown need their values (a run of 1000 epochs keeps 12)
        sel = np.flatnonzero(np.isin(ep, list(kept)))
        for e, c, v in zip(ep[sel].tolist(), mc[sel].tolist(), cols.m_value[idx[sel]].tolist()):
            kept[e][meta[c][0]] = v
        return True

    def _series(self, name: str, role: str, lines, values) -> None:
        """Add to series `name` (lists, or NumPy arrays from a big batch)."""
        s = self.series.get(name)
        if s is None:
            if len(self.series) >= MAX_NAMES:
                return
            s = self.series[name] = Series(role)
        if isinstance(lines, list):
            s.extend(lines, values)
        else:
            s.extend_array(lines, values)

    def add_rows(self, rows) -> "Overview":
        """Fill from the long rows of logdoc.views.tables (for Results that kept tables)."""
        from ..core.batch import Batch

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
