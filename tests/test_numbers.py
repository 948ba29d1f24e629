"""Numbers of any size (issue 17, point 10): values, never a crash; strict JSON out.

A log may print any number: a 5000-digit integer, `1e99999`, `-1e309`, `num_updates=-inf`,
an epoch counter that is nan. Each is a value (the nearest float, or inf) in every parsing
path (line by line, the bulk parser, the NumPy parser), and every machine format writes
strict JSON (no `NaN`/`Infinity` tokens): a non-finite number is the string "nan", "inf" or
"-inf", as the README's JSON contract says.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from logdoc.engine.session import Session
from logdoc.parsing import fastfloat
from logdoc.source.reading import iter_blocks, lines_from_text
from streams import Trickle, vector_everywhere

BIG = "9" * 5000                 # int() refuses it (4300 digits), float() gives inf
HUGE = [BIG, "-" + BIG, "9" * 300, "1" + "0" * 400 + ".5", "1e99999", "-1e99999", "1e309", "-1e309",
        "1e308", "1e-400", "-0.0", "nan", "inf", "-inf"]
SHAPES = [
    "{{'loss': {v}, 'grad_norm': {v}, 'learning_rate': {v}, 'epoch': {v}}}",
    "| epoch {v} | loss {v} | num_updates={v} | lr {v}",
    "Epoch {v}/10",
    "100/100 [==============================] - 1s 10ms/step - loss: {v} - val_loss: {v}",
    "step {v}: train loss {v}, val loss {v}",
    '{{"epoch": {v}, "step": {v}, "loss": {v}, "lr": {v}}}',
    "iter {v}: loss {v}, time 893.76ms, mfu 16.68%",
    "Epoch: [{v}]  [10/1299]  eta: 0:01:00  lr: {v}  loss: {v} ({v})  time: 0.1",
    "[{v}]\teval-logloss:{v}\ttrain-logloss:{v}",
]


def _log() -> bytes:
    rows = []
    for shape in SHAPES:
        for i, v in enumerate(["0.5", *HUGE, "0.25"]):
            rows.append(shape.format(v=v if i else f"{i + 1}"))
            rows.append(shape.format(v=str(i + 1)))
    return ("\n".join(rows) + "\n").encode()


def _strict(text: str):
    def refuse(token):
        raise AssertionError(f"not strict JSON: {token}")

    return json.loads(text, parse_constant=refuse)


def test_every_parsing_path_takes_numbers_of_any_size():
    data = _log()
    want = Session("x").feed_all(lines_from_text(data)).to_json()            # line by line
    assert want["records"] > 100
    blocks = Session("x").feed_blocks(iter_blocks(Trickle(data, 1 << 20), "x")).to_json()    # bulk
    with vector_everywhere():                                                  # NumPy, pyarrow
        vector = Session("x").feed_blocks(iter_blocks(Trickle(data, 700), "x")).to_json()
    with vector_everywhere(arrow=False):
        plain = Session("x").feed_blocks(iter_blocks(Trickle(data, 1 << 20), "x")).to_json()
    dump = json.dumps(want, sort_keys=True)
    for got in (blocks, vector, plain):
        assert json.dumps(got, sort_keys=True) == dump


@pytest.mark.parametrize("fmt", ["json", "jsonl", "sarif", "gitlab"])
def test_machine_formats_are_strict_json_with_non_finite_numbers(cli, tmp_path, fmt):
    log = tmp_path / "run.log"
    log.write_bytes(_log())
    run = cli("analyze", log, "-f", fmt)
    assert run.code == 1 and run.err == ""
    docs = [_strict(line) for line in run.out.splitlines()] if fmt == "jsonl" else [_strict(run.out)]
    if fmt == "sarif":                                       # no rule fell over either
        assert all(r["ruleId"] != "internal-error" for r in docs[0]["runs"][0]["results"])
    else:
        assert "internal-error" not in run.out


def test_numbers_of_any_size_say_nothing_on_stderr(tmp_path):
    # a NumPy RuntimeWarning (overflow in a rule's arithmetic) would reach stderr in a real run
    import subprocess
    import sys

    # (the fuzz found them in grad-explosion, grad-vanishing, loss-explosion, loss-rising and
    # the series sums: a factor times 1e300 is inf, as the rules mean it, said by NumPy)
    near_max = []
    for i in range(1, 41):
        v = "1e300" if i < 20 else "1.7e308"
        near_max.append(f"{{'loss': {v}, 'grad_norm': {v}, 'learning_rate': 1e-4, 'epoch': {i}}}")
        near_max.append(f"epoch {i} train_loss: {'1.5e308' if i % 2 else '1.6e308'} val_loss: 1.7e308")
    log = tmp_path / "run.log"
    log.write_bytes(_log() + ("\n".join(near_max) + "\n").encode())
    out = subprocess.run([sys.executable, "-m", "logdoc", "analyze", str(log), "-f", "json"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and out.stderr == ""


def test_a_non_finite_epoch_is_the_string_inf(cli, tmp_path):
    # was: internal error: Out of range float values are not JSON compliant: inf
    log = tmp_path / "run.log"
    log.write_text("{'loss': 0.5, 'learning_rate': 1e-4, 'epoch': 0.1}\n"
                   "{'loss': nan, 'learning_rate': 1e-4, 'epoch': 1e99999}\n")
    run = cli("analyze", log, "-f", "json")
    [finding] = [f for f in _strict(run.out)["files"][0]["findings"] if f["rule"] == "nonfinite"]
    assert finding["epoch"] == "inf" and run.code == 1
    jsonl = [_strict(line) for line in cli("analyze", log, "-f", "jsonl").out.splitlines()]
    assert any(d.get("epoch") == "inf" for d in jsonl)


def test_scan_compare_metrics_coverage_write_strict_json(cli, tmp_path):
    log = tmp_path / "run.log"
    log.write_text("{'loss': 0.5, 'epoch': 1}\n{'loss': nan, 'epoch': 1e99999}\n"
                   f"{{'loss': 0.4, 'epoch': {BIG}}}\n")
    scan = _strict(cli("scan", log, "-f", "json").out)
    assert scan["files"][0]["epochs"] == "inf"
    compare = cli("compare", log, log, "-f", "json")
    assert compare.err == "" and _strict(compare.out)
    metrics = cli("metrics", log, "-f", "json")
    assert metrics.err == "" and _strict(metrics.out)
    coverage = cli("coverage", log, "-f", "json")
    assert coverage.err == "" and _strict(coverage.out)


def test_runner_commands_stay_inert_in_strict_json(cli, tmp_path):
    log = tmp_path / "run.log"
    log.write_text("{'loss': nan, 'epoch': 1e99999} ::error::x ##[add-mask]y\n")
    out = cli("analyze", log, "-f", "json").out
    assert "##" not in out and "::" not in out and _strict(out)


def test_json_safe():
    from logdoc.core.model import json_dumps, json_safe

    assert json_safe({"a": [math.nan, math.inf, -math.inf, -0.0, 1.5, np.float64(math.inf)], "b": (1,)}) == \
        {"a": ["nan", "inf", "-inf", -0.0, 1.5, "inf"], "b": [1]}
    assert json_dumps({"x": -0.0, "y": 10 ** 400}) == '{"x": -0.0, "y": ' + "1" + "0" * 400 + "}"


@pytest.mark.parametrize("printed", ["7e777", "-7e777", "7.7e-777", "7.77777777777777777777", "nan", "-inf"])
def test_fastfloat_reads_what_float_reads(printed):
    # the NumPy reader of one printed format: overflowing exponents and long mantissas
    text = {"7e777": b"1e999 9e308 2e400", "-7e777": b"-1e999 -9e308 -2e400",
            "7.7e-777": b"1.5e-999 9.9e-400 1.0e-330", "7.77777777777777777777": b"1.23456789012345678901",
            "nan": b"nan", "-inf": b"-inf"}[printed]
    words = text.split()
    shape = bytes(55 if 48 <= c <= 57 else c for c in words[0])
    fmt = fastfloat.number_format(shape)
    if fmt is None:            # float() reads it (long mantissas)
        return
    same = [w for w in words if bytes(55 if 48 <= c <= 57 else c for c in w) == shape]
    data = b" ".join(same)
    starts = np.array([data.find(w) for w in same])
    got = fastfloat.read_numbers(np.frombuffer(data, np.uint8), starts, fmt, data)
    want = np.array([float(w) for w in same])
    assert np.array_equal(got, want, equal_nan=True)


def test_the_terminal_report_draws_curves_near_the_float_limit(cli, tmp_path):
    # was: internal error: ValueError: cannot convert float NaN to integer (the sparkline's
    # bucket sum of 1.7e308s was inf, its span inf - inf); found by the corpus fuzz
    from logdoc.report.sparkline import sparkline

    assert sparkline([1.7e308] * 100 + [1e308] * 100) == "█" * 24 + "▁" * 24
    assert sparkline([-1.7e308, 1.7e308, 0.0]) == "▁█▅"
    log = tmp_path / "run.log"
    log.write_text("".join(f"epoch {i} train_loss: {v} val_loss: {v}\n"
                           for i, v in enumerate(["1.7e308"] * 150 + ["-1.7e308"] * 150 + ["0.5"] * 10, 1)))
    run = cli("analyze", log, "--no-color")
    assert run.code in (0, 1) and run.err == "" and "train_loss" in run.out
