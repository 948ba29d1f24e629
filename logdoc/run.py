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

`parse` reads the configuration the way the command line does (logdoc.toml, .logdoc.toml or
[tool.logdoc] in pyproject.toml, found from the working directory upwards; `config=` names a
file, passes a Config or, with False, none) and takes `select`, `ignore` and `patterns` like
--select, --ignore and --patterns: a notebook and `logdoc analyze` give the same findings.

    >>> text = open("sample_logs/warmup-zero-lr-broken.log").read()
    >>> [f.rule for f in logdoc.parse(text, select=["zero-lr"]).findings]
    ['zero-lr']
"""
from __future__ import annotations

import io
import os
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


def parse(source, *, config=None, select=None, ignore=(), patterns=None, name: str | None = None) -> Run:
    """Read a log and return a Run with findings, diagnoses and tables.

    `source`: a path (str or os.PathLike; plain or .gz; '-' for stdin), the log's text (a str
    holding a line break, or bytes), or an open stream (binary; gzip recognised by its magic
    bytes; a text stream is read as text). A str without a line break is a path: pass a
    one-line log as bytes or end it with a newline.
    `config`: None finds logdoc.toml / [tool.logdoc] as the command line does; a path names
    the file (--config); a logdoc.engine.config.Config is used as it is; False: no config.
    `select` replaces the config's selection, `ignore` adds to its ignores (rule ids or
    categories, as --select/--ignore); `patterns`: extra pattern files or directories after
    the config's (--patterns), or a PatternSet used as it is. `name`: the path findings name
    (default: the path, '<stdin>', the stream's name, '<text>').
    Bad settings raise ConfigError or PatternError; unreadable input raises InputError.
    """
    from .api import analyze, settings
    from .parsing.patterns import PatternSet

    given = patterns if isinstance(patterns, PatternSet) else None
    extra = () if given is not None or patterns is None else \
        ([patterns] if isinstance(patterns, (str, os.PathLike)) else list(patterns))
    cfg, ps, chosen, ignored = settings(config, patterns=extra, select=select, ignore=ignore)
    if given is not None:
        ps = given
    if isinstance(source, (bytes, bytearray, memoryview)):
        source, name = io.BytesIO(bytes(source)), name or "<text>"
    elif isinstance(source, str) and ("\n" in source or "\r" in source):
        source, name = io.BytesIO(source.encode("utf-8")), name or "<text>"
    elif isinstance(source, io.TextIOBase):
        buffer = getattr(source, "buffer", None)
        if buffer is not None:
            name = name or getattr(source, "name", None)
            source = buffer
        else:                                  # io.StringIO
            source, name = io.BytesIO(source.read().encode("utf-8")), name or "<text>"
    elif isinstance(source, os.PathLike):
        source = os.fspath(source)
    elif not isinstance(source, str) and not hasattr(source, "read"):
        raise TypeError(f"parse() takes a path, the log's text or a binary stream, not {type(source).__name__}")
    return Run(analyze(source, patterns=ps, select=chosen, ignore=ignored, config=cfg,
                       keep_tables=True, name=name))


def diagnose(run) -> list[Diagnosis]:
    """The root causes found in a run (or in whatever `parse` reads, parsed as it would)."""
    if not isinstance(run, Run):
        run = parse(run)
    return run.diagnoses
