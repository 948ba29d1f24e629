"""GitLab Code Quality report: a JSON array (Code Climate subset GitLab reads).

Fields: description, check_name, fingerprint (stable across runs, see common.fingerprints),
severity (info/minor/major/critical/blocker), location.path, location.lines.begin. A finding
that is the root of a diagnosis is `critical`: it is the one to fix first. No byte-order mark
(GitLab's parser rejects it).
"""
from __future__ import annotations

from ..core.model import Finding, Severity
from ..engine.session import Result
from .common import check_name, fingerprints, json_text, plain, report_path

SEVERITY = {Severity.info: "info", Severity.warning: "minor", Severity.error: "major"}


def issue(finding: Finding, path: str, fingerprint: str, *, root_cause: bool = False) -> dict:
    description = plain(finding.message, 1000)
    if finding.evidence:
        description += f" (line {finding.evidence[0].line}: {plain(finding.evidence[0].text, 200)})"
    return {
        "description": description,
        "check_name": check_name(finding),
        "fingerprint": fingerprint,
        "severity": "critical" if root_cause else SEVERITY[finding.severity],
        "location": {"path": path, "lines": {"begin": max(1, finding.line)}},
    }


def render(results: list[Result]) -> str:
    issues = []
    for r in results:
        prints = fingerprints(r)
        roots = {id(d.chain[0]) for d in r.diagnoses if d.severity is Severity.error}
        path = report_path(r.path)
        issues.extend(issue(f, path, prints[id(f)], root_cause=id(f) in roots) for f in r.findings)
    return json_text(issues, ensure_ascii=False) + "\n"
