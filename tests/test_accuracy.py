"""Accuracy on real, labelled training logs (tests/corpus, sources in tests/corpus/SOURCES.md).

Counts exactly like ../shared/eval/score.py: a case's prediction is the set of categories of
its findings with severity warning or error; a missed label is a miss; a predicted category
outside `labels` and `also_ok` is a false alarm. Runs in-process (logdoc.api.analyze), so a
regression in any rule or pattern file fails CI. The bar is issue 4's: recall >= 0.90
overall, >= 0.75 for every category with 2+ cases, >= 90 % of healthy logs clean, no errors.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from logdoc import api
from logdoc.model import Severity

CORPUS = Path(__file__).parent / "corpus"
COUNTED = (Severity.warning, Severity.error)


def _cases() -> list[dict]:
    return [c for c in json.loads((CORPUS / "cases.json").read_text()) if not c.get("drop")]


@pytest.fixture(scope="module")
def scored():
    patterns = api.load_patterns()
    rows = []
    for case in _cases():
        try:
            result = api.analyze(str(CORPUS / case["file"]), patterns=patterns)
        except Exception as exc:  # noqa: BLE001 - an exception is an error case, reported below
            rows.append((case, None, f"{type(exc).__name__}: {exc}"))
            continue
        predicted = {f.category for f in result.findings if f.severity in COUNTED}
        rows.append((case, predicted, None))
    return rows


def _table(rows) -> tuple[Counter, Counter, list[str]]:
    support, hits, lines = Counter(), Counter(), []
    for case, predicted, error in rows:
        labels = set(case.get("labels", []))
        support.update(labels)
        if error:
            lines.append(f"ERROR {case['file']}: {error}")
            continue
        hits.update(labels & predicted)
        missed = labels - predicted
        extra = predicted - labels - set(case.get("also_ok", []))
        if missed or extra:
            lines.append(f"{case['file']}: missed {sorted(missed)} false {sorted(extra)}")
    return support, hits, lines


def test_corpus_is_complete():
    cases = _cases()
    assert len(cases) >= 30
    for case in cases:
        assert (CORPUS / case["file"]).is_file(), case["file"]


def test_no_errors(scored):
    errors = [f"{c['file']}: {e}" for c, _, e in scored if e]
    assert not errors, errors


def test_overall_recall(scored):
    support, hits, lines = _table(scored)
    recall = sum(hits.values()) / sum(support.values())
    assert recall >= 0.90, f"recall {recall:.3f}\n" + "\n".join(lines)


def test_recall_per_category(scored):
    support, hits, lines = _table(scored)
    weak = {cat: f"{hits[cat]}/{n}" for cat, n in support.items() if n >= 2 and hits[cat] / n < 0.75}
    assert not weak, f"categories below 0.75: {weak}\n" + "\n".join(lines)


def test_healthy_logs_stay_clean(scored):
    healthy = [(c, p) for c, p, e in scored if not c.get("labels")]
    clean = [c for c, p in healthy if p is not None and not (p - set(c.get("also_ok", [])))]
    noisy = [f"{c['file']}: {sorted(p - set(c.get('also_ok', [])))}" for c, p in healthy
             if p is not None and c not in clean]
    assert healthy and len(clean) >= 0.9 * len(healthy), noisy
