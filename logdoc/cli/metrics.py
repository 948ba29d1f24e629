"""`logdoc metrics LOG`: the metric vocabulary applied to one log (why a rule judged a metric)."""
from __future__ import annotations

from enum import Enum
from typing import Annotated, Optional

import typer

from .app import StdinFilenameOption, app, emit, json_text, stdin_name


class MetricsFormat(str, Enum):
    text = "text"
    json = "json"


@app.command()
def metrics(
    path: Annotated[str, typer.Argument(help="Log file (plain or .gz), or - for stdin.")],
    format: Annotated[MetricsFormat, typer.Option("--format", "-f")] = MetricsFormat.text,
    config: Annotated[Optional[str], typer.Option("--config", help="Config file (default: the nearest logdoc.toml).")] = None,
    stdin_filename: StdinFilenameOption = None,
) -> None:
    """List every metric the log prints: phase, kind, direction, bounds, count, first line, and
    how its meaning was decided (vocabulary / pattern / override / unknown)."""
    from ..core import vocabulary
    from ..engine.config import load_config
    from ..views.metric_catalogue import COLUMNS, catalogue
    from ..run import parse

    name = stdin_name([path], stdin_filename)
    cfg = load_config(config)                  # a bad config fails before any work
    frame = parse(path, config=cfg, name=name).tables["metrics"]
    vocabulary.use_overrides(cfg.metrics)
    rows = catalogue(frame)
    if format is MetricsFormat.json:
        emit(json_text(rows), None)
        return
    cells = [list(COLUMNS)] + [["" if r[c] is None else str(r[c]) for c in COLUMNS] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(COLUMNS))]
    emit("".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() + "\n" for row in cells),
         None, human=True)
