from __future__ import annotations

from ..model import Severity
from . import register
from .base import Rule


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
    A framework that catches an OOM, skips the batch and goes on (fairseq prints
    `OOM: Ran out of memory … skipping batch`) is still reported: the batch was lost.
    """

    id = "oom"
    category = "oom"
    severity = Severity.error

    def __init__(self, **options):
        super().__init__(**options)
        self.fired = False

    def observe(self, rec):
        if rec.event == "oom" and not self.fired:
            self.fired = True
            yield self.finding(rec, f"out of memory at {rec.position()}: {rec.text.strip()[:160]}")
