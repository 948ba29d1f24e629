"""Project configuration, found the way ruff finds its own.

Settings live in `logdoc.toml` or `.logdoc.toml` (top-level keys) or in `pyproject.toml`
under `[tool.logdoc]`. The first directory, from the working directory upwards, that holds one
of them wins (in that order within a directory); `--config PATH` names a file directly.

    select = ["zero-lr", "category:nonfinite"]    # rule ids or categories; default: all rules
    ignore = ["val-better-than-train"]            # rule ids or categories
    fail-on = "warning"                           # error | warning | info | never
    patterns = ["ci/patterns"]                    # extra pattern files/dirs, relative to this file

    [severity]                                    # rule id or category -> error | warning | info
    fp16-overflow = "error"

    [metrics]                                     # what a name means (see `logdoc metrics LOG`)
    wer = { phase = "val", kind = "error_rate" }

    [rules.loss-spike]                            # a rule's options (see `logdoc explain ID`)
    window = 20
    severity = "info"                             # a rule's severity may be set here too

In `pyproject.toml` the same tables are `[tool.logdoc]`, `[tool.logdoc.severity]` and
`[tool.logdoc.rules.loss-spike]`. Unknown keys, rules, categories and options are errors
(exit 2), so a typo never silently disables a check.
"""
from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .engine import ConfigError
from ..core.model import CATEGORIES, Severity

CONFIG_FILES = ("logdoc.toml", ".logdoc.toml", "pyproject.toml")
TOP_KEYS = frozenset({"select", "ignore", "fail-on", "patterns", "severity", "rules", "metrics"})
FAIL_ON = ("error", "warning", "info", "never")


@dataclass
class Config:
    """Resolved settings: rule ids only (categories already expanded)."""
    select: list[str] | None = None          # None: every rule
    ignore: list[str] = field(default_factory=list)
    options: dict[str, dict] = field(default_factory=dict)
    severities: dict[str, Severity] = field(default_factory=dict)
    patterns: list[Path] = field(default_factory=list)
    fail_on: str | None = None
    path: Path | None = None                 # the file it came from, if any
    metrics: dict[str, dict] = field(default_factory=dict)   # [metrics]: vocabulary declarations

    def rule_selection(self, select: Iterable[str] | None = None,
                       ignore: Iterable[str] | None = None) -> tuple[list[str] | None, list[str]]:
        """Command-line selection over this config: `--select` replaces the configured
        selection, `--ignore` adds to the configured ignores. Both accept categories."""
        chosen = expand(select, "--select") if select else self.select
        ignored = [*self.ignore, *expand(ignore or (), "--ignore")]
        return chosen, ignored


def expand(names: Iterable[str], where: str = "select") -> list[str]:
    """Rule ids and categories (and `ALL`) -> rule ids, in catalogue order, without repeats.

    A name that is both a rule id and a category (`nonfinite`) means the rule; write
    `category:nonfinite` for every rule of the category.
    """
    from ..rules import all_rules

    catalogue = all_rules()
    out: list[str] = []
    for name in names:
        category = name.split(":", 1)[1] if name.startswith("category:") else None
        if name == "ALL":
            ids = list(catalogue)
        elif name in catalogue:
            ids = [name]
        elif category in CATEGORIES or name in CATEGORIES:
            category = category or name
            ids = [rid for rid, cls in catalogue.items() if cls.category == category]
        else:
            raise ConfigError(f"{where}: unknown rule or category {name!r} (see `logdoc rules`)")
        out.extend(i for i in ids if i not in out)
    return out


def find_config(start: Path | None = None) -> Path | None:
    """The nearest config file from `start` (default: the working directory) upwards."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        for name in CONFIG_FILES:
            candidate = folder / name
            if not candidate.is_file():
                continue
            if name != "pyproject.toml" or "logdoc" in _read(candidate).get("tool", {}):
                return candidate
    return None


def load_config(path: str | Path | None = None, *, discover: bool = True) -> Config:
    """Read `path`, or the nearest config file when `path` is None (and `discover`)."""
    if path is not None:
        file = Path(path)
        if not file.is_file():
            raise ConfigError(f"{file}: no such config file")
    else:
        file = find_config() if discover else None
        if file is None:
            return Config()
    doc = _read(file)
    if file.name == "pyproject.toml":
        table = doc.get("tool", {}).get("logdoc")
        if table is None:
            raise ConfigError(f"{file}: no [tool.logdoc] table")
        prefix = "tool.logdoc"
    else:
        table, prefix = doc, ""
        if isinstance(doc.get("tool"), dict) and "logdoc" in doc["tool"]:
            raise ConfigError(
                f"{file}: [tool.logdoc] is pyproject.toml's spelling; in {file.name} drop the "
                f"'tool.logdoc' prefix ([tool.logdoc] -> top-level keys, [tool.logdoc.severity] -> "
                f"[severity], [tool.logdoc.rules.ID] -> [rules.ID]) or move it into pyproject.toml")
    return parse_config(table, file, prefix)


def parse_config(table: dict, file: Path, prefix: str = "") -> Config:
    where = f"{file}" + (f" [{prefix}]" if prefix else "")
    dotted = f"{prefix}." if prefix else ""
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: must be a table")
    unknown = sorted(set(table) - TOP_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(TOP_KEYS))})")
    cfg = Config(path=file)
    if "select" in table:
        cfg.select = expand(_strings(table["select"], f"{where} select"), f"{file}: select")
    if "ignore" in table:
        cfg.ignore = expand(_strings(table["ignore"], f"{where} ignore"), f"{file}: ignore")
    if "fail-on" in table:
        value = table["fail-on"]
        if value not in FAIL_ON:
            raise ConfigError(f"{where}: fail-on must be one of {', '.join(FAIL_ON)}, got {value!r}")
        cfg.fail_on = value
    if "patterns" in table:
        cfg.patterns = [(file.parent / p) for p in _strings(table["patterns"], f"{where} patterns")]
    if "metrics" in table:
        from ..core import vocabulary

        try:
            cfg.metrics = dict(vocabulary.validate(table["metrics"], where))
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    severity = table.get("severity", {})
    if not isinstance(severity, dict):
        raise ConfigError(f"{where}: severity must be a table of rule or category = level")
    for name, level in severity.items():
        for rid in expand([name], f"{file}: [{dotted}severity]"):
            cfg.severities[rid] = _severity(level, f"{file}: [{dotted}severity] {name}")
    rules = table.get("rules", {})
    if not isinstance(rules, dict):
        raise ConfigError(f"{where}: rules must hold one table per rule")
    from ..rules import all_rules

    catalogue = all_rules()
    for rid, opts in rules.items():
        rwhere = f"{file}: [{dotted}rules.{rid}]"
        if rid not in catalogue:
            raise ConfigError(f"{rwhere}: unknown rule {rid!r} (see `logdoc rules`)")
        if not isinstance(opts, dict):
            raise ConfigError(f"{rwhere}: must be a table of options")
        opts = dict(opts)
        if "severity" in opts:
            cfg.severities[rid] = _severity(opts.pop("severity"), f"{rwhere} severity")
        known = catalogue[rid].options
        for key, value in opts.items():
            if key not in known:
                hint = f" (options: {', '.join(known)})" if known else " (it has no options)"
                raise ConfigError(f"{rwhere}: unknown option {key!r}{hint}")
            default = known[key]
            if isinstance(default, (int, float)) and not isinstance(default, bool):
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise ConfigError(f"{rwhere}: {key} must be a number, got {value!r}")
        cfg.options[rid] = opts
    return cfg


def _read(file: Path) -> dict:
    try:
        return tomllib.loads(file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: invalid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot read: {exc}") from None


def _strings(value, where: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: must be a list of strings")
    return value


def _severity(level, where: str) -> Severity:
    try:
        return Severity.parse(str(level))
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None
