"""Pattern files: line families declared as data (TOML), each carrying its own sample lines.

A pattern file (schema "logdoc.pattern/1", documented in docs/patterns.md) declares a family
of lines: regexes with named groups, what each group means (type and role) and real sample
lines with the values they must produce. Loading a file compiles it and runs its samples, so
a broken file is reported with the file and the sample that failed, before any log is read.
"""
from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .decoders import _number, _parse_list, decode_json, decode_pydict, parse_number
from ..core import vocabulary
from ..core.model import COUNTER_ROLES, ROLES, Metric, Record
from ..core.files import builtin_dir  # noqa: F401  (where the pattern files are)

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
                "epoch_running_mean", "global_mean", "last", "cumulative")
PHASES = ("train", "eval")


class PatternError(Exception):
    """A pattern file is invalid or one of its samples fails. Message names file and sample."""


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
    pair: re.Pattern | None        # regex with groups key/value; None with parse or columns
    rename: dict[str, str]
    roles: dict[str, str]
    keep_unknown: bool = True
    keys: re.Pattern | None = None     # only keys this regex finds (re.search) are read
    skip: frozenset[str] = frozenset()  # keys never read (ids, sizes, run numbers)
    aggs: dict[str, str] = field(default_factory=dict)
    columns: str | None = None         # id of the header rule whose column names label the values
    avg_agg: str = "global_mean"       # agg of the "(average)" a pair regex captures as `avg`
    exact: bool = False                # with columns: a row with another number of cells is not ours


class RoleTable(dict):
    """Metric name (lower case) -> role, plus regexes tried when no exact name is known."""

    def __init__(self, exact=(), patterns=()):
        super().__init__(exact)
        self.patterns: list[tuple[re.Pattern, str]] = list(patterns)

    def lookup(self, key: str) -> str | None:
        low = key.lower()
        role = self.get(low)
        if role is not None:
            return role
        for rx, role in self.patterns:
            if rx.search(low):
                return role
        # "Batch loss", "the model loss": a multi-word name ending in a known name
        if " " in low:
            words = low.split()
            for i in range(1, len(words)):
                role = self.get(" ".join(words[i:]))
                # "Total iter", "After epoch" name the position; "time for one epoch" does not
                if role is not None and (role not in COUNTER_ROLES or len(words) == 2):
                    if role in ("loss", "val_loss") and _is_component(key):
                        return "metric"    # "Surrogate loss", "center loss": a part of the loss
                    return role
        return None


def _is_component(key: str) -> bool:
    return vocabulary.meaning(key).kind in ("loss_component", "aux_loss")


def _role_lookup(roles: dict, key: str) -> str | None:
    if isinstance(roles, RoleTable):
        return roles.lookup(key)
    return roles.get(key.lower())


# The eval phase turns generic roles into their validation counterparts: a "loss" printed on a
# validation line is a validation loss, whatever the framework calls it.
_EVAL_ROLE = {"loss": "val_loss", "metric": "val_metric"}

# Returned by header rules and `ignore` rules: the line is recognised but carries no record.
RECOGNISED = object()
HEADER = object()            # a table header was remembered (rows after it change meaning)
COLLECTING = object()        # a line of a multi-line object was remembered (see PatternRule.collect)


class Joined:
    """A multi-line object (pretty-printed JSON) finished on this line: its items as one line,
    numbered as the line that opened it. PatternSet reads that line with every rule."""

    __slots__ = ("text", "line")

    def __init__(self, text: str, line: int):
        self.text, self.line = text, line


COLLECT_KINDS = ("open", "item", "close")
_COLLECT_KEY = "collect"     # state: (first line, items) of the object being read
MAX_COLLECT_ITEMS = 512      # items kept per object (bounded memory on a runaway block)


@dataclass
class PatternRule:
    id: str
    family: str
    regex: re.Pattern
    anchors: tuple[str, ...] | None
    fields: list[FieldSpec]
    kv: KVSpec | None = None
    event: str | None = None
    phase: str = "train"
    agg: str | None = None
    keep_going: bool = False       # TOML key "continue": later rules may match the same line
    samples: list[dict] = field(default_factory=list)
    parse: str | None = None       # "pydict" | "json": the kv source is a serialized dict
    header: str | None = None      # this rule reads column names from this group
    require_metrics: bool = False  # a match without a metric or event is not a record
    epoch_base: int | None = None
    step_base: int | None = None
    ignore: bool = False           # a line the family knows and deliberately records nothing for
    separator: str | None = None   # header/row cells split on this string (CSV) instead of spaces
    header_gap: bool = False       # header names may hold one space ("LOSS NER"): 2+ spaces or a tab split
    fallback: bool = False         # the family reads only lines no other family recognised
    # "open" | "item" | "close": this rule reads one line of an object printed over several
    # lines (json.dumps(indent=2), trainer_state.json): items are kept until a close line
    # joins them into one object on one line (Joined) that every rule then reads.
    collect: str | None = None
    _role_cache: dict = field(default_factory=dict, repr=False)

    @property
    def qualified(self) -> str:
        return f"{self.family}/{self.id}"

    @property
    def anchor(self) -> str | None:      # kept for callers that read a single anchor
        return self.anchors[0] if self.anchors else None

    def __post_init__(self):
        if isinstance(self.regex, str):   # a built-in rule: compiled when first needed
            self._find = self._compile_and_find
        else:
            self._set_find()
        self._needs_header = (f"{self.family}/{self.kv.columns}"
                              if self.kv is not None and self.kv.columns is not None else None)

    def _set_find(self) -> None:
        # A regex anchored with ^ is tried at the start only (re.search would scan the line).
        self._find = self.regex.match if self.regex.pattern.startswith("^") else self.regex.search

    def _compile_and_find(self, text: str):
        # Compiling the 140 built-in regexes is most of a small log's start-up, and a log
        # meets few of them (the anchor index picks them): each is compiled on first use.
        self.regex = re.compile(self.regex)
        self._set_find()
        return self._find(text)

    def apply(self, text: str, line_no: int, default_roles: dict[str, str], state: dict | None = None):
        """A Record, HEADER (a header line was remembered) or None (no match)."""
        if self.anchors is not None:
            for a in self.anchors:
                if a in text:
                    break
            else:
                return None
        return self.apply_unanchored(text, line_no, default_roles, state)

    def apply_unanchored(self, text: str, line_no: int, default_roles, state: dict | None = None):
        """`apply` for callers that already know an anchor occurs (PatternSet's anchor index)."""
        if self._needs_header is not None and (state is None or self._needs_header not in state):
            return None               # a table row before its header: not ours, skip the regex
        m = self._find(text)
        if m is None:
            return None
        if self.collect is not None:
            return self._collect(m, line_no, state)
        if self.ignore:
            return RECOGNISED
        groups = m.groupdict()
        if self.header is not None:
            if state is not None:
                if self.separator is not None:    # CSV: a column is its index
                    state[self.qualified] = [(_clean_column(n.strip()), i) for i, n in
                                             enumerate(m.group(self.header).split(self.separator))]
                else:
                    base = m.start(self.header)
                    words = (_GAP_WORD if self.header_gap else _WORD).finditer(m.group(self.header))
                    state[self.qualified] = [(_clean_column(w.group()), base + w.start()) for w in words]
            return HEADER
        rec = Record(line=line_no, text=text, pattern=self.qualified, family=self.family,
                     event=self.event, phase=self.phase, agg=self.agg,
                     epoch_base=self.epoch_base, step_base=self.step_base)
        for spec in self.fields:
            raw = groups.get(spec.name)
            if raw is None:
                continue
            _apply_field(rec, spec, raw, groups, self.agg)
        if self.kv is not None:
            tail = groups.get(self.kv.source)
            if tail:
                if not self._apply_kv(rec, tail, m.start(self.kv.source), default_roles, state):
                    return None
        if self.event is None and not rec.metrics:
            if self.require_metrics or (rec.epoch is None and rec.step is None
                                        and rec.epoch_total is None and rec.step_total is None):
                return None    # matched the shape but carried nothing (e.g. an empty kv tail)
        return rec

    def _collect(self, m: re.Match, line_no: int, state: dict | None):
        """COLLECTING, or the Joined object a close line finishes."""
        if state is None:
            return COLLECTING
        pending = state.get(_COLLECT_KEY)
        if self.collect == "open":        # a new object (or list) starts: forget any other
            state[_COLLECT_KEY] = (line_no, [])
            return COLLECTING
        if self.collect == "item":
            if pending is None:           # its opening line was not seen (an excerpt's cut)
                pending = state[_COLLECT_KEY] = (line_no, [])
            if len(pending[1]) < MAX_COLLECT_ITEMS:
                pending[1].append(m.group("item"))
            return COLLECTING
        state.pop(_COLLECT_KEY, None)
        if not pending or not pending[1]:
            return COLLECTING
        text = "{" + ", ".join(pending[1]) + "}"
        return Joined(text[:MATCH_CHARS], pending[0])

    # -- key/value tails ------------------------------------------------------------------

    def _items(self, tail: str, offset: int, state: dict | None):
        """(key, raw value, raw average or None, raw total or None) for each pair of the tail."""
        kv = self.kv
        if self.parse == "pydict":
            return [(k, v, None, None) for k, v in decode_pydict(tail)]
        if self.parse == "json":
            return [(k, v, None, None) for k, v in decode_json(tail)]
        if kv.columns is not None:
            columns = (state or {}).get(f"{self.family}/{kv.columns}")
            if columns is None:
                return None           # a row before any header: not ours
            if self.separator is not None:     # CSV: cell i under column i, empty cells skipped
                return [(columns[i][0], cell, None, None)
                        for i, cell in enumerate(tail.split(self.separator))
                        if i < len(columns) and cell.strip()]
            cells = [(w.group(), offset + w.start()) for w in _WORD.finditer(tail)]
            if kv.exact and len(cells) != len(columns):
                return None           # not a row of this table
            return [(k, v, None, None) for k, v in _zip_columns(columns, cells)]
        groups = kv.pair.groupindex
        has_avg, has_total = "avg" in groups, "total" in groups   # "loss 0.57 (0.60)", "Epoch [5/10]"
        return [(m.group("key"), m.group("value"), m.group("avg") if has_avg else None,
                 m.group("total") if has_total else None) for m in kv.pair.finditer(tail)]

    def _role(self, key: str, default_roles) -> str | None:
        cached = self._role_cache.get(key, _MISSING)
        if cached is not _MISSING:
            return cached
        kv = self.kv
        role = kv.roles.get(key)
        if role is None and kv.keep_unknown and not vocabulary.is_metric_name(key):
            pass                  # free text ("improved from inf to 0.2"): no metric name
        elif role is None:        # a name the family did not declare: its generic meaning
            role = _role_lookup(default_roles, key)
            if role is None and kv.keep_unknown:
                role = vocabulary.kind_role(key)     # its meaning gives its role
            if role is not None and self.phase == "eval":
                role = _EVAL_ROLE.get(role, role)
        if len(self._role_cache) < 4096:     # keys are few per family; stay bounded anyway
            self._role_cache[key] = role
        return role

    def _apply_kv(self, rec: Record, tail: str, offset: int, default_roles, state) -> bool:
        kv = self.kv
        items = self._items(tail, offset, state)
        if items is None:
            return False
        rename, skip, keys, aggs, agg = kv.rename, kv.skip, kv.keys, kv.aggs, self.agg
        for key, raw, raw_avg, raw_total in items:
            key = key.strip()
            if rename:
                key = rename.get(key, key)
            if key in skip or (keys is not None and not keys.search(key)):
                continue
            role = self._role_cache.get(key, _MISSING)
            if role is _MISSING:
                role = self._role(key, default_roles)
            if role is None:
                continue
            if raw.__class__ is str:
                try:
                    value = float(raw)        # the common case; parse_number for "1,234", "100%"
                except ValueError:
                    value = _number(raw)
            else:
                value = _number(raw)
            if value is None:
                continue
            if raw_total and role in _COUNTER_TOTAL:
                total = _number(raw_total)
                if total is not None:
                    setattr(rec, _COUNTER_TOTAL[role], total)
            if role in COUNTER_ROLES:
                setattr(rec, role, value)
                continue
            rec.metrics.append(Metric(key, role, value, None, aggs.get(key, agg) if aggs else agg))
            if raw_avg is not None:       # "loss: 0.57 (0.60)": the average in parentheses
                avg = _number(raw_avg)
                if avg is not None:
                    avg_role = role if role in _KEEP_AVG_ROLE else "metric"
                    rec.metrics.append(Metric(f"{key}_avg", avg_role, avg, agg=kv.avg_agg))
        return True


_MISSING = object()

_COUNTER_TOTAL = {"epoch": "epoch_total", "step": "step_total"}
# An average keeps its key's role only where that cannot be mistaken for a second series of
# the same quantity (a second "loss" per line would confuse trend rules).
_KEEP_AVG_ROLE = frozenset({"time_per_step", "memory", "throughput"})


_WORD = re.compile(r"\S+")
_GAP_WORD = re.compile(r"\S+(?: \S+)*")     # words joined by single spaces: one column name


def _clean_column(name: str) -> str:
    """`Box(P` -> `P`, `mAP50-95):` -> `mAP50-95`: ultralytics folds a group label into its header."""
    return name.rsplit("(", 1)[-1].strip("():,")


def _zip_columns(columns: list[tuple[str, int]], cells: list[tuple[str, int]]) -> list[tuple[str, str]]:
    """Values of a table row under the header's column names.

    As many cells as columns: zipped in order (right-aligned tables such as ultralytics'). Fewer
    (Chainer's PrintReport leaves blank cells for metrics not reported yet): each cell goes to
    the last column starting at or before it, as in a left-aligned table. A cell `a/b` (an
    `Epoch 3/10` column) gives the column `a` and `<column>__total` `b`.
    """
    if len(cells) == len(columns):
        pairs = [(name, cell) for (name, _), (cell, _) in zip(columns, cells)]
    else:
        pairs = []
        for cell, pos in cells:
            owner = None
            for name, start in columns:
                if start <= pos:
                    owner = name
                else:
                    break
            if owner is not None:
                pairs.append((owner, cell))
    out = []
    for name, value in pairs:
        if value[:1] == "[" and value[-1:] == "]":
            value = value[1:-1].strip()        # a one-element array printed by NumPy: "[-2.179]"
        if value.count("/") == 1:
            a, b = value.split("/")
            out.append((name, a))
            out.append((f"{name}__total", b))
        else:
            out.append((name, value))
    return out


def _apply_field(rec: Record, spec: FieldSpec, raw: str, groups: dict, rule_agg: str | None) -> None:
    if spec.type in ("str", "strlist"):
        return    # helper fields (names, labels) are read by the fields that need them
    agg = spec.agg or rule_agg
    if spec.type == "floatlist":
        values = _parse_list(raw)
        names = _parse_list(groups.get(spec.groups) or "") if spec.groups else []
        role = spec.role or "metric"
        for i, item in enumerate(values):
            try:
                value = parse_number(item)
            except ValueError:
                continue
            group = names[i] if i < len(names) else f"pg{i}"
            rec.metrics.append(Metric(f"{spec.metric or spec.name}/{group}", role, value, group, agg))
        return
    try:
        value = parse_number(raw)
    except ValueError:
        return
    role = spec.role or "metric"
    if role in COUNTER_ROLES:
        setattr(rec, role, value)
    else:
        rec.metrics.append(Metric(spec.metric or spec.name, role, value, agg=agg))


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

    def match(self, text: str, line_no: int, default_roles: dict[str, str],
              state: dict | None = None) -> tuple[PatternRule, Record] | None:
        for rule in self.rules:
            rec = rule.apply(text, line_no, default_roles, state)
            if rec is not None:
                return rule, rec
        return None

    def match_chain(self, text: str, line_no: int, default_roles: dict[str, str],
                    state: dict | None = None) -> list[tuple[PatternRule, object]]:
        """Every rule that takes the line: the first match, plus the ones `continue` lets on."""
        hits = []
        for rule in self.rules:
            rec = rule.apply(text, line_no, default_roles, state)
            if rec is not None:
                hits.append((rule, rec))
                if not rule.keep_going or rec is HEADER or rec is RECOGNISED or rule.collect:
                    break
        return hits


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


_GROUP_NAME = re.compile(r"\(\?P<([A-Za-z_]\w*)>")


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


def _kv_spec(k: dict, rule: dict, names: set[str], macros: dict, rwhere: str) -> KVSpec:
    _check_keys(k, {"source", "pair", "rename", "roles", "keep_unknown", "keys", "skip", "aggs",
                    "columns", "avg_agg", "exact"}, f"{rwhere} kv")
    if k.get("exact") and "columns" not in k:
        raise PatternError(f"{rwhere}: kv.exact needs kv.columns")
    if k.get("avg_agg", "global_mean") not in AGGREGATIONS:
        raise PatternError(f"{rwhere}: kv.avg_agg {k['avg_agg']!r} is not a known aggregation")
    if k.get("source") not in names:
        raise PatternError(f"{rwhere}: kv.source must name a group of the regex")
    pair = None
    if "pair" in k:
        pair = _compile(_expand(k["pair"], macros, rwhere), f"{rwhere} kv.pair")
        if not {"key", "value"} <= set(pair.groupindex):
            raise PatternError(f"{rwhere}: kv.pair needs named groups 'key' and 'value'")
    elif not rule.get("parse") and "columns" not in k:
        raise PatternError(f"{rwhere}: kv needs a pair regex, a rule-level parse or kv.columns")
    for key, role in k.get("roles", {}).items():
        if role not in ROLES:
            raise PatternError(f"{rwhere}: kv role {role!r} for {key!r} is not a known role")
    for key, agg in k.get("aggs", {}).items():
        if agg not in AGGREGATIONS:
            raise PatternError(f"{rwhere}: kv agg {agg!r} for {key!r} is not a known aggregation")
    keys = _compile(k["keys"], f"{rwhere} kv.keys") if "keys" in k else None
    return KVSpec(k["source"], pair, k.get("rename", {}), k.get("roles", {}),
                  k.get("keep_unknown", True), keys, frozenset(k.get("skip", [])),
                  k.get("aggs", {}), k.get("columns"), k.get("avg_agg", "global_mean"),
                  bool(k.get("exact", False)))


RULE_KEYS = {"id", "regex", "anchor", "fields", "kv", "event", "phase", "agg", "continue", "sample",
             "description", "parse", "header", "require_metrics", "epoch_base", "step_base",
             "ignore", "separator", "header_gap", "collect"}
PARSERS = ("pydict", "json")


def load_family(path: Path, default_roles: dict[str, str] | None = None, *, self_test: bool = True,
                trusted: bool = False) -> Family:
    """A pattern file's Family. A `trusted` file (built in: the test suite self-tests it)
    is not self-tested here and its rule regexes are compiled when first used."""
    where = str(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise PatternError(f"{where}: invalid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PatternError(f"{where}: cannot read: {exc}") from None
    _check_keys(doc, {"schema", "family", "macros", "rule", "negative", "metrics"}, where)
    if doc.get("schema") != SCHEMA:
        raise PatternError(f"{where}: schema must be {SCHEMA!r}, got {doc.get('schema')!r}")
    fam = doc.get("family")
    if not isinstance(fam, dict) or "id" not in fam:
        raise PatternError(f"{where}: missing [family] table with an id")
    _check_keys(fam, {"id", "title", "description", "urls", "priority", "fallback"}, f"{where} [family]")
    family_id = fam["id"]
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", family_id):
        raise PatternError(f"{where}: family id {family_id!r} must be kebab-case")
    if "metrics" in doc:
        # the framework's own metric names (spaCy's `ents_f`), typed for every rule; checked
        # the way logdoc.toml's [metrics] are
        try:
            vocabulary.declare(vocabulary.validate(doc["metrics"], where))
        except ValueError as exc:
            raise PatternError(str(exc)) from None
    macros = dict(MACROS)
    for name, body in doc.get("macros", {}).items():
        macros[name] = _expand(body, macros, f"{where} macro {name}")
    rules = []
    seen = set()
    for i, r in enumerate(doc.get("rule", []), 1):
        rwhere = f"{where} rule {r.get('id', i)!r}"
        _check_keys(r, RULE_KEYS, rwhere)
        if "id" not in r or "regex" not in r:
            raise PatternError(f"{rwhere}: a rule needs an id and a regex")
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", r["id"]):
            raise PatternError(f"{rwhere}: rule id {r['id']!r} must be kebab-case")
        if r["id"] in seen:
            raise PatternError(f"{rwhere}: duplicate rule id")
        seen.add(r["id"])
        if trusted:
            regex = _expand(r["regex"], macros, rwhere)
            names = set(_GROUP_NAME.findall(regex))
        else:
            regex = _compile(_expand(r["regex"], macros, rwhere), rwhere)
            names = set(regex.groupindex)
        fields = [_field(n, s, rwhere) for n, s in r.get("fields", {}).items()]
        for fs in fields:
            if fs.name not in names:
                raise PatternError(f"{rwhere}: field {fs.name!r} is not a named group of the regex")
            if fs.groups and fs.groups not in names:
                raise PatternError(f"{rwhere}: field {fs.name!r} takes groups from {fs.groups!r}, which is not a named group")
        if r.get("parse") is not None and r["parse"] not in PARSERS:
            raise PatternError(f"{rwhere}: parse must be one of {PARSERS}")
        if r.get("parse") and "kv" not in r:
            raise PatternError(f"{rwhere}: parse needs a [rule.kv] naming the group that holds the payload")
        kv = _kv_spec(r["kv"], r, names, macros, rwhere) if "kv" in r else None
        if kv is not None and kv.columns is not None and kv.columns not in seen:
            raise PatternError(f"{rwhere}: kv.columns {kv.columns!r} must name an earlier header rule of this file")
        header = r.get("header")
        if header is not None and header not in names:
            raise PatternError(f"{rwhere}: header must name a group of the regex")
        if r.get("header_gap") and header is None:
            raise PatternError(f"{rwhere}: header_gap needs header")
        phase = r.get("phase", "train")
        if phase not in PHASES:
            raise PatternError(f"{rwhere}: phase must be one of {PHASES}")
        if r.get("agg") is not None and r["agg"] not in AGGREGATIONS:
            raise PatternError(f"{rwhere}: unknown agg {r['agg']!r}")
        for base in ("epoch_base", "step_base"):
            if r.get(base) not in (None, 0, 1):
                raise PatternError(f"{rwhere}: {base} must be 0 or 1")
        collect = r.get("collect")
        if collect is not None and collect not in COLLECT_KINDS:
            raise PatternError(f"{rwhere}: collect must be one of {COLLECT_KINDS}")
        if collect == "item" and "item" not in names:
            raise PatternError(f"{rwhere}: a collect item rule needs a group named 'item'")
        anchor = r.get("anchor")
        anchors = (anchor,) if isinstance(anchor, str) else (tuple(anchor) if anchor else None)
        samples = r.get("sample", [])
        if not samples:
            raise PatternError(f"{rwhere}: every rule needs at least one [[rule.sample]] line")
        rules.append(PatternRule(id=r["id"], family=family_id, regex=regex, anchors=anchors,
                                 fields=fields, kv=kv, event=r.get("event"), phase=phase,
                                 agg=r.get("agg"), keep_going=r.get("continue", False), samples=samples,
                                 parse=r.get("parse"), header=header,
                                 require_metrics=bool(r.get("require_metrics", False)),
                                 epoch_base=r.get("epoch_base"), step_base=r.get("step_base"),
                                 ignore=bool(r.get("ignore", False)),
                                 separator=r.get("separator"), header_gap=bool(r.get("header_gap", False)),
                                 fallback=bool(fam.get("fallback", False)),
                                 collect=collect))
    if not rules:
        raise PatternError(f"{where}: a family needs at least one [[rule]]")
    family = Family(id=family_id, title=fam.get("title", family_id), path=path,
                    priority=int(fam.get("priority", 50)), rules=rules,
                    negatives=[n["line"] for n in doc.get("negative", [])],
                    description=fam.get("description", ""), urls=fam.get("urls", []))
    if self_test and not trusted:
        from .selftest import check_family   # selftest needs this module's classes

        problems = check_family(family, default_roles or {})
        if problems:
            raise PatternError(problems[0])
    return family


# ---------------------------------------------------------------------------- the set in use

def load_roles(path: Path) -> RoleTable:
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise PatternError(f"{path}: cannot load role names: {exc}") from None
    exact = {str(k).lower(): v for k, v in doc.get("roles", {}).items()}
    patterns = []
    for rx, role in doc.get("role_patterns", {}).items():
        patterns.append((_compile(rx, f"{path}: role pattern {rx!r}"), role))
    for key, role in [*exact.items(), *((rx.pattern, role) for rx, role in patterns)]:
        if role not in ROLES:
            raise PatternError(f"{path}: role {role!r} for {key!r} is not a known role")
    return RoleTable(exact, patterns)


class Prefixes:
    """Logger, timestamp and launcher prefixes peeled off a line before any family sees it.

    Declared as data in patterns/_prefixes.toml. All regexes are joined into one alternation
    tried at the start of the line, repeatedly (a rank prefix, then a timestamp, then a level).
    A group named `rank` in a prefix tells which distributed rank printed the line; a group
    named `weak_rank` marks a prefix that may also be something else (a bare "3: " can be an
    epoch number): its rank is returned as "~3" so the parser can be more careful with it.
    """

    MAX_PEELS = 6

    def __init__(self, regexes: list[str], where: str = "prefixes"):
        self.rank_groups: list[str] = []
        parts = []
        for i, rx in enumerate(regexes):
            renamed = rx.replace("(?P<rank>", f"(?P<rank{i}>").replace("(?P<weak_rank>", f"(?P<weak{i}>")
            if "(?P<rank>" in rx:
                self.rank_groups.append(f"rank{i}")
            if "(?P<weak_rank>" in rx:
                self.rank_groups.append(f"weak{i}")
            _compile(renamed, f"{where}: prefix {rx!r}")
            parts.append(f"(?:{renamed})")
        self.regex = re.compile("|".join(parts)) if parts else None

    @classmethod
    def load(cls, path: Path) -> "Prefixes":
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise PatternError(f"{path}: cannot load prefixes: {exc}") from None
        prefixes = cls([p["regex"] for p in doc.get("prefix", [])], str(path))
        for p in doc.get("prefix", []):
            for sample in p.get("sample", []):
                body, _ = prefixes.peel(sample["line"])
                if body != sample["rest"]:
                    raise PatternError(f"{path}: prefix {p.get('id')!r} sample {sample['line']!r}: "
                                       f"expected {sample['rest']!r} after peeling, got {body!r}")
        return prefixes

    def peel(self, text: str) -> tuple[str, str | None]:
        """(the line without its prefixes, the rank that printed it or None)."""
        offset, rank, _ = self.peel_at(text)
        return (text[offset:] if offset else text), rank

    def peel_at(self, text: str) -> tuple[int, str | None, tuple[int, int] | None]:
        """(where the body starts, rank or None, the rank's span in the line or None)."""
        rx = self.regex
        if rx is None:
            return 0, None, None
        if len(text) > MATCH_CHARS:       # bounded cost per line (the body is cut there too)
            text = text[:MATCH_CHARS]
        rank = None
        span = None
        offset = 0
        rest = text
        for _ in range(self.MAX_PEELS):
            m = rx.match(rest)        # on the rest itself: ^, \b and lookbehinds see its start
            if m is None or m.end() == 0:
                break
            if self.rank_groups and rank is None:
                for g in self.rank_groups:
                    if m.group(g) is not None:
                        rank = m.group(g) if g.startswith("rank") else "~" + m.group(g)
                        start, end = m.span(g)
                        span = (offset + start, offset + end)
                        break
            offset += m.end()
            rest = rest[m.end():]
        return offset, rank, span


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


_LETTERS_BY_FREQUENCY = "etaoinsrhldcumfpgwybvkxjqz"


def _char_rarity(c: str) -> int:
    """How rarely a character occurs in log text: space and common lower-case letters first."""
    if c == " ":
        return 0
    i = _LETTERS_BY_FREQUENCY.find(c)
    if i >= 0:
        return 1 + i
    return 30 if c.isdigit() else 100     # digits, then capitals, punctuation, non-ASCII


SHAPE_DIGITS = ("0123456789", "7777777777")   # a line's shape: every digit written as 7
_DIGIT_SHAPE = bytes.maketrans(SHAPE_DIGITS[0].encode(), SHAPE_DIGITS[1].encode())
MAX_SHAPES = 16384        # distinct line shapes remembered per log (bounded memory)
# Bounded cost per line: no pattern regex (prefixes, rules, key/value pairs) is handed more
# than this many characters of a line's body. A longer line is matched on its first
# MATCH_CHARS characters after its prefixes; its record still quotes the whole line as
# evidence, but a metric printed after the cut is not read (and a JSON or dict payload cut
# there does not decode). Real lines are far shorter (the longest in the corpus: 4.5 KB).
MATCH_CHARS = 16384


class PatternSet:
    """All families in use, tried in priority order (specific before generic)."""

    def __init__(self, families: list[Family], default_roles: dict[str, str],
                 prefixes: Prefixes | None = None):
        self.default_roles = default_roles
        self.families = sorted(families, key=lambda f: -f.priority)
        self._rules = [r for f in self.families for r in f.rules]
        self.prefixes = prefixes or Prefixes([])
        # Anchor index: most lines contain none of a rule's anchors, so instead of asking every
        # rule, find the anchors present once per line and try only the rules they point to
        # (in priority order), plus the rules without anchors.
        self._always = [i for i, r in enumerate(self._rules) if not r.anchors]
        self._by_anchor: dict[str, list[int]] = {}
        for i, r in enumerate(self._rules):
            for a in r.anchors or ():
                self._by_anchor.setdefault(a, []).append(i)
        # Anchors are bucketed by their rarest character: a line is only checked for the
        # anchors whose bucket character it contains (one set intersection per line).
        self._buckets: dict[str, list[str]] = {}
        for a in self._by_anchor:
            self._buckets.setdefault(max(a, key=_char_rarity), []).append(a)
        self._bucket_keys = frozenset(self._buckets)
        self._shapes: dict[bytes, tuple[int, ...]] = {}
        self.headers_seen = 0     # bumped when a header line changes what later rows mean
        self.collected = 0        # bumped by each line of a multi-line object (never templated)

    @classmethod
    def load(cls, extra: Iterable[Path] = (), *, self_test: bool = True) -> "PatternSet":
        base = builtin_dir()
        roles_file = base / "_roles.toml"
        roles = load_roles(roles_file) if roles_file.exists() else RoleTable()
        prefix_file = base / "_prefixes.toml"
        prefixes = Prefixes.load(prefix_file) if prefix_file.exists() else None
        by_id: dict[str, Family] = {}
        builtin = set(pattern_files([base]))
        for path in pattern_files([base, *extra]):
            fam = load_family(path, roles, self_test=self_test, trusted=path in builtin)
            by_id[fam.id] = fam       # a user file with the same id overrides the built-in one
        return cls(list(by_id.values()), roles, prefixes)

    def match(self, text: str, line_no: int, state: dict | None = None) -> list[Record]:
        """Records of one line (already peeled of prefixes, see `peel`). `state` carries what
        earlier lines declared (header columns) and belongs to one parse of one log."""
        return self.match_all(text, line_no, state)[0]

    def match_all(self, text: str, line_no: int, state: dict | None = None) -> tuple[list[Record], bool]:
        """(records, recognised): a header line is recognised without giving a record.

        Lines repeat their shape: only the numbers change between two loss lines, and the
        chatter between them (dataloader, warnings) recurs too. So the outcome is remembered
        per shape (the line with every digit written as 7, so chatter with changing numbers is one shape): a shape no rule matched is skipped
        at once, and for a known shape only the rules that matched it are tried. Pattern
        regexes may not depend on which digit a line holds (check_family enforces it), and
        the memory is cleared whenever a header changes what rows mean.

        Only the first MATCH_CHARS characters of `text` are matched (bounded cost per line).
        """
        if len(text) > MATCH_CHARS:
            text = text[:MATCH_CHARS]
        shape = text.encode("utf-8", "replace").translate(_DIGIT_SHAPE)
        known = self._shapes.get(shape)
        if known is not None:
            if not known:
                return [], False
            out, recognised, matched, header = self._try(known, text, line_no, state)
            if matched == known:
                if header:
                    self._shapes.clear()
                    self.headers_seen += 1
                return out, recognised
            # the remembered rules did not match this time: ask every candidate again
        candidates = self._candidates(text)
        out, recognised, matched, header = self._try(candidates, text, line_no, state)
        if header:
            self._shapes.clear()
            self.headers_seen += 1
        elif len(self._shapes) < MAX_SHAPES:
            self._shapes[shape] = matched
        return out, recognised

    def _candidates(self, text: str) -> tuple[int, ...]:
        buckets = self._buckets
        present = [a for c in self._bucket_keys.intersection(text) for a in buckets[c] if a in text]
        if not present:
            return tuple(self._always)
        candidates = set(self._always)
        for a in present:
            candidates.update(self._by_anchor[a])
        return tuple(sorted(candidates))

    def _try(self, candidates, text: str, line_no: int, state):
        """Apply rules in priority order: (records, recognised, indexes that matched, header?)."""
        out: list[Record] = []
        matched: list[int] = []
        roles = self.default_roles
        rules = self._rules
        for i in candidates:
            rule = rules[i]
            if matched and rule.fallback:
                break                  # a fallback family reads only what nothing else read
            rec = rule.apply_unanchored(text, line_no, roles, state)
            if rec is None:
                continue
            matched.append(i)
            if rule.collect is not None:
                self.collected += 1
                if rec.__class__ is Joined:
                    out.extend(self._read_joined(rec, state))
                return out, True, tuple(matched), False
            if rec is HEADER:
                return out, True, tuple(matched), True
            if rec is not RECOGNISED:
                out.append(rec)
                if state and _COLLECT_KEY in state:
                    del state[_COLLECT_KEY]   # a log line inside an "object": it was none
            if not rule.keep_going:
                break
        return out, bool(matched), tuple(matched), False

    def _read_joined(self, joined: Joined, state) -> list[Record]:
        """The records of a multi-line object, read as the one line it would be. Only those
        that say where in training they are: a configuration dump (`"learning_rate": 0.0`
        among the settings) is not a training record."""
        text = joined.text
        recs = self._try(self._candidates(text), text, joined.line, state)[0]
        kept = [r for r in recs if r.epoch is not None or r.step is not None]
        for r in kept:
            r.text = text
        return kept

    def peel(self, text: str) -> tuple[str, str | None]:
        return self.prefixes.peel(text)


_DEFAULT: PatternSet | None = None


def default_patterns() -> PatternSet:
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = PatternSet.load()
    return _DEFAULT
