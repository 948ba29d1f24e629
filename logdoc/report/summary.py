"""Small pure-Python views of a run used by human reports (no pandas on the hot path)."""
from __future__ import annotations

from ..views.overview import Overview
from ..engine.session import Result

def overview_of(result: Result) -> Overview | None:
    """The bounded overview the session kept, or one built from full tables."""
    if result.overview is not None:
        return result.overview
    if result.tables is not None:
        return Overview().add_rows(result.tables.rows)
    return None


def short(value: float | None) -> str:
    if value is None:
        return ""
    if float(value).is_integer() and abs(value) < 1e6:
        return str(int(value))
    return f"{value:.4g}"
