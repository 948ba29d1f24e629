"""CI report formats: valid against their schemas, stable, and inert whatever the log says."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
import xmlschema

from conftest import ROOT, SAMPLES
from logdoc import api
from logdoc.core.model import Evidence, Finding, Severity
from logdoc.report import formats, github, gitlab, markdown
from logdoc.rules import all_rules
from logdoc.engine.session import Result

SCHEMAS = ROOT / "tests" / "schemas"
BROKEN = SAMPLES / "warmup-zero-lr-broken.log"
FIXED = SAMPLES / "warmup-zero-lr-fixed.log"
SAMPLE_LOGS = sorted(SAMPLES.glob("*.log"))


@pytest.fixture(scope="module")
def sarif_schema():
    return json.loads((SCHEMAS / "sarif-schema-2.1.0.json").read_text())


@pytest.fixture(scope="module")
def junit_schema():
    return xmlschema.XMLSchema(str(SCHEMAS / "junit-10.xsd"))


def unrecognised_log(tmp_path: Path) -> Path:
    path = tmp_path / "notes.txt"
    path.write_text("hello\nnothing to see here\n")
    return path


# ------------------------------------------------------------------ SARIF

@pytest.mark.parametrize("log", SAMPLE_LOGS, ids=lambda p: p.name)
def test_sarif_is_valid_and_meets_githubs_requirements(cli, log, sarif_schema):
    run = cli("analyze", log, "-f", "sarif", "--fail-on", "never")
    doc = run.json()
    jsonschema.validate(doc, sarif_schema)
    assert doc["version"] == "2.1.0" and doc["$schema"]
    driver = doc["runs"][0]["tool"]["driver"]
    ids = [r["id"] for r in driver["rules"]]
    assert set(all_rules()) <= set(ids)
    for rule in driver["rules"]:
        for key in ("shortDescription", "fullDescription", "help"):
            assert rule[key]["text"] and len(rule[key]["text"]) <= 1024
        assert rule["defaultConfiguration"]["level"] in ("error", "warning", "note")
    results = doc["runs"][0]["results"]
    expected = cli("analyze", log, "-f", "json").json()["files"][0]["findings"]
    assert len(results) == len(expected)
    for res, finding in zip(results, expected):
        assert driver["rules"][res["ruleIndex"]]["id"] == res["ruleId"] == finding["rule"]
        loc = res["locations"][0]["physicalLocation"]
        assert loc["artifactLocation"]["uri"] == f"sample_logs/{log.name}" or not loc["artifactLocation"]["uri"].startswith("/")
        assert loc["region"]["startLine"] == finding["line"]
        assert res["partialFingerprints"]["primaryLocationLineHash"]
        assert res["message"]["text"]


def test_sarif_without_findings_is_valid(cli, tmp_path, sarif_schema):
    doc = cli("analyze", FIXED, "-f", "sarif").json()
    jsonschema.validate(doc, sarif_schema)
    assert doc["runs"][0]["results"] == []
    unrecognised = cli("analyze", unrecognised_log(tmp_path), "-f", "sarif").json()
    jsonschema.validate(unrecognised, sarif_schema)
    assert [r["ruleId"] for r in unrecognised["runs"][0]["results"]] == ["unrecognized-log"]


def test_sarif_paths_are_relative_to_the_working_directory(cli, monkeypatch):
    monkeypatch.chdir(ROOT)
    doc = cli("analyze", BROKEN.resolve(), "-f", "sarif").json()
    location = doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert location == {"uri": "sample_logs/warmup-zero-lr-broken.log", "uriBaseId": "%SRCROOT%"}


# ------------------------------------------------------------------ JUnit

@pytest.mark.parametrize("log", [*SAMPLE_LOGS, None], ids=lambda p: p.name if p else "unrecognised")
def test_junit_is_valid_against_the_xsd(cli, tmp_path, log, junit_schema):
    log = log or unrecognised_log(tmp_path)
    run = cli("analyze", log, "-f", "junit")
    junit_schema.validate(run.out)
    findings = cli("analyze", log, "-f", "json").json()["files"][0]["findings"]
    suite = ET.fromstring(run.out).find("testsuite")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert set(all_rules()) <= set(cases), "every rule that ran is a visible test case"
    failing = {f["rule"] for f in findings if f["severity"] in ("error", "warning")}
    assert {n for n, c in cases.items() if c.find("failure") is not None} == failing
    assert int(suite.get("failures")) == len(failing) and int(suite.get("tests")) == len(cases)


def test_junit_failure_body_carries_the_evidence(cli):
    root = ET.fromstring(cli("analyze", BROKEN, "-f", "junit").out)
    failure = root.find(".//testcase[@name='zero-lr']/failure")
    assert ":5:" in failure.text and "[LR] epoch=1 groups=['backbone', 'head'] lr=[0.0, 0.0]" in failure.text


def test_junit_with_select_lists_only_the_rules_that_ran(cli):
    root = ET.fromstring(cli("analyze", FIXED, "-f", "junit", "--select", "nonfinite").out)
    assert [c.get("name") for c in root.iter("testcase")] == ["nonfinite"]


# ------------------------------------------------------------------ GitLab, GitHub, Markdown, JSONL

def test_gitlab_code_quality_has_the_required_fields(cli):
    issues = cli("analyze", BROKEN, "-f", "gitlab").json()
    assert len(issues) == len(cli("analyze", BROKEN, "-f", "json").json()["files"][0]["findings"]) >= 4
    for issue in issues:
        assert issue["description"] and issue["check_name"] and issue["fingerprint"]
        assert issue["severity"] in ("info", "minor", "major", "critical", "blocker")
        assert issue["location"]["path"].endswith("warmup-zero-lr-broken.log")
        assert issue["location"]["lines"]["begin"] >= 1
    assert len({i["fingerprint"] for i in issues}) == len(issues)
    assert issues[0]["severity"] == "critical"   # the root cause of the diagnosis


def test_fingerprints_survive_shifted_lines(cli, tmp_path):
    shifted = tmp_path / "warmup-zero-lr-broken.log"
    shifted.write_bytes(b"extra banner line\n" * 3 + BROKEN.read_bytes())
    original = api.analyze(str(BROKEN))
    moved = api.analyze(str(shifted))
    moved.path = original.path       # same artifact path in the next CI run
    before = json.loads(gitlab.render([original]))
    after = json.loads(gitlab.render([moved]))
    assert [i["location"]["lines"]["begin"] + 3 for i in before] == [i["location"]["lines"]["begin"] for i in after]
    assert [i["fingerprint"] for i in before] == [i["fingerprint"] for i in after]


def test_github_escaping_follows_the_runner():
    assert github.escape_data("100%\r\nnext") == "100%25%0D%0Anext"
    assert github.escape_property("a:b,c%") == "a%3Ab%2Cc%25"
    assert (github.command("error", "m", file="a,b.log", line=3, title="t:x")
            == "::error file=a%2Cb.log,line=3,title=t%3Ax::m")


def test_github_annotations_are_capped_per_level():
    findings = [Finding(rule="nonfinite", category="nonfinite", severity=Severity.error,
                        message=f"loss is nan at step {i}", line=i + 1, evidence=[]) for i in range(25)]
    result = Result(path="run.log", lines=30, records=30, formats={}, findings=findings, diagnoses=[])
    lines = github.render([result]).splitlines()
    assert sum(line.startswith("::error ") for line in lines) == github.MAX_PER_LEVEL
    assert lines[-1].startswith("::notice ") and "15 more" in lines[-1]


def test_markdown_summary_puts_diagnoses_before_the_findings_table(cli):
    text = cli("analyze", BROKEN, "-f", "markdown").out
    assert text.index("Diagnosis: the warmup schedule starts at LR 0") < text.index("| line | severity")
    assert "zero\\-lr" in text or "zero-lr" in text
    assert "No findings." in cli("analyze", FIXED, "-f", "markdown").out


def test_jsonl_has_one_object_per_line_and_totals_last(cli):
    lines = cli("analyze", BROKEN, FIXED, "-f", "jsonl").out.splitlines()
    objs = [json.loads(line) for line in lines]
    doc = cli("analyze", BROKEN, FIXED, "-f", "json").json()
    assert [o["type"] for o in objs].count("file") == 2
    assert sum(o["type"] == "finding" for o in objs) == sum(len(f["findings"]) for f in doc["files"])
    assert objs[-1] == {"type": "totals", **doc["totals"]}


# ------------------------------------------------------------------ untrusted log text stays inert

CRAFTED = [
    "::set-output name=x::y",
    "::error::pwned",
    "]]></failure><x>",
    "<script>alert(1)</script>|x",
]


def crafted_log(tmp_path: Path) -> Path:
    # Param group names are copied from the log into messages, metric names and evidence.
    path = tmp_path / "crafted.log"
    path.write_text(
        f"[LR] epoch=1 groups=['{CRAFTED[0]}', '{CRAFTED[3]}'] lr=[0.0, 0.0]\n"
        "[STEP] Δparam L2: median=0.000e+00  max=0.000e+00\n"
        "Epoch 001/030: train 0.217  val 1.921642\x1b]0;owned\x07\x1b[31m\n"
        f"[LR] epoch=2 groups=['{CRAFTED[1]}', '{CRAFTED[2]}'] lr=[0.0, 0.0]\n"
        "[STEP] Δparam L2: median=0.000e+00  max=0.000e+00\n"
        "Epoch 002/030: train 0.217  val nan\n")
    return path


def crafted_result() -> Result:
    """A Result whose messages and evidence hold raw control characters too (defence in depth)."""
    nasty = "\n::set-output name=x::y\r\n::error::pwned\x1b[2J\x00\x07 ]]></failure><x> <script>|</script>"
    finding = Finding(rule="nonfinite", category="nonfinite", severity=Severity.error,
                      message="loss is nan" + nasty, line=3,
                      evidence=[Evidence(3, "step 3 loss nan" + nasty)], path="run.log")
    return Result(path="run.log", lines=3, records=3, formats={}, findings=[finding], diagnoses=[])


def runner_command(line: str) -> tuple[str, str] | None:
    """How the Actions runner reads a stdout line: (command, unescaped data) or None."""
    stripped = line.lstrip()
    if not stripped.startswith("::"):
        return None
    end = stripped.find("::", 2)
    head, data = stripped[2:end], stripped[end + 2:]
    for code, char in (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%")):
        data = data.replace(code, char)
    return head.split(" ", 1)[0], data


def assert_inert(fmt: str, text: str, *, data_must_contain: str | None = None) -> None:
    assert "\x1b" not in text and "\x00" not in text and "\x07" not in text, fmt
    for line in text.splitlines():
        parsed = runner_command(line)
        if fmt == "github":
            assert parsed is not None and parsed[0] in ("error", "warning", "notice"), line
        else:
            assert parsed is None, f"{fmt}: a line would run as a workflow command: {line!r}"
    if fmt == "markdown":
        assert "<" not in text, "no raw HTML in markdown"
        for line in text.splitlines():
            if line.startswith("|"):
                unescaped = len(line.split("|")) - 1 - line.count("\\|")
                assert unescaped == 6, f"a cell broke the table: {line!r}"
    if fmt == "junit":
        xmlschema.XMLSchema(str(SCHEMAS / "junit-10.xsd")).validate(text)
        root = ET.fromstring(text)
        assert root.find(".//x") is None
        if data_must_contain:
            assert any(data_must_contain in (f.text or "") for f in root.iter("failure"))
    if fmt in ("json", "sarif", "gitlab"):
        json.loads(text)
    if fmt == "jsonl":
        for line in text.splitlines():
            json.loads(line)


@pytest.mark.parametrize("fmt", formats.FORMATS)
def test_crafted_log_lines_are_inert_in_every_format(cli, tmp_path, fmt):
    run = cli("analyze", crafted_log(tmp_path), "-f", fmt)
    assert run.code == 1 and run.out
    assert_inert(fmt, run.out, data_must_contain="]]></failure><x>")
    if fmt == "github":
        datas = [runner_command(line)[1] for line in run.out.splitlines()]
        assert any("::error::pwned" in d for d in datas), "the crafted text is kept, as data"


@pytest.mark.parametrize("fmt", formats.MACHINE_FORMATS)
def test_control_characters_in_findings_are_inert_in_every_format(fmt):
    text = formats.render(fmt, [crafted_result()])
    assert_inert(fmt, text)


def test_text_for_reports_is_one_printable_xml_legal_line():
    from logdoc.report.common import plain

    assert plain("a\nb\r\x1b[31mc\x00\ud800\ufffe") == "a b  [31mc \ufffd\ufffd"
    assert len(plain("x" * 1000)) == 300


def test_markdown_escape_is_inline_text():
    assert markdown.escape("a|b <i>*x*</i> [l](u) @you") == \
        "a\\|b &lt;i&gt;\\*x\\*&lt;/i&gt; \\[l\\](u) \\@you"


def test_markdown_stays_under_githubs_summary_limit():
    finding = Finding(rule="nonfinite", category="nonfinite", severity=Severity.error,
                      message="loss is nan " + "x" * 250, line=1, evidence=[Evidence(1, "y" * 300)])
    results = [Result(path=f"run{i}.log", lines=9, records=9, formats={}, findings=[finding] * 60,
                      diagnoses=[]) for i in range(200)]
    text = markdown.render(results)
    assert len(text.encode()) < 1024 * 1024 and "more log(s), not shown" in text
