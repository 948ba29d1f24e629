"""One configuration path for every command and the Python API (issue 17, point 7).

`logdoc.parse()` reads logdoc.toml / [tool.logdoc] / a named file as the command line does,
takes select/ignore/patterns like --select/--ignore/--patterns, and reads a path, the log's
text or a binary stream: a notebook and `logdoc analyze` give the same findings.
`scan`, `compare`, `run`, `tables`, `coverage` and `metrics` find and apply the same file.
"""
from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys

import pytest

import logdoc
from conftest import ROOT, SAMPLES
from logdoc.engine.engine import ConfigError
from logdoc.source.reading import InputError

BROKEN = SAMPLES / "warmup-zero-lr-broken.log"
FIXED = SAMPLES / "warmup-zero-lr-fixed.log"
SETTINGS = '''ignore = ["constant-val-loss"]
[severity]
frozen-params = "warning"
[rules.loss-plateau]
severity = "info"
'''
PATTERN = '''schema = "logdoc.pattern/1"
[family]
id = "mine"
[[rule]]
id = "xyz"
regex = \'\'\'^XYZ=%{INT:loss}$\'\'\'
  [rule.fields]
  loss = "loss"
  [[rule.sample]]
  line = "XYZ=12"
  expect = { loss = 12 }
'''


def _key(f) -> tuple:
    if isinstance(f, dict):
        return f["rule"], f["severity"], f["line"], f["message"]
    return f.rule, f.severity.name, f.line, f.message


def _cli_findings(run) -> list[tuple]:
    assert run.code in (0, 1), run.err
    return [_key(f) for f in run.json()["files"][0]["findings"]]


@pytest.mark.parametrize("where", ["logdoc.toml", "pyproject.toml"])
def test_a_notebook_and_the_cli_give_the_same_findings_with_a_config_present(tmp_path, monkeypatch, cli, where):
    if where == "pyproject.toml":
        text = SETTINGS.replace("ignore", "[tool.logdoc]\nignore", 1).replace("[severity]", "[tool.logdoc.severity]") \
            .replace("[rules.", "[tool.logdoc.rules.")
    else:
        text = SETTINGS
    (tmp_path / where).write_text(text)
    monkeypatch.chdir(tmp_path)
    expected = _cli_findings(cli("analyze", BROKEN, "-f", "json"))
    rules = {k[0]: k[1] for k in expected}
    assert "constant-val-loss" not in rules and rules["frozen-params"] == "warning"   # the config applied
    data = BROKEN.read_bytes()
    sources = {
        "path": str(BROKEN), "pathlike": BROKEN, "bytes": data, "text": data.decode("utf-8"),
        "binary stream": io.BytesIO(data), "gzip bytes": gzip.compress(data),
        "open file": BROKEN.open("rb"), "text file": BROKEN.open(encoding="utf-8", newline=""),
    }
    for kind, source in sources.items():
        assert [_key(f) for f in logdoc.parse(source).findings] == expected, kind
    assert [_key(f) for f in logdoc.parse(BROKEN, config=False).findings] != expected


def test_parse_takes_config_select_ignore_and_patterns_like_the_cli(tmp_path, cli):
    conf = tmp_path / "logdoc.toml"
    conf.write_text('select = ["zero-lr", "frozen-params", "nonfinite"]\n[severity]\nnonfinite = "warning"\n')
    args = ("--select", "category:zero-lr", "--select", "nonfinite", "--ignore", "zero-lr")
    expected = _cli_findings(cli("analyze", BROKEN, "-f", "json", "--config", conf, *args))
    assert [k[:2] for k in expected] == [("nonfinite", "warning")]
    run = logdoc.parse(BROKEN, config=conf, select=["category:zero-lr", "nonfinite"], ignore=["zero-lr"])
    assert [_key(f) for f in run.findings] == expected
    assert [_key(f) for f in logdoc.parse(BROKEN, config=str(conf)).findings] == \
        _cli_findings(cli("analyze", BROKEN, "-f", "json", "--config", conf))
    # extra pattern files, as --patterns or in the config
    (tmp_path / "mine.toml").write_text(PATTERN)
    log = b"XYZ=3\nXYZ=0\nXYZ=0\nXYZ=0\n"
    assert logdoc.parse(log, config=False).records == 0
    assert logdoc.parse(log, config=False, patterns=[tmp_path / "mine.toml"]).records == 4
    conf.write_text('patterns = ["mine.toml"]\n')
    assert logdoc.parse(log, config=conf).records == 4
    assert logdoc.diagnose(io.BytesIO(BROKEN.read_bytes()))[0].title == "the warmup schedule starts at LR 0"


def test_parse_names_its_input_and_rejects_what_it_cannot_read(tmp_path):
    data = BROKEN.read_bytes()
    assert logdoc.parse(data, config=False).path == "<text>"
    assert logdoc.parse(io.BytesIO(data), config=False).path == "<stream>"
    assert logdoc.parse(io.BytesIO(data), config=False, name="run.log").findings[0].path == "run.log"
    with pytest.raises(InputError, match="no such file"):
        logdoc.parse(str(tmp_path / "absent.log"), config=False)      # a str without a newline is a path
    with pytest.raises(InputError, match="empty input"):
        logdoc.parse(io.BytesIO(b""), config=False)
    with pytest.raises(ConfigError, match="unknown rule or category 'nope'"):
        logdoc.parse(data, select=["nope"])
    with pytest.raises(ConfigError, match="no such config file"):
        logdoc.parse(data, config=tmp_path / "absent.toml")
    with pytest.raises(TypeError, match="a path, the log's text or a binary stream"):
        logdoc.parse(42)


def test_the_readme_tool_logdoc_example_pasted_into_logdoc_toml_says_what_to_do(tmp_path, cli):
    readme = (ROOT / "README.md").read_text()
    block = readme[readme.index("```toml\n[tool.logdoc]"):]
    block = block[len("```toml\n"):block.index("```", 8)]
    for name in ("logdoc.toml", ".logdoc.toml"):
        conf = tmp_path / name
        conf.write_text(block)
        run = cli("analyze", BROKEN, "--config", conf)
        assert run.code == 2
        assert run.err.count("\n") == 1 and "Traceback" not in run.err, run.err
        assert f"{conf}: [tool.logdoc] is pyproject.toml's spelling; in {name} drop the 'tool.logdoc' prefix" in run.err
    # the same block in pyproject.toml is read (its pattern directory is missing here: that error, not 'tool')
    (tmp_path / "pyproject.toml").write_text(block)
    run = cli("analyze", BROKEN, "--config", tmp_path / "pyproject.toml")
    assert run.code == 2 and "log-patterns" in run.err and "tool" not in run.err.replace(str(tmp_path), "")


def test_every_command_finds_and_applies_the_same_config(tmp_path, monkeypatch, cli):
    (tmp_path / "mine.toml").write_text(PATTERN)
    (tmp_path / "logdoc.toml").write_text('ignore = ["zero-lr"]\npatterns = ["mine.toml"]\n')
    log = tmp_path / "x.log"
    log.write_text("XYZ=3\nbatch_size: 16\n")
    monkeypatch.chdir(tmp_path)
    # scan
    rows = json.loads(cli("scan", BROKEN, log, "-f", "json", "-j", "1").out)["files"]
    assert rows[0]["errors"] == 3 and rows[1]["records"] == 1           # zero-lr ignored; mine.toml read
    # compare
    doc = cli("compare", BROKEN, FIXED, "-f", "json").json()
    assert [f["rule"] for f in doc["resolved"]] == ["frozen-params", "constant-val-loss", "nonfinite"]
    # coverage, tables, metrics: the config's pattern files
    assert cli("coverage", log, "-f", "json").json()["recognised"] == [1]
    out = cli("tables", log, "-o", tmp_path / "t")
    assert out.code == 0, out.err
    assert "mine/xyz" in (tmp_path / "t" / "metrics.csv").read_text()
    assert "loss" in cli("metrics", log).out
    # run (a subprocess: its own working directory)
    done = subprocess.run([sys.executable, "-m", "logdoc", "run", "--", sys.executable, "-c",
                           f"print(open({str(BROKEN)!r}).read())"], capture_output=True, cwd=tmp_path,
                          timeout=60, stdin=subprocess.DEVNULL, env={"NO_COLOR": "1", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0 and b"[frozen-params]" in done.stderr and b"[zero-lr]" not in done.stderr
