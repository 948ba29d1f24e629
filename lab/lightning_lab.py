"""PyTorch Lightning fault lab: a tiny LightningModule on synthetic data, default Trainer output.

python -m lab.lightning_lab --fault zero-warmup

What the captured logs hold is printed by Lightning itself (`Seed set to 0`, the `GPU available` banner, the
model summary table, the TQDMProgressBar with the `self.log(..., prog_bar=True)` metrics, EarlyStopping and
ModelCheckpoint with verbose=True, warnings, tracebacks), plus a user-style `print` of the learning rate once per
epoch in the runs whose fault is visible only through it (zero-warmup, healthy-warmup, lr-zero-mid).

The script passes `TQDMProgressBar()` explicitly: with `rich` installed (it comes with typer / huggingface_hub)
Lightning's default would be RichProgressBar, which on a pipe prints only the final bar (see `healthy-rich`).
The model summary stays Lightning's default (RichModelSummary when rich is installed).
"""
import copy
import multiprocessing
import os
import shutil
import sys
import tempfile
import time

from lab.common import parse_args, teacher_data

FRAMEWORK = "lightning"
VERSION_LIBS = ["torch", "lightning", "torchmetrics", "numpy"]

FAULTS = {
    "healthy": {"labels": [], "also_ok": [],
                "description": "4-class MLP on synthetic data, AdamW 3e-3, EarlyStopping + ModelCheckpoint verbose; "
                               "val_loss 1.21 -> 0.30 over 15 epochs, val_acc 0.54 -> 0.85"},
    "healthy-warmup": {"labels": [], "also_ok": [],
                       "description": "twin of zero-warmup: manual optimization with a per-step LambdaLR warmup "
                                      "(step+1)/32 that training_step does step; the printed lr ramps 9.38e-05 -> 0.003"},
    "healthy-rich": {"labels": [], "also_ok": [],
                     "description": "healthy run with Lightning's own default progress bar in this environment "
                                    "(RichProgressBar, because rich is installed): on a pipe it prints only the final bar"},
    "fp16-on-cpu": {"labels": [], "also_ok": [],
                    "description": "precision='16-mixed' on CPU: Lightning warns and uses bf16-mixed (no loss scaling, "
                                   "so no fp16 overflow is possible); converges"},
    "zero-warmup": {"labels": ["zero-lr", "constant-val-loss", "loss-plateau"], "also_ok": ["frozen-params", "lr-schedule"],
                    "description": "warmup lambda step/32 is 0 at step 0, and with automatic_optimization=False Lightning "
                                   "never steps the scheduler (training_step does not call sch.step()): lr=0 every epoch "
                                   "until EarlyStopping ends the run (the incident)"},
    "lr-zero-mid": {"labels": ["zero-lr", "constant-val-loss", "loss-plateau"], "also_ok": ["lr-schedule", "frozen-params"],
                    "description": "per-epoch linear decay max(0, 1 - epoch/4) written for a 4-epoch run, used with "
                                   "max_epochs=15: lr is 0 from epoch 4, val metrics freeze at 0.927 / 0.688, EarlyStopping stops after epoch 8"},
    "frozen": {"labels": ["crash", "frozen-params"], "also_ok": [],
               "description": "model.freeze() (meant for the backbone) freezes every parameter: summary shows 0 trainable "
                              "params, Lightning warns about modules in eval mode, loss.backward() raises"},
    "frozen-partial": {"labels": ["frozen-params", "loss-plateau"], "also_ok": ["constant-val-loss"],
                       "description": "linear-probe bug: all parameters frozen and only head.bias re-enabled; summary "
                                      "shows 4 trainable params, train loss stays ~1.4 (chance), val_loss creeps 1.417 -> 1.402"},
    "lr-too-high": {"labels": ["loss-divergence", "nonfinite"], "also_ok": ["grad-explosion"],
                    "description": "SGD lr=40, momentum 0.9: train_loss 1.41 -> 62 -> 6e3 ... 2e30 in epoch 0, nan in "
                                   "epoch 1; EarlyStopping reports val_loss = nan is not finite"},
    "stale-eval": {"labels": ["constant-val-loss"], "also_ok": [],
                   "description": "validation runs on an EMA copy whose update hook is misnamed (on_train_batch_ended), "
                                  "so it keeps the initial weights: val_loss/val_acc identical every epoch while train_loss falls"},
    "shuffled-labels": {"labels": ["loss-plateau"], "also_ok": ["overfitting", "constant-val-loss"],
                        "description": "training labels randomly permuted (8-unit MLP): train_loss stays ~1.3-1.4 "
                                       "(ln 4 = 1.386), val_acc ~0.22 (chance), val_loss prints 1.400 three times "
                                       "then creeps to 1.43; EarlyStopping stops after epoch 5"},
    "tiny-train": {"labels": ["overfitting"], "also_ok": ["constant-val-loss"],
                   "description": "16 training samples, 2x256 MLP, no weight decay: train_loss falls 1.34 -> 0.08 while "
                                  "val_loss (1.330 printed for epochs 2-4) rises 1.35 -> 1.56 over epochs 5-8; "
                                  "EarlyStopping 'did not improve in the last 5 records'"},
    "grad-explosion": {"labels": ["grad-explosion", "loss-divergence", "nonfinite"], "also_ok": [],
                       "description": "8-layer ReLU MLP (init x1.5, no normalisation, no gradient_clip_val), MSE "
                                      "regression, SGD lr=0.04; grad norm logged in on_before_optimizer_step: 1-6 in epoch 0, a "
                                      "spike to 866 in epoch 1, then 2.1e3, 1.5e5, 1.1e17, nan in epoch 2 (loss 5 -> 2.4e16 -> nan)"},
    "nonfinite": {"labels": ["nonfinite"], "also_ok": [],
                  "description": "one nan in the training features: train_loss nan from the batch that holds it, "
                                 "val_loss nan, EarlyStopping stops after epoch 0"},
    "crash": {"labels": ["crash"], "also_ok": [],
              "description": "a feature-dropout augmentation switched on from epoch 2 appends an indicator column "
                             "(21 features): mat1 and mat2 shapes cannot be multiplied, mid-epoch 2"},
    "oom": {"labels": ["oom", "crash"], "also_ok": [],
            "description": "SIMULATED on CPU: training_step raises torch.OutOfMemoryError with the message torch's CUDA "
                           "caching allocator prints ('CUDA out of memory. Tried to allocate 2.00 GiB ...') at epoch 1, batch 9"},
    "stalled": {"labels": ["stalled", "crash"], "also_ok": [],
                "description": "DataLoader(num_workers=1, timeout=10) whose dataset stops answering (sleeps) after ~1.5 "
                               "epochs: RuntimeError: DataLoader timed out after 10 seconds"},
}

DIM, N_CLS = 20, 4


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv, FAULTS)
    f = args.fault

    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from torch.utils.data import DataLoader, Dataset, TensorDataset
    import lightning as L
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint, TQDMProgressBar
    from lightning.pytorch.utilities import grad_norm
    from torchmetrics.classification import MulticlassAccuracy

    torch.set_num_threads(2)
    L.seed_everything(args.seed)

    # ---- data: a noisy linear teacher, 4 classes -------------------------------------------------------------
    make, g = teacher_data(args.seed, DIM, N_CLS)

    n_train = 16 if f == "tiny-train" else 512
    xtr, ytr = make(n_train)
    xva, yva = make(256)
    regression = f == "grad-explosion"
    if regression:  # same inputs, a real-valued linear target, MSE loss
        w = torch.randn(DIM, 1, generator=g)
        ytr = xtr @ w + 0.1 * torch.randn(n_train, 1, generator=g)
        yva = xva @ w + 0.1 * torch.randn(len(xva), 1, generator=g)
    if f == "shuffled-labels":
        ytr = ytr[torch.randperm(n_train, generator=g)]
    if f == "nonfinite":
        xtr[5, 3] = float("nan")  # one bad value in the training features

    # ---- hyper-parameters per fault --------------------------------------------------------------------------
    hidden, depth, lr, wd, opt_name, momentum = 64, 1, 3e-3, 0.01, "adamw", 0.9
    max_epochs, patience = 15, 5
    if f == "tiny-train":
        hidden, depth, wd, max_epochs, patience = 256, 2, 0.0, 60, 5
    if f == "shuffled-labels":
        hidden = 8
    if f == "lr-too-high":
        opt_name, lr = "sgd", 40.0
    if f == "grad-explosion":
        hidden, depth, opt_name, lr, momentum = 64, 8, "sgd", 0.04, 0.0

    manual = f in ("zero-warmup", "healthy-warmup")
    warmup_steps = 32

    class LitClassifier(L.LightningModule):
        def __init__(self, hidden=64, depth=1, lr=3e-3, weight_decay=0.01, optimizer="adamw", momentum=0.9):
            super().__init__()
            self.save_hyperparameters()
            layers, d = [], DIM
            for _ in range(depth):
                layers += [nn.Linear(d, hidden), nn.ReLU()]
                d = hidden
            self.backbone = nn.Sequential(*layers)
            self.head = nn.Linear(d, 1 if regression else N_CLS)
            self.loss_fn = F.mse_loss if regression else F.cross_entropy
            if not regression:
                self.val_acc = MulticlassAccuracy(num_classes=N_CLS)
            if manual:
                self.automatic_optimization = False
            if f == "stale-eval":
                # EMA of the weights for evaluation; the update hook below is misnamed, so it never runs
                self.ema = copy.deepcopy(nn.Sequential(self.backbone, self.head)).requires_grad_(False)

        def forward(self, x):
            return self.head(self.backbone(x))

        def augment(self, x):
            # feature dropout with a "was-dropped" indicator; the indicator column makes it 21 features
            mask = (torch.rand_like(x) > 0.1).float()
            return torch.cat([x * mask, mask.mean(1, keepdim=True)], 1)

        def training_step(self, batch, batch_idx):
            x, y = batch
            if f == "crash" and self.current_epoch >= 2 and torch.rand(()) < 0.3:
                x = self.augment(x)
            if f == "oom" and self.current_epoch == 1 and batch_idx == 9:
                raise torch.OutOfMemoryError(
                    "CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 15.77 GiB of "
                    "which 1.21 GiB is free. Including non-PyTorch memory, this process has 14.55 GiB memory in "
                    "use. Of the allocated memory 13.87 GiB is allocated by PyTorch, and 312.45 MiB is reserved by "
                    "PyTorch but unallocated. If reserved but unallocated memory is large try setting "
                    "PYTORCH_ALLOC_CONF=expandable_segments:True to avoid fragmentation.  See documentation for "
                    "Memory Management  (https://pytorch.org/docs/stable/notes/cuda.html#environment-variables)")
            loss = self.loss_fn(self(x), y)
            if manual:
                opt = self.optimizers()
                sch = self.lr_schedulers()
                opt.zero_grad()
                self.manual_backward(loss)
                opt.step()
                if f == "healthy-warmup":  # zero-warmup forgets this: manual optimization never steps it
                    sch.step()
            self.log("train_loss", loss, prog_bar=True)
            return loss

        def on_before_optimizer_step(self, optimizer):
            if f == "grad-explosion":
                norms = grad_norm(self, norm_type=2)
                self.log("grad_norm", norms["grad_2.0_norm_total"], prog_bar=True)

        def on_train_batch_ended(self, outputs, batch, batch_idx):  # typo of on_train_batch_end: never called
            with torch.no_grad():
                for pe, p in zip(self.ema.parameters(), list(self.backbone.parameters()) + list(self.head.parameters())):
                    pe.mul_(0.9).add_(p, alpha=0.1)

        def validation_step(self, batch, batch_idx):
            x, y = batch
            logits = self.ema(x) if f == "stale-eval" else self(x)
            self.log("val_loss", self.loss_fn(logits, y), prog_bar=True)
            if not regression:
                self.val_acc(logits, y)
                self.log("val_acc", self.val_acc, prog_bar=True)

        def configure_optimizers(self):
            hp = self.hparams
            if hp.optimizer == "sgd":
                opt = torch.optim.SGD(self.parameters(), lr=hp.lr, momentum=hp.momentum)
            else:
                opt = torch.optim.AdamW(self.parameters(), lr=hp.lr, weight_decay=hp.weight_decay)
            if f == "zero-warmup":
                sched = torch.optim.lr_scheduler.LambdaLR(
                    opt, lambda step: step / warmup_steps if step < warmup_steps else 1.0)
                return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
            if f == "healthy-warmup":
                sched = torch.optim.lr_scheduler.LambdaLR(
                    opt, lambda step: (step + 1) / warmup_steps if step < warmup_steps else 1.0)
                return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
            if f == "lr-zero-mid":
                # linear decay meant for a 4-epoch run, used with max_epochs=15: reaches 0 at epoch 4
                sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda epoch: max(0.0, 1 - epoch / 4))
                return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}
            return opt

    class PrintLR(L.Callback):
        def on_train_epoch_start(self, trainer, pl_module):
            lr = trainer.optimizers[0].param_groups[0]["lr"]
            print(f"epoch {trainer.current_epoch}: lr={lr:.3g}")

    model = LitClassifier(hidden=hidden, depth=depth, lr=lr, weight_decay=wd, optimizer=opt_name, momentum=momentum)
    if f == "frozen":
        model.freeze()  # meant to freeze the backbone for fine-tuning; freezes every parameter
    if f == "frozen-partial":
        # linear probe: freeze everything, then unfreeze the head -- but only its bias gets re-enabled
        for p in model.parameters():
            p.requires_grad = False
        model.head.bias.requires_grad = True
    if f == "grad-explosion":
        with torch.no_grad():  # a "larger init" for the deep net; no normalisation, no gradient_clip_val
            for m in model.modules():
                if isinstance(m, nn.Linear):
                    m.weight.mul_(1.5)

    served = multiprocessing.Value("i", 0) if f == "stalled" else None  # items served, shared with the worker

    class FlakyDataset(Dataset):
        """Reads samples through a worker; the storage stops answering after ~1.5 epochs."""
        def __len__(self):
            return n_train

        def __getitem__(self, i):
            with served.get_lock():
                served.value += 1
                k = served.value
            if k > n_train + n_train // 2:
                time.sleep(120)
            return xtr[i], ytr[i]

    bs = 16 if f == "tiny-train" else 32
    if f == "stalled":
        train_dl = DataLoader(FlakyDataset(), batch_size=bs, shuffle=True, num_workers=1, timeout=10)
    else:
        train_dl = DataLoader(TensorDataset(xtr, ytr), batch_size=bs, shuffle=True)
    val_dl = DataLoader(TensorDataset(xva, yva), batch_size=64)

    root = os.path.join(tempfile.gettempdir(), "logdoc-lab-lightning", f)
    shutil.rmtree(root, ignore_errors=True)
    callbacks = [] if f == "healthy-rich" else [TQDMProgressBar()]
    callbacks += [EarlyStopping(monitor="val_loss", patience=patience, verbose=True),
                 ModelCheckpoint(monitor="val_loss", verbose=True)]
    if f in ("zero-warmup", "healthy-warmup", "lr-zero-mid"):
        callbacks.append(PrintLR())
    precision = "16-mixed" if f == "fp16-on-cpu" else "32-true"
    trainer = L.Trainer(max_epochs=max_epochs, accelerator="cpu", devices=1, precision=precision,
                        default_root_dir=root, callbacks=callbacks)
    trainer.fit(model, train_dl, val_dl)
    return 0


if __name__ == "__main__":
    sys.exit(main())
