"""Rules give the same report on NumPy batches as on list batches, on generated runs.

Rules take big batches from the vector parser (logdoc.bulk_vector) through array quick tests
(`Rule.observe_batch` with `b.columns` set) and small ones through their row loops. The kept
logs are small; these runs are built to reach the quick tests' corners: epochs replayed batch
for batch, lines printed twice, steps on some lines only, nan, zero learning rates, spikes,
plateaus, frozen updates. Each is analysed line by line and through the NumPy path on every
block, in random block sizes; the JSON reports must be identical as text.
"""
from __future__ import annotations

import json
import os
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from logdoc.reading import iter_blocks, lines_from_text
from logdoc.session import Session

from streams import Trickle, vector_everywhere


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
    result = Session("run.log").feed_all(lines_from_text(text), batch_lines=1 << 20)
    return json.dumps(result.to_json())


def _numpy(text: str, chunk: int, arrow: bool) -> str:
    stream = Trickle(text.encode(), chunk)
    with vector_everywhere(arrow):
        result = Session("run.log").feed_blocks(iter_blocks(stream, "run.log"))
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
