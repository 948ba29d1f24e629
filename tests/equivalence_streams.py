"""Random training logs that reach the rules' corners, for the equivalence harness
(tests/test_equivalence.py).

Each generator writes a log of one kind: every role mixed (`random_log`), one loss or
gradient-norm series in regimes (`series_log`), losses at chance level, repeating, zero or on
a plateau (`loss_log`), param-group schedules (`lr_log`), timestamps and watchdog timeouts
(`stalled_log`), spikes (`spiky_log`, `threshold_log`), HF-style epoch-only and per-step
reports (`epoch_only_log`, `step_log`), decaying norms (`decaying_log`). All return bytes.
Lines that start with `[probe` are read by tests/rules/probe-patterns.toml.
"""
from __future__ import annotations

import math
import random

TRACEBACK = ["Traceback (most recent call last):", '  File "train.py", line 179, in <module>',
             "    loss.backward()", "RuntimeError: boom"]
EVENT_LINES = ["Exception ignored in: <function _MultiProcessingDataLoaderIter.__del__ at 0x7f2b8c0e1ca0>",
               "terminate called after throwing an instance of 'std::runtime_error'",
               "FloatingPointError: Loss became infinite or NaN at iteration=2137!",
               "KeyboardInterrupt", "[probe-event] loss_scale_overflow loss_scale=1.0",
               "[probe-event] loss_scale_overflow loss_scale=0.5 step=7"]
STALL = "[Rank 0] Watchdog caught collective operation timeout: WorkNCCL(OpType=ALLREDUCE, Timeout(ms)=1800000)"
NCCL_ERROR = "torch.distributed.DistBackendError: NCCL error in: ../torch/csrc/distributed/c10d/ProcessGroupNCCL.cpp:1275"
_LEVELS = [math.log(c) for c in (2, 10, 100, 1000, 50257)]


def number(rnd: random.Random, pool: list[float], special: float = 0.05) -> str:
    """A value as a log prints it: mostly from `pool` (repeats matter to some rules), some
    nan/inf/0, in one of a few printed formats."""
    r = rnd.random()
    if r < special:
        return rnd.choice(["nan", "inf", "-inf", "NaN"])
    if r < 2 * special:
        return rnd.choice(["0.0", "0", "0.0000"])
    v = rnd.choice(pool) if rnd.random() < 0.6 else rnd.uniform(0.0, 3.0)
    return rnd.choice([f"{v:.4f}", f"{v:.3f}", f"{v:.2e}"])


def random_log(seed: int, n_lines: int = 3000, *, special: float = 0.02, events: float = 0.01,
               evals: float = 0.05, crash_end: float = 0.0, nan_positions: float = 0.01) -> bytes:
    """A log of probe lines (every role the rules read), framework lines, events and chatter."""
    rnd = random.Random(seed)
    pool = [round(rnd.uniform(0.0, 2.0), 4) for _ in range(4)]
    epoch, step = 1, 0
    out: list[str] = []

    def num() -> str:
        return number(rnd, pool, special)

    def at(value: int) -> str:
        """An epoch or step; now and then nan (a position that equals nothing, itself included)."""
        return "nan" if rnd.random() < nan_positions else str(value)

    while len(out) < n_lines:
        r = rnd.random()
        if rnd.random() < 0.97:
            step += rnd.choice([0, 10, 10, 10])          # a reprint now and then
        if rnd.random() < 0.03:
            epoch += rnd.choice([0, 1, 1])
        if r < events:
            out.extend(TRACEBACK if rnd.random() < 0.4 else [rnd.choice(EVENT_LINES)])
        elif r < events + evals:
            k = rnd.randrange(5)
            if k == 0:
                out.append(f"[probe-eval] epoch={at(epoch)} val_loss={num()} val_acc={num()}")
            elif k == 1:
                out.append(f"[probe] epoch={at(epoch)} loss={num()} val_loss={num()} acc={num()} val_acc={num()}")
            elif k == 2:
                out.append(f"Epoch {epoch:03d}/030: train {num()}  val {num()}")
            elif k == 3:
                out.append(f"[probe] epoch={at(epoch)} step={at(step)} loss={num()} val_loss={num()}")
            else:
                out.append(f"[probe-eval] step={at(step)} val_acc={num()}")
        elif r < 0.25:
            k = rnd.randrange(4)
            if k == 0:
                out.append(f"[probe] step={at(step)} dparam={num()} dparam={num()}")
            elif k == 1:
                out.append(f"[probe] step={at(step)} loss={num()} grad_norm={num()} "
                           f"skipped={rnd.choice('0012')} nan_iters={rnd.choice('0001')}")
            elif k == 2:
                out.append(f"{{'loss': {num()}, 'grad_norm': {num()}, 'learning_rate': 1e-05, "
                           f"'epoch': {epoch}.{step % 100:02d}}}")
            else:
                out.append(f"[probe] step={at(step)} acc={num()} loss={num()} loss_cls={num()}")
        elif r < 0.8:
            k = rnd.randrange(3)
            if k == 0:
                out.append(f"[probe] epoch={at(epoch)} step={at(step)} loss={num()} grad_norm={num()} lr=1e-3")
            elif k == 1:
                out.append(f"[probe] step={at(step)} loss={num()}")
            else:
                out.append(f"[probe] loss={num()} lr=0.001")
        else:
            out.append(rnd.choice(["INFO saving checkpoint", "some chatter here", "",
                                   f"INFO step {step} done"]))
    if rnd.random() < crash_end:       # the run dies at the end (what the crash rule reports)
        out.extend(rnd.choice([TRACEBACK, TRACEBACK[:2], EVENT_LINES[1:2], EVENT_LINES[3:4]]))
    return ("\n".join(out) + "\n").encode()


def _near(rnd: random.Random, level: float) -> str:
    """A value near `level`, printed as a log would (a few formats, some specials)."""
    r = rnd.random()
    if r < 0.004:
        return rnd.choice(["nan", "inf", "-inf"])
    if r < 0.008:
        return rnd.choice(["0.0", "-0.0", "0"])
    v = level * math.exp(rnd.gauss(0.0, rnd.choice([0.02, 0.1, 0.3])))
    if rnd.random() < 0.002:
        v = -v
    return rnd.choice([f"{v:.4f}", f"{v:.6g}", f"{v:.3e}", repr(v)])


def _levels(rnd: random.Random, n: int, start: float, mild: bool) -> list[float]:
    """A level per report: stretches of flat, falling, rising, exploding, vanishing (`mild`:
    flat, falling and slowly rising only, so a rule rarely fires and state runs on)."""
    out: list[float] = []
    level = start
    rise = 1.0005 if mild else 1.01
    while len(out) < n:
        kinds = ["flat", "fall", "rise"] if mild else ["flat", "flat", "fall", "rise", "jump", "drop", "zero"]
        kind = rnd.choice(kinds)
        length = rnd.randint(5, 400)
        for k in range(length):
            if kind == "fall":
                level *= 0.995
            elif kind == "rise":
                level *= rise
            elif kind == "jump" and k == 0:
                level *= rnd.choice([3.0, 20.0, 1e3, 1e6])
            elif kind == "drop" and k == 0:
                level /= rnd.choice([3.0, 1e4, 1e9])
            out.append(0.0 if kind == "zero" and rnd.random() < 0.7 else level)
    return out[:n]


def series_log(seed: int, role: str, *, mild: bool = False) -> bytes:
    """A log whose main series is `role` ("loss" or "grad_norm")."""
    rnd = random.Random(seed)
    n = rnd.randint(300, 4000)
    levels = _levels(rnd, n, rnd.choice([0.5, 2.0, 1e-4, 30.0]), mild)
    per_epoch_first = rnd.randint(0, 6) if rnd.random() < 0.3 else 0
    hf_first = rnd.random() < 0.15
    two_each = rnd.random() < 0.2
    with_epoch = rnd.random() < 0.7
    out: list[str] = []
    step = epoch = 0
    for k, level in enumerate(levels):
        v = _near(rnd, level)
        r = rnd.random()
        if k < per_epoch_first:
            epoch += 1
            out.append(f"[probe] epoch={epoch} {role}={v}")
            continue
        step += 1 if rnd.random() < 0.97 else 0          # a reprint of the same step now and then
        if hf_first and k == per_epoch_first or r < 0.05:
            out.append(f"{{'loss': {v}, 'grad_norm': {_near(rnd, level)}, 'learning_rate': 1e-05, "
                       f"'epoch': {epoch}.{step % 100:02d}}}")
        elif r < 0.08:
            out.append(f"[probe-eval] step={step} val_loss={v}")
        elif r < 0.1:
            out.append(rnd.choice(["INFO saving checkpoint", "some chatter", ""]))
        elif two_each and r < 0.3:
            second = "loss_cls" if role == "loss" else "grad_norm_clipped"
            out.append(f"[probe] step={step} {role}={v} {second}={_near(rnd, level / 2)}")
        elif r < 0.33:
            out.append(f"[probe] epoch={epoch} {role}={v}")           # no step: text decides
        elif with_epoch:
            out.append(f"[probe] epoch={epoch} step={step} {role}={v}")
        else:
            out.append(f"[probe] step={step} {role}={v}")
        if rnd.random() < 0.02:
            out.append(out[-1])                                      # printed twice
    return ("\n".join(out) + "\n").encode()


_PARSED: dict = {}


def _schedule(rnd: random.Random, total: int, kinds):
    """lr(step) of one param group (kinds: which of the schedules below may be drawn)."""
    base = rnd.choice([1e-3, 4e-4, 1e-4, 3e-7])
    kind = rnd.choice(kinds)
    warm = max(1, int(total * rnd.choice([0.01, 0.1, 0.4, 0.6, 1.5])))
    if kind == 0:
        return lambda s: base
    if kind == 1:
        return lambda s: base * min(1.0, (s + 1) / warm)
    if kind == 2:                  # warm-up that rounds: printed values repeat between rises
        return lambda s: base * min(1.0, round(10 * s / warm) / 10)
    if kind == 3:
        return lambda s: base * 0.5 * (1 + math.cos(math.pi * min(s, total) / total))
    if kind == 4:                  # step decay
        return lambda s: base * 0.1 ** (s // max(1, total // rnd.choice([3, 30])))
    if kind == 5:                  # tiny for a while, then back
        return lambda s: 5e-8 if total // 4 < s < total // 2 else base
    if kind == 6:                  # 0 somewhere
        at = rnd.randrange(total)
        return lambda s: 0.0 if s >= at else base
    if kind == 7:                  # starts at 0, then a warm-up
        return lambda s: base * s / warm if s < warm else base
    if kind == 8:
        return lambda s: base * 1.001 ** s    # rises for ever
    # rises a few times at random steps, then stays: the last rise may be the one judged
    at = sorted(rnd.randrange(total) for _ in range(rnd.randint(1, 5)))
    return lambda s: base * (1 + sum(s >= a for a in at))


def lr_log(seed: int, n_lines: int = 2500, kinds=range(10)) -> bytes:
    rnd = random.Random(seed)
    total = rnd.choice([200, 2000, 20000])
    step = rnd.choice([0, 0, 0, total // 3])            # from the start, or not
    every = rnd.choice([1, 1, 5, 50])
    formats = rnd.sample(["probe", "probe2", "groups", "hf", "epoch"], rnd.randint(1, 3))
    many = rnd.random() < 0.15                          # more param groups than are followed
    names = [f"g{k}" for k in range(70 if many else rnd.randint(1, 3))]
    sched = {name: _schedule(rnd, total, kinds) for name in ["lr", "lr_head", "learning_rate", *names]}
    announce = rnd.random()
    special = rnd.choice([0.0, 0.0, 0.01, 0.05])
    skips = rnd.choice([0.0, 0.0, 0.005, 0.05])
    epochs = max(1, total // 500)
    out: list[str] = []

    def val(name: str) -> str:
        r = rnd.random()
        if r < special:
            return rnd.choice(["nan", "inf", "0.0", "-1e-05"])
        return f"{sched[name](step):.3g}"

    while len(out) < n_lines:
        if rnd.random() < 0.95:
            step += rnd.choice([0, every, every])        # a reprint now and then
        epoch = 1 + step * epochs // total
        fmt = rnd.choice(formats)
        r = rnd.random()
        tail = f" step_total={total}" if announce < 0.5 else ""
        if r < skips:
            out.append(rnd.choice(["[probe-event] loss_scale_overflow loss_scale=0.5",
                                   f"[probe] step={step} loss=0.5 skipped={rnd.choice([0, 1])}",
                                   f"[probe] step={step} lr={val('lr')} skipped={rnd.choice([0, 1])}"]))
        elif r < 0.1:
            out.append(rnd.choice(["INFO saving checkpoint", "", f"[probe] step={step} loss=0.4"]))
        elif fmt == "probe":
            out.append(f"[probe] step={step}{tail} lr={val('lr')}")
        elif fmt == "probe2":
            out.append(f"[probe] step={step}{tail} loss=0.5 lr={val('lr')} lr_head={val('lr_head')}")
        elif fmt == "groups":
            pick = names if not many or rnd.random() < 0.3 else names[:2]
            listed = ", ".join(f"'{g}'" for g in pick)
            out.append(f"[LR] epoch={epoch} groups=[{listed}] lr=[{', '.join(val(g) for g in pick)}]")
        elif fmt == "hf":
            out.append(f"{{'loss': 0.5, 'learning_rate': {val('learning_rate')}, 'epoch': {step / total * epochs:.2f}}}")
        else:
            et = f" epoch_total={epochs}" if announce > 0.3 else ""
            out.append(f"[probe] epoch={epoch}{et} lr={val('lr')}")
    return ("\n".join(out) + "\n").encode()


def _loss_value(rnd: random.Random, kind: str, state: dict) -> float:
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
        v = _loss_value(rnd, kind, state)
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


def stalled_log(seed: int, n_lines: int = 1500) -> bytes:
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
            out.append(f"{iso()} {NCCL_ERROR}" if rnd.random() < 0.5 else NCCL_ERROR)
        elif r < 0.9:
            out.append(f"{{'loss': {rnd.uniform(0.1, 2):.4f}, 'learning_rate': 1e-05, 'epoch': 0.{step % 100:02d}}}")
        else:
            out.append(rnd.choice(["some chatter here", "", f"12:00:01 INFO step {step} done"]))
    return ("\n".join(out) + "\n").encode()


def threshold_log(seed: int, n_lines: int = 2000) -> bytes:
    """Flat losses with values at, just below and just above three times the running mean
    (the default threshold: value - mean >= 2 * mean)."""
    rnd = random.Random(seed)
    base = rnd.choice(["1.0", "0.1", "0.3", "0.7", "1e-05"])
    b = float(base)
    near = [repr(3 * b), repr(3 * b * (1 - 1e-15)), repr(3 * b * (1 + 1e-15)), repr(2.9999 * b)]
    lines = []
    for step in range(1, n_lines):
        value = rnd.choice(near) if rnd.random() < 0.006 else base
        lines.append(f"[probe] epoch=1 step={step} loss={value}")
    return ("\n".join(lines) + "\n").encode()


def spiky_log(seed: int, n_lines: int = 2000) -> bytes:
    """Noisy flat losses with many spikes, alone or in runs (a run's values stay out of the
    window, so the windows after it are not the arrays' for a while), near batch cuts too."""
    rnd = random.Random(seed)
    lines, step = [], 0
    while len(lines) < n_lines:
        step += 1
        if rnd.random() < 0.03:
            for _ in range(rnd.choice([1, 1, 2, 3, 5, 8])):
                lines.append(f"[probe] epoch=2 step={step} loss={rnd.uniform(3.5, 9):.4f}")
                step += 1
        lines.append(f"[probe] epoch=2 step={step} loss={rnd.uniform(0.8, 1.2):.4f}")
    return ("\n".join(lines) + "\n").encode()


def epoch_only_log(seed: int, n_lines: int = 2500) -> bytes:
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


def step_log(seed: int, n_lines: int = 2500) -> bytes:
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


def decaying_log(seed: int) -> bytes:
    """Norms falling steadily by six orders of magnitude (no jump against the recent median,
    but far more than `jump` between the first and the last norm of a big batch)."""
    rnd = random.Random(seed)
    lines = [f"[probe] epoch=1 step={s} grad_norm={500.0 * 0.997 ** s * rnd.uniform(0.8, 1.25):.4e}"
             for s in range(1, 5000)]
    return ("\n".join(lines) + "\n").encode()


def zero_score_log(seed: int, n_lines: int = 2000) -> bytes:
    """Scores (train `acc`, eval `val_acc`) stuck at exactly 0 for stretches of any length,
    across batch cuts, between stretches of real values; the loss moves throughout."""
    rnd = random.Random(seed)
    out: list[str] = []
    epoch, step, zero_left = 1, 0, 0
    while len(out) < n_lines:
        step += 10
        if rnd.random() < 0.02:
            epoch += 1
        if zero_left <= 0 and rnd.random() < 0.05:
            zero_left = rnd.choice([2, 5, 12, 40, 400])
        zero = zero_left > 0
        zero_left -= 1
        acc = "0.0" if zero else rnd.choice(["0.0", f"{rnd.uniform(0.05, 0.9):.4f}"] + ["0.5"] * 3)
        loss = f"{rnd.uniform(0.1, 2.5):.4f}"
        if rnd.random() < 0.1:
            out.append(f"[probe-eval] epoch={epoch} val_loss={loss} val_acc={acc if zero else rnd.random():.4}")
        elif rnd.random() < 0.05:
            out.append(rnd.choice(["INFO saving checkpoint", "", f"{{'loss': {loss}, 'epoch': {epoch}.{step % 100:02d}}}"]))
        else:
            out.append(f"[probe] epoch={epoch} step={step} loss={loss} acc={acc}")
    return ("\n".join(out) + "\n").encode()
