"""Bulk parsing: a block of lines into a Batch, deciding once per line shape.

A long log repeats a few hundred line shapes (the line with every digit written as 7)
millions of times. The line-by-line parser (parser.py) runs prefix peeling, the anchor index,
a regex and payload decoding for every line. The bulk parser runs that parser on the first
lines of each shape only, and learns a template from them: which pattern matched, and at
which character span of the line each value sits. Later lines of the shape are read by
slicing those spans.

Exactness comes first: a template is trusted only after it reproduced the line-by-line
parser's records on two lines of its shape, and every value must be explained by exactly one
number of the line. Rank-prefixed lines keep going through the rank deduplication (another
rank's copy is dropped), with the rank and body read at the spans the prefixes gave. Shapes
that cannot be templated stay on the line-by-line path: table rows that depend on a header
(the plans are forgotten when a header changes), names that contain digits (two names, one
shape), values no single number explains. All of this rests on pattern regexes that cannot
tell one digit from another, which every pattern file's self-test checks (selftest.py). Tests
replay every kept log both ways and compare the reports, and fuzz the two parsers against
each other on the pattern files' own sample lines (tests/test_bulk.py).
"""
from __future__ import annotations

import re
from operator import itemgetter

from ..core.batch import Batch
from .decoders import parse_number
from ..core.model import Line, Record
from .parser import Parser
from .patterns import MACROS, MATCH_CHARS
from ..source.reading import clean_line

_SHAPE = bytes.maketrans(b"0123456789", b"7777777777")     # as PatternSet's shape memory
# the shape, with every byte a printable-ASCII line cannot hold written as NUL
_SHAPE_MARK = bytes(b if b == 10 or 32 <= b <= 126 else 0 for b in _SHAPE)
_STR_SHAPE = str.maketrans("0123456789", "7777777777")
_NUMBER = re.compile(MACROS["FLOAT"])
_HAS_DIGIT = re.compile(r"\d")

_NOTHING = "nothing"      # plans: the shape gives no record
_SLOW = "slow"            # the shape always takes the line-by-line parser
_COUNTERS = ("epoch", "epoch_total", "step", "step_total")
MAX_PLANS = 65536         # shapes remembered per log (bounded memory on odd logs)
MAX_TRIES = 8             # lines of a shape tried before it stays on the line-by-line path
VECTOR = True                # read big blocks with NumPy (logdoc.parsing.bulk_vector); tests flip it
VECTOR_MIN_BYTES = 1 << 18   # smaller blocks (a live stream's) are read line by line


def _number(text: str) -> float:
    return parse_number(text)


class RecordTemplate:
    """How to read one record off any line of a shape."""

    __slots__ = ("pattern", "family", "event", "phase", "agg", "epoch_base", "step_base",
                 "spans", "metrics", "counters", "names", "roles", "groups", "aggs", "read",
                 "n_metrics", "only_metrics", "vector")

    def __init__(self, *, pattern, family, event, phase, agg, epoch_base, step_base, spans,
                 metrics, counters):
        self.pattern, self.family, self.event, self.phase, self.agg = pattern, family, event, phase, agg
        self.epoch_base, self.step_base = epoch_base, step_base
        # `read` returns the metrics' values in order, then the counters' (so the metric
        # values are a prefix of what it returns: no per-line reordering)
        order = [m[0] for m in metrics]
        positions = []
        for k in counters:
            positions.append(None if k is None else len(order))
            if k is not None:
                order.append(k)
        self.spans = tuple(spans[k] for k in order)   # (start, end, convert) per value
        self.read = _reader(self.spans)
        self.metrics = tuple((i, *m[1:]) for i, m in enumerate(metrics))   # (value index, name, role, group, agg)
        self.counters = tuple(positions)    # value index or None: epoch, epoch_total, step, step_total
        self.n_metrics = len(metrics)
        self.only_metrics = len(order) == len(metrics)
        # the metric columns, ready to extend a batch with
        self.names = [m[1] for m in metrics]
        self.roles = [m[2] for m in metrics]
        self.groups = [m[3] for m in metrics]
        self.aggs = [m[4] for m in metrics]
        self.vector = None        # how logdoc.parsing.bulk_vector reads it (worked out there, once)


class _FloatCache(dict):
    """str -> float, remembered: long logs repeat their numbers (a learning rate, an epoch,
    a batch size), and a dict lookup is cheaper than parsing. Bounded."""

    LIMIT = 1 << 14            # ~1.5 MB: watch must not grow with the log

    def __missing__(self, key: str) -> float:
        value = float(key)
        if len(self) >= self.LIMIT:
            self.clear()
        self[key] = value
        return value


_FLOATS = _FloatCache()


def _reader(spans: tuple):
    """A function returning the values at `spans` of a line, built once per template.

    With plain numbers: the spans cut by one itemgetter and converted through the float
    cache, both in C. Otherwise the slices and conversions are written out as code (the
    same trick as collections.namedtuple), with no loop to run per line."""
    if spans and all(convert is float for _, _, convert in spans):
        lookup = _FLOATS.__getitem__
        if len(spans) == 1:
            (s, e, _), = spans
            return lambda text: (lookup(text[s:e]),)
        cut = itemgetter(*[slice(s, e) for s, e, _ in spans])
        return lambda text: tuple(map(lookup, cut(text)))
    names = {float: "_float", _number: "_number"}
    body = ", ".join(f"{names[convert]}(text[{int(s)}:{int(e)}])" for s, e, convert in spans)
    namespace = {"_float": float, "_number": _number}
    exec(f"def read(text):\n    return ({body}{',' if spans else ''})\n", namespace)
    return namespace["read"]


class _Tentative:
    """A plan seen to fit one line; it must fit a second line of its shape to be used."""
    __slots__ = ("inner", "ranked")

    def __init__(self, inner, ranked):
        self.inner = inner          # _NOTHING, a RecordTemplate or a tuple of them
        self.ranked = ranked        # None or (body offset, rank span, weak rank?)


class _Ranked:
    """The plan of a rank-prefixed shape: rank deduplication, then the inner plan."""
    __slots__ = ("inner", "offset", "rank_span", "weak")

    def __init__(self, inner, offset: int, rank_span: tuple[int, int], weak: bool):
        self.inner, self.offset, self.rank_span, self.weak = inner, offset, rank_span, weak


def _rank_at(text: str, span: tuple[int, int], weak: bool) -> str:
    rank = text[span[0]:span[1]]
    return "~" + rank if weak else rank


def split_block(data: bytes) -> tuple[list[str], list[bytes]]:
    """(cleaned texts, shapes) of the lines of `data` (complete lines joined by \\n).

    Printable-ASCII lines are decoded in one go; the others (escapes, carriage-return
    redraws, tabs, UTF-8) go through reading.clean_line one by one. One translate gives the
    shapes and marks every byte such a line holds as NUL, so finding them is a C-level find."""
    texts = data.decode("latin-1").split("\n")
    marked = data.translate(_SHAPE_MARK)
    shapes = marked.split(b"\n")
    pos = marked.find(b"\0")
    if pos >= 0:
        count, find, rfind = marked.count, marked.find, marked.rfind
        idx, counted = 0, 0
        while pos >= 0:
            start = rfind(b"\n", 0, pos) + 1
            end = find(b"\n", pos)
            if end < 0:
                end = len(marked)
            idx += count(b"\n", counted, start)
            counted = start
            text = clean_line(data[start:end])
            texts[idx] = text
            shapes[idx] = text.encode("utf-8", "replace").translate(_SHAPE)
            pos = find(b"\0", end)
    return texts, shapes


class BulkParser:
    """Wraps a Parser (sharing its state: epoch carried between lines, totals, counts)."""

    def __init__(self, parser: Parser, vector: bool | None = None):
        self.parser = parser
        self.vector = VECTOR if vector is None else vector   # big blocks with NumPy
        self.defer = False        # NumPy blocks as bulk_vector.Pending (see logdoc.engine.pipeline)
        self.clears = 0           # how often the plans were forgotten (a header changed)
        self.plans: dict[bytes, object] = {}
        self.templated = 0        # lines read by a template (for benchmarks and tests)
        self.read_bytes = 0       # of the log so far (bulk_vector uses pyarrow past ARROW_AFTER)
        self.arrow = True         # may use pyarrow at all
        self._tries: dict[bytes, int] = {}

    def parse_block(self, data: bytes, first_no: int) -> tuple[Batch, int]:
        """(batch of the block's records, number of lines in the block)."""
        self.read_bytes += len(data)
        if self.vector and len(data) >= VECTOR_MIN_BYTES:
            from .bulk_vector import parse_block_vector    # imports NumPy: big blocks only

            got = parse_block_vector(self, data, first_no)
            if got is not None:
                return got
        return self._parse_loop(data, first_no)

    def parse_blocks(self, data: bytes, first_no: int):
        """(batch, number of lines) for consecutive parts of a block: as parse_block, but a
        big block with many shapes not learnt yet (a log's first block, a new phase of a run)
        is not read line by line whole: an eighth is, to learn, and the rest is tried again."""
        cuts = 4          # learning cuts per block (each re-reads the rest's shapes)
        at = 0            # where `data` starts in the block (a NumPy batch records it)
        self.read_bytes += len(data)
        while self.vector and len(data) >= VECTOR_MIN_BYTES:
            from .bulk_vector import parse_block_vector

            got = parse_block_vector(self, data, first_no, may_cut=cuts > 0)
            if got is not None and got[0] == "cut":
                cuts -= 1
                head, data = data[:got[1]], data[got[1] + 1:]
                batch, n = parse_block_vector(self, head, first_no) or self._parse_loop(head, first_no)
            elif got is not None:
                _starts_at(got[0], at)
                yield got
                return
            else:
                cut = data.find(b"\n", len(data) // 8)
                if cut < 0:
                    break
                head, data = data[:cut], data[cut + 1:]
                batch, n = self._parse_loop(head, first_no)
            _starts_at(batch, at)
            at += len(head) + 1
            yield batch, n
            first_no += n
        yield self._parse_loop(data, first_no)

    def _parse_loop(self, data: bytes, first_no: int) -> tuple[Batch, int]:
        texts, shapes = split_block(data)
        b = Batch()
        self.read_lines(texts, shapes, first_no, b)
        return b, len(texts)

    def read_lines(self, texts: list[str], shapes: list[bytes], first_no: int, b: Batch) -> None:
        """Append the records of these lines (numbered from `first_no`) to `b`, line by line."""
        plans = self.plans
        get = plans.get
        parser = self.parser
        formats = parser.formats
        # one record per template line is the common case: its appends are written out here
        # with bound methods, because this loop runs for most lines of a long log
        line_, text_, pattern_, family_, event_ = (b.line.append, b.text.append, b.pattern.append,
                                                   b.family.append, b.event.append)
        phase_, agg_, ebase_, sbase_ = b.phase.append, b.agg.append, b.epoch_base.append, b.step_base.append
        epoch_, etotal_, step_, stotal_ = (b.epoch.append, b.epoch_total.append, b.step.append,
                                           b.step_total.append)
        mrow_, mname_, mrole_, mvalue_, mgroup_, magg_ = (b.m_row.extend, b.m_name.extend, b.m_role.extend,
                                                          b.m_value.extend, b.m_group.extend, b.m_agg.extend)
        no = first_no - 1
        templated = 0
        for text, shape in zip(texts, shapes):
            no += 1
            plan = get(shape)
            if plan is _NOTHING:
                continue
            if plan.__class__ is RecordTemplate:
                t = plan
                try:
                    values = t.read(text)
                except ValueError:        # not the number the shape promised: re-read slowly
                    plans[shape] = _SLOW
                    self._slow(_SLOW, shape, text, no, b)
                    continue
                row = len(b.line)
                line_(no)
                text_(text.rstrip())
                pattern_(t.pattern)
                family_(t.family)
                event_(t.event)
                phase_(t.phase)
                agg_(t.agg)
                ebase_(t.epoch_base)
                sbase_(t.step_base)
                ke, ket, ks, kst = t.counters      # the position rules of Parser.carry
                if ke is not None:
                    parser.epoch = values[ke]
                epoch_(parser.epoch)
                if ket is not None:
                    parser.epoch_total = values[ket]
                etotal_(parser.epoch_total)
                step_(None if ks is None else values[ks])
                if kst is not None:
                    parser.step_total = values[kst]
                stotal_(parser.step_total)
                mrow_([row] * t.n_metrics)
                mname_(t.names)
                mrole_(t.roles)
                mvalue_(values if t.only_metrics else values[:t.n_metrics])
                mgroup_(t.groups)
                magg_(t.aggs)
                formats[t.family] += 1
                templated += 1
                continue
            if plan.__class__ is _Ranked:
                self._apply_ranked(plan, shape, text, no, b)
                continue
            if plan.__class__ is tuple and self._apply(plan, text, no, b):
                continue
            if plan.__class__ is tuple:
                plans[shape] = plan = _SLOW
            self._slow(plan, shape, text, no, b)
        parser.records += templated
        self.templated += templated

    # ---- the line-by-line path, learning as it goes

    def _slow(self, plan, shape: bytes, text: str, no: int, batch: Batch) -> None:
        parser = self.parser
        text = text.rstrip()
        headers, collected = parser.patterns.headers_seen, parser.patterns.collected
        copies = parser.duplicates
        recs = parser.parse(Line(no, text))
        if parser.patterns.headers_seen != headers:
            self.plans.clear()            # rows after a header mean something else now
            self.clears += 1
        elif parser.patterns.collected != collected:
            self.plans[shape] = _SLOW     # part of a multi-line object: what it gives depends on its neighbours
        elif (plan is None or plan.__class__ is _Tentative) and len(self.plans) < MAX_PLANS:
            learnt = None
            if parser.duplicates == copies:   # another rank's copy teaches nothing
                learnt = self._learn(text, recs) if plan is None else self._confirm(plan, text, recs)
            if learnt is not None:
                self.plans[shape] = learnt
            else:                         # no plan from this line; maybe from the next
                tries = self._tries.get(shape, 0) + 1
                self._tries[shape] = tries
                if tries >= MAX_TRIES:
                    self.plans[shape] = _SLOW
        for rec in recs:
            parser.carry(rec)
            batch.add_record(rec)

    def _learn(self, text: str, recs: list[Record]):
        """The plan for this line's shape, or None when this line cannot teach one."""
        offset, rank, rank_span = self.parser.patterns.prefixes.peel_at(text)
        ranked = None if rank is None else (offset, rank_span, rank.startswith("~"))
        if not recs:
            # nothing to read; a ranked line still goes through the rank deduplication
            return _NOTHING if ranked is None else _Tentative(_NOTHING, ranked)
        templates = []
        for rec in recs:
            if any(_HAS_DIGIT.search(m.name) or (m.group and _HAS_DIGIT.search(m.group))
                   for m in rec.metrics):
                return _SLOW              # "top1"/"top5" share a shape: names must not vary
            t = _template(rec, text, offset)
            if t is None:
                return None               # a value no single number explains (yet)
            templates.append(t)
        inner = templates[0] if len(templates) == 1 else tuple(templates)
        return _Tentative(inner, ranked)

    def _confirm(self, plan: "_Tentative", text: str, recs: list[Record]):
        """The tentative plan, checked on a second line of its shape: the plan to use, or _SLOW."""
        inner = plan.inner
        if inner is _NOTHING:
            ok = not recs
        else:
            templates = (inner,) if inner.__class__ is RecordTemplate else inner
            try:
                ok = [self._read(t, text) for t in templates] == [_raw_view(r) for r in recs]
            except ValueError:
                ok = False
        if ok and plan.ranked is not None:
            offset, span, weak = plan.ranked
            ok = self.parser.patterns.prefixes.peel_at(text) == (offset, _rank_at(text, span, weak), span)
            if ok:
                return _Ranked(inner, offset, span, weak)
        return inner if ok else _SLOW

    def _apply_ranked(self, plan: "_Ranked", shape: bytes, text: str, no: int, b: Batch) -> None:
        """A rank-prefixed line: dropped if another rank just printed it, else read by template."""
        parser = self.parser
        stripped = text.rstrip()
        if parser.is_rank_copy(stripped[plan.offset:], _rank_at(text, plan.rank_span, plan.weak), no):
            return
        inner = plan.inner
        if inner is _NOTHING:
            return
        if not self._apply((inner,) if inner.__class__ is RecordTemplate else inner, text, no, b):
            # a value did not parse: read the line slowly (its rank check repeats harmlessly:
            # the same rank and content are remembered again)
            self.plans[shape] = _SLOW
            self._slow(_SLOW, shape, text, no, b)

    # ---- the template path

    @staticmethod
    def _read(t: RecordTemplate, text: str):
        """What the template reads off a line, in the form _raw_view gives a Record."""
        values = [_comparable(v) for v in t.read(text)]
        return (t.pattern, t.event, t.phase, t.agg,
                tuple(None if k is None else values[k] for k in t.counters),
                tuple((name, role, values[k], group, agg) for k, name, role, group, agg in t.metrics))

    def _apply(self, templates: tuple, text: str, no: int, b: Batch) -> bool:
        """Append the records the templates read off `text` to the batch (False: a value did
        not parse, the caller re-reads the line slowly)."""
        parser = self.parser
        try:
            rows = [t.read(text) for t in templates]
        except ValueError:
            return False
        text = text.rstrip()
        for t, values in zip(templates, rows):
            row = len(b.line)
            b.line.append(no)
            b.text.append(text)
            b.pattern.append(t.pattern)
            b.family.append(t.family)
            b.event.append(t.event)
            b.phase.append(t.phase)
            b.agg.append(t.agg)
            b.epoch_base.append(t.epoch_base)
            b.step_base.append(t.step_base)
            ke, ket, ks, kst = t.counters
            # the position rules of Parser.carry
            if ke is not None:
                parser.epoch = values[ke]
            b.epoch.append(parser.epoch)
            if ket is not None:
                parser.epoch_total = values[ket]
            b.epoch_total.append(parser.epoch_total)
            b.step.append(None if ks is None else values[ks])
            if kst is not None:
                parser.step_total = values[kst]
            b.step_total.append(parser.step_total)
            n = len(t.metrics)
            b.m_row.extend([row] * n)
            b.m_name.extend(t.names)
            b.m_role.extend(t.roles)
            b.m_value.extend(values if t.only_metrics else values[:t.n_metrics])
            b.m_group.extend(t.groups)
            b.m_agg.extend(t.aggs)
            parser.records += 1
            parser.formats[t.family] += 1
        self.templated += 1
        return True


def _starts_at(got, at: int) -> None:
    """Record where a NumPy batch (or its Pending) starts in the block parse_blocks was given."""
    target = got if got.__class__ is not Batch else got.columns
    if target is not None:
        target.at = at


def _raw_view(rec: Record):
    """A record as comparable data (what a template must reproduce)."""
    return (rec.pattern, rec.event, rec.phase, rec.agg,
            tuple(_comparable(getattr(rec, c)) for c in _COUNTERS),
            tuple((m.name, m.role, _comparable(m.value), m.group, m.agg) for m in rec.metrics))


def _comparable(value):
    """NaN is not equal to itself; as data, two NaNs are the same value."""
    return "nan" if value != value else value


def _same(a: float, b: float) -> bool:
    return a == b or (a != a and b != b)


def _template(rec: Record, text: str, offset: int) -> RecordTemplate | None:
    """A template reading `rec` off lines shaped like `text`, or None when some value is not
    explained by exactly one number of the line (after its prefixes, at `offset`)."""
    if len(text) > offset + MATCH_CHARS:      # the patterns read no further (MATCH_CHARS)
        text = text[:offset + MATCH_CHARS]
    shape = text.translate(_STR_SHAPE)
    spans = []            # (start, end, convert, value)
    for m in _NUMBER.finditer(shape, offset):
        starts = [m.start()]
        if shape[m.start()] in "+-":
            starts.append(m.start() + 1)         # "epoch-3": the unsigned number too
        for s in starts:
            raw = text[s:m.end()]
            for convert in (float, _number):
                try:
                    spans.append((s, m.end(), convert, convert(raw)))
                    break
                except ValueError:
                    continue

    def locate(value: float) -> int | None:
        hits = [i for i, sp in enumerate(spans) if _same(sp[3], value)]
        if len(hits) > 1 and not any(_HAS_DIGIT.search(text, spans[i][0], spans[i][1]) for i in hits):
            return hits[0]     # "loss=nan ... 'loss': nan": digit-free, so the same on every line
        return hits[0] if len(hits) == 1 else None

    metrics = []
    for m in rec.metrics:
        k = locate(m.value)
        if k is None:
            return None
        metrics.append((k, m.name, m.role, m.group, m.agg))
    counters = []
    for c in _COUNTERS:
        value = getattr(rec, c)
        if value is None:
            counters.append(None)
            continue
        k = locate(value)
        if k is None:
            return None
        counters.append(k)
    used = sorted({k for k, *_ in metrics} | {k for k in counters if k is not None})
    remap = {k: i for i, k in enumerate(used)}
    t = RecordTemplate(
        pattern=rec.pattern, family=rec.family, event=rec.event, phase=rec.phase, agg=rec.agg,
        epoch_base=rec.epoch_base, step_base=rec.step_base,
        spans=tuple((spans[k][0], spans[k][1], spans[k][2]) for k in used),
        metrics=tuple((remap[k], *rest) for k, *rest in metrics),
        counters=tuple(None if k is None else remap[k] for k in counters))
    if BulkParser._read(t, text) != _raw_view(rec):
        return None
    return t

