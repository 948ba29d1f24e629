"""Generalisation: logdoc on real logs that were kept out of writing its patterns and rules.

tests/heldout holds excerpts of training output pasted into public GitHub issues and pull
requests (sources in tests/heldout/SOURCES.md), labelled from the text before logdoc was run
on them. Scored in-process like tests/test_accuracy.py (tests/scoring.py). Untouched scores:
cases 001-040 recall 0.85 (17/20), 1 false alarm, 23/24 healthy logs clean; after fixing
those, cases 041-054 (added later, from threads no pattern file had quoted) recall 0.67
(4/6), 1 false alarm, 7/8 clean; after the second round, cases 055-061 recall 0.33 (2/6),
no false alarm, 1/1 clean; after the third round, cases 062-067 (left unfixed, the final
check) recall 0.40 (2/5), no false alarm, 2/2 clean. All 67 together: recall 0.89 (33/37),
no false alarm, 35/35 clean. The bars sit slightly below, so a regression fails CI without
making every future miss fatal. Add cases rather than tuning rules to this set: it only measures
generalisation while it stays unseen.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from scoring import false_alarms, healthy_clean, load_cases, recall, score

HELDOUT = Path(__file__).parent / "heldout"


@pytest.fixture(scope="module")
def scored():
    return score(HELDOUT)


def test_heldout_set_is_complete_and_balanced():
    cases = load_cases(HELDOUT)
    assert len(cases) >= 20
    assert sum(1 for c in cases if not c["labels"]) >= len(cases) / 3
    for case in cases:
        assert (HELDOUT / case["file"]).is_file(), case["file"]
        assert case["healthy"] == (not case["labels"]), case["file"]
        assert case["url"].startswith("https://github.com/"), case["file"]


def test_no_errors(scored):
    errors = [f"{c['file']}: {e}" for c, _, e in scored if e]
    assert not errors, errors


def test_recall(scored):
    value, lines = recall(scored)
    assert value >= 0.85, f"recall {value:.3f}\n" + "\n".join(lines)


def test_false_alarms(scored):
    extra = false_alarms(scored)
    assert len(extra) <= 2, extra


def test_healthy_logs_stay_clean(scored):
    clean, healthy, noisy = healthy_clean(scored)
    assert clean >= 0.9 * healthy, noisy
