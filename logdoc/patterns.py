"""Pattern files: line families declared as data (TOML), each carrying its own sample lines.

A pattern file (schema "logdoc.pattern/1", documented in docs/patterns.md) declares a family
of lines: regexes with named groups, what each group means (type and role) and real sample
lines with the values they must produce. Loading a file compiles it and runs its samples, so
a broken file is reported with the file and the sample that failed, before any log is read.
"""
from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .model import COUNTER_ROLES, ROLES, Metric, Record

SCHEMA = "logdoc.pattern/1"

MACROS = {
    "INT": r"[-+]?(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)",
    # Python/JSON/Megatron spellings: 1.5e-05, 1.000E-04, nan, NAN, NaN, inf, -inf, Infinity
    "FLOAT": r"[-+]?(?:(?i:nan|inf(?:inity)?)(?![A-Za-z])|(?:(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)",
    "PCT": r"[-+]?\d+(?:\.\d*)?%",
    "WORD": r"[A-Za-z_][\w.\-/]*",
    "LIST": r"\[[^\]]*\]",
}
MACROS["NUM"] = MACROS["FLOAT"]

_MACRO_REF = re.compile(r"%\{(\w+)(?::(\w+))?\}")
FIELD_TYPES = ("float", "int", "pct", "str", "floatlist", "strlist")
AGGREGATIONS = ("instant", "window_mean", "window_median", "since_last_log",
                "epoch_running_mean", "global_mean", "last")
PHASES = ("train", "eval")


class PatternError(Exception):
    """A pattern file is invalid or one of its samples fails. Message names file and sample."""


def parse_number(text: str) -> float:
    """float() that also accepts thousands separators, percentages and quotes."""
    text = text.strip().strip("'\"")
    if text.endswith("%"):
        text = text[:-1]
    if "," in text:
        text = text.replace(",", "")
    return float(text)


def _parse_list(text: str) -> list[str]:
    inner = text.strip()
    if inner.startswith("[") and inner.endswith("]"):
        inner = inner[1:-1]
    return [item.strip().strip("'\"") for item in inner.split(",") if item.strip()]


@dataclass
class FieldSpec:
    name: str
    type: str = "float"
    role: str | None = None
    metric: str | None = None      # metric name; default the field name
    groups: str | None = None      # for floatlist: the field holding one name per value
    agg: str | None = None


@dataclass
class KVSpec:
    source: str
    pair: re.Pattern
    rename: dict[str, str]
    roles: dict[str, str]
    keep_unknown: bool = True


@dataclass
class PatternRule:
    id: str
    family: str
    regex: re.Pattern
    anchor: str | None
    fields: list[FieldSpec]
    kv: KVSpec | None = None
    event: str | None = None
    phase: str = "train"
    agg: str | None = None
    keep_going: bool = False       # TOML key "continue": later rules may match the same line
    samples: list[dict] = field(default_factory=list)

    @property
    def qualified(self) -> str:
        return f"{self.family}/{self.id}"

    def apply(self, text: str, line_no: int, default_roles: dict[str, str]) -> Record | None:
        if self.anchor is not None and self.anchor not in text:
            return None
        m = self.regex.search(text)
        if m is None:
            return None
        rec = Record(line=line_no, text=text, pattern=self.qualified, family=self.family,
                     event=self.event, phase=self.phase, agg=self.agg)
        groups = m.groupdict()
        for spec in self.fields:
            raw = groups.get(spec.name)
            if raw is None:
                continue
            _apply_field(rec, spec, raw, groups)
        if self.kv is not None:
            tail = groups.get(self.kv.source)
            if tail:
                _apply_kv(rec, self.kv, tail, default_roles)
        if self.event is None and not rec.metrics and rec.epoch is None and rec.step is None:
            return None    # matched the shape but carried nothing (e.g. an empty kv tail)
        return rec


def _apply_field(rec: Record, spec: FieldSpec, raw: str, groups: dict) -> None:
    if spec.type in ("str", "strlist"):
        return    # helper fields (names, labels) are read by the fields that need them
    if spec.type == "floatlist":
        values = _parse_list(raw)
        names = _parse_list(groups.get(spec.groups) or "") if spec.groups else []
        for i, item in enumerate(values):
            try:
                value = parse_number(item)
            except ValueError:
                continue
            group = names[i] if i < len(names) else f"pg{i}"
            rec.metrics.append(Metric(f"{spec.metric or spec.name}/{group}", spec.role or "metric",
                                      value, group))
        return
    try:
        value = parse_number(raw)
    except ValueError:
        return
    role = spec.role or "metric"
    if role in COUNTER_ROLES:
        setattr(rec, role, value)
    else:
        rec.metrics.append(Metric(spec.metric or spec.name, role, value))


def _apply_kv(rec: Record, kv: KVSpec, tail: str, default_roles: dict[str, str]) -> None:
    for m in kv.pair.finditer(tail):
        key = m.group("key").strip()
        key = kv.rename.get(key, key)
        role = kv.roles.get(key) or default_roles.get(key.lower())
        if role is None:
            if not kv.keep_unknown:
                continue
            role = "metric"
        try:
            value = parse_number(m.group("value"))
        except ValueError:
            continue
        if role in COUNTER_ROLES:
            setattr(rec, role, value)
        else:
            rec.metrics.append(Metric(key, role, value))


@dataclass
class Family:
    id: str
    title: str
    path: Path
    priority: int
    rules: list[PatternRule]
    negatives: list[str]
    description: str = ""
    urls: list[str] = field(default_factory=list)

    def match(self, text: str, line_no: int, default_roles: dict[str, str]) -> tuple[PatternRule, Record] | None:
        for rule in self.rules:
            rec = rule.apply(text, line_no, default_roles)
            if rec is not None:
                return rule, rec
        return None


# ---------------------------------------------------------------------------- loading

def _expand(regex: str, macros: dict[str, str], where: str) -> str:
    def sub(m: re.Match) -> str:
        name, group = m.group(1), m.group(2)
        if name not in macros:
            raise PatternError(f"{where}: unknown macro %{{{name}}}")
        body = macros[name]
        return f"(?P<{group}>{body})" if group else f"(?:{body})"
    return _MACRO_REF.sub(sub, regex)


def _check_keys(table: dict, allowed: set[str], where: str) -> None:
    unknown = set(table) - allowed
    if unknown:
        raise PatternError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")


def _compile(regex: str, where: str) -> re.Pattern:
    try:
        return re.compile(regex)
    except re.error as exc:
        raise PatternError(f"{where}: bad regex: {exc}") from None


def _field(name: str, spec: dict | str, where: str) -> FieldSpec:
    if isinstance(spec, str):          # shorthand: field = "role"
        spec = {"role": spec}
    if not isinstance(spec, dict):
        raise PatternError(f"{where}: field {name!r} must be a table or a role name")
    _check_keys(spec, {"type", "role", "metric", "groups", "agg"}, f"{where}: field {name!r}")
    fs = FieldSpec(name=name, **spec)
    if fs.type not in FIELD_TYPES:
        raise PatternError(f"{where}: field {name!r} has unknown type {fs.type!r} (use {', '.join(FIELD_TYPES)})")
    if fs.role is not None and fs.role not in ROLES:
        raise PatternError(f"{where}: field {name!r} has unknown role {fs.role!r}")
    if fs.agg is not None and fs.agg not in AGGREGATIONS:
        raise PatternError(f"{where}: field {name!r} has unknown agg {fs.agg!r}")
    return fs


def load_family(path: Path, default_roles: dict[str, str] | None = None, *, self_test: bool = True) -> Family:
    where = str(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise PatternError(f"{where}: invalid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PatternError(f"{where}: cannot read: {exc}") from None
    _check_keys(doc, {"schema", "family", "macros", "rule", "negative"}, where)
    if doc.get("schema") != SCHEMA:
        raise PatternError(f"{where}: schema must be {SCHEMA!r}, got {doc.get('schema')!r}")
    fam = doc.get("family")
    if not isinstance(fam, dict) or "id" not in fam:
        raise PatternError(f"{where}: missing [family] table with an id")
    _check_keys(fam, {"id", "title", "description", "urls", "priority"}, f"{where} [family]")
    family_id = fam["id"]
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", family_id):
        raise PatternError(f"{where}: family id {family_id!r} must be kebab-case")
    macros = dict(MACROS)
    for name, body in doc.get("macros", {}).items():
        macros[name] = _expand(body, macros, f"{where} macro {name}")
    rules = []
    seen = set()
    for i, r in enumerate(doc.get("rule", []), 1):
        rwhere = f"{where} rule {r.get('id', i)!r}"
        _check_keys(r, {"id", "regex", "anchor", "fields", "kv", "event", "phase", "agg",
                        "continue", "sample", "description"}, rwhere)
        if "id" not in r or "regex" not in r:
            raise PatternError(f"{rwhere}: a rule needs an id and a regex")
        if r["id"] in seen:
            raise PatternError(f"{rwhere}: duplicate rule id")
        seen.add(r["id"])
        regex = _compile(_expand(r["regex"], macros, rwhere), rwhere)
        fields = [_field(n, s, rwhere) for n, s in r.get("fields", {}).items()]
        names = set(regex.groupindex)
        for fs in fields:
            if fs.name not in names:
                raise PatternError(f"{rwhere}: field {fs.name!r} is not a named group of the regex")
            if fs.groups and fs.groups not in names:
                raise PatternError(f"{rwhere}: field {fs.name!r} takes groups from {fs.groups!r}, which is not a named group")
        kv = None
        if "kv" in r:
            k = r["kv"]
            _check_keys(k, {"source", "pair", "rename", "roles", "keep_unknown"}, f"{rwhere} kv")
            pair = _compile(_expand(k.get("pair", ""), macros, rwhere), f"{rwhere} kv.pair")
            if not {"key", "value"} <= set(pair.groupindex):
                raise PatternError(f"{rwhere}: kv.pair needs named groups 'key' and 'value'")
            if k.get("source") not in names:
                raise PatternError(f"{rwhere}: kv.source must name a group of the regex")
            for key, role in k.get("roles", {}).items():
                if role not in ROLES:
                    raise PatternError(f"{rwhere}: kv role {role!r} for {key!r} is not a known role")
            kv = KVSpec(k["source"], pair, k.get("rename", {}), k.get("roles", {}), k.get("keep_unknown", True))
        phase = r.get("phase", "train")
        if phase not in PHASES:
            raise PatternError(f"{rwhere}: phase must be one of {PHASES}")
        if r.get("agg") is not None and r["agg"] not in AGGREGATIONS:
            raise PatternError(f"{rwhere}: unknown agg {r['agg']!r}")
        samples = r.get("sample", [])
        if not samples:
            raise PatternError(f"{rwhere}: every rule needs at least one [[rule.sample]] line")
        rules.append(PatternRule(id=r["id"], family=family_id, regex=regex, anchor=r.get("anchor"),
                                 fields=fields, kv=kv, event=r.get("event"), phase=phase,
                                 agg=r.get("agg"), keep_going=r.get("continue", False), samples=samples))
    if not rules:
        raise PatternError(f"{where}: a family needs at least one [[rule]]")
    family = Family(id=family_id, title=fam.get("title", family_id), path=path,
                    priority=int(fam.get("priority", 50)), rules=rules,
                    negatives=[n["line"] for n in doc.get("negative", [])],
                    description=fam.get("description", ""), urls=fam.get("urls", []))
    if self_test:
        problems = check_family(family, default_roles or {})
        if problems:
            raise PatternError(problems[0])
    return family


# ---------------------------------------------------------------------------- self-tests

def _same(expected, actual) -> bool:
    if isinstance(expected, str) and expected.lower() in ("nan", "inf", "-inf", "+inf"):
        expected = float(expected)
    if isinstance(expected, (int, float)) and not isinstance(expected, bool):
        if actual is None:
            return False
        try:
            actual = float(actual)
        except (TypeError, ValueError):
            return False
        if math.isnan(expected):
            return math.isnan(actual)
        return math.isclose(expected, actual, rel_tol=1e-9, abs_tol=1e-12)
    return expected == actual


def record_values(rec: Record) -> dict:
    values: dict = {m.name: m.value for m in rec.metrics}
    for key in ("epoch", "epoch_total", "step", "step_total"):
        if getattr(rec, key) is not None:
            values[key] = getattr(rec, key)
    if rec.event:
        values["event"] = rec.event
    values["phase"] = rec.phase
    return values


def check_family(family: Family, default_roles: dict[str, str]) -> list[str]:
    """Run every sample and negative line; return one message per failure."""
    problems = []
    for rule in family.rules:
        for n, sample in enumerate(rule.samples, 1):
            line = sample.get("line")
            where = f"{family.path}: rule {rule.id!r} sample {n} {line!r}"
            if not isinstance(line, str):
                problems.append(f"{where}: sample needs a line")
                continue
            hit = family.match(line, 0, default_roles)
            if hit is None:
                problems.append(f"{where}: no rule matches it")
                continue
            if hit[0] is not rule:
                problems.append(f"{where}: matched first by rule {hit[0].id!r}")
                continue
            got = record_values(hit[1])
            for key, want in sample.get("expect", {}).items():
                if not _same(want, got.get(key)):
                    problems.append(f"{where}: {key} expected {want!r}, got {got.get(key)!r}")
            for key in sample.get("absent", []):
                if key in got:
                    problems.append(f"{where}: {key} should be absent, got {got[key]!r}")
    for line in family.negatives:
        hit = family.match(line, 0, default_roles)
        if hit is not None:
            problems.append(f"{family.path}: negative line {line!r} is matched by rule {hit[0].id!r}")
    return problems


# ---------------------------------------------------------------------------- the set in use

def builtin_dir() -> Path:
    here = Path(__file__).resolve().parent
    packaged = here / "_builtin_patterns"          # inside an installed wheel
    return packaged if packaged.is_dir() else here.parent / "patterns"   # a source checkout


def load_roles(path: Path) -> dict[str, str]:
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise PatternError(f"{path}: cannot load role names: {exc}") from None
    roles = {str(k).lower(): v for k, v in doc.get("roles", {}).items()}
    for key, role in roles.items():
        if role not in ROLES:
            raise PatternError(f"{path}: role {role!r} for {key!r} is not a known role")
    return roles


def pattern_files(paths: Iterable[Path]) -> list[Path]:
    files = []
    for p in paths:
        if p.is_dir():
            files.extend(sorted(f for f in p.glob("*.toml") if not f.name.startswith("_")))
        elif p.exists():
            files.append(p)
        else:
            raise PatternError(f"{p}: no such pattern file or directory")
    return files


class PatternSet:
    """All families in use, tried in priority order (specific before generic)."""

    def __init__(self, families: list[Family], default_roles: dict[str, str]):
        self.default_roles = default_roles
        self.families = sorted(families, key=lambda f: -f.priority)
        self._rules = [r for f in self.families for r in f.rules]

    @classmethod
    def load(cls, extra: Iterable[Path] = (), *, self_test: bool = True) -> "PatternSet":
        base = builtin_dir()
        roles_file = base / "_roles.toml"
        roles = load_roles(roles_file) if roles_file.exists() else {}
        by_id: dict[str, Family] = {}
        for path in pattern_files([base, *extra]):
            fam = load_family(path, roles, self_test=self_test)
            by_id[fam.id] = fam       # a user file with the same id overrides the built-in one
        return cls(list(by_id.values()), roles)

    def match(self, text: str, line_no: int) -> list[Record]:
        out = []
        roles = self.default_roles
        for rule in self._rules:
            rec = rule.apply(text, line_no, roles)
            if rec is not None:
                out.append(rec)
                if not rule.keep_going:
                    break
        return out


_DEFAULT: PatternSet | None = None


def default_patterns() -> PatternSet:
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = PatternSet.load()
    return _DEFAULT
