from __future__ import annotations

from functools import lru_cache
from itertools import compress, repeat
from operator import eq

from .. import vocabulary
from ..batch import Batch
from ..model import Severity
from . import register
from .base import Rule



@register
class MetricZero(Rule):
    """An accuracy-like metric is exactly 0 at every report, evaluation after evaluation.

    Tracks metrics with role `metric` or `val_metric` whose name reads as a score
    (accuracy, top-1/5, F1, AUC, precision, recall, mAP, IoU, BLEU, ROUGE, exact match) and
    fires when one is exactly 0 at `hold` consecutive reports of different epochs/steps
    (DeepDiagnosis treats an accuracy of 0 as invalid).

    ## Why is this bad?
    Even a random classifier scores about 1/C. An accuracy of exactly 0 every time means the
    metric compares incompatible things: predictions and labels of different shapes or
    encodings (one-hot vs index, logits vs ids), a regression target scored with
    classification accuracy, or a metric that is never updated.

    ## Example
    ```
    178/178 - loss: 0.1583 - acc: 0.0000e+00 - val_loss: 0.0187 - val_acc: 0.0000e+00
    178/178 - loss: 0.0636 - acc: 0.0056 - val_loss: 0.0673 - val_acc: 0.0000e+00
    178/178 - loss: 0.0609 - acc: 0.0056 - val_loss: 0.0161 - val_acc: 0.0000e+00
    ```

    ## Fix
    Check what the metric compares: use a regression metric (MAE, RMSE) for regression, the
    matching accuracy for your label encoding (`sparse_categorical_accuracy` for integer
    labels), and that the metric is updated with the model's predictions.

    ## Options
    - `hold` (default 3): consecutive zero reports before firing.

    ## False positives
    A detector's mAP can be 0 for its first epochs while boxes are still random; `hold`
    counts consecutive reports, so raise it for long warm-ups.
    """

    id = "metric-zero"
    category = "metric-zero"
    severity = Severity.warning
    wants = frozenset({"metric", "val_metric"})
    options = {"hold": 3}

    def __init__(self, **options):
        super().__init__(**options)
        self.runs: dict[str, list] = {}     # name -> [first record, count, last position]
        self.fired: set[str] = set()

    def observe_batch(self, b: Batch):
        if b.columns is not None and self._quiet(b.columns):
            return
        if not self.runs and 0.0 not in b.m_value:   # no run to end, no zero to start one
            return
        # the metrics of both roles, in record order (the bound on runs depends on the order)
        m_role = b.m_role
        idx = list(compress(range(len(m_role)), map(_ROLES.__contains__, m_role)))
        names = list(map(b.m_name.__getitem__, idx))
        values = list(map(b.m_value.__getitem__, idx))
        # only score names with a run or a zero in this batch can change anything
        watch = set(self.runs)
        if 0.0 in values:
            watch.update(filter(is_score_name, compress(names, map(eq, values, repeat(0.0)))))
        watch -= self.fired
        if not watch:
            return
        runs, fired, hold = self.runs, self.fired, self.opt["hold"]
        m_row, epoch, step = b.m_row, b.epoch, b.step
        for j, name, value in compress(zip(idx, names, values), map(watch.__contains__, names)):
            if name in fired:
                continue
            if len(runs) > 64 and name not in runs:
                continue                     # bounded: a log with endless metric names
            if value != 0.0:
                runs.pop(name, None)
                continue
            i = m_row[j]
            pos = (epoch[i], step[i])
            run = runs.get(name)
            if run is None:
                runs[name] = [b.record(i), 1, pos]
                continue
            if pos != (None, None) and pos == run[2]:
                continue
            run[1] += 1
            run[2] = pos
            if run[1] >= hold:
                fired.add(name)
                first = run[0]
                yield self.finding(
                    first, f"{name} is exactly 0 at {run[1]} consecutive reports (lines "
                           f"{first.line}–{b.line[i]}): the metric never sees a correct prediction",
                    evidence=[b.record(i)], metric=name)

    def _quiet(self, c) -> bool:
        """The list code's early returns, answered with NumPy on a batch over BlockColumns:
        no run to end and no zero to start one, or no unfired score name of these roles
        with a run or a zero in the batch (the loop only reads entries of such names)."""
        import numpy as np

        zero = c.m_value == 0.0
        if not self.runs and not zero.any():
            return True
        codes, role_names = c.role_codes()
        wanted = [k for k, r in enumerate(role_names) if r in _ROLES]
        if not wanted:
            return True                    # no metric of these roles: the loop sees nothing
        ours = np.isin(codes, wanted)
        meta = c.meta
        watch = {meta[k][0] for k in np.unique(c.m_meta[ours]).tolist()} & set(self.runs)
        watch.update(filter(is_score_name, {meta[k][0] for k in np.unique(c.m_meta[ours & zero]).tolist()}))
        return not watch - self.fired


_ROLES = frozenset({"metric", "val_metric"})


@lru_cache(maxsize=1024)
def is_score_name(name: str) -> bool:
    """The vocabulary types the name as a score (higher is better, bounded), where 0 means
    "never right": accuracies, overlap and ranking scores."""
    return vocabulary.is_score(name)
