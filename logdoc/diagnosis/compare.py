"""Before/after comparison of two runs: what a fix resolved, what it broke, how metrics moved."""
from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..core.model import Finding, Severity

if TYPE_CHECKING:      # (a Result is built by the engine, which sits above this layer)
    from ..engine.session import Result


def _key(f: Finding) -> tuple[str, str]:
    """Findings match across runs by rule and metric (line numbers differ between runs)."""
    return (f.rule, f.metric or "")


@dataclass
class Comparison:
    before: Result
    after: Result
    resolved: list[Finding]
    new: list[Finding]
    persisting: list[tuple[Finding, Finding]]
    metrics: list[tuple[str, object, object]]     # (label, before value, after value)

    @property
    def new_errors(self) -> list[Finding]:
        return [f for f in self.new if f.severity is Severity.error]

    def to_json(self) -> dict:
        return {
            "schema": 1,
            "before": self.before.path,
            "after": self.after.path,
            "resolved": [f.to_json() for f in self.resolved],
            "new": [f.to_json() for f in self.new],
            "persisting": [{"before": b.to_json(), "after": a.to_json()} for b, a in self.persisting],
            "metrics": [{"metric": label, "before": _json_value(b), "after": _json_value(a)}
                        for label, b, a in self.metrics],
        }


def _json_value(value):
    """Strict JSON has no inf/nan: spell them as strings, as logs do."""
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return "nan" if value != value else ("inf" if value > 0 else "-inf")
    return value


def compare(before: Result, after: Result) -> Comparison:
    counted = lambda r: [f for f in r.findings if f.severity >= Severity.warning]
    b_by = {}
    for f in counted(before):
        b_by.setdefault(_key(f), f)
    a_by = {}
    for f in counted(after):
        a_by.setdefault(_key(f), f)
    resolved = [f for k, f in b_by.items() if k not in a_by]
    new = [f for k, f in a_by.items() if k not in b_by]
    persisting = [(b_by[k], a_by[k]) for k in b_by if k in a_by]
    return Comparison(before, after, resolved, new, persisting, key_metrics(before, after))


# ---------------------------------------------------------------------------- key metrics

class _Series:
    """The most printed metric of a role, in log order: its values and epochs (known mask)."""

    def __init__(self, values, epochs, known):
        self.values, self.epochs, self.known = values, epochs, known

    def first(self):
        return float(self.values[0]) if len(self.values) else None

    def last(self):
        return float(self.values[-1]) if len(self.values) else None

    def best(self):
        """min() of the finite values (the first of equal ones: 0.0 or -0.0), or None."""
        import numpy as np

        from ..core.columns import first_extreme

        finite = self.values[np.isfinite(self.values)]
        return first_extreme(finite, finite.min()) if len(finite) else None

    def epoch_reaching(self, target: float | None):
        """The epoch of the first value at or below `target` (None: never, or no epoch)."""
        import numpy as np

        if target is None:
            return None
        hits = np.flatnonzero(self.values <= target)
        if not len(hits):
            return None
        i = int(hits[0])
        return float(self.epochs[i]) if self.known[i] else None


def _series(result: Result, role: str) -> _Series | None:
    """The most printed metric of a role (ties: the first printed), or None."""
    import numpy as np

    m = result.tables.arrays() if result.tables is not None else None
    if m is None:
        return None
    picked = np.flatnonzero(np.isin(m.role, m.codes_of([role])))
    if not len(picked):
        return None
    names = m.name[picked]
    counts = np.bincount(names)
    most = np.flatnonzero(counts == counts.max())
    name = int(names[np.min([np.argmax(names == c) for c in most])])   # first printed of the tied
    rows = picked[names == name]
    return _Series(m.value[rows], m.epoch[rows], m.epoch_known[rows])


def _lr_at_first_epoch(result: Result) -> dict[str, float]:
    """Each LR group's (or metric's) first value in the epoch of the first LR value."""
    import numpy as np

    m = result.tables.arrays() if result.tables is not None else None
    if m is None:
        return {}
    lr = np.flatnonzero(np.isin(m.role, m.codes_of(["lr"])))
    if not len(lr):
        return {}
    first_known = m.epoch_known[lr[0]]
    # as `epoch == epoch0` compares: None with None, numbers as numbers (nan with nothing)
    same = (m.epoch_known[lr] & (m.epoch[lr] == m.epoch[lr[0]])) if first_known else ~m.epoch_known[lr]
    first: dict[str, float] = {}
    for r in lr[same].tolist():
        first.setdefault(m.texts[m.group[r]] or m.texts[m.name[r]], float(m.value[r]))
    return first


def _median_update(result: Result) -> float | None:
    import numpy as np

    m = result.tables.arrays() if result.tables is not None else None
    if m is None:
        return None
    rows = np.flatnonzero(np.isin(m.role, m.codes_of(["param_delta"])))
    median_names = [k for k, t in enumerate(m.texts) if isinstance(t, str) and "median" in t]
    of_medians = rows[np.isin(m.name[rows], median_names)]
    values = m.value[of_medians if len(of_medians) else rows]
    values = values[np.isfinite(values)].tolist()
    return statistics.median(values) if values else None


def key_metrics(before: Result, after: Result) -> list[tuple[str, object, object]]:
    out: list[tuple[str, object, object]] = []
    for role, label in (("loss", "train loss"), ("val_loss", "val loss")):
        bs, as_ = _series(before, role), _series(after, role)
        if bs is None and as_ is None:
            continue
        for what, pick in (("first", _Series.first), ("last", _Series.last), ("best", _Series.best)):
            out.append((f"{label} ({what})", pick(bs) if bs else None, pick(as_) if as_ else None))
        target = bs.best() if bs else None
        if target is not None:
            out.append((f"epoch reaching before's best {label} ({target:g})",
                        bs.epoch_reaching(target), as_.epoch_reaching(target) if as_ else None))
    b_lr, a_lr = _lr_at_first_epoch(before), _lr_at_first_epoch(after)
    for group in dict.fromkeys([*b_lr, *a_lr]):
        out.append((f"LR at first epoch ({group})", b_lr.get(group), a_lr.get(group)))
    b_up, a_up = _median_update(before), _median_update(after)
    if b_up is not None or a_up is not None:
        out.append(("median parameter update", b_up, a_up))
    return out
