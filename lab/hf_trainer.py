"""Hugging Face Trainer fault lab: a 2-layer BERT built from a config, synthetic token ids, CPU only.

python -m lab.hf_trainer --fault zero-warmup

Output is what Trainer prints by default: tqdm bars on stderr, the `{'loss': ..., 'grad_norm': ...,
'learning_rate': ..., 'epoch': ...}` dicts, `{'eval_loss': ..., 'eval_accuracy': ...}` after every epoch and the
final `{'train_runtime': ...}` dict. Nothing is downloaded (no tokenizer: ids are generated directly), no checkpoint
is saved (save_strategy="no", output_dir is a temporary directory removed at the end). One torch thread: the model is
tiny and a second thread only adds contention. See lab/README-hf.md for the faults and their labels.
"""
import copy
import os
import shutil
import sys
import tempfile
import time

from lab.common import offline, parse_args

FRAMEWORK = "hf"

FAULTS = {
    "healthy": {"labels": [], "also_ok": [],
                "description": "AdamW lr 2e-3, 5% warmup then linear decay, grad clipping at 1.0 (Trainer defaults): "
                               "loss 1.39 -> ~0.6, eval_accuracy 0.25 -> 0.80"},
    "zero-warmup": {"labels": ["zero-lr", "constant-val-loss", "loss-plateau"],
                    "also_ok": ["frozen-params", "lr-schedule"],
                    "description": "custom LambdaLR warmup written `step // warmup_steps` (integer division for "
                                   "step / warmup_steps) with warmup_steps=500 > the 192 steps of the run: the factor "
                                   "is 0 at every step, learning_rate prints 0 for the whole run, eval identical"},
    "lr-zero-mid": {"labels": ["zero-lr", "constant-val-loss", "loss-plateau"],
                    "also_ok": ["lr-schedule", "frozen-params"],
                    "description": "MultiStepLR(milestones=[80], gamma=0.0) (gamma typo for 0.1): learning_rate is 0 "
                                   "from step 81 of 192; eval_loss / eval_accuracy identical for epochs 3-6"},
    "frozen": {"labels": ["loss-plateau", "constant-val-loss"], "also_ok": ["frozen-params"],
               "description": "requires_grad=False on every parameter except classifier.bias (with everything "
                              "frozen the run crashes, see frozen-all): loss stays at ln 4, eval_accuracy identical "
                              "every epoch; Trainer prints nothing that shows the weights are frozen"},
    "frozen-all": {"labels": ["crash"], "also_ok": ["frozen-params"],
                   "description": "requires_grad=False on every parameter: Trainer builds an empty optimizer without "
                                  "complaint, then loss.backward() raises at step 1 ('element 0 of tensors does not "
                                  "require grad')"},
    "lr-too-high": {"labels": ["loss-divergence", "nonfinite"],
                    "also_ok": ["grad-explosion", "metric-zero", "constant-val-loss"],
                    "description": "learning_rate=2e5 (minus sign dropped from 2e-5), AdamW, default clipping: loss "
                                   "6.9e5 -> 1.1e6 in the first epoch, then NaN; Trainer's logging_nan_inf_filter "
                                   "prints the NaN steps as loss 0 with grad_norm nan, eval_loss nan"},
    "grad-explosion": {"labels": ["grad-explosion", "loss-divergence", "nonfinite"],
                       "also_ok": ["metric-zero", "constant-val-loss"],
                       "description": "regression head (num_labels=1, MSE) on an unnormalised target (5..35), "
                                      "optim='sgd' lr 0.05, max_grad_norm=0 (clipping off): grad_norm 15 -> 1e3 -> "
                                      "3e5 -> ... 4e14 -> nan within 2 epochs, loss to 9e27, then NaN (printed as "
                                      "loss 0)"},
    "stale-eval": {"labels": ["constant-val-loss"], "also_ok": [],
                   "description": "evaluation runs on an EMA copy of the model whose decay is 1.0 (typo for 0.999): "
                                  "the EMA weights never move, eval_loss / eval_accuracy identical every epoch "
                                  "while the training loss falls as in healthy"},
    "metric-bug": {"labels": ["metric-zero"], "also_ok": ["constant-val-loss"],
                   "description": "compute_metrics compares the logits with the labels (argmax forgotten): "
                                  "eval_accuracy is exactly 0 at every evaluation while eval_loss falls"},
    "shuffled-labels": {"labels": ["loss-plateau", "constant-val-loss"], "also_ok": ["overfitting"],
                        "description": "training labels randomly permuted: loss stays at ln 4 = 1.386 for 5 epochs, "
                                       "eval_accuracy 0.2461 (chance) at 4 evaluations in a row, 0.30 at the end"},
    "tiny-train": {"labels": ["overfitting"], "also_ok": [],
                   "description": "32 training examples, hidden 64, 60 epochs, no weight decay, eval every 24 steps: "
                                  "loss 1.39 -> 0.045 while eval_loss 1.29 -> 2.36"},
    "crash": {"labels": ["crash"], "also_ok": [],
              "description": "metric_for_best_model='f1' but compute_metrics returns only accuracy: KeyError from "
                             "Trainer at the first evaluation (end of epoch 1, step 32/192)"},
    "oom": {"labels": ["oom", "crash"], "also_ok": [],
            "description": "SIMULATED on the CPU: a forward pre-hook on the encoder raises torch.OutOfMemoryError "
                           "with torch's CUDA caching-allocator message at training step 70"},
    "stalled": {"labels": ["stalled", "crash"], "also_ok": [],
                "description": "training Dataset read in one persistent DataLoader worker sleeps (a hung mount) "
                               "after 1400 reads; the DataLoader timeout (10 s) raises 'DataLoader timed out after "
                               "10 seconds' at step ~40"},
}

VOCAB, SEQ, K = 96, 16, 4
N_SIGNAL, P_TRUE = 4, 0.6


def make_data(n, rng, np):
    """Sequences of random 'noise' ids with N_SIGNAL class-marker ids; each marker comes from the true class with
    probability P_TRUE, else from a random class (so the task is learnable but not perfectly separable)."""
    ids = rng.integers(4 + 8 * K, VOCAB, size=(n, SEQ))
    y = rng.integers(0, K, size=n)
    for i in range(n):
        pos = rng.choice(np.arange(1, SEQ - 1), size=N_SIGNAL, replace=False)
        cls = np.where(rng.random(N_SIGNAL) < P_TRUE, y[i], rng.integers(0, K, size=N_SIGNAL))
        ids[i, pos] = 4 + cls * 8 + rng.integers(0, 8, size=N_SIGNAL)
    ids[:, 0] = 1   # [CLS]
    ids[:, -1] = 2  # [SEP]
    return ids, y


def to_features(ids, y, torch):
    return [{"input_ids": torch.tensor(ids[i]), "attention_mask": torch.ones(SEQ, dtype=torch.long),
             "labels": torch.tensor(int(y[i]))} for i in range(len(y))]


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv, FAULTS)
    fault = args.fault
    offline()
    import numpy as np
    import torch
    from torch.utils.data import Dataset
    from transformers import (BertConfig, BertForSequenceClassification, Trainer, TrainerCallback,
                              TrainingArguments, set_seed)
    torch.set_num_threads(1)

    rng = np.random.default_rng(args.seed)
    n_train = 32 if fault == "tiny-train" else 1024
    xtr, ytr = make_data(n_train, rng, np)
    xva, yva = make_data(512, rng, np)
    if fault == "shuffled-labels":
        ytr = rng.permutation(ytr)
    train_ds, eval_ds = to_features(xtr, ytr, torch), to_features(xva, yva, torch)
    if fault == "grad-explosion":
        # regression on an unnormalised target (a score in the tens), MSE loss
        for ds, yy in ((train_ds, ytr), (eval_ds, yva)):
            for f, v in zip(ds, yy):
                f["labels"] = torch.tensor(float(10 * v + 5))

    set_seed(args.seed)
    hidden = 64 if fault == "tiny-train" else 32
    cfg_kw = dict(vocab_size=VOCAB, hidden_size=hidden, num_hidden_layers=2, num_attention_heads=2,
                  intermediate_size=2 * hidden, max_position_embeddings=SEQ, num_labels=K)
    if fault == "grad-explosion":
        cfg_kw.update(num_labels=1)
    cfg = BertConfig(**cfg_kw)
    model = BertForSequenceClassification(cfg)
    if fault in ("frozen", "frozen-all"):
        for name, p in model.named_parameters():
            p.requires_grad_(fault == "frozen" and name == "classifier.bias")

    def compute_metrics(p):
        if fault == "metric-bug":
            # bug: compares the logits themselves with the labels (argmax forgotten)
            return {"accuracy": float(np.mean(p.predictions == p.label_ids[:, None]))}
        if fault == "grad-explosion":
            return {"rmse": float(np.sqrt(np.mean((p.predictions.reshape(-1) - p.label_ids) ** 2)))}
        return {"accuracy": float((p.predictions.argmax(-1) == p.label_ids).mean())}

    out_dir = tempfile.mkdtemp(prefix="hf_lab_")
    kw = dict(output_dir=out_dir, num_train_epochs=6, per_device_train_batch_size=32,
              per_device_eval_batch_size=128, learning_rate=2e-3, warmup_steps=0.05, logging_steps=8,
              eval_strategy="epoch", save_strategy="no", report_to="none", use_cpu=True, seed=args.seed,
              data_seed=args.seed)
    if fault == "tiny-train":
        kw.update(num_train_epochs=60, per_device_train_batch_size=8, logging_steps=12, eval_strategy="steps",
                  eval_steps=24, learning_rate=1e-3, weight_decay=0.0)
    if fault == "lr-too-high":
        kw.update(learning_rate=2e5)  # meant 2e-5
    if fault == "grad-explosion":
        kw.update(optim="sgd", learning_rate=0.05, max_grad_norm=0.0)  # 0 disables clipping
    if fault == "crash":
        kw.update(metric_for_best_model="f1")  # compute_metrics returns only accuracy
    if fault == "stalled":
        kw.update(dataloader_num_workers=1, dataloader_persistent_workers=True)
    targs = TrainingArguments(**kw)

    optimizers = (None, None)
    if fault == "zero-warmup":
        opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.0)
        warmup_steps = 500

        def lr_lambda(step):
            if step < warmup_steps:
                return step // warmup_steps  # meant: step / warmup_steps
            return 1.0
        optimizers = (opt, torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda))
    elif fault == "lr-zero-mid":
        opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.0)
        optimizers = (opt, torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[80], gamma=0.0))

    callbacks = []
    trainer_cls = Trainer

    if fault == "stale-eval":
        ema = copy.deepcopy(model).eval()
        for p in ema.parameters():
            p.requires_grad_(False)
        decay = 1.0  # meant 0.999

        class EMACallback(TrainerCallback):
            def on_step_end(self, a, state, control, model=None, **kw):
                with torch.no_grad():
                    for pe, pm in zip(ema.parameters(), model.parameters()):
                        pe.mul_(decay).add_(pm.detach(), alpha=1 - decay)

        class EMATrainer(Trainer):
            def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
                return super().prediction_step(ema, inputs, prediction_loss_only, ignore_keys=ignore_keys)
        callbacks.append(EMACallback())
        trainer_cls = EMATrainer

    if fault == "oom":
        calls = {"n": 0}

        def pre_hook(module, inputs):
            if module.training:
                calls["n"] += 1
                if calls["n"] == 70:
                    raise torch.OutOfMemoryError(
                        "CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 15.77 GiB "
                        "of which 1.06 GiB is free. Including non-PyTorch memory, this process has 14.70 GiB memory "
                        "in use. Of the allocated memory 13.90 GiB is allocated by PyTorch, and 412.35 MiB is "
                        "reserved by PyTorch but unallocated. If reserved but unallocated memory is large try "
                        "setting PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True to avoid fragmentation.  See "
                        "documentation for Memory Management  "
                        "(https://pytorch.org/docs/stable/notes/cuda.html#environment-variables)")
        model.bert.encoder.register_forward_pre_hook(pre_hook)

    if fault == "stalled":
        class SlowMount(Dataset):
            """Training records read from a mount that stops answering after ~1.4 epochs."""
            def __init__(self, items):
                self.items, self.reads = items, 0

            def __len__(self):
                return len(self.items)

            def __getitem__(self, i):
                self.reads += 1  # counted inside the (persistent) worker process
                if self.reads > 1400:
                    time.sleep(3600)
                return self.items[i]
        train_ds = SlowMount(train_ds)

        class TimeoutTrainer(Trainer):
            def get_train_dataloader(self):
                dl = super().get_train_dataloader()
                # seconds a batch may take before torch's DataLoader gives up (set on the torch DataLoader that
                # accelerate wraps)
                getattr(dl, "base_dataloader", dl).timeout = 10
                return dl
        trainer_cls = TimeoutTrainer

    trainer = trainer_cls(model=model, args=targs, train_dataset=train_ds, eval_dataset=eval_ds,
                          compute_metrics=compute_metrics, optimizers=optimizers, callbacks=callbacks)
    try:
        trainer.train()
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
