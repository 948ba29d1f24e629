"""GitHub Actions workflow commands: `::error file=…,line=…,title=…::message` on stdout.

Escaping follows the runner's parser (actions/runner ActionCommand.cs): in data `%`, `\\r`,
`\\n` become `%25`, `%0D`, `%0A`; property values also escape `:` and `,`. `%` is replaced
first because the runner undoes it last. Nothing taken from a log ever starts a line, so a
log line such as `::set-output name=x::y` stays inside the message of our own command. The
runner also reads `##[command]` anywhere in a line, which no escape undoes: such text is
broken visibly (`# #[`, see common.inert_text).

GitHub shows at most 10 error and 10 warning annotations per step: beyond
MAX_PER_LEVEL the rest are counted in one notice that points to the job summary.
"""
from __future__ import annotations

from ..core.model import Finding, Severity
from ..engine.session import Result
from .common import check_name, inert_text, plain, report_path

LEVEL = {Severity.error: "error", Severity.warning: "warning", Severity.info: "notice"}
MAX_PER_LEVEL = 10


def escape_data(text: str) -> str:
    # one line (CR, LF escaped) that holds no `##[` command either (the runner reads it anywhere)
    return inert_text(text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A"))


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(level: str, message: str, *, file: str | None = None, line: int | None = None,
            title: str | None = None) -> str:
    """One workflow command line; every value is escaped, so it is exactly one command."""
    props = []
    if file is not None:
        props.append(f"file={escape_property(file)}")
    if line is not None and line > 0:
        props.append(f"line={int(line)}")
    if title is not None:
        props.append(f"title={escape_property(title)}")
    head = f"::{level} {','.join(props)}" if props else f"::{level}"
    return f"{head}::{escape_data(message)}"


def command_for(finding: Finding, path: str | None = None) -> str:
    """A finding as an annotation on its log line, quoting the first evidence line."""
    message = plain(finding.message, 1000)
    for e in finding.evidence[:1]:
        message += f"\n  line {e.line}: {plain(e.text)}"
    return command(LEVEL[finding.severity], message, file=report_path(path or finding.path),
                   line=finding.line, title=f"logdoc {plain(check_name(finding))}")


def render(results: list[Result]) -> str:
    lines: list[str] = []
    shown = {level: 0 for level in LEVEL.values()}
    hidden = 0
    for r in results:           # a log nothing was read in is said first, whatever the cap
        lines.extend(command_for(f, r.path) for f in r.findings if f.rule == "unrecognized-log")
    for r in results:
        path = report_path(r.path)
        for d in r.diagnoses:
            level = LEVEL[d.severity]
            if shown[level] < MAX_PER_LEVEL:
                shown[level] += 1
                lines.append(command(level, f"{plain(d.explanation, 1000)}\nfix: {plain(d.fix, 1000)}",
                                     file=path, line=d.line, title=f"logdoc diagnosis: {plain(d.title)}"))
        for f in r.findings:
            if f.rule == "unrecognized-log":
                continue
            level = LEVEL[f.severity]
            if shown[level] < MAX_PER_LEVEL:
                shown[level] += 1
                lines.append(command_for(f, r.path))
            else:
                hidden += 1
    if hidden:
        lines.append(command("notice", f"{hidden} more finding(s) not annotated (GitHub shows at most "
                             f"{MAX_PER_LEVEL} per level); see the job summary or the JSON report",
                             title="logdoc"))
    return "".join(line + "\n" for line in lines)
