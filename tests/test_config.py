"""Configuration like ruff's: found upwards, select/ignore by rule or category, options,
severities, extra patterns, fail-on; every mistake is one line on stderr and exit 2."""
from __future__ import annotations

import pytest

from conftest import SAMPLES
from logdoc.engine.config import Config, expand, find_config, load_config
from logdoc.engine.engine import ConfigError

BROKEN = SAMPLES / "warmup-zero-lr-broken.log"


def _rules(run) -> list[str]:
    return [f["rule"] for f in run.json()["files"][0]["findings"] if f["severity"] != "info"]


def _severities(run) -> dict[str, str]:
    return {f["rule"]: f["severity"] for f in run.json()["files"][0]["findings"]}


def test_categories_expand_to_their_rules():
    assert set(expand(["category:nonfinite"])) == {"nonfinite", "hf-masked-nan", "nan-not-counted"}
    assert expand(["nonfinite"]) == ["nonfinite"]          # the rule id wins over its namesake category
    assert set(expand(["loss-divergence", "lr-schedule"])) >= {"loss-divergence", "lr-too-low"}
    assert expand(["zero-lr", "zero-lr"]) == ["zero-lr"]
    with pytest.raises(ConfigError, match="unknown rule or category 'nope'"):
        expand(["nope"])
    with pytest.raises(ConfigError, match="unknown rule or category 'category:nope'"):
        expand(["category:nope"])


def test_logdoc_toml_found_upwards_from_the_working_directory(tmp_path, monkeypatch, cli):
    (tmp_path / "logdoc.toml").write_text('ignore = ["constant-val-loss", "nonfinite"]\n')
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    assert find_config() == tmp_path / "logdoc.toml"
    run = cli("analyze", BROKEN, "-f", "json")
    assert _rules(run) == ["zero-lr", "frozen-params"]


def test_pyproject_without_tool_logdoc_is_skipped(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text('[tool.black]\nline-length = 100\n')
    monkeypatch.chdir(tmp_path)
    assert find_config() is None or find_config().parent != tmp_path
    (tmp_path / "pyproject.toml").write_text('[tool.logdoc]\nselect = ["zero-lr"]\n')
    assert load_config().select == ["zero-lr"]


def test_select_by_category_and_severity_override_and_fail_on(tmp_path, cli):
    conf = tmp_path / "pyproject.toml"
    conf.write_text(
        '[tool.logdoc]\nselect = ["zero-lr", "nonfinite"]\nfail-on = "never"\n'
        '[tool.logdoc.severity]\nnonfinite = "warning"\n')
    run = cli("analyze", BROKEN, "-f", "json", "--config", conf)
    assert run.code == 0, run.err                        # fail-on = never
    assert _severities(run) == {"zero-lr": "error", "nonfinite": "warning"}
    run = cli("analyze", BROKEN, "-f", "json", "--config", conf, "--fail-on", "warning")
    assert run.code == 1                                  # the command line wins


def test_cli_select_replaces_and_ignore_adds(tmp_path, cli):
    conf = tmp_path / "logdoc.toml"
    conf.write_text('select = ["zero-lr"]\nignore = ["nonfinite"]\n')
    run = cli("analyze", BROKEN, "-f", "json", "--config", conf, "--select", "frozen-params",
              "--select", "nonfinite", "--ignore", "constant-val-loss")
    assert _rules(run) == ["frozen-params"]


def test_rule_options_and_per_rule_severity(tmp_path, cli):
    conf = tmp_path / "logdoc.toml"
    conf.write_text('select = ["constant-val-loss"]\n[rules.constant-val-loss]\nmin_repeats = 40\n')
    assert _rules(cli("analyze", BROKEN, "-f", "json", "--config", conf)) == []
    conf.write_text('select = ["constant-val-loss"]\n[rules.constant-val-loss]\nseverity = "info"\n')
    assert _severities(cli("analyze", BROKEN, "-f", "json", "--config", conf)) == {"constant-val-loss": "info"}


def test_extra_patterns_are_relative_to_the_config_file(tmp_path, cli):
    (tmp_path / "pats").mkdir()
    (tmp_path / "pats" / "mine.toml").write_text('''schema = "logdoc.pattern/1"
[family]
id = "mine"
[[rule]]
id = "l"
regex = \'\'\'^it %{INT:step} loss %{FLOAT:loss}\'\'\'
  [rule.fields]
  step = "step"
  loss = "loss"
  [[rule.sample]]
  line = "it 3 loss 0.0"
  expect = { step = 3, loss = 0.0 }
''')
    log = tmp_path / "run.log"
    log.write_text("it 1 loss 2.5\nit 2 loss 0.0\nit 3 loss 0.0\n")
    conf = tmp_path / "logdoc.toml"
    conf.write_text('patterns = ["pats"]\n')
    run = cli("analyze", log, "-f", "json", "--config", conf)
    assert "loss-zero" in _rules(run)


@pytest.mark.parametrize("text, message", [
    ('selct = ["zero-lr"]\n', "unknown key 'selct'"),
    ('select = ["no-such-rule"]\n', "unknown rule or category 'no-such-rule'"),
    ('[rules.loss-spike]\nwindo = 3\n', "unknown option 'windo'"),
    ('[rules.loss-spike]\nwindow = "big"\n', "window must be a number"),
    ('[rules.nope]\nx = 1\n', "unknown rule 'nope'"),
    ('[severity]\nzero-lr = "fatal"\n', "unknown severity 'fatal'"),
    ('fail-on = "sometimes"\n', "fail-on must be one of"),
    ('select = 3\n', "must be a list of strings"),
    ('select = [\n', "invalid TOML"),
])
def test_mistakes_are_one_line_and_exit_2(tmp_path, cli, text, message):
    conf = tmp_path / "logdoc.toml"
    conf.write_text(text)
    run = cli("analyze", BROKEN, "--config", conf)
    assert run.code == 2
    assert message in run.err and run.err.count("\n") == 1 and "Traceback" not in run.err


def test_missing_config_file_is_exit_2(tmp_path, cli):
    run = cli("analyze", BROKEN, "--config", tmp_path / "absent.toml")
    assert run.code == 2 and "no such config file" in run.err


def test_library_default_is_no_config():
    assert load_config(discover=False) == Config()


def test_severity_override_keeps_a_rules_own_downgrade(tmp_path, cli):
    # fp16-overflow grades start-up calibration as info itself; raising the rule to error
    # must not turn that benign case into an error.
    log = tmp_path / "ds.log"
    log.write_text("[2023-04-28 06:51:30,648] [INFO] [loss_scaler.py:181:update_scale] [deepspeed] "
                   "OVERFLOW! Rank 0 Skipping step. Attempted loss scale: 65536, reducing to 32768\n")
    conf = tmp_path / "logdoc.toml"
    conf.write_text('[severity]\nfp16-overflow = "error"\n')
    assert _severities(cli("analyze", log, "-f", "json", "--config", conf)) == {"fp16-overflow": "info"}
