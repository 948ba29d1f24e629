"""stalled: one body gives the same findings and state on columns batches as on list batches.

Random logs mixing timestamped and plain training lines, timestamps past the first 80
characters, chatter with timestamps, impossible dates, long silences and NCCL timeouts are fed
to the rule as columns batches (the vector parser on every block) and as list batches of the
same records; the findings must be identical.
"""
from __future__ import annotations

import random

import pytest

from logdoc.rules.stalled import Stalled

from lr_streams import batches, view

STALL = "[Rank 0] Watchdog caught collective operation timeout: WorkNCCL(OpType=ALLREDUCE, Timeout(ms)=1800000)"
ERROR = "torch.distributed.DistBackendError: NCCL error in: ../torch/csrc/distributed/c10d/ProcessGroupNCCL.cpp:1275"


def _log(seed: int, n_lines: int = 1500) -> bytes:
    rnd = random.Random(seed)
    t = 1682664000 + rnd.randrange(86400)           # seconds; printed as 2023-04-28 ...
    stamped = rnd.choice([0.0, 0.01, 0.05, rnd.random()])   # share of training lines stamped
    kinds = rnd.choice([range(10), [7], [7, 8, 9], [6, 7]])   # which timestamps (k below)
    ends = rnd.choice([[79, 80, 81, 90], [80, 90], [80, 81]])  # where k = 7 puts them
    stalls = rnd.choice([0.0, 0.0, 0.002, 0.01])
    jumps = rnd.choice([0.0, 0.001, 0.01])          # a silence of an hour or more
    out: list[str] = []
    step = 0

    def iso(sep: str = " ") -> str:
        h, m, s = t // 3600 % 24, t // 60 % 60, t % 60
        return f"2023-04-{28 + t // 86400 % 2:02d}{sep}{h:02d}:{m:02d}:{s:02d}"

    while len(out) < n_lines:
        t += rnd.choice([1, 2, 5, 30]) if rnd.random() >= jumps else rnd.randint(1800, 9000)
        step += 10
        r = rnd.random()
        line = f"[probe] step={step} loss={rnd.uniform(0.1, 2):.4f}"
        if r < 0.6:
            if rnd.random() < stamped:
                k = rnd.choice(kinds)
                if k < 6:
                    line = f"{iso()},{rnd.randrange(1000):03d} {line}"
                elif k == 6:
                    line = f"{iso('T')} {line}"
                elif k == 7:       # ends at character 79, 80 (read) or 81, 90 (not read)
                    end = rnd.choice(ends)
                    line = f"{line} {'.' * (end - 21 - len(line))} {iso()}"
                elif k == 8:                         # no such date: the next format is tried
                    line = f"2023-13-45 22:00:00 [04/28 {t // 3600 % 24:02d}:{t // 60 % 60:02d}:{t % 60:02d}] {line}"
                else:
                    line = f"2023-04-28 08:59:60,000 {line}"
            out.append(line)
        elif r < 0.75:
            out.append(f"INFO {iso()} dataloader worker {rnd.randrange(8)} prefetched shard")
        elif r < 0.75 + stalls:
            out.append(f"{iso()} {STALL}" if rnd.random() < 0.5 else STALL)
        elif r < 0.77 + stalls:
            out.append(f"{iso()} {ERROR}" if rnd.random() < 0.5 else ERROR)
        elif r < 0.9:
            out.append(f"{{'loss': {rnd.uniform(0.1, 2):.4f}, 'learning_rate': 1e-05, 'epoch': 0.{step % 100:02d}}}")
        else:
            out.append(rnd.choice(["some chatter here", "", f"12:00:01 INFO step {step} done"]))
    return ("\n".join(out) + "\n").encode()


def _state(rule: Stalled) -> tuple:
    """What the rule carries to the next batch (its caches only save work)."""
    last = rule.last
    return (rule.fired_event, rule.fired_silence,
            None if last is None else (last[0], last[1].record(last[2]).line))


@pytest.mark.parametrize("max_silence", [1800, 60])
def test_same_findings_and_state_as_the_list_code(max_silence):
    findings = fed = 0
    for seed in range(30):
        data = _log(seed)
        block = random.Random(seed).choice([500, 2000, 8000, 40000])
        pairs = batches(data, block)
        fast, slow = Stalled(max_silence=max_silence), Stalled(max_silence=max_silence)
        for k, (cols, listed) in enumerate(pairs):
            fed += cols.columns is not None
            got, want = list(fast.observe_batch(cols)), list(slow.observe_batch(listed))
            assert [view(f) for f in got] == [view(f) for f in want], f"seed {seed}, batch {k}"
            assert _state(fast) == _state(slow), f"seed {seed}, batch {k}"
            findings += len(want)
    # the streams reached findings, and the vector parser made columns batches
    assert findings > 10
    assert fed > 30
