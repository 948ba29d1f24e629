"""What the CI reports share: safe text, report paths, stable fingerprints, the rule catalogue.

Log text is untrusted. Every format gets it through `plain()` (no control characters, one
line, bounded) and then its own escaping, and no format ever starts an output line with
text taken from a log.

Reports are printed in CI steps too, so no output may hold a runner command. GitHub's runner
(actions/runner, ActionCommand.cs) reads `::name props::data` when a line starts with `::`
after leading whitespace (TryParseV2) and `##[name props]data` anywhere in a line (TryParse);
Azure Pipelines' agent reads `##vso[` anywhere. Machine formats write those characters as
escapes their parsers decode back (`inert_json`, `inert_xml`: the text is unchanged);
human formats break them visibly (`inert_text`: `##[` → `# #[`, a line-leading `::` → `: :`).
"""
from __future__ import annotations

import hashlib
import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..core.model import Finding, Severity, json_dumps
from ..engine.session import Result

# C0/C1 controls (ESC, NUL, BEL, \r, \n, …) and Unicode line/paragraph separators.
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# Lone surrogates (from undecodable bytes) and the two non-characters XML 1.0 forbids.
_NOT_XML = re.compile(r"[\ud800-\udfff\ufffe\uffff]")
MAX_TEXT = 300
# a '#' that starts "##[", "##vso[" (any case) or a longer run of '#' before them
_HASH_COMMAND = re.compile(r"#(?=#+(?:\[|[vV][sS][oO]\[))")
# every '#' or ':' that another one follows: no "##" and no "::" is left in the text
_DOUBLE_HASH = re.compile(r"#(?=#)")
_DOUBLE_COLON = re.compile(r":(?=:)")
# "::" at the start of a line, after whitespace (and, to be safe, terminal escapes)
_LEADING_COLONS = re.compile(r"^((?:\s|\x1b\[[0-9;?]*[A-Za-z])*):(?=:)", re.MULTILINE)


def plain(text: str, limit: int = MAX_TEXT) -> str:
    """One line of printable text: controls become spaces, long text is cut with an ellipsis."""
    text = _NOT_XML.sub("\ufffd", _CONTROLS.sub(" ", text))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def inert_json(text: str) -> str:
    """Serialized JSON without "##" or "::": they can only occur inside strings, where
    `\\u0023` and `\\u003a` decode to the same text."""
    if "#" in text:
        text = _DOUBLE_HASH.sub(r"\\u0023", text)
    if "::" in text:
        text = _DOUBLE_COLON.sub(r"\\u003a", text)
    return text


def json_text(doc, *, indent: int | None = 2, **dumps) -> str:
    """A JSON document as logdoc writes it: strict JSON (model.json_dumps: non-finite numbers
    as strings), inert in a CI log (inert_json); `dumps`: json.dumps's other keywords. No
    trailing newline."""
    dumps.pop("allow_nan", None)          # always strict
    return inert_json(json_dumps(doc, indent=indent, **dumps))


def inert_xml(text: str) -> str:
    """Serialized XML without "##" or "::" (character references decode to the same text)."""
    if "#" in text:
        text = _DOUBLE_HASH.sub("&#35;", text)
    if "::" in text:
        text = _DOUBLE_COLON.sub("&#58;", text)
    return text


def inert_text(text: str, *, line_start: bool = True) -> str:
    """Human text that no runner reads as a command: `##[` (and `##vso[`) become `# #[`
    anywhere, `::` at the start of a line becomes `: :`. `line_start`: whether `text` begins
    a line (a fragment in the middle of a line cannot start a command with `::`)."""
    if "#" in text:
        text = _HASH_COMMAND.sub("# ", text)
    if "::" in text:
        if line_start:
            text = _LEADING_COLONS.sub(r"\1: ", text)
        else:
            head, sep, rest = text.partition("\n")
            text = head + sep + _LEADING_COLONS.sub(r"\1: ", rest) if sep else text
    return text


class InertStream:
    """A text stream (stdout, stderr, a report file) that writes human text through
    `inert_text`, knowing where its lines start across writes. Everything else (isatty,
    fileno, encoding…) is the wrapped stream's, so rich sees the real terminal."""

    def __init__(self, stream):
        self._stream = stream
        self._line_start = True

    def write(self, text: str) -> int:
        if text:
            text = inert_text(text, line_start=self._line_start)
            self._line_start = text.endswith("\n")
        return self._stream.write(text)

    def __getattr__(self, name):
        return getattr(self._stream, name)


def report_path(path: str) -> str:
    """The path as reports name it: relative to the working directory when inside it, '/'-separated."""
    if path in ("-", "<stdin>"):
        return "<stdin>"
    p = Path(path)
    if p.is_absolute():
        try:
            p = p.resolve().relative_to(Path.cwd().resolve())
        except ValueError:
            return p.as_posix()
    return PurePosixPath(os.path.normpath(p.as_posix())).as_posix()


def check_name(finding: Finding) -> str:
    """The check a finding belongs to: its rule, or for an expectation the expectation's name."""
    if finding.rule == "expectation":
        for tag in finding.tags:
            if tag.startswith("expect:"):
                return "expectation: " + tag[len("expect:"):]
    return finding.rule


def fingerprints(result: Result) -> dict[int, str]:
    """id(finding) -> a fingerprint that stays the same when the same problem recurs.

    Line numbers shift between runs, so the key is what the finding is about (rule, file,
    metric, position in training), not where it is printed; identical keys are told apart
    by their order of occurrence so that no two findings of one file share a fingerprint.
    """
    seen: Counter[str] = Counter()
    out = {}
    for f in result.findings:
        where = f.epoch if f.epoch is not None else f.step if f.step is not None else f"line{f.line}"
        key = "|".join(map(str, (check_name(f), report_path(result.path), f.metric or "", where)))
        seen[key] += 1
        out[id(f)] = hashlib.sha256(f"{key}#{seen[key]}".encode("utf-8", "replace")).hexdigest()[:32]
    return out


@dataclass(frozen=True)
class RuleInfo:
    id: str
    category: str
    severity: Severity
    summary: str
    description: str
    help: str


_META_RULES = (
    RuleInfo("expectation", "expectation", Severity.error,
             "An expectation from the --expect file is not met.",
             "The run does not show what the expectations file says a healthy run of this job "
             "must show; the finding names the expectation, the measured value and its line.",
             "Fix the run, or the expectation if the job legitimately changed (see README "
             "\"Expectations\")."),
    RuleInfo("unrecognized-log", "unrecognized", Severity.info,
             "No training lines were recognised in the log.",
             "logdoc found no line it can read as training output, so it cannot judge the run: "
             "this is not a verdict of health.",
             "Add a pattern file for the log's format (--patterns, see docs/patterns.md)."),
    RuleInfo("truncated-gzip", "truncated", Severity.info,
             "The gzip input is cut short; it was read as far as its data goes.",
             "The compressed log ends before its end-of-stream marker (the run, or the copy, "
             "stopped while writing it). Its lines up to the cut were analysed; the finding names "
             "the byte offset of the cut and how much text came before it.",
             "Nothing to fix in the run if it died; otherwise copy the complete file."),
    RuleInfo("internal-error", "internal-error", Severity.warning,
             "A rule failed and was switched off.",
             "A rule raised an exception on this log; the analysis went on without it.",
             "Report the log line and the message as a bug in logdoc."),
)


def catalogue() -> list[RuleInfo]:
    """Every rule a report may name: the rule catalogue plus logdoc's own checks."""
    from ..rules import all_rules

    infos = []
    for rule_id, cls in all_rules().items():
        sections = cls.doc_sections()
        help_text = sections.get("Fix", "") or cls.summary()
        infos.append(RuleInfo(rule_id, cls.category, cls.severity, cls.summary(),
                              sections.get("Why is this bad?", "") or cls.summary(), help_text))
    return infos + list(_META_RULES)


def checks_run(results: list[Result], rule_ids: list[str] | None) -> list[str]:
    """The checks a run made: the rules that ran, then any other check a finding names."""
    if rule_ids is None:
        from ..rules import all_rules

        rule_ids = list(all_rules())
    names = list(rule_ids)
    for r in results:
        for f in r.findings:
            name = check_name(f)
            if name not in names:
                names.append(name)
    return names
