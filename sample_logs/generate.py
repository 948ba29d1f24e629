"""Regenerate the incident's sample logs (deterministic; run from the repo root).

The incident (seeds/000 in the team's shared notes) quotes only the key lines of the broken
run and the expected lines of the fixed one. These logs rebuild both 30-epoch runs around
those quoted lines: the [LR] values of epochs 1-3, the Δparam line, the constant val loss
1.921642, the final `val loss: inf`, and the fixed run's epoch 1 LR [0.0002, 0.0008].
Progress bars are written the way tqdm writes them to a file (\\r redraws on one line).
"""
from __future__ import annotations

import math
import random
from pathlib import Path

HERE = Path(__file__).parent
EPOCHS = 30
GROUPS = "['backbone', 'head']"


def bar(epoch: int, rng: random.Random) -> str:
    frames = []
    for done in (0, 12, 25, 38, 50):
        pct = done * 100 // 50
        frames.append(f"epoch {epoch}: {pct:3d}%|{'#' * (pct // 10):<10}| {done}/50 "
                      f"[00:{done // 2:02d}<00:{(50 - done) // 2:02d}, {rng.uniform(1.9, 2.2):.2f}it/s]")
    return "\r".join(frames)


def header(title: str) -> list[str]:
    return [
        f"== {title} ==",
        "config: model=ris-unet batch_size=16 epochs=30 warmup_epochs=12 optimizer=AdamW",
        "device: cuda:0 (NVIDIA A10G)",
        "train samples: 800  val samples: 200",
    ]


def broken() -> str:
    rng = random.Random(0)
    out = header("overfit test (before the warmup fix)")
    for e in range(1, EPOCHS + 1):
        frac = min(e - 1, 12) / 12              # the bug: step / warmup_steps is 0 at epoch 1
        out.append(f"[LR] epoch={e} groups={GROUPS} lr=[{_lr(1e-4 * frac)}, {_lr(4e-4 * frac)}]")
        out.append(bar(e, rng))
        out.append("[STEP] Δparam L2: median=0.000e+00  max=0.000e+00")
        out.append("Subspace align: 0.000000")
        out.append("peak contrast: 0.000000")
        out.append(f"Epoch {e:03d}/{EPOCHS:03d}: train {0.217 + rng.choice([-0.001, 0, 0.001]):.3f}  val 1.921642")
    out.append("final evaluation on the held-out set")
    out.append("val loss: inf")
    return "\n".join(out) + "\n"


def fixed() -> str:
    rng = random.Random(1)
    out = header("overfit test (after the warmup fix)")
    for e in range(1, EPOCHS + 1):
        warm = max(0.1, min(e, 10) / 10)
        decay = 0.5 * (1 + math.cos(math.pi * max(0, e - 10) / (EPOCHS - 10 + 5)))
        scale = warm * decay
        out.append(f"[LR] epoch={e} groups={GROUPS} lr=[{_lr(0.002 * scale)}, {_lr(0.008 * scale)}]")
        out.append(bar(e, rng))
        med = 1.234e-4 * math.exp(-e / 15) * rng.uniform(0.9, 1.1)
        out.append(f"[STEP] Δparam L2: median={med:.3e}  max={2 * med:.3e}")
        out.append(f"Subspace align: {0.95 * (1 - math.exp(-e / 8)) + rng.uniform(0, 0.01):.6f}")
        out.append(f"peak contrast: {0.9 * (1 - math.exp(-e / 10)) + rng.uniform(0, 0.01):.6f}")
        train = 0.198 + 0.608 * math.exp(-(e - 1) / 6) + rng.uniform(-0.004, 0.004)
        val = 0.187 + 0.734 * math.exp(-(e - 1) / 7) + rng.uniform(-0.003, 0.003)
        out.append(f"Epoch {e:03d}/{EPOCHS:03d}: train {train:.3f}  val {val:.6f}")
    out.append("final evaluation on the held-out set")
    out.append(f"val loss: {0.187 + rng.uniform(0, 0.004):.6f}")
    return "\n".join(out) + "\n"


def _lr(x: float) -> str:
    return repr(round(x, 8)) if x else "0.0"


def mojibake(text: str) -> bytes:
    """The same text as a non-UTF-8 terminal saves it: UTF-8 bytes decoded as cp1252, re-encoded."""
    return text.encode("utf-8").decode("cp1252", errors="replace").encode("utf-8")


if __name__ == "__main__":
    (HERE / "warmup-zero-lr-broken.log").write_text(broken(), encoding="utf-8")
    (HERE / "warmup-zero-lr-fixed.log").write_text(fixed(), encoding="utf-8")
    (HERE / "warmup-zero-lr-mojibake.log").write_bytes(mojibake(broken()))
