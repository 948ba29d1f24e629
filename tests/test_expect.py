"""Expectations (--expect): met on the fixed run, each unmet one named on the broken run, bad files."""
from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import pytest

from conftest import ROOT, SAMPLES
from logdoc.diagnosis import expect
from logdoc.core.model import Severity
from logdoc.views.tables import TableBuilder

BROKEN = SAMPLES / "warmup-zero-lr-broken.log"
FIXED = SAMPLES / "warmup-zero-lr-fixed.log"
HEALTHY = ROOT / "tests" / "expect" / "warmup-healthy.toml"


def unmet(run) -> list[dict]:
    return [f for f in run.json()["files"][0]["findings"] if f["rule"] == "expectation"]


def test_the_fixed_run_meets_every_expectation(cli):
    run = cli("analyze", FIXED, "--expect", HEALTHY, "-f", "json")
    assert run.code == 0 and unmet(run) == []


def test_the_broken_run_names_each_unmet_expectation_with_value_and_line(cli):
    run = cli("analyze", BROKEN, "--expect", HEALTHY, "-f", "json")
    assert run.code == 1
    by_name = {}
    for f in unmet(run):
        assert f["category"] == "expectation" and f["severity"] == "error"
        name = next(t for t in f["tags"] if t.startswith("expect:"))[len("expect:"):]
        by_name.setdefault(name, []).append(f)
    assert set(by_name) == {"every LR group is above 0 from epoch 1", "median Δparam > 0 in every epoch",
                            "val loss decreases over the last 5 epochs", "final val loss < 0.5",
                            "no nonfinite value"}
    lr = by_name["every LR group is above 0 from epoch 1"]
    assert sorted(f["metric"] for f in lr) == ["lr/backbone", "lr/head"]     # every group on its own
    assert all(f["line"] == 5 and "is 0 at epoch 1 (line 5)" in f["message"] for f in lr)
    assert lr[0]["evidence"][0]["text"].startswith("[LR] epoch=1")
    assert by_name["median Δparam > 0 in every epoch"][0]["line"] == 7
    final = by_name["final val loss < 0.5"][0]
    assert final["line"] == 186 and "final val_loss is inf" in final["message"]
    assert "does not decrease over the last 5 epochs" in by_name["val loss decreases over the last 5 epochs"][0]["message"]


def test_expectations_are_junit_test_cases(cli):
    root = ET.fromstring(cli("analyze", FIXED, "--expect", HEALTHY, "-f", "junit").out)
    names = [c.get("name") for c in root.iter("testcase")]
    assert "expectation: final val loss < 0.5" in names
    root = ET.fromstring(cli("analyze", BROKEN, "--expect", HEALTHY, "-f", "junit").out)
    case = root.find(".//testcase[@name='expectation: final val loss < 0.5']")
    assert case.find("failure") is not None and "line 186" in case.find("failure").text


def table(*rows) -> TableBuilder:
    """rows: (line, epoch, name, role, value[, phase])."""
    tb = TableBuilder()
    tb.add_rows((line, epoch, None, name, role, None, value, phase[0] if phase else "train", "t/p")
                for line, epoch, name, role, value, *phase in rows)
    return tb


class FakeResult:
    def __init__(self, tables, lines=100):
        self.tables, self.lines, self.path = tables, lines, "<stdin>"


def check(toml: str, tables) -> list[str]:
    return [f.message for f in expect.evaluate(expect.parse(toml), FakeResult(tables))]


LOSSES = table(*[(10 * e, e, "val_loss", "val_loss", v) for e, v in
                 enumerate([2.0, 1.5, 1.6, 1.2, 1.1, 1.0], start=1)])


@pytest.mark.parametrize("toml, messages", [
    ('check = "decreasing"\nwindow = 5', []),                        # end lower than start
    ('check = "decreasing"\nwindow = 5\nstrict = true', ["1.5 at epoch 2 (line 20) -> 1.6 at epoch 3"]),
    ('check = "decreasing"\nwindow = 3\nstrict = true', []),
    ('check = "increasing"', ["does not increase over the last 6 epochs"]),
    ('check = "decreasing"\nwindow = 9', ["only 6 epochs, fewer than the window of 9"]),
    ('check = "final"\nop = "<"\nvalue = 1.0', ["final val_loss is 1 at epoch 6 (line 60), expected < 1"]),
    ('check = "all"\nop = "<"\nvalue = 1.9', ["val_loss is 2 at epoch 1 (line 10), expected < 1.9"]),
    ('check = "all"\nop = "<"\nvalue = 1.9\nfrom_epoch = 2', []),
    ('check = "any"\nop = "<"\nvalue = 0.5', ["no value of val_loss is < 0.5"]),
    ('check = "each-epoch"\nop = "<="\nvalue = 1.5\nto_epoch = 3', ["val_loss is 2 at epoch 1"]),
    # val_loss is evaluated whatever its line's phase (the vocabulary decides): none is trained
    ('check = "present"\nphase = "train"', ["no value of val_loss found in the selected epochs/phase"]),
    ('check = "present"\nphase = "eval"', []),
    ('check = "finite"', []),
])
def test_vocabulary(toml, messages):
    found = check(f'[[expect]]\nmetric = "val_loss"\n{toml}\n', LOSSES)
    assert len(found) == len(messages)
    for got, want in zip(found, messages):
        assert want in got


def test_each_epoch_aggregates_and_finite_catches_nan():
    tables = table((1, 1, "dparam", "param_delta", 0.0), (2, 1, "dparam", "param_delta", 2.0),
                   (3, 1, "dparam", "param_delta", 3.0), (4, 2, "dparam", "param_delta", 0.0),
                   (5, 2, "dparam", "param_delta", math.nan))
    median = '[[expect]]\nrole = "param_delta"\ncheck = "each-epoch"\naggregate = "median"\nop = ">"\nvalue = 0\n'
    assert check(median, tables)[0].endswith("median dparam is nan at epoch 2 (line 4), expected > 0")
    assert "dparam is nan at epoch 2 (line 5)" in check('[[expect]]\nmetric = "*"\ncheck = "finite"\n', tables)[0]


def test_severity_and_name_are_used():
    exp = expect.parse('[[expect]]\nname = "mine"\nmetric = "x"\ncheck = "present"\nseverity = "warning"\n')
    findings = expect.evaluate(exp, FakeResult(table()))
    assert findings[0].severity is Severity.warning and "mine" in findings[0].message
    assert findings[0].line == 100      # nothing printed: the finding points at the end of the log


@pytest.mark.parametrize("toml, line, message", [
    ('[[expect]]\nmetric = "x"\ncheck = "all"\nop = ">"\nvalue = \n', 5, "invalid TOML"),
    ('[[expect]]\nmetric = "x"\ncheck = "present"\n\n[[expect]]\nmetric = "y"\ncheck = "sometimes"\n', 7, "check must be one of"),
    ('[[expect]]\nmetric = "x"\ncheck = "all"\nop = "~"\nvalue = 1\n', 4, "needs op"),
    ('[[expect]]\nmetric = "x"\ncheck = "all"\nop = ">"\n', 1, "needs a numeric value"),
    ('[[expect]]\nmetric = "x"\ncheck = "present"\ncolour = "red"\n', 4, "unknown key 'colour'"),
    ('[[expect]]\nrole = "speed"\ncheck = "present"\n', 2, "unknown role"),
    ('[[expect]]\nmetric = "x"\nrole = "lr"\ncheck = "present"\n', 1, "exactly one of metric"),
    ('[[expect]]\nmetric = "x"\ncheck = "final"\nop = "<"\nvalue = 1\nwindow = 3\n', 6, "window applies"),
    ('[[expect]]\nmetric = "x"\ncheck = "present"\nseverity = "fatal"\n', 4, "unknown severity"),
    ('title = "x"\n', 1, "unknown top-level key"),
    ('# nothing\n', 1, "no [[expect]] table"),
])
def test_bad_files_name_the_file_and_line(cli, tmp_path, toml, line, message):
    path = tmp_path / "exp.toml"
    path.write_text(toml)
    run = cli("analyze", FIXED, "--expect", path)
    assert run.code == 2 and run.out == "" and run.err.count("\n") == 1
    assert message in run.err
    assert f"{path}:{line}" in run.err or f"line {line}," in run.err, run.err


def test_missing_expectations_file_is_exit_2(cli, tmp_path):
    run = cli("analyze", FIXED, "--expect", tmp_path / "nope.toml")
    assert run.code == 2 and "nope.toml: cannot read expectations" in run.err


def test_the_readme_example_is_the_tested_file_and_works(cli, tmp_path):
    import re

    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("### Expectations (`--expect`)"):]
    example = re.search(r"```toml\n(.*?)```", section, re.S).group(1)
    assert [e.name for e in expect.parse(example)] == [e.name for e in expect.load(HEALTHY)]
    path = tmp_path / "expectations.toml"
    path.write_text(example)
    assert cli("analyze", FIXED, "--expect", path, "-f", "json").code == 0
    assert len(unmet(cli("analyze", BROKEN, "--expect", path, "-f", "json"))) == 6


# ---- what the analysis keeps for expectations (expect.Kept) against the full tables

EVERY_CHECK = """
[[expect]]
metric = "*"
check = "finite"
[[expect]]
metric = "*"
check = "present"
phase = "eval"
[[expect]]
role = "loss"
check = "all"
op = "<"
value = 2
[[expect]]
role = "loss"
check = "any"
op = "<"
value = 0.1
[[expect]]
metric = "*loss*"
check = "final"
op = "<"
value = 1
[[expect]]
role = "lr"
check = "all"
op = ">"
value = 0
from_epoch = 1
[[expect]]
role = "val_loss"
check = "each-epoch"
aggregate = "median"
op = "<"
value = 1
[[expect]]
role = "val_loss"
check = "decreasing"
window = 3
[[expect]]
metric = "*"
check = "any"
op = "!="
value = 0
[[expect]]
role = "grad_norm"
check = "all"
op = "<="
value = 5
to_epoch = 2
[[expect]]
metric = "lr*"
check = "increasing"
strict = true
"""


def _both_ways(data: bytes, chunk: int) -> tuple[list, list]:
    """Findings of EVERY_CHECK from expect.Kept and from the full tables, the log read
    through the NumPy parser in `chunk`-byte reads."""
    from logdoc.source.reading import iter_blocks
    from logdoc.engine.session import Session
    from streams import Trickle, vector_everywhere

    exps = expect.parse(EVERY_CHECK)
    with vector_everywhere():
        result = Session("x", keep_tables=True, expectations=exps).feed_blocks(iter_blocks(Trickle(data, chunk), "x"))
    kept = [(f.line, f.message, f.metric) for f in expect.evaluate(exps, result)]
    tables = [(f.line, f.message, f.metric) for f in expect.evaluate(exps, FakeResult(result.tables, result.lines))]
    return kept, tables


@pytest.mark.parametrize("path", sorted([*(ROOT / "tests" / "corpus").glob("*.log"), *SAMPLES.glob("*.log")]),
                         ids=lambda p: p.name)
def test_what_is_kept_for_expectations_judges_as_the_full_tables(path):
    kept, tables = _both_ways(path.read_bytes(), 4096)
    assert kept == tables


def test_kept_points_on_generated_runs_judge_as_the_full_tables():
    # long series over many batches: firsts, lasts, counts and first failures cross batches
    import random

    rng = random.Random(3)
    for _ in range(8):
        out = []
        for e in range(1, rng.randint(2, 9)):
            lr = rng.choice([0.0, 1e-4, 3e-4])
            out.append(f"[LR] epoch={e} groups=['backbone', 'head'] lr=[{lr}, {lr * 2}]\n")
            for s in range(rng.randint(20, 300)):
                loss = rng.choice(["nan", "inf", f"{rng.uniform(0, 3):.4f}", "0.0000"]) if rng.random() < 0.03 \
                    else f"{rng.uniform(0.05, 2.5):.4f}"
                out.append(f"{{'loss': {loss}, 'grad_norm': {rng.uniform(0, 6):.4f}, "
                           f"'learning_rate': {lr:.3e}, 'epoch': {e - 1 + s / 300:.2f}}}\n")
            out.append(f"Epoch {e:03d}/030: train {rng.uniform(0.1, 1):.3f}  val {rng.uniform(0.1, 2):.6f}\n")
        kept, tables = _both_ways("".join(out).encode(), rng.choice([700, 5000, 1 << 20]))
        assert kept == tables and kept
