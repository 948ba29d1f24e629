"""`logdoc metrics`: every metric a log prints and what the vocabulary says it means."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..core.vocabulary import meaning

if TYPE_CHECKING:
    import pandas as pd

COLUMNS = ("name", "phase", "kind", "direction", "bounds", "agg", "count", "first_line", "decided_by")


def catalogue(metrics: "pd.DataFrame") -> list[dict]:
    """One row per metric name, in order of first appearance, from the long metrics table.

    The phase comes from the name when it says one (`val_acc`), else from the parser's role
    (`val_loss`, `val_metric`) or the record's phase (a Keras/Lightning validation line)."""
    rows = []
    if metrics.empty:
        return rows
    for name, group in metrics.groupby("name", sort=False):
        roles = group["role"].value_counts()
        role = roles.index[0]
        record_phase = group["phase"].value_counts().index[0]
        m = meaning(str(name), role, record_phase)
        rows.append({"name": str(name), "phase": m.phase, "kind": m.kind, "direction": m.direction,
                     "bounds": m.bounds, "agg": m.agg, "count": int(len(group)),
                     "first_line": int(group["line"].min()), "decided_by": m.decided_by})
    rows.sort(key=lambda r: r["first_line"])
    return rows
