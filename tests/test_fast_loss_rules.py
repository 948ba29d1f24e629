"""loss-chance-level, loss-flat, loss-zero and loss-plateau (one body each, over arrays) give
the same findings on columns batches as on list batches of the same records, and on batches
of one record.

The streams are built to reach the rules' corners: losses that sit at ln(C) for runs of
various lengths, repeat exactly, drop to 0, or plateau and improve; printed per step (a step
on every line, redraws), per fraction of epoch (HF Trainer's dicts, decided by text), or per
whole epoch; a second series and eval losses beside the followed one. Each stream is cut into
blocks of a random size and read both ways (tests/loss_streams.py).
"""
from __future__ import annotations

import math
import random

import pytest

from loss_streams import batch_pairs, one_record_batches, run

_LEVELS = [math.log(c) for c in (2, 10, 100, 1000, 50257)]


def _value(rnd: random.Random, kind: str, state: dict) -> float:
    """The next training loss of a stream of this kind."""
    if state["left"] <= 0:                        # switch regime now and then
        state["mode"] = rnd.choice(["noise", "noise", "special"])
        state["left"] = rnd.choice([3, 8, 9, 10, 11, 25, 60, 200])
        state["level"] = rnd.choice(_LEVELS)
        state["held"] = round(rnd.uniform(0.05, 3.0), rnd.choice([1, 2, 4]))
    state["left"] -= 1
    if state["mode"] == "noise" or kind == "noise":
        return rnd.uniform(0.05, 3.0) * state["scale"]
    if kind == "repeats":                         # short runs of equal values, 0, converged
        return rnd.choice([0.5, 0.5, 0.25, 1.234567, 0.001, 0.0, math.log(2), rnd.uniform(1, 2)])
    if kind == "chance":
        return state["level"] * (1 + rnd.uniform(-0.012, 0.012))
    if kind == "flat":
        return state["held"] if rnd.random() < 0.9 else rnd.choice([0.0, state["held"] * 1.5])
    if kind == "zero":
        return 0.0 if rnd.random() < 0.7 else rnd.uniform(0.0, 1.0)
    # plateau: a level with noise that drifts down now and then
    state["scale"] *= rnd.choice([1.0, 1.0, 1.0, 0.9])
    return state["held"] * state["scale"] * (1 + rnd.uniform(-0.002, 0.002))


def loss_log(seed: int, kind: str, n_lines: int = 2500) -> bytes:
    rnd = random.Random(seed)
    style = rnd.choice(["step", "hf", "epoch", "mixed"])
    state = {"left": 0, "scale": 1.0}
    out: list[str] = []
    epoch, step, frac = 1, 0, 0.0
    digits = rnd.choice(["{:.4f}", "{:.4f}", "{:.2f}", "{:.6g}"])
    while len(out) < n_lines:
        r = rnd.random()
        v = _value(rnd, kind, state)
        text = digits.format(v)
        s = style if style != "mixed" else rnd.choice(["step", "hf"])
        if r < 0.03:
            epoch += 1
            out.append(f"[LR] epoch={epoch} groups=['backbone', 'head'] lr=[1e-05, 4e-05]")
        elif r < 0.06:
            out.append(f"{{'eval_loss': {text}, 'epoch': {frac:.2f}}}")
        elif r < 0.09 and out:
            out.append(out[-1])                                    # a reprint / redraw
        elif r < 0.12:
            out.append(f"INFO worker {rnd.randrange(8)} prefetched shard {rnd.randrange(999)}")
        elif s == "step":
            step += rnd.choice([1, 1, 1, 0])
            out.append(f"train step {step}/10000 | loss {text} | data time 0.1{rnd.randrange(10)}s")
        elif s == "hf":
            if rnd.random() < 0.4:
                frac = round(frac + 0.01, 2)
            out.append(f"{{'loss': {text}, 'grad_norm': {rnd.uniform(0.1, 2):.4f}, "
                       f"'learning_rate': 1e-05, 'epoch': {frac:.2f}}}")
        else:
            epoch += 1
            out.append(f"Epoch {epoch}/500 - loss: {text} - acc: 0.5000")
    return ("\n".join(out) + "\n").encode()


def _compare(rule_id: str, kind: str, seeds, options: dict | None = None) -> tuple[int, int]:
    findings = fed = 0
    for seed in seeds:
        data = loss_log(seed, kind)
        block = random.Random(seed).choice([700, 2500, 9000, 40000])
        pairs = batch_pairs(data, block)
        fed += sum(c.columns is not None for c, _ in pairs)
        want = run(rule_id, [l for _, l in pairs], options)
        got = run(rule_id, [c for c, _ in pairs], options)
        assert got == want, f"{rule_id}, seed {seed}, blocks of {block} bytes"
        findings += len(want)
    return findings, fed


@pytest.mark.parametrize("rule_id,kind,options", [
    ("loss-chance-level", "chance", None),
    ("loss-chance-level", "chance", {"window": 3, "min_reports": 5}),
    ("loss-chance-level", "noise", None),
    ("loss-flat", "flat", None),
    ("loss-flat", "flat", {"min_repeats": 3, "min_epochs": 2}),
    ("loss-flat", "noise", None),
    ("loss-flat", "repeats", {"min_repeats": 8, "min_epochs": 6}),
    ("loss-chance-level", "repeats", {"window": 6}),
    ("loss-zero", "repeats", {"hold": 4}),
    ("loss-plateau", "repeats", {"patience": 30}),
    ("loss-zero", "zero", None),
    ("loss-zero", "zero", {"hold": 3}),
    ("loss-zero", "noise", None),
    ("loss-plateau", "plateau", None),
    ("loss-plateau", "plateau", {"window": 3, "patience": 4}),
    ("loss-plateau", "noise", None),
])
def test_columns_batches_give_the_list_findings(rule_id, kind, options):
    findings, fed = _compare(rule_id, kind, range(15), options)
    assert fed > 15                      # columns batches were fed
    if kind not in ("noise", "repeats"):
        assert findings > 0              # and the streams made the rule fire


@pytest.mark.parametrize("plain_sum", [True, False])
@pytest.mark.parametrize("seed", range(20))
def test_block_means_are_the_floats_sum_gives(seed, plain_sum, monkeypatch):
    # _series.block_means must give the very floats `sum(block) / w` gives (loss-plateau keeps
    # best means and compares them across batches): values of mixed magnitudes and signs
    # make any other order of addition round differently.
    import numpy as np

    import logdoc.rules._series as series

    if plain_sum and not series._PLAIN_SUM:
        pytest.skip("this Python's sum() compensates: the arrays' column sums are not used")
    # (False: the branch later Pythons take, sum() over the values' lists)
    monkeypatch.setattr(series, "_PLAIN_SUM", plain_sum)
    rnd = random.Random(seed)
    w = rnd.choice([1, 3, 10, 17])
    seq = [rnd.choice([0.1, 0.2, 0.3, -0.0, 1e16, -1e16, 1e-9]) if rnd.random() < 0.3
           else rnd.uniform(-1, 1) * 10 ** rnd.randint(-8, 8) for _ in range(rnd.randrange(220))]
    count = len(seq) // w
    want = [sum(seq[s:s + w]) / w for s in range(0, count * w, w)]
    got = series.block_means(np.array(seq[:count * w], np.float64).reshape(count, w)).tolist()
    assert got == want
    assert [repr(x) for x in got] == [repr(x) for x in want]        # -0.0 is not 0.0 here


# State each rule carries between batches (Records by their line), for the test below.
_STATES = {
    "loss-chance-level": lambda r: ([(v, x.line) for v, x in r.recent], r.seen, r.run, r.reports.state()),
    "loss-plateau": lambda r: (r.block, _line(r.block_first) if r.block else None,
                               r.best and (r.best[0], _line(r.best[1])), r.improved, r.from_start,
                               r.stale, r.size, r.reports.state()),
    "loss-zero": lambda r: (r.first and r.first.line, r.started, r.at_start, r.count, r.reports.state()),
}


def _line(place) -> int:
    """The line of a place a rule keeps: a Record, or (batch, row) while the batch is read."""
    return place[0].record(place[1]).line if type(place) is tuple else place.line


@pytest.mark.parametrize("rule_id,kind,options", [
    ("loss-chance-level", "chance", None),
    ("loss-chance-level", "chance", {"window": 3, "min_reports": 5}),
    ("loss-chance-level", "repeats", {"window": 6}),
    ("loss-plateau", "plateau", None),
    ("loss-plateau", "plateau", {"window": 3, "patience": 4}),
    ("loss-plateau", "repeats", {"patience": 30}),
    ("loss-zero", "zero", None),
    ("loss-zero", "zero", {"hold": 3}),
    ("loss-zero", "repeats", {"hold": 4}),
])
def test_batches_of_one_record_give_the_same(rule_id, kind, options):
    # one body for every batch: a columns batch of a few thousand records and the same
    # records one per batch give the same findings, and the same state until one fires
    found = 0
    for seed in range(10):
        block = random.Random(seed).choice([2500, 9000, 40000])
        found += one_record_batches(rule_id, loss_log(seed, kind), block, options or {}, _STATES[rule_id])
    if kind != "repeats":
        assert found > 0
