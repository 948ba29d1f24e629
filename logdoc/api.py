"""The library layer the CLI is a thin shell over."""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from .core import vocabulary
from .engine.config import Config
from .engine.engine import build_rules
from .parsing.patterns import PatternSet, default_patterns
from .engine.session import Result, Session


def load_patterns(extra: Iterable[str | Path] = ()) -> PatternSet:
    extra = [Path(p) for p in extra]
    return PatternSet.load(extra) if extra else default_patterns()


def analyze(path: str, *, patterns: PatternSet | None = None, select: Iterable[str] | None = None,
            ignore: Iterable[str] = (), keep_tables: bool = False, config: Config | None = None,
            keep_overview: bool = False, parallel: bool = True, expectations: list | None = None,
            name: str | None = None) -> Result:
    """Analyse one log (a path, a .gz or '-' for stdin) and return its Result.

    `select`/`ignore` take rule ids or categories; `config` (see logdoc.engine.config) adds its
    ignores, rule options and severity overrides, and its selection when `select` is None.
    `keep_tables` keeps every metric (logdoc.views.tables); `keep_overview` only what the terminal
    report draws, in bounded memory (logdoc.views.overview). `parallel` lets a big file be parsed
    by a second process (logdoc.engine.pipeline); the result is the same. `expectations`
    (logdoc.diagnosis.expect.parse) are kept track of as the log is read; expect.evaluate judges them.
    `name`: the path reports give the log (default: `path`, `<stdin>` for '-').
    """
    session = Session(name or (path if path != "-" else "<stdin>"), patterns=patterns,
                      rules=rules_for(config, select, ignore), keep_tables=keep_tables,
                      keep_overview=keep_overview, expectations=expectations,
                      severities=config.severities if config else None)
    return session.feed_file(path, parallel=parallel)


def rules_for(config: Config | None = None, select: Iterable[str] | None = None,
              ignore: Iterable[str] = ()) -> list:
    """Fresh rule instances for one log: the command-line selection over the config's."""
    config = config or Config()
    vocabulary.use_overrides(config.metrics)     # the rules ask the vocabulary what names mean
    chosen, ignored = config.rule_selection(select, ignore)
    return build_rules(chosen, ignored, config.options)
