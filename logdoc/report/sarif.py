"""SARIF 2.1.0 for GitHub code scanning and other SARIF viewers.

Rules come from the catalogue (id, name, short/full description, help, default level);
each result points at the log line (artifactLocation.uri relative to %SRCROOT%, region with
start/end line and column) and carries stable partialFingerprints: `logdoc/v1` (what the
finding is about, see common.fingerprints) and `primaryLocationLineHash`, the one GitHub
uses, computed by us because logs are rarely committed files upload-sarif could hash.
Required strings are never empty (GitHub rejects empty required properties).

There is no `automationDetails.id`: github/codeql-action/upload-sarif sets the run's category
(its `category:` input, else the workflow and job) only when the field is missing, and the
uploads of a matrix job must have different categories or they replace each other's alerts.
A log in which nothing was recognised is, besides its `unrecognized-log` result, a warning
in `invocations[0].toolExecutionNotifications`: the tool ran but did not look at that file.
"""
from __future__ import annotations

import hashlib
from collections import Counter
from urllib.parse import quote

from .. import __version__
from ..core.model import Finding, Severity
from ..engine.session import Result
from .common import catalogue, fingerprints, json_text, plain, report_path

LEVEL = {Severity.error: "error", Severity.warning: "warning", Severity.info: "note"}
SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
MAX_DESCRIPTION = 1024     # GitHub's limit for description texts


def _text(text: str, limit: int = MAX_DESCRIPTION) -> dict:
    return {"text": plain(text, limit) or "-"}


def rules() -> list[dict]:
    out = []
    for info in catalogue():
        out.append({
            "id": info.id,
            "name": info.id,
            "shortDescription": _text(info.summary),
            "fullDescription": _text(info.description),
            "help": {"text": plain(info.help, MAX_DESCRIPTION) or "-",
                     "markdown": plain(info.help, MAX_DESCRIPTION) or "-"},
            "defaultConfiguration": {"level": LEVEL[info.severity]},
            "properties": {"tags": ["training-log", info.category], "precision": "high",
                           "problem.severity": "error" if info.severity is Severity.error else
                           "warning" if info.severity is Severity.warning else "recommendation"},
        })
    return out


def _line_hash(finding: Finding, seen: Counter) -> str:
    text = finding.evidence[0].text if finding.evidence else finding.message
    digest = hashlib.sha256(" ".join(text.split()).encode("utf-8", "replace")).hexdigest()[:16]
    seen[digest] += 1
    return f"{digest}:{seen[digest]}"


def artifact_location(path: str) -> dict:
    """Relative paths resolve against the checkout (%SRCROOT%); others stay absolute file URIs."""
    if path.startswith("/"):
        return {"uri": "file://" + quote(path, safe="/")}
    return {"uri": quote(path, safe="/"), "uriBaseId": "%SRCROOT%"}


def result_for(finding: Finding, location: dict, rule_index: dict[str, int], fingerprint: str,
               line_hash: str) -> dict:
    line = max(1, finding.line)
    end_column = len(finding.evidence[0].text) + 1 if finding.evidence and finding.evidence[0].line == line else 2
    message = plain(finding.message, 2000)
    return {
        "ruleId": finding.rule,
        "ruleIndex": rule_index[finding.rule],
        "level": LEVEL[finding.severity],
        "message": {"text": message or "-"},
        "locations": [{"physicalLocation": {
            "artifactLocation": location,
            "region": {"startLine": line, "startColumn": 1, "endLine": line,
                       "endColumn": max(2, end_column)},
        }}],
        "partialFingerprints": {"logdoc/v1": fingerprint, "primaryLocationLineHash": line_hash},
    }


def _unrecognised(path: str, location: dict, lines: int) -> dict:
    return {"level": "warning", "descriptor": {"id": "unrecognized-log"},
            "message": {"text": plain(f"nothing recognised in {path} ({lines} lines): logdoc did not "
                                      "check this log, which is not a verdict of health", 2000)},
            "locations": [{"physicalLocation": {"artifactLocation": location}}]}


def document(results: list[Result]) -> dict:
    rule_list = rules()
    rule_index = {r["id"]: i for i, r in enumerate(rule_list)}
    out = []
    notices = []
    for r in results:
        path = report_path(r.path)
        location = artifact_location(path)
        if r.records == 0:
            notices.append(_unrecognised(path, location, r.lines))
        prints = fingerprints(r)
        seen: Counter = Counter()
        for f in r.findings:
            if f.rule not in rule_index:        # a rule from outside the catalogue: still valid SARIF
                rule_index[f.rule] = len(rule_list)
                rule_list.append({"id": f.rule, "name": f.rule, "shortDescription": _text(f.rule),
                                  "fullDescription": _text(f.rule), "help": _text(f.rule),
                                  "defaultConfiguration": {"level": LEVEL[f.severity]}})
            out.append(result_for(f, location, rule_index, prints[id(f)], _line_hash(f, seen)))
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "logdoc", "semanticVersion": __version__, "version": __version__,
                                "rules": rule_list}},
            "invocations": [{"executionSuccessful": True, "toolExecutionNotifications": notices}],
            "columnKind": "unicodeCodePoints",
            "results": out,
        }],
    }


def render(results: list[Result]) -> str:
    return json_text(document(results), ensure_ascii=False) + "\n"
