"""Root causes: chains of findings that one cause explains.

Each Chain is declared as data: a root finding (its rule and, optionally, tags it must
carry) and the consequences it explains, which must come after it in the log. A chain
applies when its root and at least `min_consequences` consequences were found. New rules
add chains by appending to CHAINS.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..core.model import Diagnosis, Finding, Severity


@dataclass(frozen=True)
class Chain:
    id: str
    title: str
    root: str                           # rule id
    consequences: tuple[str, ...]       # rule ids, in causal order
    explanation: str
    fix: str
    root_tags: frozenset[str] = frozenset()
    min_consequences: int = 1
    # False when a consequence may be printed before its cause (a traceback header precedes
    # the exception line that names the out-of-memory error).
    ordered: bool = True


CHAINS: list[Chain] = [
    Chain(
        id="warmup-starts-at-zero",
        title="the warmup schedule starts at LR 0",
        root="zero-lr", root_tags=frozenset({"schedule-start"}),
        consequences=("frozen-params", "constant-val-loss"),
        explanation="The first learning rate printed is 0, so the optimizer step changes nothing: "
                    "the parameters never move, and a model that does not move gives the same "
                    "validation loss at every evaluation.",
        fix="Start the warmup above zero, e.g. `lr_lambda = lambda step: max(0.01, step / warmup_steps)` "
            "or count warmup from step 1 (`(step + 1) / warmup_steps`), and check the LR printed at "
            "epoch 1 is non-zero.",
    ),
    Chain(
        id="lr-decayed-to-zero",
        title="the learning rate decayed to 0 before training ended",
        root="zero-lr", root_tags=frozenset({"decayed"}),
        consequences=("frozen-params", "constant-val-loss"),
        explanation="The schedule reached 0 while training continued, so the remaining steps "
                    "could not change the model.",
        fix="Make the scheduler's horizon match the real number of steps (epochs × steps per "
            "epoch ÷ gradient accumulation), or set a minimum LR.",
    ),
    Chain(
        id="parameters-not-updated",
        title="the parameters are not being updated",
        root="frozen-params",
        consequences=("constant-val-loss",),
        explanation="Parameter updates are 0, so evaluation sees the same model every time.",
        fix="Check that the optimizer holds the trained parameters, that gradients reach them "
            "(`requires_grad`, no `.detach()`), and that the learning rate is not 0.",
    ),
    Chain(
        id="out-of-memory-crash",
        title="the run died of out-of-memory",
        root="oom", consequences=("crash",), ordered=False,
        explanation="An allocation failed and the exception ended the run.",
        fix="Lower the per-device batch size and keep the effective batch with gradient "
            "accumulation; enable mixed precision (bf16) and activation checkpointing; cap the "
            "sequence length. If it happens late, look for tensors kept across steps "
            "(accumulate `loss.item()`, not `loss`).",
    ),
    Chain(
        id="hung-collective",
        title="a distributed collective hung until the watchdog killed the job",
        root="stalled", consequences=("crash",), ordered=False,
        explanation="A collective operation (all-reduce, broadcast, barrier) waited for a rank that "
                    "never joined; the NCCL watchdog timed out and took the process down.",
        fix="Find the first error in the other ranks' logs; make every rank run the same number of "
            "batches and collectives (`drop_last=True`, no rank-dependent branches), keep rank-0-only "
            "work such as evaluation short or outside collectives, and raise the timeout only if the "
            "slow step is legitimate.",
    ),
    Chain(
        id="loss-scale-collapse",
        title="the fp16 loss scale collapsed",
        root="loss-scale-collapse", consequences=("nonfinite", "loss-divergence", "crash"), ordered=False,
        explanation="Gradients overflowed at every step, so the dynamic loss scaler halved the scale "
                    "down to its floor: steps are skipped and the values that remain are inf/nan.",
        fix="Train in bf16 (or fp32) if the hardware allows; otherwise lower the learning rate, clip "
            "gradients, keep the loss and softmax in fp32, and check the loss for log(0) or division by 0.",
    ),
    Chain(
        id="fp16-overflow-to-nan",
        title="fp16 overflow turned into nan",
        root="fp16-overflow", consequences=("nonfinite", "grad-explosion", "loss-divergence"),
        explanation="Overflows kept skipping optimizer steps after start-up; the values that were not "
                    "skipped went non-finite.",
        fix="Switch to bf16, or lower the learning rate and clip gradients; keep numerically sensitive "
            "operations (softmax, layer norm, the loss) in fp32.",
    ),
    Chain(
        id="gradient-explosion",
        title="exploding gradients",
        root="grad-explosion", consequences=("nonfinite", "loss-divergence", "loss-spike", "crash"),
        explanation="The gradient norm jumped by orders of magnitude; the update it produced threw the "
                    "weights out of the region where the loss was low.",
        fix="Clip gradients (`torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)`), lower the "
            "learning rate or lengthen warmup, and inspect the batch at the step of the jump.",
    ),
    Chain(
        id="learning-rate-too-high",
        title="the learning rate is too high for this phase of training",
        root="loss-spike", consequences=("loss-divergence", "nonfinite"),
        explanation="The loss first spiked far above its running mean, then stayed high or went "
                    "non-finite: each step overshoots the minimum.",
        fix="Lower the peak learning rate (halve it), lengthen warmup, clip gradients at 1.0; for "
            "Adam-type optimizers a lower beta2 (0.95) or larger epsilon also damps spikes.",
    ),
    Chain(
        id="divergence-to-nan",
        title="the loss diverged until it became non-finite",
        root="loss-divergence", consequences=("nonfinite", "crash"),
        explanation="The training loss climbed away from its best level and ended in inf/nan.",
        fix="Resume from a checkpoint before the rise with a lower learning rate and gradient clipping; "
            "check the data around the step where the rise started.",
    ),
    Chain(
        id="nonfinite-stopped-run",
        title="a non-finite loss stopped the run",
        root="nonfinite", consequences=("crash",), ordered=False,
        explanation="The loss became nan/inf and the framework's anomaly check (or the code) raised.",
        fix="Find the first non-finite value: lower the learning rate, add warmup and gradient "
            "clipping, use bf16 or a loss scaler, and check inputs and the loss for log(0) at that step "
            "(`torch.autograd.set_detect_anomaly(True)` names the operation).",
    ),
    Chain(
        id="hidden-nan",
        title="nan hidden behind a zero loss",
        root="hf-masked-nan", consequences=("nonfinite", "grad-norm-zero"),
        explanation="The logged loss is 0.0 only because nan losses are filtered out of the average; "
                    "the gradient norm shows the nan.",
        fix="Set `logging_nan_inf_filter=False` to see the real loss, then treat it as a nan: lower the "
            "learning rate, use bf16 instead of fp16, clip gradients.",
    ),
    Chain(
        id="no-loss-signal",
        title="no sample contributes to the loss",
        root="loss-zero", consequences=("grad-norm-zero", "loss-flat", "constant-val-loss"),
        explanation="The training loss is exactly 0, so there is no gradient and nothing is learnt.",
        fix="Print one batch: labels must be present and not all masked with -100 (check the prompt "
            "template and the truncation length), and the model must receive them.",
    ),
    Chain(
        id="gradients-do-not-flow",
        title="no gradient reaches the parameters",
        root="grad-norm-zero", consequences=("loss-flat", "constant-val-loss", "loss-plateau"),
        explanation="The gradient norm is exactly 0, so the loss cannot change.",
        fix="Check `requires_grad` and the optimizer's parameter groups, that the loss is not computed "
            "under `no_grad` or on detached tensors, and that adapters are attached to the model.",
    ),
    Chain(
        id="lr-decayed-too-far",
        title="the learning rate decayed to a negligible value",
        root="lr-too-low", consequences=("loss-flat", "loss-plateau", "constant-val-loss"),
        explanation="The learning rate fell below 1e-7 while training continued, so the loss stopped "
                    "moving.",
        fix="Match the scheduler horizon to the real number of optimizer steps, step it once per unit "
            "it expects (batch vs epoch), and set a floor (`eta_min`, `min_lr`).",
    ),
]


def diagnose(findings: list[Finding]) -> list[Diagnosis]:
    """Explain findings by root causes; a finding is explained by at most one diagnosis."""
    by_rule: dict[str, list[Finding]] = {}
    for f in sorted(findings, key=lambda f: f.line):
        by_rule.setdefault(f.rule, []).append(f)
    out: list[Diagnosis] = []
    explained: set[int] = set()
    for chain in CHAINS:
        roots = [f for f in by_rule.get(chain.root, [])
                 if chain.root_tags <= f.tags and id(f) not in explained]
        if not roots:
            continue
        root = roots[0]
        found = []
        for rule in chain.consequences:
            later = [f for f in by_rule.get(rule, [])
                     if (f.line >= root.line or not chain.ordered) and id(f) not in explained and f is not root]
            if later:
                found.append(later[0])
        if len(found) < chain.min_consequences:
            continue
        members = [root, *found]
        explained.update(id(f) for f in members)
        severity = max(f.severity for f in members)
        out.append(Diagnosis(id=chain.id, title=chain.title, severity=Severity(severity),
                             explanation=chain.explanation, fix=chain.fix, chain=members))
    return out
