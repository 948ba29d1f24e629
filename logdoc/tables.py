"""Records -> pandas tables. Built from the very records the rules saw (one path).

pandas is imported only when a table is asked for: `analyze --format json` and `watch`
never pay for it.
"""
from __future__ import annotations

from typing import TYPE_CHECKING


if TYPE_CHECKING:
    import pandas as pd

    from .batch import Batch

METRIC_COLUMNS = ["line", "epoch", "step", "name", "role", "group", "value", "phase", "pattern"]
EVENT_COLUMNS = ["line", "epoch", "step", "event", "pattern"]


class TableBuilder:
    """Collects one compact row per metric; frames are made on demand."""

    def __init__(self):
        self.rows: list[tuple] = []
        self.events: list[tuple] = []

    def add_batch(self, b: "Batch") -> None:
        """`add` for every record of a batch, straight from its columns (no Records built)."""
        rows = b.m_row
        self.rows.extend(zip([b.line[r] for r in rows], [b.epoch[r] for r in rows],
                             [b.step[r] for r in rows], b.m_name, b.m_role, b.m_group, b.m_value,
                             [b.phase[r] for r in rows], [b.pattern[r] for r in rows]))
        if "event" in b.roles:
            self.events.extend((b.line[i], b.epoch[i], b.step[i], e, b.pattern[i])
                               for i, e in enumerate(b.event) if e)

    def metrics(self) -> "pd.DataFrame":
        import pandas as pd

        return pd.DataFrame(self.rows, columns=METRIC_COLUMNS)

    def frames(self) -> dict[str, "pd.DataFrame"]:
        import pandas as pd

        frames = build_frames(self.metrics())
        frames["events"] = pd.DataFrame(self.events, columns=EVENT_COLUMNS)
        return frames


def build_frames(metrics: "pd.DataFrame") -> dict[str, "pd.DataFrame"]:
    """The documented tables (README "Tables"), all derived from the long metrics table."""
    lr = metrics[metrics.role == "lr"][["line", "epoch", "step", "group", "value"]]
    lr = lr.rename(columns={"value": "lr"}).reset_index(drop=True)
    updates = metrics[metrics.role == "param_delta"][["line", "epoch", "step", "name", "value"]]
    updates = updates.reset_index(drop=True)
    with_epoch = metrics.dropna(subset=["epoch"])
    if len(with_epoch):
        epochs = (with_epoch.groupby(["epoch", "name"], sort=True)["value"].last()
                  .unstack("name").reset_index())
        epochs.columns.name = None
    else:
        import pandas as pd

        epochs = pd.DataFrame({"epoch": pd.Series([], dtype="float64")})
    return {"metrics": metrics, "lr": lr, "updates": updates, "epochs": epochs}
