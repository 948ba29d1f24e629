"""Before/after comparison of two runs: what a fix resolved, what it broke, how metrics moved."""
from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass

from .model import Finding, Severity
from .session import Result


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

def _series(result: Result, role: str) -> tuple[str | None, list[tuple[float | None, float]]]:
    """The most printed metric of a role, as (epoch, value) in log order."""
    if result.tables is None:
        return None, []
    rows = [r for r in result.tables.rows if r[4] == role]
    if not rows:
        return None, []
    name = Counter(r[3] for r in rows).most_common(1)[0][0]
    return name, [(r[1], r[6]) for r in rows if r[3] == name]


def _finite(values):
    return [v for v in values if v == v and abs(v) != float("inf")]


def _epochs_to_reach(series, target: float | None) -> float | None:
    if target is None:
        return None
    for epoch, value in series:
        if value == value and value <= target:
            return epoch
    return None


def _lr_at_first_epoch(result: Result) -> dict[str, float]:
    if result.tables is None:
        return {}
    first: dict[str, float] = {}
    epoch0 = None
    for line, epoch, step, name, role, group, value, phase, pattern in result.tables.rows:
        if role != "lr":
            continue
        if epoch0 is None:
            epoch0 = epoch
        if epoch == epoch0:
            first.setdefault(group or name, value)
    return first


def _median_update(result: Result) -> float | None:
    if result.tables is None:
        return None
    rows = [r for r in result.tables.rows if r[4] == "param_delta"]
    medians = [r[6] for r in rows if "median" in r[3]] or [r[6] for r in rows]
    medians = _finite(medians)
    return statistics.median(medians) if medians else None


def key_metrics(before: Result, after: Result) -> list[tuple[str, object, object]]:
    out: list[tuple[str, object, object]] = []
    for role, label in (("loss", "train loss"), ("val_loss", "val loss")):
        _, bs = _series(before, role)
        _, as_ = _series(after, role)
        if not bs and not as_:
            continue
        for what, pick in (("first", lambda s: s[0][1] if s else None),
                           ("last", lambda s: s[-1][1] if s else None),
                           ("best", lambda s: min(_finite([v for _, v in s]), default=None))):
            out.append((f"{label} ({what})", pick(bs), pick(as_)))
        target = min(_finite([v for _, v in bs]), default=None)
        if target is not None:
            out.append((f"epoch reaching before's best {label} ({target:g})",
                        _epochs_to_reach(bs, target), _epochs_to_reach(as_, target)))
    b_lr, a_lr = _lr_at_first_epoch(before), _lr_at_first_epoch(after)
    for group in dict.fromkeys([*b_lr, *a_lr]):
        out.append((f"LR at first epoch ({group})", b_lr.get(group), a_lr.get(group)))
    b_up, a_up = _median_update(before), _median_update(after)
    if b_up is not None or a_up is not None:
        out.append(("median parameter update", b_up, a_up))
    return out
