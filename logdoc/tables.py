"""Records -> pandas tables. Built from the very records the rules saw (one path).

pandas is imported only when a table is asked for: `analyze --format json` and `watch`
never pay for it.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .model import Record

if TYPE_CHECKING:
    import pandas as pd

METRIC_COLUMNS = ["line", "epoch", "step", "name", "role", "group", "value", "phase", "pattern"]
EVENT_COLUMNS = ["line", "epoch", "step", "event", "pattern"]


class TableBuilder:
    """Collects one compact row per metric; frames are made on demand."""

    def __init__(self):
        self.rows: list[tuple] = []
        self.events: list[tuple] = []

    def add(self, rec: Record) -> None:
        for m in rec.metrics:
            self.rows.append((rec.line, rec.epoch, rec.step, m.name, m.role, m.group, m.value,
                              rec.phase, rec.pattern))
        if rec.event:
            self.events.append((rec.line, rec.epoch, rec.step, rec.event, rec.pattern))

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
