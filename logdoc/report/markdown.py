"""A short job summary in GitHub-flavoured Markdown (for $GITHUB_STEP_SUMMARY, MR notes).

Diagnoses first (the root cause and its fix), then one findings table per log. Text from a
log or a message is escaped: Markdown punctuation gets a backslash (no links, emphasis,
mentions, math or broken table cells) and `&`, `<`, `>` become entities (no raw HTML). The
summary stays far below GitHub's 1 MiB limit: at most MAX_ROWS findings per log are listed.
"""
from __future__ import annotations

import re

from ..core.model import Severity
from ..engine.session import Result
from .common import plain, report_path

_DOUBLE_COLON = re.compile(r":(?=:)")

MAX_ROWS = 50
MAX_CHARS = 900_000     # GitHub refuses a step summary over 1 MiB
ICON = {Severity.error: "🔴 error", Severity.warning: "🟠 warning", Severity.info: "🔵 info"}
# the characters that mean something inline in GFM (cells never start a line, so list and
# heading markers need no escape)
_PUNCTUATION = re.compile(r"([\\`*_\[\]#!|~@$])")


def escape(text: str, limit: int = 300) -> str:
    """Log or message text as inert inline Markdown (one line, no HTML, safe in a table cell)."""
    text = _PUNCTUATION.sub(r"\\\1", plain(text, limit))     # '#' and '[' too: no "##["
    text = _DOUBLE_COLON.sub(r":\\", text)                   # "::" as ":\:", rendered the same
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _counts(results: list[Result]) -> dict[Severity, int]:
    return {s: sum(f.severity == s for r in results for f in r.findings) for s in Severity}


def _section(r: Result) -> list[str]:
    out = [f"### {escape(report_path(r.path))}", "", f"{r.lines} lines, {r.records} training records.", ""]
    for d in r.diagnoses:
        out += [f"**Diagnosis: {escape(d.title)}** (line {d.line})", ""]
        out += [f"{i + 1}. line {f.line}: {escape(f.message)}" for i, f in enumerate(d.chain)]
        out += ["", f"> {escape(d.explanation, 1000)}", ">", f"> **Fix:** {escape(d.fix, 1000)}", ""]
    if not r.findings:
        out += ["No findings." if r.records else "Nothing recognised (not a verdict of health).", ""]
        return out
    out += ["| line | severity | rule | finding | log line |", "|---:|---|---|---|---|"]
    for f in r.findings[:MAX_ROWS]:
        quoted = escape(f.evidence[0].text, 120) if f.evidence else ""
        out.append(f"| {f.line} | {ICON[f.severity]} | {escape(f.rule)} | {escape(f.message)} | {quoted} |")
    if len(r.findings) > MAX_ROWS:
        out += ["", f"…and {len(r.findings) - MAX_ROWS} more (see the JSON report)."]
    out.append("")
    return out


def render(results: list[Result]) -> str:
    counts = _counts(results)
    verdict = ", ".join(f"{n} {s.name}{'s' if n != 1 else ''}" for s, n in
                        sorted(counts.items(), reverse=True))
    out = ["## logdoc", "", f"{len(results)} log(s) analysed: {verdict}.", ""]
    size = 0
    # logs with findings first, so a cut for size drops clean logs before broken ones
    ordered = sorted(results, key=lambda r: not r.findings)
    for shown, r in enumerate(ordered):
        section = _section(r)
        size += sum(len(line) + 1 for line in section)
        if size > MAX_CHARS:
            out.append(f"…and {len(ordered) - shown} more log(s), not shown to stay under GitHub's "
                       "summary limit (see the JSON report).")
            break
        out += section
    return "\n".join(out) + "\n"
