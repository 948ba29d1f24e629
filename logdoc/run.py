"""The Python API for notebooks and scripts.

    >>> import logdoc
    >>> run = logdoc.parse("sample_logs/warmup-zero-lr-broken.log")
    >>> run.tables["lr"].head(2)[["epoch", "group", "lr"]].to_dict("records")
    [{'epoch': 1.0, 'group': 'backbone', 'lr': 0.0}, {'epoch': 1.0, 'group': 'head', 'lr': 0.0}]
    >>> [d.title for d in logdoc.diagnose(run)]
    ['the warmup schedule starts at LR 0']
    >>> [(f.rule, f.line) for f in run.findings if f.severity.name == "error"]
    [('zero-lr', 5), ('frozen-params', 7), ('constant-val-loss', 10), ('nonfinite', 186)]

One pass over the log feeds the rules and the tables alike: `run.tables` are built from
the very records the rules saw.
"""
from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from .core.model import Diagnosis, Finding
from .engine.session import Result

if TYPE_CHECKING:
    import pandas as pd

TABLE_NAMES = ("metrics", "lr", "updates", "epochs", "events")


class Run:
    """A parsed and diagnosed log."""

    def __init__(self, result: Result):
        self.result = result

    path = property(lambda self: self.result.path)
    lines = property(lambda self: self.result.lines)
    records = property(lambda self: self.result.records)
    formats = property(lambda self: self.result.formats)
    findings: list[Finding] = property(lambda self: self.result.findings)  # type: ignore[assignment]
    diagnoses: list[Diagnosis] = property(lambda self: self.result.diagnoses)  # type: ignore[assignment]

    @cached_property
    def tables(self) -> dict[str, "pd.DataFrame"]:
        """metrics, lr, updates, epochs, events (columns documented in the README)."""
        return self.result.tables.frames()

    def __repr__(self) -> str:
        return (f"<Run {self.path!r}: {self.lines} lines, {self.records} records, "
                f"{len(self.findings)} findings, {len(self.diagnoses)} diagnoses>")


def parse(path: str, *, patterns=None, name: str | None = None) -> Run:
    """Read a log (path, .gz or '-') and return a Run with findings, diagnoses and tables.
    `name`: the path the Run reports (default: `path`, `<stdin>` for '-')."""
    from .api import analyze

    return Run(analyze(path, patterns=patterns, keep_tables=True, name=name))


def diagnose(run: "Run | str") -> list[Diagnosis]:
    """The root causes found in a run (or in a log path)."""
    if isinstance(run, str):
        run = parse(run)
    return run.diagnoses
