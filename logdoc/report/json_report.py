"""The versioned JSON contract (README "JSON output"). Stable: change only with `schema`."""
from __future__ import annotations


from .. import __version__
from ..core.model import JSON_SCHEMA_VERSION, Severity
from ..engine.session import Result
from .common import json_text


def document(results: list[Result]) -> dict:
    counts = {s.name: 0 for s in Severity}
    for r in results:
        for f in r.findings:
            counts[f.severity.name] += 1
    return {
        "schema": JSON_SCHEMA_VERSION,
        "tool": {"name": "logdoc", "version": __version__},
        "files": [r.to_json() for r in results],
        "totals": {"files": len(results), **{f"{k}s": v for k, v in counts.items()}},
    }


def render(results: list[Result]) -> str:
    # strict JSON (json_dumps): a non-finite number (an epoch printed as 1e99999) is the
    # string "inf", "-inf" or "nan".
    # inert_json: "##" and "::" in strings written as \u escapes (the decoded text is the same)
    return json_text(document(results), ensure_ascii=False) + "\n"
