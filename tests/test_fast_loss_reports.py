"""rules.base.new_finite_losses answers a columns batch from its arrays (new_finite_losses_np):
the same new reports, and the same `Reports` state after them, as the list code.

Random logs are cut into blocks, each read as a columns
batch (the vector parser forced) and as a list batch of the same records. Two `Reports`
follow the stream, one per kind of batch; after every batch their answers and states must be
equal. The lines are built for the corners of the comparison: epochs without steps (decided
by text), reprinted lines, equal values at the same epoch, trailing blanks, redraws of a step,
eval losses and a second series beside the followed one.
"""
from __future__ import annotations

import random

import pytest

from logdoc.rules.base import Reports
from logdoc.rules._series import new_finite_losses, new_finite_losses_np

from loss_streams import batch_pairs


def _epoch_only_log(seed: int, n_lines: int = 2500) -> bytes:
    """Per-step losses printed with the epoch only (HF Trainer's dicts): whether a line is a
    new report is decided by its text. Reprints, equal values, two shapes of the same pattern,
    whole epochs (per-epoch series), trailing blanks, a second series and eval losses."""
    rnd = random.Random(seed)
    pool = [round(rnd.uniform(0.1, 1.0), 4) for _ in range(3)]
    out: list[str] = []
    epoch = 0.0
    whole = rnd.random() < 0.3
    while len(out) < n_lines:
        r = rnd.random()
        if whole:
            epoch += rnd.choice([0, 1, 1, 1])
        elif rnd.random() < 0.3:
            epoch = round(epoch + 0.01, 2)
        v = rnd.choice(pool) if rnd.random() < 0.5 else rnd.uniform(0.1, 9.0)
        fmt = rnd.choice(["{:.4f}", "{:.4f}", "{:.2f}", "{:.1e}"])
        if r < 0.05 and out:
            out.append(out[-1])                                 # a reprint
        elif r < 0.08:
            out.append(f"{{'eval_loss': {v:.4f}, 'epoch': {epoch:.2f}}}")
        elif r < 0.12:
            out.append(f"Epoch {int(epoch) + 1}/30 - loss: {v:.4f} - acc: 0.5")
        elif r < 0.15:
            out.append("INFO chatter " + "x" * rnd.randrange(5))
        else:
            blank = " " * rnd.choice([0, 0, 0, 0, 1, 2])
            ep = f"{epoch:.2f}" if not whole else f"{epoch:.1f}"
            out.append(f"{{'loss': {fmt.format(v)}, 'learning_rate': 1e-05, 'epoch': {ep}}}{blank}")
    return ("\n".join(out) + "\n").encode()


def _step_log(seed: int, n_lines: int = 2500) -> bytes:
    """Per-step losses with a step on every line (the epoch carried from [LR] lines):
    redraws of the same step, a step counter that restarts each epoch, equal values."""
    rnd = random.Random(seed)
    out: list[str] = []
    epoch, step = 1, 0
    while len(out) < n_lines:
        r = rnd.random()
        if r < 0.02:
            epoch += 1
            step = rnd.choice([0, step])
            out.append(f"[LR] epoch={epoch} groups=['backbone', 'head'] lr=[1e-05, 4e-05]")
            continue
        step += rnd.choice([0, 1, 1, 1])
        v = rnd.choice([0.5, 0.25, rnd.uniform(0.1, 2.0)])
        if r < 0.1:
            out.append(f"INFO worker {rnd.randrange(8)} prefetched shard {rnd.randrange(999)}")
        else:
            out.append(f"train step {step}/10000 | loss {v:.4f} | data time 0.1{rnd.randrange(10)}s")
    return ("\n".join(out) + "\n").encode()


def _follow(pairs, one_series: bool = True) -> int:
    """Feed both kinds of batch to their own Reports; assert equal answers and states.
    Returns how many columns batches were answered from the arrays."""
    by_np, by_list = Reports(one_series=one_series), Reports(one_series=one_series)
    answered = 0
    for cols, listed in pairs:
        if cols.columns is not None and new_finite_losses_np(Reports(one_series=one_series), cols) is not None:
            answered += 1
        cols.memo.clear()                       # the probe above must not answer from the memo
        got = new_finite_losses(by_np, cols)
        want = new_finite_losses(by_list, listed)
        assert got == want
        assert by_np.state() == by_list.state()
    return answered


@pytest.mark.parametrize("seed", range(40))
def test_epoch_only_streams_give_the_same_new_reports(seed):
    data = _epoch_only_log(seed)
    block = random.Random(seed).choice([300, 900, 3000, 20000])
    pairs = batch_pairs(data, block)
    answered = _follow(pairs, one_series=seed % 4 != 3)      # every series, now and then
    # the arrays answered most columns batches (else this tests only the fallback)
    assert answered >= sum(c.columns is not None for c, _ in pairs) // 2


def test_rules_following_in_the_same_state_share_the_answer():
    data = _epoch_only_log(7)
    (cols, listed), *_ = [p for p in batch_pairs(data, 20000) if p[0].columns is not None]
    first, second = Reports(one_series=True), Reports(one_series=True)
    a = new_finite_losses_np(first, cols)
    b = new_finite_losses_np(second, cols)
    assert a is not None and a is b                      # the memo's answer
    assert first.state() == second.state()
    assert new_finite_losses(Reports(one_series=True), listed) == (a[0].tolist(), a[1].tolist(), a[2])


@pytest.mark.parametrize("seed", range(20))
def test_step_streams_give_the_same_new_reports(seed):
    data = _step_log(seed)
    block = random.Random(seed).choice([300, 900, 3000, 20000])
    pairs = batch_pairs(data, block)
    answered = _follow(pairs, one_series=seed % 4 != 3)
    assert answered >= sum(c.columns is not None for c, _ in pairs) // 2
