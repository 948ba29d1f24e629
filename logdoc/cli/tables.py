"""`logdoc tables LOG --format csv|parquet|json --out DIR`: every table, one file each."""
from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from .app import ConfigOption, StdinFilenameOption, UsageFailure, app, stdin_name


class TableFormat(str, Enum):
    csv = "csv"
    parquet = "parquet"
    json = "json"


@app.command()
def tables(
    path: Annotated[str, typer.Argument(help="Log file (plain or .gz), or - for stdin.")],
    format: Annotated[TableFormat, typer.Option("--format", "-f")] = TableFormat.csv,
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory to write the tables into.")] = Path("."),
    config: ConfigOption = None,
    stdin_filename: StdinFilenameOption = None,
) -> None:
    """Export the parsed tables (metrics, lr, updates, epochs, events)."""
    from ..run import parse

    name = stdin_name([path], stdin_filename)
    if out.exists() and not out.is_dir():
        raise UsageFailure(f"{out}: not a directory")
    if format is TableFormat.parquet:
        try:
            import pyarrow  # noqa: F401
        except ImportError:     # a dependency, but an install may lack it
            raise UsageFailure("parquet output needs pyarrow: pip install pyarrow") from None
    run = parse(path, config=config, name=name)   # the configuration's pattern files apply
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageFailure(f"{out}: cannot create directory: {exc.strerror}") from None
    for name, frame in run.tables.items():
        target = out / f"{name}.{format.value}"
        if format is TableFormat.csv:
            frame.to_csv(target, index=False)
        elif format is TableFormat.parquet:
            frame.to_parquet(target, index=False)
        else:
            frame.to_json(target, orient="records", lines=True)
        print(f"{target}  ({len(frame)} rows, from {run.path})")
