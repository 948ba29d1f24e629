"""Records -> pandas tables. Built from the very records the rules saw (one path).

pandas is imported only when a table is asked for: `analyze --format json` and `watch`
never pay for it.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..core import vocabulary


if TYPE_CHECKING:
    import pandas as pd

    from ..core.batch import Batch

METRIC_COLUMNS = ["line", "epoch", "step", "name", "role", "group", "value", "phase", "pattern"]
EVENT_COLUMNS = ["line", "epoch", "step", "event", "pattern"]


class TableBuilder:
    """Collects one row per metric, column by column: per batch, NumPy arrays of the numbers
    and small integer codes of the texts (names, roles, groups, phases, patterns: a log has a
    few hundred). About 60 bytes a metric where a tuple of Python objects took about 230, and
    a NumPy batch is added without building its list columns. Frames and `rows` are built on
    demand."""

    def __init__(self):
        self._parts: list[tuple] = []     # per batch: the columns of METRIC_COLUMNS, texts as codes
        self._codes: dict = {}            # text (or None) -> code
        self._texts: list = []            # code -> text
        self._joined = None
        self._rows: list[tuple] | None = None    # `rows`, once asked for (reports ask often)
        self.events: list[tuple] = []

    def _code(self, text) -> int:
        code = self._codes.get(text)
        if code is None:
            code = self._codes[text] = len(self._texts)
            self._texts.append(text)
        return code

    def _metric_phases(self, names, roles, record_phases):
        """The phase column: each metric's own (the vocabulary's: `val_loss` of a Keras bar
        line is evaluated although the line trains), else its record's. Codes of "train" or
        "eval", the phases of records and expectations."""
        import numpy as np

        texts = self._texts
        key = (names.astype(np.int64) << 42) | ((roles.astype(np.int64) + 1) << 21) | (record_phases.astype(np.int64) + 1)
        unique, back = np.unique(key, return_inverse=True)
        mask = (1 << 21) - 1
        codes = [self._code(vocabulary.record_phase(texts[k >> 42], texts[((k >> 21) & mask) - 1] if (k >> 21) & mask else None,
                                          texts[(k & mask) - 1] if k & mask else None))
                 for k in unique.tolist()]
        return np.array(codes, np.int32)[back.reshape(-1)]

    def add_batch(self, b: "Batch") -> None:
        """Every metric of a batch (no Records built)."""
        import numpy as np

        c = b.columns
        if c is not None:
            rows = c.m_row
            epoch, epoch_known = (a[rows] for a in b.np_counter("epoch"))
            step, step_known = (a[rows] for a in b.np_counter("step"))
            meta = np.array([[self._code(m[k]) for k in (0, 1, 2)] for m in c.meta] or np.zeros((0, 3)), np.int32)
            attrs = np.array([[self._code(a[3]), self._code(a[0])] if a is not None else [-1, -1]
                              for a in c.attrs] or np.zeros((0, 2)), np.int32)
            names, rs = meta[c.m_meta], attrs[c.rc[rows]]
            part = (c.line[rows], epoch, epoch_known, step, step_known, names[:, 0], names[:, 1],
                    names[:, 2], c.m_value, rs[:, 0], rs[:, 1])
        else:
            rows = b.m_row
            epochs, steps = [b.epoch[r] for r in rows], [b.step[r] for r in rows]
            code = self._code
            part = (np.array([b.line[r] for r in rows], np.int64),
                    np.array([np.nan if e is None else e for e in epochs], np.float64),
                    np.array([e is not None for e in epochs], bool),
                    np.array([np.nan if e is None else e for e in steps], np.float64),
                    np.array([e is not None for e in steps], bool),
                    np.array([code(x) for x in b.m_name], np.int32),
                    np.array([code(x) for x in b.m_role], np.int32),
                    np.array([code(x) for x in b.m_group], np.int32), np.array(b.m_value, np.float64),
                    np.array([code(b.phase[r]) for r in rows], np.int32),
                    np.array([code(b.pattern[r]) for r in rows], np.int32))
        if len(part[0]):
            part = (*part[:9], self._metric_phases(part[5], part[6], part[9]), part[10])
            self._parts.append(part)
            self._joined = self._rows = None
        if "event" in b.roles:
            self.events.extend((b.line[i], b.epoch[i], b.step[i], e, b.pattern[i])
                               for i, e in enumerate(b.event) if e)

    def add_rows(self, rows) -> None:
        """Rows as `rows` gives them (tests, and tables from elsewhere)."""
        from ..core.batch import Batch

        rows = list(rows)
        b = Batch()
        for i, (line, epoch, step, name, role, group, value, phase, pattern) in enumerate(rows):
            for column, x in zip(("line", "epoch", "step", "phase", "pattern", "m_row", "m_name",
                                  "m_role", "m_group", "m_value"),
                                 (line, epoch, step, phase, pattern, i, name, role, group, value)):
                getattr(b, column).append(x)
            b.event.append(None)
        self.add_batch(b)

    def _columns(self) -> tuple:
        import numpy as np

        if self._joined is None:
            self._joined = (tuple(np.concatenate(c) for c in zip(*self._parts)) if self._parts else None)
            if self._parts:
                self._parts = [self._joined]
        return self._joined

    def arrays(self) -> "MetricArrays | None":
        """Every metric as arrays (None when there is none): what reports that read a whole
        table use instead of `rows`, without a Python object per metric."""
        cols = self._columns()
        if cols is None:
            return None
        return MetricArrays(*cols, texts=self._texts)

    @property
    def rows(self) -> list[tuple]:
        """(line, epoch, step, name, role, group, value, phase, pattern) per metric, in order."""
        from ..core.columns import object_array, with_none

        if self._rows is not None:
            return self._rows
        cols = self._columns()
        if cols is None:
            return []
        line, epoch, epoch_known, step, step_known, name, role, group, value, phase, pattern = cols
        texts = object_array(self._texts)
        self._rows = list(zip(line.tolist(), with_none(epoch, epoch_known), with_none(step, step_known),
                        texts[name].tolist(), texts[role].tolist(), texts[group].tolist(),
                        value.tolist(), texts[phase].tolist(), texts[pattern].tolist()))
        return self._rows

    def metrics(self) -> "pd.DataFrame":
        import pandas as pd

        from ..core.columns import object_array

        cols = self._columns()
        if cols is None:
            return pd.DataFrame([], columns=METRIC_COLUMNS)
        line, epoch, epoch_known, step, step_known, name, role, group, value, phase, pattern = cols
        texts = object_array(self._texts)

        def counter(values, known):      # as a column of floats and None would be read
            if known.any():
                return values if known.all() else _with_nan(values, known)
            return object_array([None] * len(values))

        return pd.DataFrame({"line": line, "epoch": counter(epoch, epoch_known), "step": counter(step, step_known),
                             "name": texts[name], "role": texts[role], "group": texts[group], "value": value,
                             "phase": texts[phase], "pattern": texts[pattern]}, columns=METRIC_COLUMNS)

    def frames(self) -> dict[str, "pd.DataFrame"]:
        import pandas as pd

        frames = build_frames(self.metrics())
        frames["events"] = pd.DataFrame(self.events, columns=EVENT_COLUMNS)
        return frames


class MetricArrays:
    """A table's metrics, column by column: texts (name, role, group, phase, pattern) are
    indexes into `texts`; a counter's values are known where its mask is True."""

    __slots__ = ("line", "epoch", "epoch_known", "step", "step_known", "name", "role", "group",
                 "value", "phase", "pattern", "texts")

    def __init__(self, line, epoch, epoch_known, step, step_known, name, role, group, value, phase,
                 pattern, texts):
        self.line, self.epoch, self.epoch_known, self.step, self.step_known = line, epoch, epoch_known, step, step_known
        self.name, self.role, self.group, self.value = name, role, group, value
        self.phase, self.pattern, self.texts = phase, pattern, texts

    def codes_of(self, texts) -> list[int]:
        """The codes of these texts (those the table holds)."""
        return [k for k, t in enumerate(self.texts) if t in texts]


def _with_nan(values, known):
    out = values.copy()
    out[~known] = float("nan")
    return out


def build_frames(metrics: "pd.DataFrame") -> dict[str, "pd.DataFrame"]:
    """The documented tables (README "Tables"), all derived from the long metrics table."""
    lr = metrics[metrics.role == "lr"][["line", "epoch", "step", "group", "value"]]
    lr = lr.rename(columns={"value": "lr"}).reset_index(drop=True)
    updates = metrics[metrics.role == "param_delta"][["line", "epoch", "step", "name", "value"]]
    updates = updates.reset_index(drop=True)
    with_epoch = metrics.dropna(subset=["epoch"])
    if len(with_epoch):
        epochs = (with_epoch.groupby(["epoch", "name"], sort=True)["value"].last()
                  .unstack("name").reset_index())
        epochs.columns.name = None
    else:
        import pandas as pd

        epochs = pd.DataFrame({"epoch": pd.Series([], dtype="float64")})
    return {"metrics": metrics, "lr": lr, "updates": updates, "epochs": epochs}

