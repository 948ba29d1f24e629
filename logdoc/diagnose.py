"""Root causes: chains of findings that one cause explains.

Each Chain is declared as data: a root finding (its rule and, optionally, tags it must
carry) and the consequences it explains, which must come after it in the log. A chain
applies when its root and at least `min_consequences` consequences were found. New rules
add chains by appending to CHAINS.
"""
from __future__ import annotations

from dataclasses import dataclass

from .model import Diagnosis, Finding, Severity


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
            later = [f for f in by_rule.get(rule, []) if f.line >= root.line and id(f) not in explained]
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
