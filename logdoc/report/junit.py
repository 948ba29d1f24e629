"""JUnit XML (Jenkins xunit junit-10.xsd, the schema pytest writes; GitLab and Jenkins read it).

One <testsuite> per log, one <testcase> per check that ran (a rule, or an expectation), so
passing checks are visible too. A check with findings at warning or error fails: the
<failure> body carries every finding with its quoted log lines (GitLab ignores the
`message` attribute, so the text is in the body). Info findings go to <system-out>.
`classname` is the log path because GitLab uses it as the suite name. In a log where nothing
was recognised no check looked at anything: each one that did not fail is <skipped> with the
reason (as pytest reports a test it did not run), never a pass.

XML 1.0 cannot hold most control characters at all, escaped or not: `plain()` replaces
them before ElementTree escapes `&`, `<`, `>` and quotes.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET

from ..core.model import Finding, Severity
from ..engine.session import Result
from .common import check_name, checks_run, inert_xml, plain, report_path

FAILING = Severity.warning
NOTHING_RECOGNISED = ("nothing recognised in this log: no line was read as training output, "
                      "so this check did not look at anything (not a pass)")


def _describe(finding: Finding, path: str) -> str:
    lines = [f"{path}:{finding.line}: {finding.severity.name} [{finding.rule}] {plain(finding.message, 1000)}"]
    lines += [f"    {e.line:>6} | {plain(e.text)}" for e in finding.evidence[:3]]
    return "\n".join(lines)


def suite(result: Result, checks: list[str]) -> ET.Element:
    path = plain(report_path(result.path), 1000)
    by_check: dict[str, list[Finding]] = {}
    for f in result.findings:
        by_check.setdefault(check_name(f), []).append(f)
    element = ET.Element("testsuite", name=path, file=path)
    failures = skipped = 0
    for name in checks:
        case = ET.SubElement(element, "testcase", name=plain(name), classname=path, time="0")
        found = by_check.get(name, [])
        failing = [f for f in found if f.severity >= FAILING]
        if failing:
            failures += 1
            failure = ET.SubElement(case, "failure", type=plain(name),
                                    message=plain(failing[0].message, 500))
            failure.text = "\n\n".join(_describe(f, path) for f in failing) + "\n"
        elif result.records == 0:
            skipped += 1
            ET.SubElement(case, "skipped", message=NOTHING_RECOGNISED)
        notes = [f for f in found if f.severity < FAILING]
        if notes:
            ET.SubElement(case, "system-out").text = "\n".join(_describe(f, path) for f in notes) + "\n"
    element.set("tests", str(len(checks)))
    element.set("failures", str(failures))
    element.set("errors", "0")
    element.set("skipped", str(skipped))
    element.set("time", "0")
    return element


def render(results: list[Result], rule_ids: list[str] | None = None) -> str:
    """`rule_ids`: the checks that ran (rules, then expectation names); default: all rules."""
    checks = checks_run(results, rule_ids)
    root = ET.Element("testsuites", name="logdoc")
    suites = [suite(r, checks) for r in results]
    root.extend(suites)
    root.set("tests", str(sum(int(s.get("tests")) for s in suites)))
    root.set("failures", str(sum(int(s.get("failures")) for s in suites)))
    root.set("errors", "0")
    ET.indent(root)
    # inert_xml: "##" and "::" as character references, so no CI runner reads a command in it
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + inert_xml(ET.tostring(root, encoding="unicode")) + "\n"
