from __future__ import annotations

import re

from ..core.model import Severity
from . import register
from .base import Rule


# TensorFlow's BFC allocator says so itself when running short is only a performance hint.
BENIGN = "The caller indicates that this is not a failure"
# TensorFlow's stream executor reports a failed attempt and retries smaller; often survivable.
RETRIED = re.compile(r"failed to allocate [\d.]+\w? \(\d+ bytes\) from device")


@register
class OutOfMemory(Rule):
    """The process ran out of GPU or host memory.

    Fires once, at the first out-of-memory event: CUDA's `CUDA out of memory`,
    `torch.cuda.OutOfMemoryError`, TensorFlow's `ResourceExhaustedError: OOM when
    allocating…`, the Linux OOM killer (`Out of memory: Killed process`, or the shell's bare
    `Killed`).

    ## Why is this bad?
    The step that needed the memory did not run; usually the whole run dies with it (see
    `crash`). When the OOM comes late (after hours), memory grows during training: a leak
    (tensors kept in a list with their graph, e.g. `total_loss += loss` instead of
    `loss.item()`) or a rare long batch.

    ## Example
    ```
    RuntimeError: CUDA out of memory. Tried to allocate 20.00 MiB (GPU 0; 15.78 GiB total capacity)
    ```

    ## Fix
    Lower the batch size (keep the effective batch with gradient accumulation), use mixed
    precision or activation checkpointing, cap the sequence length; for a late OOM accumulate
    `loss.item()` rather than the tensor. A host `Killed` means CPU RAM: fewer dataloader
    workers, memory-mapped datasets.

    ## Options
    None.

    ## False positives
    TensorFlow's allocator warnings that say "The caller indicates that this is not a
    failure" are not reported; its `failed to allocate … from device` retries are a warning.
    A framework that catches an OOM, skips the batch and goes on (fairseq prints
    `OOM: Ran out of memory … skipping batch`) is still reported: the batch was lost.
    """

    id = "oom"
    category = "oom"
    severity = Severity.error
    wants = frozenset({"event"})

    def __init__(self, **options):
        super().__init__(**options)
        self.fired = False

    def observe(self, rec):
        if rec.event != "oom" or self.fired or BENIGN in rec.text:
            return
        self.fired = True
        f = self.finding(rec, f"out of memory at {rec.position()}: {rec.text.strip()[:160]}")
        if RETRIED.search(rec.text):
            f.severity = Severity.warning    # TensorFlow retries with a smaller allocation
        yield f
