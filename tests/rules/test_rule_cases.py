"""Runs every case in tests/rules/cases/<rule-id>.toml against that rule alone."""
from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from logdoc.engine.engine import build_rules
from logdoc.parsing.patterns import PatternSet
from logdoc.source.reading import lines_from_text
from logdoc.rules import all_rules
from logdoc.engine.session import Session

CASES = Path(__file__).parent / "cases"
# Built-in families plus a neutral `[probe] key=value` format whose keys are role names, so a
# case can feed any role without depending on a framework's pattern file.
PROBES = Path(__file__).parent / "probe-patterns.toml"
_PATTERNS: list[PatternSet] = []


def _patterns() -> PatternSet:
    if not _PATTERNS:
        _PATTERNS.append(PatternSet.load([PROBES]))
    return _PATTERNS[0]


def _cases():
    for path in sorted(CASES.glob("*.toml")):
        for case in tomllib.loads(path.read_text(encoding="utf-8"))["case"]:
            yield pytest.param(path.stem, case, id=f"{path.stem}: {case['name']}")


def test_every_rule_has_cases():
    missing = set(all_rules()) - {p.stem for p in CASES.glob("*.toml")}
    assert not missing, f"rules without a case file: {sorted(missing)}"


# Rules see the log in batches; a case must give the same findings one line at a time (a live
# stream) and in one batch (a file), so state carried between batches is tested everywhere.
@pytest.mark.parametrize("batch_lines", [1, 4096], ids=["line-by-line", "one-batch"])
@pytest.mark.parametrize("rule_id, case", list(_cases()))
def test_case(rule_id, case, batch_lines):
    rules = build_rules([rule_id], options={rule_id: case.get("options", {})})
    session = Session("case.log", patterns=_patterns(), rules=rules)
    result = session.feed_all(lines_from_text(case["log"].lstrip("\n")), batch_lines=batch_lines)
    got = [f for f in result.findings if f.rule == rule_id]
    want = case["expect"]
    assert [(f.rule, f.line) for f in got] == [(w["rule"], w["line"]) for w in want], \
        "\n".join(f"{f.line}: {f.message}" for f in got)
    for f, w in zip(got, want):
        if "severity" in w:
            assert f.severity.name == w["severity"], f.message
        assert set(w.get("tags", [])) <= f.tags
        assert w.get("message_contains", "") in f.message
        assert f.evidence and f.evidence[0].line == f.line   # every finding quotes its line
