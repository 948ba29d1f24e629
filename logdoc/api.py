"""The library layer the CLI is a thin shell over."""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from .core import vocabulary
from .engine.config import Config, load_config
from .engine.engine import build_rules
from .parsing.patterns import PatternSet, default_patterns
from .engine.session import Result, Session


def load_patterns(extra: Iterable[str | Path] = ()) -> PatternSet:
    extra = [Path(p) for p in extra]
    return PatternSet.load(extra) if extra else default_patterns()


def settings(config: Config | str | Path | bool | None = None, *, patterns: Iterable[str | Path] = (),
             select: Iterable[str] | None = None, ignore: Iterable[str] = ()
             ) -> tuple[Config, PatternSet, list[str] | None, list[str]]:
    """The settings a command resolves before it reads a log: (config, pattern set, selected
    rule ids, ignored rule ids). The one configuration path of the CLI and the Python API.

    `config`: None finds the configuration as the command line does (logdoc.toml,
    .logdoc.toml or [tool.logdoc] in pyproject.toml, from the working directory upwards);
    a path names the file (like --config); a Config is used as it is; False means none.
    `patterns` are extra pattern files after the config's (--patterns); `select` replaces the
    config's selection, `ignore` adds to its ignores (--select, --ignore: ids or categories).
    Bad settings raise ConfigError or PatternError here, before any log is read."""
    if config is False:
        cfg = Config()
    elif isinstance(config, Config):
        cfg = config
    else:
        cfg = load_config(None if config is True else config)
    chosen, ignored = cfg.rule_selection(select, ignore)
    ps = load_patterns([*cfg.patterns, *patterns])
    rules_for(cfg, chosen, ignored)          # unknown rules or bad options fail now
    return cfg, ps, chosen, ignored


def analyze(path, *, patterns: PatternSet | None = None, select: Iterable[str] | None = None,
            ignore: Iterable[str] = (), keep_tables: bool = False, config: Config | None = None,
            keep_overview: bool = False, parallel: bool = True, expectations: list | None = None,
            name: str | None = None) -> Result:
    """Analyse one log (a path, a .gz or '-' for stdin, or an open binary stream) and return
    its Result; `name` is the path to report (default: the path, '<stdin>', the stream's name).

    `select`/`ignore` take rule ids or categories; `config` (see logdoc.engine.config) adds its
    ignores, rule options and severity overrides, and its selection when `select` is None.
    `keep_tables` keeps every metric (logdoc.views.tables); `keep_overview` only what the terminal
    report draws, in bounded memory (logdoc.views.overview). `parallel` lets a big file be parsed
    by a second process (logdoc.engine.pipeline); the result is the same. `expectations`
    (logdoc.diagnosis.expect.parse) are kept track of as the log is read; expect.evaluate judges them.
    """
    is_path = isinstance(path, (str, Path))
    if name is None:
        name = ("<stdin>" if str(path) == "-" else str(path)) if is_path else _stream_name(path)
    session = Session(name, patterns=patterns,
                      rules=rules_for(config, select, ignore), keep_tables=keep_tables,
                      keep_overview=keep_overview, expectations=expectations,
                      severities=config.severities if config else None)
    if is_path:
        return session.feed_file(str(path), parallel=parallel)
    from .source.reading import stream_blocks

    return session.feed_blocks(stream_blocks(path, name, cuts=session.cuts))


def _stream_name(stream) -> str:
    name = getattr(stream, "name", None)
    return name if isinstance(name, str) else "<stream>"


def rules_for(config: Config | None = None, select: Iterable[str] | None = None,
              ignore: Iterable[str] = ()) -> list:
    """Fresh rule instances for one log: the command-line selection over the config's."""
    config = config or Config()
    vocabulary.use_overrides(config.metrics)     # the rules ask the vocabulary what names mean
    chosen, ignored = config.rule_selection(select, ignore)
    return build_rules(chosen, ignored, config.options)
