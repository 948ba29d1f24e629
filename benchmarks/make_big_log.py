#!/usr/bin/env python3
# Copied from the team's shared bench/make_big_log.py so a fresh clone can run the benchmark.
"""Write a large, deterministic, mixed training log for benchmarks.

usage: make_big_log.py OUT [--mb SIZE]   (default 1024 MB; OUT may be - for stdout)

The log mixes what real runs print: the seed's [LR]/[STEP]/Epoch lines, Hugging Face
Trainer dicts, a custom "step | loss" line, tqdm bars redrawn with carriage returns,
Keras epoch lines, INFO chatter and Python warnings. It is healthy until about 70 % of
its length, where the learning rate of one group drops to 0 and later the loss turns nan,
so a diagnosis has real work to do at scale. Same SIZE, same bytes, on every machine.
"""
import argparse
import random
import sys

def epoch_block(rng: random.Random, epoch: int, n_epochs: int, steps: int, broken: bool, nan: bool) -> str:
    out = []
    w = out.append
    warm = min(1.0, epoch / 3)
    lrs = (0.0 if broken else 1e-4 * warm, 4e-4 * warm)
    w(f"[LR] epoch={epoch} groups=['backbone', 'head'] lr=[{lrs[0]:.3g}, {lrs[1]:.3g}]\n")
    for s in range(steps):
        r = rng.random()
        loss = "nan" if nan and s > steps // 2 else f"{rng.uniform(0.1, 1.0):.4f}"
        if r < 0.35:
            w(f"{{'loss': {loss}, 'grad_norm': {rng.uniform(0.1, 3):.4f}, "
              f"'learning_rate': {lrs[1]:.3e}, 'epoch': {epoch - 1 + s / steps:.2f}}}\n")
        elif r < 0.6:
            w(f"train step {s}/{steps} | loss {loss} | data time 0.{rng.randint(0, 999):03d}s "
              f"| batch 32 | throughput {rng.randint(100, 900)} samples/s\n")
        elif r < 0.75:
            pct = 100 * s // steps
            bar = "#" * (pct // 10)
            w(f"\r{pct:3d}%|{bar:<10}| {s}/{steps} [00:{s % 60:02d}<00:{(steps - s) % 60:02d}, "
              f"{rng.uniform(5, 9):.2f}it/s, loss={loss}]")
            if s % 50 == 49:
                w("\n")
        elif r < 0.95:
            w(f"INFO 2025-10-27 12:{s % 60:02d}:{rng.randint(0, 59):02d} dataloader worker "
              f"{rng.randint(0, 7)} prefetched shard {rng.randint(0, 9999)} of /data/train-"
              f"{rng.randint(0, 99):05d}.tar\n")
        else:
            w("UserWarning: Detected call of `lr_scheduler.step()` before `optimizer.step()`.\n")
    delta = 0.0 if broken else rng.uniform(1e-5, 1e-3)
    w(f"\n[STEP] \u0394param L2: median={delta:.3e}  max={delta * 3:.3e}\n")
    w(f"Epoch {epoch:03d}/{n_epochs:03d}: train {rng.uniform(0.1, 1):.3f}  val {rng.uniform(0.1, 2):.6f}\n")
    w(f"Subspace align: {rng.random():.6f}  peak contrast: {rng.random():.4f}\n")
    w(f"{steps}/{steps} [==============================] - 12s 9ms/step - loss: {loss} "
      f"- accuracy: {rng.random():.4f} - val_loss: {rng.uniform(0.1, 2):.4f} - val_accuracy: {rng.random():.4f}\n")
    return "".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--mb", type=float, default=1024)
    args = ap.parse_args()
    target = int(args.mb * 1024 * 1024)
    steps = 10_000
    rng = random.Random(7)
    # Each epoch block is about 0.9 MB; estimate the count so the break lands at ~70 %.
    n_epochs = max(3, target // 900_000)
    sink = sys.stdout if args.out == "-" else open(args.out, "w", encoding="utf-8", newline="")
    written = 0
    epoch = 0
    while written < target:
        epoch += 1
        block = epoch_block(rng, epoch, n_epochs, steps, broken=epoch > 0.7 * n_epochs,
                            nan=epoch > 0.85 * n_epochs)
        sink.write(block)
        written += len(block.encode("utf-8"))
    if sink is not sys.stdout:
        sink.close()
    print(f"wrote {written / 1e6:.1f} MB, {epoch} epochs", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
