"""Expectations: what a healthy run of a job must show, declared in TOML (`--expect FILE`).

The rules find what is wrong in any log; expectations state what is right for one job —
the checklist a practitioner writes after fixing an incident. Each unmet expectation becomes
a finding (rule `expectation`, category `expectation`) with the measured value and its line.

    [[expect]]
    name = "every LR group is above 0 from epoch 1"   # optional; a default is derived
    metric = "lr/*"          # metric name, glob allowed (`*` = every metric) …
    # role = "lr"            # … or a role (lr, loss, val_loss, param_delta, grad_norm, …)
    check = "all"            # see CHECKS
    op = ">"                 # >, >=, <, <=, ==, != (all, any, final, each-epoch)
    value = 0
    from_epoch = 1           # optional window of epochs (inclusive): from_epoch, to_epoch
    phase = "eval"           # optional: only train or eval values
    aggregate = "median"     # each-epoch: last (default), first, median, mean, min, max
    window = 5               # decreasing/increasing: the last N epochs (default: all)
    strict = false           # decreasing/increasing: every step (true) or end vs start (false)
    severity = "error"       # error (default), warning or info

Every metric name the selector matches is checked on its own, so `metric = "lr/*"` with
`check = "all"` means "every LR group". A selector that matches nothing is unmet (a healthy
run prints what you expect it to print). Values are kept while the log is read (Kept, Session
`expectations=`) — the log is not parsed twice, and memory does not grow with its length.
"""
from __future__ import annotations

import math
import operator
import re
import statistics
import tomllib
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path

from ..core.model import ROLES, Evidence, Finding, Severity
from ..source.reading import InputError
from ..rules.base import fmt

CHECKS = {
    "all": "every value satisfies `op value`",
    "any": "at least one value satisfies `op value`",
    "final": "the last value satisfies `op value`",
    "each-epoch": "in every epoch, the epoch's `aggregate` of the values satisfies `op value`",
    "decreasing": "over the last `window` epochs the value goes down",
    "increasing": "over the last `window` epochs the value goes up",
    "finite": "no value is nan or inf",
    "present": "the metric is printed at least once",
}
OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
       "==": operator.eq, "!=": operator.ne}
AGGREGATES = {"last": lambda v: v[-1], "first": lambda v: v[0], "median": statistics.median,
              "mean": statistics.fmean, "min": min, "max": max}
NEEDS_OP = {"all", "any", "final", "each-epoch"}
KEYS = {"name", "metric", "role", "check", "op", "value", "from_epoch", "to_epoch", "phase",
        "aggregate", "window", "strict", "severity"}


class ExpectationError(InputError):
    """A bad expectations file: the message names the file and the line (exit 2)."""


@dataclass
class Expectation:
    check: str
    metric: str | None = None
    role: str | None = None
    op: str | None = None
    value: float | None = None
    from_epoch: float | None = None
    to_epoch: float | None = None
    phase: str | None = None
    aggregate: str = "last"
    window: int | None = None
    strict: bool = False
    severity: Severity = Severity.error
    name: str = ""
    line: int = 0             # where it is declared in its file
    source: str = ""

    def __post_init__(self):
        if not self.name:
            self.name = self.describe()

    def selector(self) -> str:
        return self.metric if self.metric is not None else f"role {self.role}"

    def describe(self) -> str:
        what = self.selector()
        if self.check == "each-epoch":
            agg = "" if self.aggregate == "last" else f"{self.aggregate} "
            text = f"{agg}{what} {self.op} {_num(self.value)} in every epoch"
        elif self.check in NEEDS_OP:
            text = f"{self.check} {what} {self.op} {_num(self.value)}"
        elif self.check in ("decreasing", "increasing"):
            span = f" over the last {self.window} epochs" if self.window else ""
            text = f"{what} {self.check}{span}"
        else:
            text = f"{what} {self.check}"
        if self.from_epoch is not None:
            text += f" from epoch {_num(self.from_epoch)}"
        if self.to_epoch is not None:
            text += f" to epoch {_num(self.to_epoch)}"
        if self.phase:
            text += f" ({self.phase})"
        return text


def _num(x: float | None) -> str:
    """A number as a log would print it: 0, 0.5, 1.921642, 3.3e-05, inf, nan."""
    if x is None:
        return "?"
    if math.isfinite(x) and float(x).is_integer() and abs(x) < 1e15:
        return str(int(x))
    return fmt(x)


# ---------------------------------------------------------------- loading

def _key_line(lines: list[str], start: int, end: int, key: str | None) -> int:
    """1-based line of `key = …` within lines[start:end], else of the table header."""
    if key is not None:
        pattern = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
        for i in range(start, end):
            if pattern.match(lines[i]):
                return i + 1
    return start + 1


def load(path: str | Path) -> list[Expectation]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ExpectationError(f"{path}: cannot read expectations: {getattr(exc, 'strerror', None) or exc}") from None
    return parse(text, str(path))


def parse(text: str, source: str = "<expectations>") -> list[Expectation]:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:   # its message ends "(at line N, column M)"
        raise ExpectationError(f"{source}: invalid TOML: {exc}") from None
    lines = text.splitlines()
    headers = [i for i, line in enumerate(lines) if re.match(r"^\s*\[\[\s*expect\s*\]\]", line)]
    unknown = set(doc) - {"expect"}
    if unknown:
        key = sorted(unknown)[0]
        raise ExpectationError(f"{source}:{_key_line(lines, 0, len(lines), key)}: unknown top-level "
                               f"key {key!r} (declare each expectation as an [[expect]] table)")
    tables = doc.get("expect", [])
    if not isinstance(tables, list) or not tables:
        raise ExpectationError(f"{source}:1: no [[expect]] table: nothing to check")
    out = []
    for index, table in enumerate(tables):
        start = headers[index] if index < len(headers) else 0
        end = headers[index + 1] if index + 1 < len(headers) else len(lines)

        def fail(message: str, key: str | None = None) -> None:
            raise ExpectationError(f"{source}:{_key_line(lines, start, end, key)}: {message}")

        out.append(_build(table, fail, start + 1, source))
    return out


def _build(table: dict, fail, line: int, source: str) -> Expectation:
    if not isinstance(table, dict):
        fail("each expectation must be a table")
    for key in table:
        if key not in KEYS:
            fail(f"unknown key {key!r} (known: {', '.join(sorted(KEYS))})", key)
    check = table.get("check")
    if check not in CHECKS:
        fail(f"check must be one of {', '.join(CHECKS)} (got {check!r})", "check" if "check" in table else None)
    if ("metric" in table) == ("role" in table):
        fail("give exactly one of metric (a name or glob) or role")
    if "metric" in table and not (isinstance(table["metric"], str) and table["metric"]):
        fail("metric must be a non-empty string", "metric")
    if "role" in table and table["role"] not in ROLES:
        fail(f"unknown role {table['role']!r} (known: {', '.join(ROLES)})", "role")
    if check in NEEDS_OP:
        if table.get("op") not in OPS:
            fail(f"check {check!r} needs op, one of {' '.join(OPS)}", "op" if "op" in table else None)
        if not isinstance(table.get("value"), (int, float)) or isinstance(table.get("value"), bool):
            fail(f"check {check!r} needs a numeric value", "value" if "value" in table else None)
    elif "op" in table or "value" in table:
        fail(f"check {check!r} takes no op/value", "op" if "op" in table else "value")
    for key in ("from_epoch", "to_epoch"):
        if key in table and (not isinstance(table[key], (int, float)) or isinstance(table[key], bool)):
            fail(f"{key} must be a number", key)
    if table.get("phase", "train") not in ("train", "eval"):
        fail("phase must be train or eval", "phase")
    if table.get("aggregate", "last") not in AGGREGATES:
        fail(f"aggregate must be one of {', '.join(AGGREGATES)}", "aggregate")
    if "aggregate" in table and check != "each-epoch":
        fail("aggregate applies to check = \"each-epoch\" only", "aggregate")
    if "window" in table:
        if check not in ("decreasing", "increasing"):
            fail("window applies to decreasing/increasing only", "window")
        if not isinstance(table["window"], int) or isinstance(table["window"], bool) or table["window"] < 2:
            fail("window must be an integer of at least 2", "window")
    if "strict" in table and not isinstance(table["strict"], bool):
        fail("strict must be true or false", "strict")
    if "name" in table and not (isinstance(table["name"], str) and table["name"].strip()):
        fail("name must be a non-empty string", "name")
    try:
        severity = Severity.parse(str(table.get("severity", "error")))
    except ValueError as exc:
        fail(str(exc), "severity")
    return Expectation(
        check=check, metric=table.get("metric"), role=table.get("role"), op=table.get("op"),
        value=float(table["value"]) if "value" in table else None,
        from_epoch=table.get("from_epoch"), to_epoch=table.get("to_epoch"), phase=table.get("phase"),
        aggregate=table.get("aggregate", "last"), window=table.get("window"),
        strict=table.get("strict", False), severity=severity, name=table.get("name", "").strip(),
        line=line, source=source)


# ---------------------------------------------------------------- evaluation

@dataclass
class Point:
    line: int
    epoch: float | None
    value: float


@dataclass
class Unmet:
    message: str
    line: int
    lines: list[int] = field(default_factory=list)
    metric: str | None = None
    epoch: float | None = None


def _series(exp: Expectation, rows: list[tuple]) -> dict[str, list[Point]]:
    """name -> its values in log order, filtered by the expectation's selector and window."""
    out: dict[str, list[Point]] = {}
    for line, epoch, step, name, role, group, value, phase, pattern in rows:
        if exp.metric is not None and not fnmatchcase(name, exp.metric):
            continue
        if exp.role is not None and role != exp.role:
            continue
        if exp.phase is not None and phase != exp.phase:
            continue
        if exp.from_epoch is not None and (epoch is None or epoch < exp.from_epoch):
            continue
        if exp.to_epoch is not None and (epoch is None or epoch > exp.to_epoch):
            continue
        out.setdefault(name, []).append(Point(line, epoch, value))
    return out


def _where(p: Point) -> str:
    return f"at epoch {_num(p.epoch)} (line {p.line})" if p.epoch is not None else f"on line {p.line}"


def _per_epoch(points: list[Point]) -> list[tuple[float, list[Point]]]:
    epochs: dict[float, list[Point]] = {}
    for p in points:
        if p.epoch is not None:
            epochs.setdefault(p.epoch, []).append(p)
    return sorted(epochs.items())


def _check_metric(exp: Expectation, name: str, points: list[Point], count: int | None = None) -> Unmet | None:
    """`count`: how many values the name has (`points` may hold only those the check reads,
    see Kept)."""
    want = f"{exp.op} {_num(exp.value)}"
    cmp = OPS.get(exp.op)
    if exp.check == "all":
        for p in points:
            if not cmp(p.value, exp.value):
                return Unmet(f"{name} is {_num(p.value)} {_where(p)}, expected {want}", p.line, [p.line], name, p.epoch)
    elif exp.check == "any":
        if not any(cmp(p.value, exp.value) for p in points):
            last = points[-1]
            return Unmet(f"no value of {name} is {want} ({count or len(points)} values, last {_num(last.value)} "
                         f"{_where(last)})", last.line, [last.line], name, last.epoch)
    elif exp.check == "final":
        last = points[-1]
        if not cmp(last.value, exp.value):
            return Unmet(f"final {name} is {_num(last.value)} {_where(last)}, expected {want}",
                         last.line, [last.line], name, last.epoch)
    elif exp.check == "each-epoch":
        epochs = _per_epoch(points)
        if not epochs:
            return Unmet(f"{name} is printed without an epoch, so no epoch can be checked",
                         points[0].line, [points[0].line], name)
        for epoch, pts in epochs:
            measured = AGGREGATES[exp.aggregate]([p.value for p in pts])
            if not cmp(measured, exp.value):
                agg = "" if exp.aggregate == "last" else f"{exp.aggregate} "
                return Unmet(f"{agg}{name} is {_num(measured)} at epoch {_num(epoch)} (line {pts[0].line}), "
                             f"expected {want}", pts[0].line, [p.line for p in pts[:3]], name, epoch)
    elif exp.check in ("decreasing", "increasing"):
        return _check_trend(exp, name, points)
    elif exp.check == "finite":
        for p in points:
            if not math.isfinite(p.value):
                return Unmet(f"{name} is {_num(p.value)} {_where(p)}", p.line, [p.line], name, p.epoch)
    return None


def _check_trend(exp: Expectation, name: str, points: list[Point]) -> Unmet | None:
    epochs = _per_epoch(points)
    # one value per epoch (the last printed) when epochs are known, else every value
    series = [pts[-1] for _, pts in epochs] if epochs else points
    unit = "epochs" if epochs else "values"
    if exp.window is not None:
        if len(series) < exp.window:
            last = series[-1]
            return Unmet(f"{name} has only {len(series)} {unit}, fewer than the window of {exp.window}",
                         last.line, [last.line], name, last.epoch)
        series = series[-exp.window:]
    if len(series) < 2:
        return Unmet(f"{name} has {len(series)} value(s): a trend needs at least 2",
                     series[0].line, [series[0].line], name, series[0].epoch)
    better = operator.lt if exp.check == "decreasing" else operator.gt
    verb = "decrease" if exp.check == "decreasing" else "increase"
    pairs = list(zip(series, series[1:])) if exp.strict else [(series[0], series[-1])]
    for a, b in pairs:
        if not better(b.value, a.value):
            return Unmet(f"{name} does not {verb} over the last {len(series)} {unit}: "
                         f"{_num(a.value)} {_where(a)} -> {_num(b.value)} {_where(b)}",
                         b.line, [b.line, a.line], name, b.epoch)
    return None


def evaluate_one(exp: Expectation, rows: list[tuple], last_line: int) -> list[Unmet]:
    return _unmet(exp, {name: (points, len(points)) for name, points in _series(exp, rows).items()},
                  last_line)


def _unmet(exp: Expectation, series: dict[str, tuple[list[Point], int]], last_line: int) -> list[Unmet]:
    """The unmet parts of one expectation: series maps each selected name to (its points, or
    those its check reads; how many values it has)."""
    if not series:
        return [Unmet(f"no value of {exp.selector()} found"
                      + (" in the selected epochs/phase" if exp.from_epoch or exp.to_epoch or exp.phase else ""),
                      max(1, last_line))]
    if exp.check == "present":
        return []
    return [u for name, (points, count) in series.items() if (u := _check_metric(exp, name, points, count))]


def _quote(path: str, wanted: set[int]) -> dict[int, str]:
    """The cleaned text of a few log lines, for evidence (read, not parsed; not possible for
    stdin). The file is read in blocks; only a block holding a wanted line is split."""
    if not wanted or path in ("-", "<stdin>") or not Path(path).is_file():
        return {}
    from ..source.reading import clean_line, read_blocks

    found: dict[int, str] = {}
    todo = sorted(wanted)
    k = 0
    try:
        for first_no, block in read_blocks(path):
            end = first_no + block.count(b"\n") + 1          # the next block's first line
            if todo[k] >= end:
                continue
            lines = block.split(b"\n")
            while k < len(todo) and todo[k] < end:
                found[todo[k]] = clean_line(lines[todo[k] - first_no])
                k += 1
            if k == len(todo):
                break
    except (InputError, OSError):
        return found
    return found


def evaluate(expectations: list[Expectation], result) -> list[Finding]:
    """Findings for every unmet expectation on one analysed log: from what the analysis kept
    for them (result.kept, see Kept), else from its full tables (keep_tables)."""
    kept = getattr(result, "kept", None)
    if kept is not None and kept.expectations is expectations:
        unmet = [(exp, u) for exp, per_name in zip(expectations, kept.series())
                 for u in _unmet(exp, per_name, result.lines)]
    elif result.tables is not None:
        rows = result.tables.rows
        unmet = [(exp, u) for exp in expectations for u in evaluate_one(exp, rows, result.lines)]
    else:
        raise ValueError("expectations need what the analysis kept: "
                         "analyse with expectations= or keep_tables=True")
    texts = _quote(result.path, {n for _, u in unmet for n in u.lines})
    findings = []
    for exp, u in unmet:
        findings.append(Finding(
            rule="expectation", category="expectation", severity=exp.severity,
            message=f"expectation not met: {exp.name}: {u.message}", line=u.line,
            evidence=[Evidence(n, texts[n]) for n in u.lines if n in texts],
            path=result.path, epoch=u.epoch, metric=u.metric,
            tags=frozenset({f"expect:{exp.name}"})))
    return findings


# ---------------------------------------------------------------- kept while reading

_FULL = {"each-epoch", "decreasing", "increasing"}      # checks that read every point


class _Name:
    """What one expectation keeps of one metric name."""

    __slots__ = ("first", "last", "bad", "good", "count", "points")

    def __init__(self):
        self.first = self.last = self.bad = self.good = None
        self.count = 0
        self.points: list[Point] = []


class Kept:
    """What the expectations can read of a log, kept while it is read (Session
    `expectations=`), instead of a table of every metric: an `all` or `finite` check reads
    the first value that fails it, `final` the last one, `any` the first that passes and how
    many there were, `present` the first; only `each-epoch` and trends keep every selected
    value. A big batch is reduced with array operations. Memory is bounded by the names
    (and the points of the checks that read them all), not by the length of the log; tests
    compare its findings with the full tables' on random tables and on every kept log."""

    def __init__(self, expectations: list[Expectation]):
        self.expectations = expectations
        self._names: list[dict[str, _Name]] = [{} for _ in expectations]

    def add_batch(self, b) -> None:
        if not (len(b.m_row) if b.columns is None else len(b.columns.m_row)):
            return
        m = _metrics(b)
        for exp, names in zip(self.expectations, self._names):
            sel = _selected(exp, m)
            if len(sel):
                _keep(exp, names, m, sel)

    def series(self) -> list[dict[str, tuple[list[Point], int]]]:
        out = []
        for exp, names in zip(self.expectations, self._names):
            if exp.check in _FULL:
                out.append({n: (k.points, k.count) for n, k in names.items()})
            elif exp.check in ("all", "finite"):
                out.append({n: ([k.bad or k.first], k.count) for n, k in names.items()})
            elif exp.check == "any":
                out.append({n: ([k.good or k.last], k.count) for n, k in names.items()})
            elif exp.check == "final":
                out.append({n: ([k.last], k.count) for n, k in names.items()})
            else:                                   # present
                out.append({n: ([k.first], k.count) for n, k in names.items()})
        return out


def _metrics(b) -> dict:
    """A batch's metrics as arrays in log order: line, epoch (known), value, the index of
    their (name, role) in `keys` and of their record's phase in `phases`."""
    import numpy as np

    c = b.columns
    if c is not None:
        rows = c.m_row
        epochs, known = b.np_counter("epoch")
        return {"line": c.line[rows], "epoch": epochs[rows], "known": known[rows], "value": c.m_value,
                "key": c.m_meta, "keys": [(meta[0], meta[1]) for meta in c.meta],
                "phase": c.rc[rows], "phases": [a[3] if a is not None else None for a in c.attrs]}
    rows = b.m_row
    keys: dict = {}
    phases: dict = {}
    key = [keys.setdefault(k, len(keys)) for k in zip(b.m_name, b.m_role)]
    phase = [phases.setdefault(b.phase[r], len(phases)) for r in rows]
    epoch = [b.epoch[r] for r in rows]
    return {"line": np.array([b.line[r] for r in rows], np.int64),
            "epoch": np.array([math.nan if e is None else e for e in epoch], np.float64),
            "known": np.array([e is not None for e in epoch], bool),
            "value": np.array(b.m_value, np.float64), "key": np.array(key, np.int64), "keys": list(keys),
            "phase": np.array(phase, np.int64), "phases": list(phases)}


def _selected(exp: Expectation, m: dict):
    """Indexes of the metrics the expectation selects (as _series filters rows)."""
    import numpy as np

    ok_key = np.array([(exp.metric is None or fnmatchcase(name, exp.metric))
                       and (exp.role is None or role == exp.role) for name, role in m["keys"]], bool)
    mask = ok_key[m["key"]] if len(ok_key) else np.zeros(len(m["key"]), bool)
    if exp.phase is not None and len(m["key"]):
        # each metric's own phase, as the tables give it (a Keras bar line's val_loss is
        # evaluated although the line trains)
        from ..core import vocabulary

        keys, phases = m["keys"], m["phases"]
        pair = m["key"].astype(np.int64) * len(phases) + m["phase"]
        unique, back = np.unique(pair, return_inverse=True)
        ok = np.array([vocabulary.record_phase(*keys[k // len(phases)], phases[k % len(phases)]) == exp.phase
                       for k in unique.tolist()], bool)
        mask &= ok[back.reshape(-1)]
    if exp.from_epoch is not None:          # an unknown epoch is out; nan compares false
        mask &= m["known"] & ~(m["epoch"] < exp.from_epoch)
    if exp.to_epoch is not None:
        mask &= m["known"] & ~(m["epoch"] > exp.to_epoch)
    return np.flatnonzero(mask)


def _keep(exp: Expectation, names: dict[str, _Name], m: dict, sel) -> None:
    """Add the selected metrics of a batch to each name's _Name."""
    import numpy as np

    from ..core.columns import first_codes

    keys, key = m["keys"], m["key"][sel]
    # names in order of first appearance (a name may have several roles: several keys)
    code: dict[str, int] = {}
    key_code = np.full(len(keys), -1, np.int64)
    for k in first_codes(key):
        key_code[k] = code.setdefault(keys[k][0], len(code))
    name_code = key_code[key]
    # each name's metrics, in log order
    order = np.argsort(name_code, kind="stable")
    bounds = np.searchsorted(name_code[order], np.arange(len(code) + 1))
    line, epoch, known, value = m["line"][sel], m["epoch"][sel], m["known"][sel], m["value"][sel]

    def point(i: int) -> Point:
        return Point(int(line[i]), float(epoch[i]) if known[i] else None, float(value[i]))

    cmp = _NP_OPS.get(exp.op)
    for name, c in code.items():
        idx = order[bounds[c]:bounds[c + 1]]          # this name's metrics, in log order
        k = names.get(name)
        if k is None:
            k = names[name] = _Name()
            k.first = point(int(idx[0]))
        k.count += len(idx)
        k.last = point(int(idx[-1]))
        if exp.check in _FULL:
            k.points.extend(point(i) for i in idx.tolist())
        elif exp.check in ("all", "finite") and k.bad is None:
            v = value[idx]
            fails = ~np.isfinite(v) if exp.check == "finite" else ~cmp(v, exp.value)
            if fails.any():
                k.bad = point(int(idx[int(np.argmax(fails))]))
        elif exp.check == "any" and k.good is None:
            passes = cmp(value[idx], exp.value)
            if passes.any():
                k.good = point(int(idx[int(np.argmax(passes))]))


_NP_OPS = {">": lambda a, b: a > b, ">=": lambda a, b: a >= b, "<": lambda a, b: a < b,
           "<=": lambda a, b: a <= b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b}
