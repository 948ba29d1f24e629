"""Plain PyTorch training loop printing like the incident log.

python -m lab.torch_loop --fault zero-warmup
"""
import copy
import math
import sys
import time

from lab.common import huge_alloc, parse_args, seed_all, teacher_data

FRAMEWORK = "torch"

FAULTS = {
    "healthy": {"labels": [], "also_ok": [],
                "description": "linear warmup from 1/warmup, then constant LR; converges"},
    "zero-warmup": {"labels": ["zero-lr", "frozen-params", "constant-val-loss", "loss-plateau"],
                    "also_ok": ["lr-schedule"],
                    "description": "warmup lambda step/warmup_steps is 0 at step 0 and the scheduler is never stepped: LR stays 0 (the incident)"},
    "lr-zero-mid": {"labels": ["zero-lr", "frozen-params", "constant-val-loss", "loss-plateau"],
                    "also_ok": ["lr-schedule"],
                    "description": "all param groups set to lr=0 from epoch 5 on"},
    "frozen": {"labels": ["crash"], "also_ok": ["frozen-params"],
               "description": "requires_grad=False on every parameter: loss.backward() raises"},
    "lr-too-high": {"labels": ["loss-divergence", "nonfinite"], "also_ok": ["grad-explosion", "constant-val-loss"],   # val acc repeats after the NaN
                    "description": "SGD lr=40: loss explodes, then NaN"},
    "fp16-overflow": {"labels": ["fp16-overflow"], "also_ok": ["frozen-params", "loss-plateau", "constant-val-loss", "nonfinite"],
                      "description": "CPU autocast fp16 + GradScaler(init_scale=2**60): every step overflows and is skipped for many epochs"},
    "stale-eval": {"labels": ["constant-val-loss"], "also_ok": [],
                   "description": "validation runs on a deepcopy made before training"},
    "shuffled-labels": {"labels": ["loss-plateau"], "also_ok": ["overfitting"],
                        "description": "training labels randomly permuted: val accuracy at chance"},
    "tiny-train": {"labels": ["overfitting"], "also_ok": [],
                   "description": "16 training samples, wide model, no regularisation"},
    "stalled": {"labels": ["stalled", "crash"], "also_ok": [],
                "description": "DataLoader worker sleeps; timeout=2 raises"},
    "crash": {"labels": ["crash"], "also_ok": [],
              "description": "a shape bug in epoch 3 raises mid-run"},
    "oom": {"labels": ["oom", "crash"], "also_ok": [],
            "description": "a 4 PB torch.empty in epoch 2 fails in DefaultCPUAllocator"},
}


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv, FAULTS)
    fault = args.fault
    seed_all(args.seed)
    import torch
    import torch.nn as nn
    from torch.utils.data import DataLoader, Dataset, TensorDataset
    torch.set_num_threads(2)

    n_cls, dim = 4, 20
    make, g = teacher_data(args.seed, dim, n_cls)

    n_train = 16 if fault == "tiny-train" else 512
    xtr, ytr = make(n_train)
    xva, yva = make(256)
    if fault == "shuffled-labels":
        ytr = ytr[torch.randperm(n_train, generator=g)]

    epochs = 30 if fault == "tiny-train" else 12
    hidden = 256 if fault == "tiny-train" else 64
    depth = 12 if fault in ("grad-explosion", "grad-vanishing") else 1
    act = nn.Sigmoid if fault == "grad-vanishing" else nn.ReLU
    layers, d = [], dim
    for _ in range(depth):
        layers += [nn.Linear(d, hidden), act()]
        d = hidden
    backbone = nn.Sequential(*layers)
    if fault == "shuffled-labels":
        backbone = nn.Sequential(nn.Linear(dim, 8), nn.ReLU())
        hidden = 8
    head = nn.Linear(hidden, n_cls)
    model = nn.Sequential(backbone, head)
    if fault == "grad-explosion":
        with torch.no_grad():
            for m in model.modules():
                if isinstance(m, nn.Linear):
                    m.weight.mul_(2.5)
    if fault == "grad-vanishing":
        with torch.no_grad():
            for m in model.modules():
                if isinstance(m, nn.Linear):
                    m.weight.mul_(0.3)
    if fault == "frozen":
        for p in model.parameters():
            p.requires_grad = False

    base = {"backbone": 1e-3, "head": 3e-3}
    if fault == "lr-too-high":
        opt = torch.optim.SGD([{"params": backbone.parameters(), "lr": 40.0, "name": "backbone"},
                               {"params": head.parameters(), "lr": 40.0, "name": "head"}], momentum=0.9)
    elif fault in ("grad-explosion", "grad-vanishing"):
        opt = torch.optim.SGD([{"params": backbone.parameters(), "lr": 0.05, "name": "backbone"},
                               {"params": head.parameters(), "lr": 0.05, "name": "head"}], momentum=0.9)
    else:
        opt = torch.optim.AdamW([{"params": backbone.parameters(), "lr": base["backbone"], "name": "backbone"},
                                 {"params": head.parameters(), "lr": base["head"], "name": "head"}],
                                weight_decay=0.0 if fault == "tiny-train" else 0.01)
    warmup = 3
    if fault == "zero-warmup":
        lam = lambda step: step / warmup if step < warmup else 1.0  # noqa: E731
    else:
        lam = lambda step: (step + 1) / warmup if step < warmup else 1.0  # noqa: E731
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lam)

    class SlowDS(Dataset):
        def __len__(self):
            return n_train

        def __getitem__(self, i):
            time.sleep(30)
            return xtr[i], ytr[i]

    if fault == "stalled":
        train_dl = DataLoader(SlowDS(), batch_size=32, shuffle=True, num_workers=1, timeout=2)
    else:
        train_dl = DataLoader(TensorDataset(xtr, ytr), batch_size=16 if fault == "tiny-train" else 32,
                              shuffle=True, generator=torch.Generator().manual_seed(args.seed))
    val_dl = DataLoader(TensorDataset(xva, yva), batch_size=128)
    loss_fn = nn.CrossEntropyLoss()
    eval_model = copy.deepcopy(model) if fault == "stale-eval" else model
    use_amp = fault == "fp16-overflow"
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 60 if use_amp else 2.0 ** 16,
                                  enabled=use_amp)
    print(f"model params: {sum(p.numel() for p in model.parameters())}  train={n_train} val={len(xva)}  epochs={epochs}")

    for epoch in range(1, epochs + 1):
        if fault == "lr-zero-mid" and epoch == 5:
            for pg in opt.param_groups:
                pg["lr"] = 0.0
        print(f"[LR] epoch={epoch} groups={[pg['name'] for pg in opt.param_groups]} "
              f"lr={[float('%.3g' % pg['lr']) for pg in opt.param_groups]}")
        if fault == "oom" and epoch == 2:
            buf = huge_alloc()  # noqa: F841
        model.train()
        tot, n, deltas, gnorms, skipped = 0.0, 0, [], [], 0
        for bi, (xb, yb) in enumerate(train_dl):
            if fault == "crash" and epoch == 3 and bi == 5:
                xb = xb[:, :-1]
            before = [p.detach().clone() for p in model.parameters()]
            opt.zero_grad(set_to_none=True)
            with torch.autocast("cpu", dtype=torch.float16, enabled=use_amp):
                out = model(xb)
                loss = loss_fn(out.float(), yb)
            scale_before = scaler.get_scale() if use_amp else None
            scaler.scale(loss).backward()
            if fault in ("grad-explosion", "grad-vanishing"):
                gn = torch.norm(torch.stack([p.grad.norm() for p in model.parameters()]))
                gnorms.append(gn.item())
            scaler.step(opt)
            scaler.update()
            if use_amp and scaler.get_scale() < scale_before:
                skipped += 1
            d2 = torch.sqrt(sum(((p.detach() - b) ** 2).sum() for p, b in zip(model.parameters(), before)))
            deltas.append(d2.item())
            tot += loss.item() * len(yb)
            n += len(yb)
        if fault != "lr-zero-mid" or epoch < 5:
            if fault != "zero-warmup":
                sched.step()
        deltas.sort()
        print(f"[STEP] Δparam L2: median={deltas[len(deltas) // 2]:.3e}  max={deltas[-1]:.3e}")
        if gnorms:
            print(f"[GRAD] epoch={epoch} grad_norm: first={gnorms[0]:.3e} last={gnorms[-1]:.3e} max={max(gnorms):.3e}")
        if use_amp:
            print(f"[AMP] epoch={epoch} loss_scale={scaler.get_scale():.3e} skipped_steps={skipped}/{len(deltas)}")
        eval_model.eval()
        vt, vn, correct = 0.0, 0, 0
        with torch.no_grad():
            for xb, yb in val_dl:
                out = eval_model(xb)
                vt += loss_fn(out, yb).item() * len(yb)
                vn += len(yb)
                correct += (out.argmax(1) == yb).sum().item()
        print(f"Epoch {epoch}/{epochs}: train loss {tot / n:.4f}  val loss {vt / vn:.4f}  val acc {correct / vn:.4f}")
    print("done")


if __name__ == "__main__":
    main()
