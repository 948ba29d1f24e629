"""One equivalence harness: however a log reaches the rules, they say the same.

Each rule has one body over arrays that answer both kinds of batch: a big block read by the
vector parser gives a batch over BlockColumns, a live stream gives list batches of Records.
So random logs built to reach the rules' corners (tests/equivalence_streams.py) are cut into
blocks and fed three ways to three fresh sets of every rule, with the options of a profile:
columns batches (the vector parser forced on every block), list batches of the same
records, and one record per batch. The findings must be the same after every block and at
finish. Every rule must fire somewhere in the streams, and columns batches must be fed, or
the harness proves little.

The sealed arrays of the signals layer (`_series.new_finite_losses_np`, `block_means`) and
loss-spike's marks (a NumPy pre-selection of the reports it judges) are checked against the
loops they stand for below.
"""
from __future__ import annotations

import json
import os
import random
from collections import Counter
from functools import lru_cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import equivalence_streams as gen
from logdoc.core.batch import Batch
from logdoc.parsing.bulk import BulkParser
from logdoc.engine.engine import build_rules
from logdoc.parsing.parser import Parser
from logdoc.parsing.patterns import PatternSet, default_patterns
from logdoc.rules import all_rules
from streams import Trickle, vector_everywhere

PROBES = Path(__file__).parent / "rules" / "probe-patterns.toml"


@lru_cache(maxsize=2)
def _patterns(probe: bool) -> PatternSet:
    return PatternSet.load([PROBES]) if probe else default_patterns()


# (stream, patterns: probe lines or the bundled formats, generator, seeds)
STREAMS = {
    "mixed": (True, lambda s: gen.random_log(s, 1500), range(3)),
    "mixed-special": (True, lambda s: gen.random_log(s, 1500, special=0.2), range(3)),
    "mixed-evals": (True, lambda s: gen.random_log(s, 1500, evals=0.2), range(3)),
    "mixed-endings": (True, lambda s: gen.random_log(s, 1500, events=0.02, crash_end=0.7), range(3)),
    "loss-series": (True, lambda s: gen.series_log(s, "loss", mild=s % 2 == 1), range(3)),
    "grad-series": (True, lambda s: gen.series_log(s, "grad_norm", mild=s % 2 == 1), range(3)),
    "grad-decay": (True, gen.decaying_log, range(2)),
    "loss-chance": (False, lambda s: gen.loss_log(s, "chance", 1500), range(3)),
    "loss-flat": (False, lambda s: gen.loss_log(s, "flat", 1500), range(3)),
    "loss-zero": (False, lambda s: gen.loss_log(s, "zero", 1500), range(3)),
    "loss-plateau": (False, lambda s: gen.loss_log(s, "plateau", 1500), range(3)),
    "loss-repeats": (False, lambda s: gen.loss_log(s, "repeats", 1500), range(3)),
    "loss-epoch-only": (False, lambda s: gen.epoch_only_log(s, 1500), range(3)),
    "loss-steps": (False, lambda s: gen.step_log(s, 1500), range(3)),
    "loss-spiky": (True, gen.spiky_log, range(3)),
    "loss-threshold": (True, gen.threshold_log, range(3)),
    "lr": (True, lambda s: gen.lr_log(s), range(3)),
    "lr-zeros": (True, lambda s: gen.lr_log(s, n_lines=1200, kinds=[0, 1, 6, 6, 7, 7]), range(30, 33)),
    "lr-tiny": (True, lambda s: gen.lr_log(s, n_lines=1200, kinds=[0, 3, 4, 5, 5, 6]), range(30, 33)),
    "lr-rising": (True, lambda s: gen.lr_log(s, n_lines=1200, kinds=[0, 1, 2, 8, 9, 9, 9]), range(40, 46)),
    "stalled": (True, gen.stalled_log, range(3)),
    "zero-scores": (True, gen.zero_score_log, range(3)),
}

# Options besides the defaults that move a rule's corners (window 1, patience 0, thresholds at
# the values the streams print). Profile k gives every rule its k-th alternative, if it has one.
ALTERNATIVES = {
    "constant-val-loss": [{"min_repeats": 2, "metric_repeats": 2}],
    "crash": [{"resume_records": 100}],
    "fp16-overflow": [{"window": 400, "max_overflows": 2}],
    "frozen-params": [{"hold": 1}],
    "metric-zero": [{"hold": 2}],
    "overfitting": [{"patience": 1}, {"patience": 2}],
    "val-better-than-train": [{"ratio": 0.9, "hold": 2, "start": 1}],
    "grad-explosion": [{"window": 3, "min_history": 1}, {"jump": 5.0}, {"jump": 3.0, "ceiling": 50.0},
                       {"window": 1}, {"jump": 0.5}],
    "grad-vanishing": [{"early": 1, "hold": 1}, {"tiny": 1e-3}, {"drop": 10.0, "hold": 5},
                       {"early": 2.5}, {"drop": 0}],
    "grad-norm-zero": [{"hold": 1}, {"hold": 4}],
    "loss-divergence": [{"window": 3}, {"window": 2, "patience": 1}, {"window": 5, "patience": 0},
                        {"factor": 1.05, "sigmas": 0.0}, {"smoothing": 1.0, "explode": 3.0},
                        {"smoothing": 0, "window": 4}, {"window": 7, "patience": 6, "factor": 1.2}],
    "loss-spike": [{"window": 3}, {"rtol": 0.5, "patience": 2}, {"warmup": 50}, {"rtol": 0.0},
                   {"window": 1, "patience": 1}, {"window": 25, "rtol": 1.0}, {"window": 30}],
    "loss-chance-level": [{"window": 3, "min_reports": 5}, {"window": 6}],
    "loss-flat": [{"min_repeats": 3, "min_epochs": 2}, {"min_repeats": 8, "min_epochs": 6}],
    "loss-plateau": [{"window": 3, "patience": 4}, {"patience": 30}],
    "loss-zero": [{"hold": 3}, {"hold": 4}],
    "zero-lr": [{"confirm_reports": 4}],
    "lr-too-low": [{"tiny": 1e-4, "hold": 5}],
    "lr-warmup-never-ends": [{"fraction": 0.2, "min_increases": 1}],
    "stalled": [{"max_silence": 60}],
}
PROFILES = [{}] + [{rule: alts[k] for rule, alts in ALTERNATIVES.items() if k < len(alts)}
                   for k in range(max(map(len, ALTERNATIVES.values())))]


def view(f) -> tuple:
    """All of a finding that a report shows (positions as text: a nan epoch equals no nan)."""
    return (f.rule, f.severity, f.line, f.message, [(e.line, e.text) for e in f.evidence],
            repr(f.epoch), repr(f.step), f.metric, sorted(f.tags))


@lru_cache(maxsize=256)
def _parsed(stream: str, seed: int) -> tuple:
    """((BlockColumns or None, records), ...) of one log cut in blocks of a random size: the
    vector parser forced on every block, and the line parser on the same blocks."""
    probe, make, _ = STREAMS[stream]
    data = make(seed)
    block = random.Random(seed).choice([200, 700, 3000, 12000, 40000])
    patterns = _patterns(probe)
    vector, lines = BulkParser(Parser(patterns)), BulkParser(Parser(patterns), vector=False)
    out, no, start = [], 1, 0
    while start < len(data):
        cut = data.find(b"\n", start + block)
        end = len(data) if cut < 0 else cut
        with vector_everywhere():
            cols, n = vector.parse_block(data[start:end], no)
        listed, _ = lines.parse_block(data[start:end], no)
        out.append((cols.columns, tuple(listed.records())))
        no, start = no + n, end + 1
    return tuple(out)


def _feed(rules, batch: Batch, into: dict) -> None:
    roles = batch.roles
    for rule in rules:
        if rule.wants is None or not rule.wants.isdisjoint(roles):
            into[rule.id].extend(view(f) for f in rule.observe_batch(batch))


def _three_ways(stream: str, seed: int, options: dict, single: bool) -> tuple[Counter, int]:
    """Feed one log as columns batches and as list batches (and, with `single`, one record
    per batch); assert the same findings per rule after every block and at finish. Returns
    (findings per rule, columns batches fed)."""
    ways = [build_rules(options=options) for _ in range(3 if single else 2)]
    found: Counter = Counter()
    fed = 0
    for k, (cols, records) in enumerate(_parsed(stream, seed)):
        got: list[dict] = [{r.id: [] for r in ways[0]} for _ in ways]
        fed += cols is not None
        _feed(ways[0], Batch.from_columns(cols) if cols is not None else Batch.from_records(records), got[0])
        _feed(ways[1], Batch.from_records(records), got[1])
        if single:
            for rec in records:
                _feed(ways[2], Batch.from_records([rec]), got[2])
        for rule, want in got[1].items():
            where = f"{rule}, {stream} seed {seed}, block {k}, options {options.get(rule, {})}"
            assert got[0][rule] == want, f"columns batch differs from list batch: {where}"
            assert not single or got[2][rule] == want, f"one record per batch differs: {where}"
            found[rule] += len(want)
    for rules in zip(*ways):
        want = [view(f) for f in rules[1].finish()]
        for other in (rules[0], *rules[2:]):
            assert [view(f) for f in other.finish()] == want, f"{other.id} at finish, {stream} seed {seed}"
        found[rules[1].id] += len(want)
    return found, fed


@lru_cache(maxsize=None)
def _outcome(stream: str) -> tuple[Counter, int]:
    """The first seed with the default options, also one record per batch; the second with
    the defaults and another profile, the others with another profile (seeds and streams
    take turns through the profiles)."""
    found: Counter = Counter()
    fed = 0
    turn = list(STREAMS).index(stream)
    for n, seed in enumerate(STREAMS[stream][2]):
        other = PROFILES[1 + (turn + n) % (len(PROFILES) - 1)]
        for options in [(PROFILES[0],), (PROFILES[0], other), (other,)][min(n, 2)]:
            got, k = _three_ways(stream, seed, options, single=n == 0)
            found += got
            fed += k
    return found, fed


@pytest.mark.parametrize("stream", list(STREAMS))
def test_columns_lists_and_single_records_give_the_same_findings(stream):
    found, fed = _outcome(stream)
    assert fed > 0, "the vector parser made no columns batch"
    assert sum(found.values()) > 0, "no rule fired: the stream proves nothing"


# Rules these synthetic streams cannot reach: they read what only real frameworks print
# (replayed epochs, OOM messages, loss-scale collapse), tested by the rule cases and the fuzz.
UNREACHED = {"epoch-replay", "oom", "loss-scale-collapse", "loss-explosion", "loss-rising"}


def test_every_rule_fires_somewhere_in_the_streams():
    found: Counter = Counter()
    for stream in STREAMS:
        found += _outcome(stream)[0]
    silent = {rule for rule in all_rules() if not found[rule]} - UNREACHED
    assert not silent, f"rules no stream made fire: {sorted(silent)}"


# --- the sealed arrays against the loops they stand for ---------------------------------

def test_new_finite_losses_from_arrays_equal_the_list_answer():
    from logdoc.rules._series import new_finite_losses, new_finite_losses_np
    from logdoc.rules.base import Reports

    answered = 0
    for stream, seed in [("loss-epoch-only", s) for s in range(3)] + [("loss-steps", s) for s in range(3)]:
        one_series = seed % 4 != 3
        by_np, by_list = Reports(one_series=one_series), Reports(one_series=one_series)
        for cols, records in _parsed(stream, seed):
            listed = Batch.from_records(records)
            batch = Batch.from_columns(cols) if cols is not None else listed
            if cols is not None and new_finite_losses_np(Reports(one_series=one_series), batch) is not None:
                answered += 1
            batch.memo.clear()                      # the probe above must not answer from the memo
            assert new_finite_losses(by_np, batch) == new_finite_losses(by_list, listed)
            assert by_np.state() == by_list.state()
    assert answered > 10                            # the arrays answered, not only the fallback


def test_rules_following_in_the_same_state_share_the_answer():
    from logdoc.rules._series import new_finite_losses, new_finite_losses_np
    from logdoc.rules.base import Reports

    cols, records = next((c, r) for c, r in _parsed("loss-epoch-only", 0) if c is not None)
    batch = Batch.from_columns(cols)
    first, second = Reports(one_series=True), Reports(one_series=True)
    a = new_finite_losses_np(first, batch)
    b = new_finite_losses_np(second, batch)
    assert a is not None and a is b                 # the memo's answer
    assert first.state() == second.state()
    assert new_finite_losses(Reports(one_series=True), Batch.from_records(records)) == (
        a[0].tolist(), a[1].tolist(), a[2])


@pytest.mark.parametrize("plain_sum", [True, False])
def test_block_means_are_the_floats_sum_gives(plain_sum, monkeypatch):
    # _series.block_means must give the very floats `sum(block) / w` gives (loss-plateau keeps
    # best means and compares them across batches): values of mixed magnitudes and signs
    # make any other order of addition round differently.
    import numpy as np

    import logdoc.rules._series as series

    if plain_sum and not series._PLAIN_SUM:
        pytest.skip("this Python's sum() compensates: the arrays' column sums are not used")
    monkeypatch.setattr(series, "_PLAIN_SUM", plain_sum)
    for seed in range(20):
        rnd = random.Random(seed)
        w = rnd.choice([1, 3, 10, 17])
        seq = [rnd.choice([0.1, 0.2, 0.3, -0.0, 1e16, -1e16, 1e-9]) if rnd.random() < 0.3
               else rnd.uniform(-1, 1) * 10 ** rnd.randint(-8, 8) for _ in range(rnd.randrange(220))]
        count = len(seq) // w
        want = [sum(seq[s:s + w]) / w for s in range(0, count * w, w)]
        got = series.block_means(np.array(seq[:count * w], np.float64).reshape(count, w)).tolist()
        assert [repr(x) for x in got] == [repr(x) for x in want]    # -0.0 is not 0.0 here


@pytest.mark.parametrize("options", [{}, {"rtol": 0.5, "patience": 2}, {"window": 1, "patience": 1}], ids=str)
def test_loss_spike_marks_miss_no_spike(options):
    # the rule as it runs, and one whose `_marks` marks every report (so `_report` judges each)
    marked = []
    for stream, seed in [("loss-series", 0), ("loss-series", 1), ("loss-threshold", 0), ("loss-spiky", 0)]:
        fast, slow = (build_rules(["loss-spike"], options={"loss-spike": options})[0] for _ in range(2))
        slow._marks = lambda values: range(len(values))
        inner = fast._marks
        fast._marks = lambda values: marked.append(len(m := inner(values))) or m
        for cols, records in _parsed(stream, seed):
            batch = Batch.from_columns(cols) if cols is not None else Batch.from_records(records)
            assert [view(f) for f in fast.observe_batch(batch)] == \
                   [view(f) for f in slow.observe_batch(Batch.from_records(records))]
        assert [view(f) for f in fast.finish()] == [view(f) for f in slow.finish()]
    assert sum(marked) > 0 and len(marked) > sum(marked) // 100   # marks made, most reports skipped


# --- end to end: a whole session, line by line and through the NumPy path ----------------

def _run(rng: random.Random) -> str:
    """A training log of a few epochs mixing the common line kinds and failure modes."""
    out = []
    w = out.append
    epochs = rng.randint(2, 7)
    steps = rng.randint(5, 60)
    replay_from = rng.choice([None, None, rng.randint(1, epochs)])
    stuck = rng.random() < 0.2            # loss stuck at one value
    zero_lr = rng.random() < 0.2
    diverge_at = rng.choice([None, None, rng.randint(1, epochs * steps)])
    with_steps = rng.random()
    losses_of: dict[int, list[str]] = {}
    # a replayed run prints the same kinds of lines each epoch, and no fractional epochs
    kinds = [rng.uniform(0.4, 1) for _ in range(steps)]
    n = 0
    for e in range(1, epochs + 1):
        lr = 0.0 if zero_lr else 1e-4 * rng.choice([1, 2, 5])
        w(f"[LR] epoch={e} groups=['backbone', 'head'] lr=[{lr:.3g}, {lr * 4:.3g}]\n")
        losses = []
        for s in range(steps):
            n += 1
            if replay_from and e > replay_from and s < len(losses_of.get(e - 1, [])):
                loss = losses_of[e - 1][s]
            elif stuck:
                loss = "0.6931"
            elif diverge_at and n >= diverge_at:
                loss = rng.choice(["nan", f"{10 ** min(30, n - diverge_at + 1):.4e}"])
            else:
                loss = f"{rng.uniform(0.1, 2.5):.4f}"
            losses.append(loss)
            kind = kinds[s] if replay_from else rng.random()
            if kind < 0.4:
                w(f"{{'loss': {loss}, 'grad_norm': {'0.0' if rng.random() < 0.05 else f'{rng.uniform(0, 5):.4f}'}, "
                  f"'learning_rate': {lr:.3e}, 'epoch': {e - 1 + s / steps:.2f}}}\n")
            elif kind < 0.4 + 0.5 * with_steps:
                w(f"train step {s}/{steps} | loss {loss} | data time 0.{rng.randint(0, 999):03d}s | batch 32\n")
            elif kind < 0.85:
                w(f"\r{100 * s // steps:3d}%|#  | {s}/{steps} [00:01<00:02, 7.{s % 10}0it/s, loss={loss}]")
                if rng.random() < 0.3:
                    w("\n")
            else:
                w(f"INFO worker {rng.randint(0, 7)} prefetched shard {rng.randint(0, 9999)}\n")
            if rng.random() < 0.1:         # a line printed twice (a progress redraw, a rerun)
                w(out[-1] if out[-1].endswith("\n") else "\n")
        losses_of[e] = losses
        delta = 0.0 if zero_lr else rng.uniform(1e-5, 1e-3)
        w(f"\n[STEP] \u0394param L2: median={delta:.3e}  max={delta * 3:.3e}\n")
        val = "1.921642" if zero_lr else f"{rng.uniform(0.1, 2):.6f}"
        w(f"Epoch {e:03d}/{epochs:03d}: train {rng.uniform(0.1, 1):.3f}  val {val}\n")
        if rng.random() < 0.5:
            w(f"{steps}/{steps} [==============================] - 12s 9ms/step - loss: {losses[-1]} "
              f"- accuracy: {rng.random():.4f} - val_loss: {rng.uniform(0.1, 2):.4f}\n")
    return "".join(out)


def _line_by_line(text: str) -> str:
    from logdoc.source.reading import lines_from_text
    from logdoc.engine.session import Session

    return json.dumps(Session("run.log").feed_all(lines_from_text(text), batch_lines=1 << 20).to_json())


def _numpy(text: str, chunk: int, arrow: bool) -> str:
    from logdoc.source.reading import iter_blocks
    from logdoc.engine.session import Session

    with vector_everywhere(arrow):
        result = Session("run.log").feed_blocks(iter_blocks(Trickle(text.encode(), chunk), "run.log"))
    return json.dumps(result.to_json())


@settings(max_examples=int(os.environ.get("LOGDOC_FUZZ_EXAMPLES", "60")), deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1), chunk=st.sampled_from([700, 3000, 20000, 1 << 20]),
       arrow=st.booleans())
def test_numpy_batches_give_the_line_by_line_report(seed, chunk, arrow):
    text = _run(random.Random(seed))
    assert _numpy(text, chunk, arrow) == _line_by_line(text)


def test_the_generated_runs_reach_the_rules():
    # the generator is only useful if its runs trigger findings; most of them must
    found = set()
    for seed in range(40):
        report = json.loads(_line_by_line(_run(random.Random(seed))))
        found.update(f["rule"] for f in report["findings"])
    assert {"epoch-replay", "zero-lr", "nonfinite"} <= found, found
    assert len(found) >= 6, found
