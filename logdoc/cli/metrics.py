"""`logdoc metrics LOG`: the metric vocabulary applied to one log (why a rule judged a metric)."""
from __future__ import annotations

import json
from enum import Enum
from typing import Annotated, Optional

import typer

from .app import app


class MetricsFormat(str, Enum):
    text = "text"
    json = "json"


@app.command()
def metrics(
    path: Annotated[str, typer.Argument(help="Log file (plain or .gz), or - for stdin.")],
    format: Annotated[MetricsFormat, typer.Option("--format", "-f")] = MetricsFormat.text,
    config: Annotated[Optional[str], typer.Option("--config", help="Config file (default: the nearest logdoc.toml).")] = None,
) -> None:
    """List every metric the log prints: phase, kind, direction, bounds, count, first line, and
    how its meaning was decided (vocabulary / pattern / override / unknown)."""
    from ..core import vocabulary
    from ..engine.config import load_config
    from ..views.metric_catalogue import COLUMNS, catalogue
    from ..run import parse

    cfg = load_config(config)                  # a bad config fails before any work
    frame = parse(path, config=cfg).tables["metrics"]
    vocabulary.use_overrides(cfg.metrics)
    rows = catalogue(frame)
    if format is MetricsFormat.json:
        print(json.dumps(rows, indent=2))
        return
    cells = [list(COLUMNS)] + [["" if r[c] is None else str(r[c]) for c in COLUMNS] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(COLUMNS))]
    for row in cells:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
