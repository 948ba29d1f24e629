"""Unicode sparklines for the terminal report: the shape of a curve in one line."""
from __future__ import annotations

import math

BARS = "▁▂▃▄▅▆▇█"
WIDTH = 48


def buckets(values: list[float], width: int = WIDTH) -> list[float | None]:
    """Average consecutive values down to `width` points (non-finite values become None)."""
    if len(values) <= width:
        groups = [[v] for v in values]
    else:
        step = len(values) / width
        groups = [values[int(i * step):int((i + 1) * step)] or [values[-1]] for i in range(width)]
    out: list[float | None] = []
    for g in groups:
        finite = [v for v in g if math.isfinite(v)]
        # the mean of the parts, not the sum over the count: 1e308 + 1e308 is inf
        out.append(sum(v / len(g) for v in g) if len(finite) == len(g) else None)
    return out


def sparkline(values: list[float], width: int = WIDTH, log: bool = False) -> str:
    """One character per bucket; '×' marks a bucket holding nan/inf."""
    points = buckets(values, width)
    finite = [p for p in points if p is not None]
    if not finite:
        return "×" * len(points)
    if log and all(p > 0 for p in finite):
        points = [math.log10(p) if p is not None else None for p in points]
        finite = [p for p in points if p is not None]
    lo, hi = min(finite), max(finite)
    if not math.isfinite(hi - lo):          # -1e308 to 1e308: the same shape at half the size
        points = [p / 2 if p is not None else None for p in points]
        lo, hi = lo / 2, hi / 2
    span = hi - lo
    chars = []
    for p in points:
        if p is None:
            chars.append("×")
        elif span == 0:
            chars.append(BARS[0] if p == 0 else BARS[3])
        else:
            chars.append(BARS[min(len(BARS) - 1, int((p - lo) / span * (len(BARS) - 1) + 0.5))])
    return "".join(chars)


def marker_row(positions: list[int], total: int, width: int = WIDTH) -> str:
    """'^' under the buckets where findings fired (positions are indexes into the series)."""
    n = min(total, width)
    row = [" "] * n
    for pos in positions:
        if total:
            row[min(n - 1, int(pos * n / total))] = "^"
    return "".join(row).rstrip()
