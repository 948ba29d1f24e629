"""Score logdoc on a labelled set of real logs in-process, counting like ../shared/eval/score.py.

A case's prediction is the set of categories of its findings with severity warning or error;
a missed label is a miss; a predicted category outside `labels` and `also_ok` is a false
alarm. Shared by tests/test_accuracy.py (tests/corpus, the logs the rules were written
against) and tests/test_heldout.py (tests/heldout, logs kept out of that work).
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from logdoc import api
from logdoc.core.model import Severity

COUNTED = (Severity.warning, Severity.error)


def load_cases(directory: Path) -> list[dict]:
    return [c for c in json.loads((directory / "cases.json").read_text(encoding="utf-8")) if not c.get("drop")]


def score(directory: Path) -> list[tuple[dict, set | None, str | None]]:
    """(case, predicted categories or None, error message or None) for every case."""
    patterns = api.load_patterns()
    rows = []
    for case in load_cases(directory):
        try:
            result = api.analyze(str(directory / case["file"]), patterns=patterns)
        except Exception as exc:  # noqa: BLE001 - an exception is an error case, reported by the tests
            rows.append((case, None, f"{type(exc).__name__}: {exc}"))
            continue
        rows.append((case, {f.category for f in result.findings if f.severity in COUNTED}, None))
    return rows


def table(rows) -> tuple[Counter, Counter, list[str]]:
    """Support and hits per category, and one line per case that missed or over-reported."""
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


def recall(rows) -> tuple[float, list[str]]:
    support, hits, lines = table(rows)
    return sum(hits.values()) / sum(support.values()), lines


def false_alarms(rows) -> list[str]:
    """One entry per category reported outside a case's labels and also_ok."""
    out = []
    for case, predicted, _ in rows:
        if predicted is not None:
            ok = set(case.get("labels", [])) | set(case.get("also_ok", []))
            out += [f"{case['file']}: {cat}" for cat in sorted(predicted - ok)]
    return out


def healthy_clean(rows) -> tuple[int, int, list[str]]:
    """(clean healthy cases, healthy cases, the noisy ones)."""
    healthy = [(c, p) for c, p, _ in rows if not c.get("labels")]
    noisy = [f"{c['file']}: {sorted(p - set(c.get('also_ok', [])))}" if p is not None else f"{c['file']}: error"
             for c, p in healthy if p is None or p - set(c.get("also_ok", []))]
    return len(healthy) - len(noisy), len(healthy), noisy
