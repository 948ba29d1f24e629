"""Small pure-Python views of a run used by human reports (no pandas on the hot path)."""
from __future__ import annotations

from ..session import Result

# Which metrics a per-epoch overview shows first, by role.
ROLE_ORDER = ("loss", "val_loss", "lr", "param_delta", "grad_norm", "val_metric", "metric")
MAX_COLUMNS = 7


def epoch_rows(result: Result) -> tuple[list[str], list[tuple]]:
    """(column names, rows): the last value of each key metric per epoch."""
    if result.tables is None:
        return [], []
    per_epoch: dict[float, dict[str, float]] = {}
    role_of: dict[str, str] = {}
    for line, epoch, step, name, role, group, value, phase, pattern in result.tables.rows:
        if epoch is None or role not in ROLE_ORDER:
            continue
        per_epoch.setdefault(epoch, {})[name] = value
        role_of.setdefault(name, role)
    cols = sorted(role_of, key=lambda n: ROLE_ORDER.index(role_of[n]))[:MAX_COLUMNS]
    rows = [(epoch, *[vals.get(c) for c in cols]) for epoch, vals in per_epoch.items()]
    return cols, rows


def short(value: float | None) -> str:
    if value is None:
        return ""
    if float(value).is_integer() and abs(value) < 1e6:
        return str(int(value))
    return f"{value:.4g}"
