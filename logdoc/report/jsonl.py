"""JSON Lines: one object per line, for streaming consumers and `jq -c`.

Each line has a "type": "file" (per log, its counts), "finding", "diagnosis" and a final
"totals". Finding and diagnosis objects are the schema-1 JSON objects plus "type" (and
"path" for diagnoses), so the two JSON outputs never disagree.
"""
from __future__ import annotations


from ..core.model import Diagnosis, Finding
from ..engine.session import Result
from .common import json_text
from .json_report import document


def line(obj: dict) -> str:
    """One JSONL line (no newline) of `obj`."""
    # ensure_ascii: U+2028/2029 and friends cannot split a line for naive readers
    # json_text: strict JSON, no CI runner command in it ("##", "::" as \u escapes)
    return json_text(obj, indent=None, ensure_ascii=True, separators=(",", ":"))


def line_for_finding(finding: Finding) -> str:
    """One finding as a JSONL line (reusable by streaming commands such as `watch`)."""
    return line({"type": "finding", **finding.to_json()})


def line_for_diagnosis(diagnosis: Diagnosis, path: str) -> str:
    return line({"type": "diagnosis", "path": path, **diagnosis.to_json()})


def render(results: list[Result]) -> str:
    lines = []
    for r in results:
        doc = r.to_json()
        lines.append(line({"type": "file", **{k: doc[k] for k in ("path", "lines", "records", "formats")}}))
        lines.extend(line_for_finding(f) for f in r.findings)
        lines.extend(line_for_diagnosis(d, r.path) for d in r.diagnoses)
    lines.append(line({"type": "totals", **document(results)["totals"]}))
    return "\n".join(lines) + "\n"
