"""The metric vocabulary: what a metric name means, decided in one place.

`meaning("val_acc")` -> Meaning(phase="val", kind="score", direction="higher", bounds=...).
The tokens, phases and kinds are data (`patterns/_metrics.toml`); `logdoc.toml` may declare or
override names under `[metrics]`. Rules ask this module whether a metric is a score, an error
rate, a running best or a count; none of them holds a name regex of its own.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path


KINDS = ("loss", "loss_component", "aux_loss", "score", "unbounded_score", "error_rate", "perplexity", "reward", "learning_rate",
         "grad_norm", "update_size", "loss_scale", "counter", "running_best", "running_mean",
         "count", "time", "throughput", "memory", "unknown")
PHASES = ("train", "val", "test")
# Kinds that measure the model's quality; every other kind is a fact about the run (a count,
# a size, a runtime) that may repeat or sit at 0 legitimately.
QUALITY = frozenset({"loss", "loss_component", "aux_loss", "score", "unbounded_score", "error_rate", "perplexity"})
DIRECTION = {"loss": "lower", "loss_component": "lower", "aux_loss": "lower", "error_rate": "lower", "perplexity": "lower",
             "score": "higher", "unbounded_score": "higher", "reward": "higher"}
BOUNDS = {"score": "[0, 1] or [0, 100]", "error_rate": "[0, 1] or [0, 100]", "perplexity": ">= 1",
          "learning_rate": ">= 0", "grad_norm": ">= 0", "update_size": ">= 0", "loss_scale": "> 0",
          "count": ">= 0", "counter": ">= 0", "time": ">= 0", "throughput": ">= 0", "memory": ">= 0"}
# What a parser role says when the name alone says nothing.
ROLE_KIND = {"lr": "learning_rate", "loss": "loss", "val_loss": "loss", "grad_norm": "grad_norm",
             "loss_scale": "loss_scale", "param_delta": "update_size", "throughput": "throughput",
             "time_per_step": "time", "memory": "memory", "skipped_steps": "count", "nan_steps": "count",
             "epoch": "counter", "step": "counter", "epoch_total": "counter", "step_total": "counter"}
FIELDS = frozenset({"phase", "kind", "direction", "bounds", "agg"})
_CAMEL = re.compile(r"(?<=[a-z]{2})(?=[A-Z])")
_SPLIT = re.compile(r"[^0-9a-z@%]+")
_RATE = re.compile(r"(?:^|[^a-z])(?:it|s|sec|samples?|tokens?|steps?|img|imgs|images?)/(?:s|sec|it)$")


@dataclass(frozen=True)
class Meaning:
    phase: str | None        # train / val / test; None when the name does not say
    kind: str
    direction: str | None    # "lower" / "higher" is better; None: not a quality
    bounds: str | None
    agg: str                 # step / mean / running_best / running_mean
    decided_by: str          # override / vocabulary / pattern / unknown

    @property
    def judged(self) -> bool:
        """A quality of the model (rules may judge it), not a fact about the run."""
        return self.kind in QUALITY

    def to_json(self) -> dict:
        return asdict(self)


def tokens(name: str) -> list[str]:
    """`valAcc` -> [val, acc]; `eval/loss` -> [eval, loss]; `Top-1 Acc` -> [top, 1, acc]."""
    return [t for t in _SPLIT.split(_CAMEL.sub(" ", name).lower()) if t]


def _grams(toks: list[str]) -> list[str]:
    """A name's tokens and its runs of two and three joined by "_" (`learning_rate`,
    `policy_gradient_loss`): what the token lists of _metrics.toml are matched against."""
    return [*toks, *("_".join(toks[i:i + 2]) for i in range(len(toks) - 1)),
            *("_".join(toks[i:i + 3]) for i in range(len(toks) - 2))]


class Vocabulary:
    def __init__(self, data: dict, overrides: dict | None = None, declared: dict | None = None):
        self.phase_of = {t: phase for phase, words in data["phases"].items() for t in words}
        self.aggregates = {t: agg for agg, words in data["aggregates"].items() for t in words}
        self.kinds = [(k["kind"], re.compile("(?:" + "|".join(k["tokens"]) + ")$")) for k in data["kinds"]]
        self.plain_loss = frozenset(data["loss_plain_tokens"]["tokens"])
        self.reinforcement = frozenset(data["reinforcement"]["tokens"])
        self.linking = frozenset(data["linking_words"]["tokens"])
        self.adversarial = frozenset(data["adversarial"]["tokens"])
        # name -> (fields, who decided): _metrics.toml's names, then the pattern files' (a
        # framework's own column names), then logdoc.toml's, each over the one before
        self.names: dict[str, tuple[dict, str]] = {}
        for source, table in (("vocabulary", data.get("metrics", {})), ("pattern", declared or {}),
                              ("override", overrides or {})):
            for name, fields in table.items():
                before = self.names.get(name.lower(), ({}, source))[0]
                self.names[name.lower()] = ({**before, **fields}, source)
        self.meaning = lru_cache(maxsize=4096)(self._meaning)

    def _meaning(self, name: str, role: str | None = None, record_phase: str | None = None) -> Meaning:
        toks = tokens(name)
        phase = next((self.phase_of[t] for t in toks if t in self.phase_of), None)
        agg, rest = "step", toks
        if toks and toks[0] in self.aggregates:
            agg, rest = self.aggregates[toks[0]], toks[1:]
        elif any(t in self.aggregates and self.aggregates[t] == "mean" for t in toks):
            agg = "mean"
        kind, decided = self._kind(name, rest), "vocabulary"
        if kind == "unknown" and role in ROLE_KIND:
            kind, decided = ROLE_KIND[role], "pattern"
        elif kind == "unknown":
            decided = "unknown"
        if phase is None and role in ("val_loss", "val_metric"):
            phase = "val"
        if phase is None and record_phase is not None:
            phase = "val" if record_phase == "eval" else "train"
        # a running best or mean of anything ("Best Val", "best_acc") is a fact of the run so
        # far, never judged constant or non-finite as the metric itself would be
        if agg in ("running_best", "running_mean") and kind in QUALITY | {"reward", "unknown"}:
            base_direction = DIRECTION.get(kind)
            bounds = BOUNDS.get(kind)
            kind = agg
        else:
            base_direction, bounds = DIRECTION.get(kind), BOUNDS.get(kind)
        fields = dict(phase=phase, kind=kind, direction=base_direction, bounds=bounds, agg=agg)
        named = self.names.get(name.lower())
        if named:
            declared, decided = named
            fields.update(declared)
            if "kind" in declared and "direction" not in declared:
                fields["direction"] = DIRECTION.get(declared["kind"])
            if "kind" in declared and "bounds" not in declared:
                fields["bounds"] = BOUNDS.get(declared["kind"])
        return Meaning(decided_by=decided, **fields)

    def _kind(self, name: str, toks: list[str]) -> str:
        if _RATE.search(name.lower()):
            return "throughput"
        toks = [t.split("@")[0] or t for t in toks]     # `Acc@1`, `mAP@.5`: the metric before the @
        grams = _grams(toks)
        for kind, regex in self.kinds:
            if any(regex.match(g) for g in grams):
                if kind == "loss" and not {t for t in toks if not t.isdigit() and t != "s"} <= self.plain_loss:
                    return "loss_component"
                return kind
        return "unknown"


@lru_cache(maxsize=1)
def _load() -> dict:
    from .files import builtin_dir      # beside the pattern files, in a checkout or a wheel

    with open(builtin_dir() / "_metrics.toml", "rb") as fh:
        return tomllib.load(fh)


_active: Vocabulary | None = None
_declared: dict[str, dict] = {}      # the `[metrics]` of the pattern files loaded so far
_overrides: dict[str, dict] = {}     # the `[metrics]` of the config in use


def vocabulary() -> Vocabulary:
    """The vocabulary in force: the built-in one, the pattern files' `[metrics]`, then the
    config's."""
    global _active
    if _active is None:
        _active = Vocabulary(_load(), _overrides, _declared)
    return _active


def use_overrides(overrides: dict | None) -> None:
    """Install `[metrics]` declarations (from logdoc.toml) over the built-in vocabulary."""
    global _active, _overrides
    _overrides = dict(overrides or {})
    _active = None


def declare(names: dict[str, dict]) -> None:
    """Add a pattern file's `[metrics]` (a framework's own names: spaCy's `ents_f`), below
    the config's overrides. Declaring the same fields again changes nothing."""
    global _active
    if all(_declared.get(n.lower()) == dict(f) for n, f in names.items()):
        return
    for name, fields in names.items():
        _declared[name.lower()] = dict(fields)
    _active = None


def validate(overrides: object, where: str) -> dict:
    """A `[metrics]` table checked field by field; raises ValueError naming the bad entry."""
    if not isinstance(overrides, dict):
        raise ValueError(f"{where}: [metrics] must be a table of name = {{ kind = ..., phase = ... }}")
    for name, fields in overrides.items():
        if not isinstance(fields, dict):
            raise ValueError(f"{where}: metrics.{name} must be a table, e.g. {{ kind = \"score\" }}")
        unknown = set(fields) - FIELDS
        if unknown:
            raise ValueError(f"{where}: metrics.{name}: unknown key {sorted(unknown)[0]!r} "
                             f"(known: {', '.join(sorted(FIELDS))})")
        if "kind" in fields and fields["kind"] not in KINDS:
            raise ValueError(f"{where}: metrics.{name}: unknown kind {fields['kind']!r} (known: {', '.join(KINDS)})")
        if "phase" in fields and fields["phase"] not in PHASES:
            raise ValueError(f"{where}: metrics.{name}: unknown phase {fields['phase']!r} (known: {', '.join(PHASES)})")
    return overrides


def meaning(name: str, role: str | None = None, record_phase: str | None = None) -> Meaning:
    return vocabulary().meaning(name, role, record_phase)


def record_phase(name: str, role: str | None, record_phase: str | None) -> str:
    """"train" or "eval" (the phases of records and expectations) for one metric: its own
    when its name or role says (`val_loss` on a Keras bar line that trains), else its
    record's."""
    phase = meaning(name, role, record_phase).phase
    return "eval" if phase in ("val", "test") or record_phase == "eval" else "train"


def is_reinforcement(name: str) -> bool:
    """A name only reinforcement learning prints (a reward, a policy or value loss, a KL to
    the old policy): its losses are not objectives that must fall."""
    return not vocabulary().reinforcement.isdisjoint(_grams(tokens(name)))


def is_adversarial(name: str) -> bool:
    """A name of adversarial training (a GAN's generator or discriminator loss)."""
    return not vocabulary().adversarial.isdisjoint(_grams(tokens(name)))


def is_metric_name(name: str) -> bool:
    """A name read from free text can name a metric: its last word does not link it to what
    follows ("improved from", "to"). Words, not tokens: `acc_at` is an identifier."""
    words = name.split()
    return bool(words) and words[-1].lower() not in vocabulary().linking


def is_fact(name: str, role: str | None = None) -> bool:
    """A count, size, runtime, throughput, counter, learning rate or running best: known to
    measure the run rather than the model, so it may repeat or sit at 0 legitimately.
    (Unknown names are not facts: they are kept for the rules that judge any value.)"""
    kind = meaning(name, role).kind
    return kind not in QUALITY and kind != "unknown"


def is_loss(name: str) -> bool:
    """The loss itself (not a component): `val_loss`, `valid_1's l2`, `eval-logloss`."""
    return meaning(name).kind == "loss"


def is_score(name: str) -> bool:
    """Higher is better and bounded: an accuracy, F1, AUC, mAP, IoU, Dice, BLEU..."""
    return meaning(name).kind == "score"


# The parser role of a name no role table knows, by its kind: the rules' inputs (loss, lr,
# grad norm…) are found by meaning, in any framework's spelling. Loss components, scores and
# unknown names stay "metric" (judged by kind where a rule cares).
# (ROLE_KIND read backwards, where a kind has one role: losses depend on the phase, counts and
# counters on what they count.)
KIND_ROLE = {kind: role for role, kind in ROLE_KIND.items() if kind not in ("loss", "count", "counter")}


def kind_role(name: str) -> str:
    m = meaning(name)
    evaluated = m.phase in ("val", "test")
    if m.kind == "loss":
        return "val_loss" if evaluated else "loss"
    role = KIND_ROLE.get(m.kind)
    if role is not None:
        return role
    return "val_metric" if evaluated else "metric"
