"""Accuracy on real, labelled training logs (tests/corpus, sources in tests/corpus/SOURCES.md).

Counts exactly like ../shared/eval/score.py (helpers in tests/scoring.py): a case's prediction
is the set of categories of its findings with severity warning or error; a missed label is a
miss; a predicted category outside `labels` and `also_ok` is a false alarm. Runs in-process
(logdoc.api.analyze), so a regression in any rule or pattern file fails CI. The bar is issue
4's: recall >= 0.90 overall, >= 0.75 for every category with 2+ cases, >= 90 % of healthy logs
clean, no errors.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from scoring import healthy_clean, load_cases, recall, score, table

CORPUS = Path(__file__).parent / "corpus"


@pytest.fixture(scope="module")
def scored():
    return score(CORPUS)


def test_corpus_is_complete():
    cases = load_cases(CORPUS)
    assert len(cases) >= 30
    for case in cases:
        assert (CORPUS / case["file"]).is_file(), case["file"]


def test_no_errors(scored):
    errors = [f"{c['file']}: {e}" for c, _, e in scored if e]
    assert not errors, errors


def test_overall_recall(scored):
    value, lines = recall(scored)
    assert value >= 0.90, f"recall {value:.3f}\n" + "\n".join(lines)


def test_recall_per_category(scored):
    support, hits, lines = table(scored)
    weak = {cat: f"{hits[cat]}/{n}" for cat, n in support.items() if n >= 2 and hits[cat] / n < 0.75}
    assert not weak, f"categories below 0.75: {weak}\n" + "\n".join(lines)


def test_healthy_logs_stay_clean(scored):
    clean, healthy, noisy = healthy_clean(scored)
    assert healthy and clean >= 0.9 * healthy, noisy
