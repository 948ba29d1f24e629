"""The values that flow through logdoc: lines -> records -> findings -> diagnoses.

Everything here is plain data, so the parser, the rules, the tables and every reporter
agree on one vocabulary and none of them imports another.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import IntEnum

JSON_SCHEMA_VERSION = 1

# The category vocabulary of the JSON contract (issue 2, item 9). Rules map onto these.
CATEGORIES = (
    "zero-lr", "frozen-params", "constant-val-loss", "nonfinite", "loss-divergence",
    "loss-plateau", "overfitting", "grad-explosion", "grad-vanishing", "fp16-overflow",
    "oom", "crash", "stalled", "lr-schedule", "metric-zero",
    # informational / meta
    "internal-error", "unrecognized", "expectation",
)

# Roles a pattern field may carry; rules ask for roles, never for a framework's spelling.
ROLES = (
    "lr", "loss", "val_loss", "param_delta", "grad_norm", "loss_scale", "metric",
    "val_metric", "skipped_steps", "nan_steps", "throughput", "time_per_step", "memory",
    # counters: they set a record's position instead of becoming metrics
    "epoch", "epoch_total", "step", "step_total",
)
COUNTER_ROLES = frozenset({"epoch", "epoch_total", "step", "step_total"})


class Severity(IntEnum):
    info = 1
    warning = 2
    error = 3

    @classmethod
    def parse(cls, name: str) -> "Severity":
        try:
            return cls[name.lower()]
        except KeyError:
            raise ValueError(f"unknown severity {name!r} (use error, warning or info)") from None


@dataclass(slots=True)
class Line:
    """One physical line as a terminal user finally saw it. `no` is 1-based, like grep -n."""
    no: int
    text: str


@dataclass(slots=True)
class Metric:
    name: str            # e.g. "val_loss", "lr/backbone", "dparam_median"
    role: str            # one of ROLES
    value: float
    group: str | None = None   # param group for lr, e.g. "backbone"
    agg: str | None = None     # how the printed value was averaged, when the pattern says so

    @property
    def finite(self) -> bool:
        return math.isfinite(self.value)


@dataclass(slots=True)
class Record:
    """What one matched line says: its position in training and its metrics or event."""
    line: int
    text: str
    pattern: str                       # "family/rule"
    family: str
    metrics: list[Metric] = field(default_factory=list)
    event: str | None = None           # for event lines (e.g. "loss_scale_overflow")
    epoch: float | None = None
    epoch_total: float | None = None
    step: float | None = None
    step_total: float | None = None
    phase: str = "train"               # "train" or "eval"
    agg: str | None = None             # how printed values were averaged (see docs/patterns.md)
    epoch_base: int | None = None      # 0 or 1: what the first printed epoch is, when known
    step_base: int | None = None       # 0 or 1: what the first printed step is, when known

    def by_role(self, role: str) -> list[Metric]:
        return [m for m in self.metrics if m.role == role]

    def position(self) -> str:
        """Human wording of where in training this record is."""
        parts = []
        if self.epoch is not None:
            parts.append(f"epoch {_num(self.epoch)}")
        if self.step is not None:
            parts.append(f"step {_num(self.step)}")
        return ", ".join(parts) or f"line {self.line}"


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


@dataclass(slots=True)
class Evidence:
    line: int
    text: str


@dataclass(slots=True)
class Finding:
    rule: str
    category: str
    severity: Severity
    message: str
    line: int
    evidence: list[Evidence]
    path: str = ""
    epoch: float | None = None
    step: float | None = None
    metric: str | None = None
    tags: frozenset[str] = frozenset()   # facts later stages reason about, e.g. "schedule-start"

    def to_json(self) -> dict:
        doc = {
            "rule": self.rule,
            "category": self.category,
            "severity": self.severity.name,
            "message": self.message,
            "path": self.path,
            "line": self.line,
            "evidence": [{"line": e.line, "text": e.text} for e in self.evidence],
        }
        if self.epoch is not None:
            doc["epoch"] = self.epoch
        if self.step is not None:
            doc["step"] = self.step
        if self.metric is not None:
            doc["metric"] = self.metric
        if self.tags:
            doc["tags"] = sorted(self.tags)
        return doc


@dataclass(slots=True)
class Diagnosis:
    """A root cause explaining several findings, in the order they happened."""
    id: str
    title: str
    severity: Severity
    explanation: str
    fix: str
    chain: list[Finding]

    @property
    def line(self) -> int:
        return self.chain[0].line

    def to_json(self) -> dict:
        # Deliberately no "category" key: consumers that count findings by category must not
        # count a diagnosis a second time.
        return {
            "id": self.id,
            "title": self.title,
            "level": self.severity.name,
            "line": self.line,
            "explanation": self.explanation,
            "fix": self.fix,
            "chain": [{"rule": f.rule, "line": f.line, "message": f.message} for f in self.chain],
            "evidence": [{"line": e.line, "text": e.text} for f in self.chain for e in f.evidence[:1]],
        }


# ---------------------------------------------------------------------------- JSON numbers

def json_safe(obj):
    """`obj` with every non-finite float written as a string: "nan", "inf" or "-inf".

    JSON has no such numbers (Python's json would write `NaN`/`Infinity`, which strict parsers
    reject), and a log may print any value (`num_updates=-inf`, `'epoch': 1e99999`). Every
    machine format logdoc writes (JSON, JSONL, SARIF, GitLab, watch's JSONL) goes through
    this, so its documents are strict JSON; finite numbers, -0.0 included, stay numbers.
    """
    if obj.__class__ is float:
        if obj != obj:
            return "nan"
        if obj in (math.inf, -math.inf):
            return "inf" if obj > 0 else "-inf"
        return obj
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, float):          # a float subclass (numpy.float64)
        return json_safe(float(obj))
    return obj


def json_dumps(obj, **kwargs) -> str:
    """json.dumps of `obj` as strict JSON: non-finite floats as strings (see json_safe)."""
    import json

    return json.dumps(json_safe(obj), allow_nan=False, **kwargs)
