"""The bundled sample logs give exactly what their .expect.toml sidecars say."""
import tomllib

import pytest

from conftest import SAMPLES


@pytest.mark.parametrize("log", sorted(SAMPLES.glob("*.log")), ids=lambda p: p.name)
def test_sample_log_matches_its_sidecar(cli, log):
    expect = tomllib.loads(log.with_suffix(".expect.toml").read_text())
    run = cli("analyze", log, "--format", "json")
    assert run.code == expect["exit_code"], run.err
    (doc,) = run.json()["files"]
    counted = [(f["rule"], f["line"], f["severity"]) for f in doc["findings"] if f["severity"] != "info"]
    assert counted == [(f["rule"], f["line"], f["severity"]) for f in expect.get("finding", [])]
    assert [d["id"] for d in doc["diagnoses"]] == expect["diagnoses"]


def test_mojibake_copy_gives_the_same_findings_and_evidence(cli):
    broken = cli("analyze", SAMPLES / "warmup-zero-lr-broken.log", "-f", "json").json()["files"][0]
    moji = cli("analyze", SAMPLES / "warmup-zero-lr-mojibake.log", "-f", "json").json()["files"][0]
    strip = lambda doc: [{k: v for k, v in f.items() if k != "path"} for f in doc["findings"]]
    assert strip(broken) == strip(moji)


def test_zero_lr_is_reported_on_the_first_lr_line_and_the_chain_is_explained(cli):
    doc = cli("analyze", SAMPLES / "warmup-zero-lr-broken.log", "-f", "json").json()["files"][0]
    zero = next(f for f in doc["findings"] if f["category"] == "zero-lr")
    assert zero["evidence"][0]["text"] == "[LR] epoch=1 groups=['backbone', 'head'] lr=[0.0, 0.0]"
    (diag,) = doc["diagnoses"]
    assert diag["title"] == "the warmup schedule starts at LR 0"
    assert [c["rule"] for c in diag["chain"]] == ["zero-lr", "frozen-params", "constant-val-loss"]
    assert "max(0.01, step / warmup_steps)" in diag["fix"]


def test_fixed_run_has_no_warning_or_error(cli):
    doc = cli("analyze", SAMPLES / "warmup-zero-lr-fixed.log", "-f", "json").json()["files"][0]
    assert doc["records"] > 100
    assert [f for f in doc["findings"] if f["severity"] in ("warning", "error")] == []
