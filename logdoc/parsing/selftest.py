"""Self-tests of a pattern family: its sample lines must give their expected values, its
negative lines must match nothing, and no match may depend on which digits a line holds
(PatternSet remembers outcomes per digit shape). Run at load time and by `logdoc patterns test`.
"""
from __future__ import annotations

import math

from ..core.model import Record
from .patterns import COLLECTING, HEADER, RECOGNISED, SHAPE_DIGITS, Family, Joined


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


def _str_shape(line: str) -> str:
    """The line as PatternSet's shape memory sees it: every digit written as 7."""
    return line.translate(_STR_DIGIT_SHAPE)


_STR_DIGIT_SHAPE = str.maketrans(*SHAPE_DIGITS)


def _keys(rec) -> list[str]:
    """What a record gives, without the values: metric names (digits folded: a name's own
    digits may change with the line) and the counters it sets."""
    if isinstance(rec, Joined):
        return ["joined"]
    if not isinstance(rec, Record):
        return [repr(rec)]
    return [_str_shape(m.name) for m in rec.metrics] + [
        k for k in ("epoch", "epoch_total", "step", "step_total") if getattr(rec, k) is not None] + [str(rec.event)]


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
            state: dict = {}
            for before in sample.get("before", []):     # e.g. the header a row needs
                family.match(before, 0, default_roles, state)
            hits = family.match_chain(line, 0, default_roles, state)
            if not hits:
                problems.append(f"{where}: no rule matches it")
                continue
            mine = [rec for r, rec in hits if r is rule]
            if not mine:
                problems.append(f"{where}: matched first by rule {hits[0][0].id!r}")
                continue
            shaped_state: dict = {}
            for before in sample.get("before", []):
                family.match(_str_shape(before), 0, default_roles, shaped_state)
            shaped_hits = family.match_chain(_str_shape(line), 0, default_roles, shaped_state)
            shaped = [r.id for r, _ in shaped_hits]
            if shaped != [r.id for r, _ in hits]:
                problems.append(f"{where}: the match depends on which digits the line holds "
                                f"(with every digit as 7 it is matched by {shaped or 'no rule'}); "
                                "PatternSet remembers outcomes per digit shape, so a regex must not")
            elif [sorted(set(_keys(rec))) for _, rec in shaped_hits] != [sorted(set(_keys(rec))) for _, rec in hits]:
                problems.append(f"{where}: what the line gives depends on which digits it holds "
                                f"(with every digit as 7: {[_keys(rec) for _, rec in shaped_hits]}); "
                                "the bulk parser reads a shape by one template, so a regex must not "
                                "(write \\d, not a literal digit)")
            if isinstance(mine[0], Joined):      # a multi-line object's close: the line it joins to
                if "joined" in sample and sample["joined"] != mine[0].text:
                    problems.append(f"{where}: joined expected {sample['joined']!r}, got {mine[0].text!r}")
                continue
            if mine[0] is HEADER or mine[0] is RECOGNISED or mine[0] is COLLECTING:
                if "joined" in sample:
                    problems.append(f"{where}: expected a joined object, the line only opened or continued one")
                continue
            got = record_values(mine[0])
            for key, want in sample.get("expect", {}).items():
                if not _same(want, got.get(key)):
                    problems.append(f"{where}: {key} expected {want!r}, got {got.get(key)!r}")
            for key in sample.get("absent", []):
                if key in got:
                    problems.append(f"{where}: {key} should be absent, got {got[key]!r}")
    for line in family.negatives:
        hit = family.match(line, 0, default_roles, {}) or family.match(_str_shape(line), 0, default_roles, {})
        if hit is not None:
            problems.append(f"{family.path}: negative line {line!r} is matched by rule {hit[0].id!r}")
    return problems
