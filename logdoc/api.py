"""The library layer the CLI is a thin shell over."""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from .engine import build_rules
from .patterns import PatternSet, default_patterns
from .reading import read_lines
from .session import Result, Session


def load_patterns(extra: Iterable[str | Path] = ()) -> PatternSet:
    extra = [Path(p) for p in extra]
    return PatternSet.load(extra) if extra else default_patterns()


def analyze(path: str, *, patterns: PatternSet | None = None, select: Iterable[str] | None = None,
            ignore: Iterable[str] = (), keep_tables: bool = False) -> Result:
    """Analyse one log (a path, a .gz or '-' for stdin) and return its Result."""
    session = Session(path if path != "-" else "<stdin>", patterns=patterns,
                      rules=build_rules(select, ignore), keep_tables=keep_tables)
    return session.feed_all(read_lines(path))
