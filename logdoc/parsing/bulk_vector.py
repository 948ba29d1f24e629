"""Bulk parsing with NumPy: a big block's templated lines read all at once.

BulkParser (logdoc.parsing.bulk) learns a template per line shape and then reads each line of the
shape by slicing. Here the same templates are applied to a whole block with array
operations: every line of a shape has the same length and holds its numbers at the same
offsets in the same printed format, so one value of every line of the block is a gather of
digits and a scaling (logdoc.parsing.fastfloat). The result is a Batch over BlockColumns
(logdoc.core.columns), whose lists are built only when a rule reads them.

Lines that need the line-by-line path (shapes not learnt yet, rank prefixes, several records
per line, values not in a plain number format, non-ASCII text) are read by BulkParser in
line order between the array work; the position a line inherits (epoch, totals) is handed
over in both directions. A block where such lines are common is left to BulkParser whole.
"""
from __future__ import annotations

import numpy as np

from ..core.batch import Batch
from .bulk import _NOTHING, _SHAPE, _SHAPE_MARK, RecordTemplate, _Tentative
from ..core.columns import ATTRS, COUNTERS, BlockColumns
from .fastfloat import number_format, read_numbers
from ..source.reading import clean_line

MAX_SLOW_SHARE = 0.1         # more line-by-line lines than this: learn first (BulkParser.parse_blocks)
ARROW_AFTER = 16 << 20       # bytes of a log read before pyarrow codes the line shapes (_shape_codes)
LEARN_AHEAD = 256            # a new shape with this many lines in a block is learnt before the rest
_CARRIED = ("epoch", "epoch_total", "step_total")    # what Parser.carry hands from line to line
_FORMATS: dict[bytes, object] = {}                   # printed number format -> its reader


def _spec(t: RecordTemplate, shape: bytes):
    """((offset, format) per value, in the template's value order), or False when a value is
    not a plain number (the line-by-line path reads it)."""
    spec = []
    for s, e, convert in t.spans:
        if convert is not float:
            return False
        key = shape[s:e]
        fmt = _FORMATS.get(key)
        if fmt is None:
            fmt = number_format(key) or False
            if len(_FORMATS) < 4096:
                _FORMATS[key] = fmt
        if fmt is False:
            return False
        spec.append((s, fmt))
    return tuple(spec)


def parse_block_vector(bp, data: bytes, first_no: int, may_cut: bool = False):
    """(Batch, number of lines) of a block, or None when it is better read line by line.

    With `may_cut`, a block where a shape not learnt yet comes back often may instead return
    ("cut", byte offset of a newline): read the block up to there first (its first lines of
    that shape teach the template), then the rest, where the shape is read as arrays."""
    marked = data.translate(_SHAPE_MARK)
    starts, lens, bad, bad_line = _line_spans(marked)
    n = len(starts)
    line_at = starts.copy()                       # (starts change where a line is cleaned)
    src, foreign, fixed = _clean_dirty(data, marked, starts, lens, bad, bad_line)
    arrow = bp.arrow and bp.read_bytes >= ARROW_AFTER
    codes, uniq = _shape_codes(marked, starts, lens, line_at, fixed, arrow)
    plans = bp.plans
    kinds, specs = [], []
    for key in uniq:
        plan = plans.get(key)
        spec = False
        if plan is _NOTHING:
            kinds.append(0)
        elif plan.__class__ is RecordTemplate:
            spec = plan.vector
            if spec is None:
                spec = plan.vector = _spec(plan, key)
            kinds.append(1 if spec else 2)
        else:
            kinds.append(2)
        specs.append(spec)
    line_kind = np.array(kinds, np.int8)[codes]
    if foreign:
        line_kind[list(foreign)] = 2
    slow = np.flatnonzero(line_kind == 2)
    if len(slow) > MAX_SLOW_SHARE * n:
        return None
    if may_cut and len(slow) >= LEARN_AHEAD:
        cut = _learning_cut(bp, uniq, kinds, codes, slow)
        if cut is not None:
            return "cut", int(line_at[cut]) - 1

    buf = np.frombuffer(src, np.uint8)
    templates = [plans[key] if kinds[c] == 1 else None for c, key in enumerate(uniq)]
    tl = np.flatnonzero(line_kind == 1)           # lines read by a template, one record each
    v = _Values(buf, src, starts, tl, codes[tl], templates, specs)

    parser = bp.parser
    at_start = {name: getattr(parser, name) for name in _CARRIED}
    sb = Batch()                                  # records of the line-by-line lines
    cut = n
    if len(slow):
        cut = _read_slow(bp, slow, v, src, starts, lens, codes, uniq, foreign, first_no, sb)
    m = int(np.searchsorted(tl, cut)) if cut < n else len(tl)
    last_slow = (cut - 1) if cut < n else (int(slow[-1]) if len(slow) else -1)
    for name in _CARRIED:                        # the position the block hands on
        pos = v.setters(name)
        k = int(np.searchsorted(pos, cut)) - 1
        if k >= 0 and pos[k] > last_slow:
            setattr(parser, name, v.setter_value(name, k))

    tcodes = v.tcodes[:m]
    counts = np.bincount(tcodes, minlength=len(uniq)).tolist()
    for c, k in enumerate(counts):
        if k:
            parser.formats[templates[c].family] += k
    parser.records += m
    bp.templated += m
    v._setters, v._block = {}, None
    tl = v.tl[:m]
    pending = Pending(v, m, sb, first_no, at_start, src, starts[tl], lens[tl], len(data))
    return (pending if bp.defer else Batch.from_columns(pending.assemble())), n


def _learning_cut(bp, uniq, kinds, codes, slow):
    """The line after the third of the last new shape that fills much of the block, or None."""
    plans = bp.plans
    counts = np.bincount(codes[slow], minlength=len(uniq))
    cut = None
    for c in np.flatnonzero(counts >= LEARN_AHEAD).tolist():
        plan = plans.get(uniq[c])
        if kinds[c] == 2 and (plan is None or plan.__class__ is _Tentative):
            third = int(slow[codes[slow] == c][2]) + 1
            cut = third if cut is None else max(cut, third)
    return cut if cut is not None and cut < len(codes) * 0.9 else None


def _line_spans(marked: bytes):
    """(starts, lengths) of the block's lines, without their newlines, and (position, line)
    of every byte the marking wrote as NUL (escapes, carriage returns, tabs, UTF-8)."""
    u8 = np.frombuffer(marked, np.uint8)
    if marked.find(b"\0") < 0:
        nl = np.flatnonzero(u8 == 10)
        bad = bad_line = None
    else:                   # one scan finds both: NUL and newline are the only bytes <= 10
        special = np.flatnonzero(u8 <= 10)
        is_nl = u8[special] == 10
        nl = special[is_nl]
        lines_before = np.cumsum(is_nl)
        bad, bad_line = special[~is_nl], lines_before[~is_nl]
    starts = np.empty(len(nl) + 1, np.int64)
    starts[0] = 0
    starts[1:] = nl + 1
    lens = np.empty(len(nl) + 1, np.int64)
    lens[:-1] = nl - starts[:-1]
    lens[-1] = len(marked) - starts[-1]
    return starts, lens, bad, bad_line


def _shape_codes(marked: bytes, starts, lens, line_at, fixed: dict, arrow: bool):
    """(a code per line, the shape of each code): lines of one shape share a code.

    A line's shape is marked[starts:starts + lens] (a redraw's last frame is part of its
    line), or `fixed[line]` for the lines cleaned one by one (their starts may point past
    `marked`; `line_at`: where each line starts in `marked`). With `arrow`, pyarrow's
    dictionary encoding hashes the shapes where they lie, in C++: no bytes object per line,
    which is most of the cost of reading a big block in Python (split, hash, look up). It is
    imported only once a log is big enough to repay its import (ARROW_AFTER)."""
    if arrow:
        try:
            codes, uniq = _arrow_codes(marked, starts, lens, line_at, fixed)
        except ImportError:         # (a dependency, but an install may lack it: slower, same)
            arrow = False
    if not arrow:
        shapes = marked.split(b"\n")
        for d in np.flatnonzero(starts != line_at).tolist():         # redraws' last frames
            shapes[d] = marked[int(starts[d]):int(starts[d] + lens[d])]
        for d, shape in fixed.items():
            shapes[d] = shape
        index = dict.fromkeys(shapes)
        uniq = list(index)
        for c, key in enumerate(uniq):
            index[key] = c
        return np.fromiter(map(index.__getitem__, shapes), np.int32, len(shapes)), uniq
    index = {key: c for c, key in enumerate(uniq)}
    for d, shape in fixed.items():
        c = index.get(shape)
        if c is None:
            c = index[shape] = len(uniq)
            uniq.append(shape)
        codes[d] = c
    return codes, uniq


def _arrow_codes(marked, starts, lens, line_at, fixed):
    """_shape_codes by pyarrow, the fixed lines left to code."""
    import pyarrow as pa

    # the shapes are elements 0, 2, 4... of a binary array over `marked`; the odd elements
    # (newlines, a redraw's earlier frames) and the fixed lines are nulls
    n = len(starts)
    at, size = starts.copy(), lens.copy()
    valid = np.zeros(2 * n, bool)
    valid[0::2] = True
    if fixed:
        f = np.fromiter(fixed, np.int64, len(fixed))
        at[f], size[f] = line_at[f], 0
        valid[2 * f] = False
    bounds = np.empty(2 * n + 1, np.int64)
    bounds[0:2 * n:2] = at
    bounds[1:2 * n:2] = at + size
    bounds[2 * n] = len(marked)
    shapes = pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), 2 * n,
        [pa.py_buffer(np.packbits(valid, bitorder="little")), pa.py_buffer(bounds),
         pa.py_buffer(marked)])
    encoded = shapes.dictionary_encode()
    codes = np.frombuffer(encoded.indices.buffers()[1], np.int32, 2 * n)[0::2].copy()
    return codes, encoded.dictionary.to_pylist()


def _clean_dirty(data, marked, starts, lens, bad, bad_line):
    """Clean the lines holding escapes, redraws, tabs or UTF-8 (as reading.clean_line does).

    Returns (source, foreign, fixed). `fixed` holds the cleaned lines' shapes {line: shape};
    ASCII results are appended to the source (starts/lens then point there), others are
    returned as `foreign` {line index: text}: they take the line-by-line path, whose spans
    count characters, not bytes."""
    fixed = {}
    if bad is None:
        return data, {}, fixed
    dirty = _redrawn(data, bad, bad_line, starts, lens)
    at, length = starts[dirty].tolist(), lens[dirty].tolist()
    extra, foreign = [], {}
    new_at, new_len, moved = [], [], []
    offset = len(data) + 1
    for d, s, k in zip(dirty.tolist(), at, length):
        text = clean_line(data[s:s + k])
        fixed[d] = text.encode("utf-8", "replace").translate(_SHAPE)
        if text.isascii():
            moved.append(d)
            new_at.append(offset)
            new_len.append(len(text))
            extra.append(text)
            offset += len(text) + 1
        else:
            foreign[d] = text
    if moved:
        starts[moved] = new_at
        lens[moved] = new_len
        data = data + b"\n" + "\n".join(extra).encode("ascii")
    return data, foreign, fixed


def _redrawn(data, bad, bad_line, starts, lens) -> np.ndarray:
    """Settle the lines whose only unusual bytes are carriage returns and whose last frame is
    the longest (tqdm's redraws): the terminal shows that frame, so the line becomes a span of
    the block (render_cursor's first case). Returns the dirty lines left to clean one by one."""
    is_cr = np.frombuffer(data, np.uint8)[bad] == 13
    dirty = np.zeros(len(starts), bool)           # per line (set membership without sorting)
    dirty[bad_line] = True
    only_cr = dirty.copy()
    only_cr[bad_line[~is_cr]] = False
    cr_lines = np.flatnonzero(only_cr)
    if not cr_lines.size:
        return np.flatnonzero(dirty)
    pick = only_cr[bad_line]
    cr, line = bad[pick], bad_line[pick]
    first = np.ones(len(cr), bool)
    first[1:] = line[1:] != line[:-1]
    prev = np.where(first, starts[line] - 1, np.roll(cr, 1))
    group = np.flatnonzero(first)
    longest = np.maximum.reduceat(cr - prev - 1, group)          # frames before the last \r
    last_cr = cr[np.append(group[1:], len(cr)) - 1]
    frame = starts[cr_lines] + lens[cr_lines] - last_cr - 1      # the frame after it
    ok = frame >= longest
    lines, begin, size = cr_lines[ok], last_cr[ok] + 1, frame[ok]
    spaced = np.flatnonzero((size > 0) & (np.frombuffer(data, np.uint8)[begin + size - 1] == 32))
    if spaced.size:                                   # trailing blanks: as str.rstrip()
        for k in spaced.tolist():
            b = int(begin[k])
            size[k] = len(data[b:b + int(size[k])].rstrip())
    starts[lines], lens[lines] = begin, size
    dirty[lines] = False
    return np.flatnonzero(dirty)


class _Values:
    """The values of the template lines `tl`: one flat array, `nv` values per line.

    Reading them all is left to the process that puts the columns together (`read`); the
    parser reads only the counters it carries from line to line (`setters`)."""

    def __init__(self, buf, src, starts, tl, tcodes, templates, specs):
        self.tl, self.tcodes = tl, tcodes
        # what assembling needs of each template (plain data: it may cross a process boundary)
        self.tinfo = [None if t is None else (tuple(getattr(t, a) for a in ATTRS),
                                              tuple(zip(t.names, t.roles, t.groups, t.aggs)))
                      for t in templates]
        u = len(templates)
        nv = np.zeros(u, np.int64)
        nm = np.zeros(u, np.int64)
        spec_base = np.zeros(u, np.int64)
        counter_at = {name: np.full(u, -1, np.int64) for name in COUNTERS}
        offsets, spec_fids, formats, fmt_ids = [], [], [], {}
        for c, t in enumerate(templates):
            if t is None:
                continue
            nv[c], nm[c], spec_base[c] = len(specs[c]), t.n_metrics, len(offsets)
            for s, fmt in specs[c]:
                fid = fmt_ids.get(id(fmt))      # formats are shared objects (kept in _FORMATS)
                if fid is None:
                    fid = fmt_ids[id(fmt)] = len(formats)
                    formats.append(fmt)
                offsets.append(s)
                spec_fids.append(fid)
            for name, k in zip(COUNTERS, t.counters):
                if k is not None:
                    counter_at[name][c] = k
        self.offsets = np.array(offsets, np.int64)
        self.spec_fids = np.array(spec_fids, np.uint16 if len(formats) < 65536 else np.int64)  # (radix sort)
        self.formats, self.spec_base, self.nm, self.counter_at = formats, spec_base, nm, counter_at
        self.per_line = nv[tcodes]
        self.vbase = np.cumsum(self.per_line) - self.per_line
        self.flat = None                    # every value, once `read`
        self._block = (buf, src, starts)    # (the parser's; not pickled)
        self._setters = {}
        self._layout = None

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k not in ("_block", "_setters", "_layout")}

    def __setstate__(self, state):
        self.__dict__.update(state, _block=None, _setters={}, _layout=None)

    def layout(self, m: int):
        """(line, place in the line) of each value of the first m template lines."""
        if self._layout is None:
            per_line = self.per_line[:m]
            owner = np.repeat(np.arange(m), per_line)
            self._layout = (owner, np.arange(int(per_line.sum())) - self.vbase[owner])
        return self._layout

    def read(self, m: int, buf, src, line_start) -> None:
        """Read every value of the first m template lines (`line_start`: where they start)."""
        owner, k = self.layout(m)
        spec = self.spec_base[self.tcodes[owner]] + k
        self.flat = self._numbers(buf, src, line_start[owner] + self.offsets[spec], spec)

    def _numbers(self, buf, src, where, spec) -> np.ndarray:
        """The values at `where`, printed as spec `spec` each: read format by format."""
        fid = self.spec_fids[spec]
        values = np.empty(len(where))
        order = np.argsort(fid, kind="stable")
        lo = 0
        for f, hi in enumerate(np.cumsum(np.bincount(fid, minlength=len(self.formats))).tolist()):
            if hi > lo:
                idx = order[lo:hi]
                values[idx] = read_numbers(buf, where[idx], self.formats[f], src)
            lo = hi
        return values

    def column(self, name: str, m: int):
        """(values, known) of counter `name` on the first m template lines (NaN, False: none)."""
        at = self.counter_at[name][self.tcodes[:m]]
        known = at >= 0
        values = np.full(m, np.nan)
        values[known] = self.flat[self.vbase[:m][known] + at[known]]
        return values, known

    def fingerprint(self, m: int) -> np.ndarray:
        """A number per template line (of the m `read`) that differs when one of its values
        differs (nan: unknown), so rules can tell most different lines apart without
        building their texts (BlockColumns.texts_differ)."""
        # weights far from small integers, so that different values rarely sum alike
        weight = 1.0 + (np.arange(int(self.per_line[:m].max(initial=0))) * 0.6180339887498949) % 1.0 * 1e3
        # nan and inf stand for fixed numbers: lines printing them stay comparable (equal
        # texts still give equal fingerprints; only "different" is ever concluded)
        values = np.nan_to_num(self.flat, nan=1.5e300, posinf=1.25e300, neginf=-1.25e300)
        owner, k = self.layout(m)
        return np.bincount(owner, weights=values * weight[k], minlength=m)

    def setters(self, name: str) -> np.ndarray:
        """Line indexes of the template lines that set carried counter `name`."""
        got = self._setters.get(name)
        if got is None:
            at = self.counter_at[name][self.tcodes]
            rows = np.flatnonzero(at >= 0)
            got = self._setters[name] = (self.tl[rows], rows, at[rows])
        return got[0]

    def setter_value(self, name: str, k: int) -> float:
        """The value the k-th of those lines sets: the parser needs a few (the position
        handed to a line-by-line line, or on to the next block), read as float() reads them."""
        _, rows, at = self._setters[name]
        r = int(rows[k])
        spec = int(self.spec_base[self.tcodes[r]] + at[k])
        fmt = self.formats[self.spec_fids[spec]]
        if fmt.constant is not None:
            return fmt.constant
        _, src, starts = self._block
        s = int(starts[self.tl[r]] + self.offsets[spec])
        return float(src[s:s + fmt.width])


def _read_slow(bp, slow, v, src, starts, lens, codes, uniq, foreign, first_no, sb) -> int:
    """Read the line-by-line lines in order into `sb`, giving each the position the template
    lines before it set. Returns where the template lines stop counting: the block's end, or
    the line after one that made BulkParser forget its plans (a new header), whose following
    lines are then all read line by line."""
    parser = bp.parser
    n = len(codes)
    before = {}
    for name in _CARRIED:
        pos = v.setters(name)
        before[name] = (pos, (np.searchsorted(pos, slow) - 1).tolist())
    at, length = starts[slow].tolist(), lens[slow].tolist()
    prev = -1
    for t, j in enumerate(slow.tolist()):
        for name in _CARRIED:
            pos, ks = before[name]
            k = ks[t]
            if k >= 0 and pos[k] > prev:
                setattr(parser, name, v.setter_value(name, k))
        text = foreign.get(j)
        if text is None:
            text = src[at[t]:at[t] + length[t]].decode("latin-1")
        clears = bp.clears
        bp.read_lines([text], [uniq[codes[j]]], first_no + j, sb)
        if bp.clears != clears:
            rest = range(j + 1, n)
            texts = [foreign.get(i) or src[int(starts[i]):int(starts[i] + lens[i])].decode("latin-1")
                     for i in rest]
            bp.read_lines(texts, [uniq[c] for c in codes[j + 1:].tolist()], first_no + j + 1, sb)
            return j + 1
        prev = j
    return n


class _Merge:
    """Puts a few records (read line by line) among many (read by template), both in order:
    `at[i]` of the many come before few-record i. One pass per column, not a sort."""

    def __init__(self, n_many: int, at: np.ndarray):
        self.few_at = at + np.arange(len(at))            # where the few land
        self.many = np.ones(n_many + len(at), bool)
        self.many[self.few_at] = False

    def __call__(self, many: np.ndarray, few) -> np.ndarray:
        out = np.empty(len(self.many), np.result_type(many, np.asarray(few)))
        out[self.few_at] = few
        out[self.many] = many
        return out


class Pending:
    """A block's records before their columns are put together (`assemble`).

    The parsing process of logdoc.engine.pipeline sends this instead of the BlockColumns (BulkParser
    with `defer`): it is smaller, and putting the columns together then runs in the process
    that judges the batch, which has time to spare, instead of the one that parses."""

    __slots__ = ("v", "m", "sb", "first_no", "at_start", "src", "text_start", "text_len",
                 "data_len", "at")

    def __init__(self, v, m, sb, first_no, at_start, src, text_start, text_len, data_len):
        self.v, self.m, self.sb, self.first_no, self.at_start = v, m, sb, first_no, at_start
        self.src, self.text_start, self.text_len = src, text_start, text_len
        self.data_len, self.at = data_len, 0

    def read_values(self) -> None:
        """Read the numbers now (else assembling does)."""
        self.v.read(self.m, np.frombuffer(self.src, np.uint8), self.src, self.text_start)

    def assemble(self) -> BlockColumns:
        cols = _assemble(self.v, self.m, self.sb, self.first_no, self.at_start, self.src,
                         self.text_start, self.text_len, self.data_len)
        cols.at = self.at
        return cols


def _assemble(v: _Values, m: int, sb: Batch, first_no: int, at_start: dict, src, t_start, t_len,
              data_len: int):
    """BlockColumns of the first m template records and the line-by-line ones, in line order
    (`t_start`, `t_len`: where the template records' texts are in `src`)."""
    tl, tcodes, tinfo = v.tl[:m], v.tcodes[:m], v.tinfo
    if v.flat is None:
        v.read(m, np.frombuffer(src, np.uint8), src, t_start)
    n_slow = len(sb.line)
    slow_line = np.array(sb.line, np.int64) - first_no
    # both parts are in line order and hold different lines (several records of one slow
    # line stay together)
    merged = _Merge(m, np.searchsorted(tl, slow_line)) if n_slow else (lambda a, _: a)
    line = merged(tl, slow_line)

    u = len(tinfo)
    attrs = [None if t is None else t[0] for t in tinfo]
    attrs += zip(*[getattr(sb, a) for a in ATTRS])
    rc = merged(tcodes.astype(np.int64), np.arange(u, u + n_slow))

    counters = {}
    for name in COUNTERS:
        t_values, t_known = v.column(name, m)
        slow_values = getattr(sb, name)
        values = merged(t_values, np.array([np.nan if x is None else x for x in slow_values], np.float64))
        known = merged(t_known, np.array([x is not None for x in slow_values], bool))
        if name in _CARRIED:
            # a template line without this counter inherits the last one set before it; a
            # line-by-line record always "sets" it (Parser.carry gave it the inherited value)
            sets = merged(t_known, np.ones(n_slow, bool))
            src_row = np.maximum.accumulate(np.where(sets, np.arange(len(sets)), -1))
            first = at_start[name]
            has = src_row >= 0
            picked = np.where(has, src_row, 0)
            values = np.where(has, values[picked], np.nan if first is None else first)
            known = np.where(has, known[picked], first is not None)
        counters[name] = (values, None if known.all() else known)

    text_start = merged(t_start, np.full(n_slow, -1, np.int64))
    text_end = merged(t_start + t_len, np.full(n_slow, -1, np.int64))
    extra = dict(zip(merged.few_at.tolist(), sb.text)) if n_slow else {}

    # metrics: a template record's are the first nm values of its line
    owner, k = v.layout(m)
    m_value = v.flat
    if np.any(v.per_line[:m] != v.nm[tcodes]):        # some values are counters only
        is_metric = np.flatnonzero(k < v.nm[tcodes[owner]])
        owner, k, m_value = owner[is_metric], k[is_metric], m_value[is_metric]
    meta, meta_base = [], np.zeros(u, np.int64)
    for c, t in enumerate(tinfo):
        if t is not None:
            meta_base[c] = len(meta)
            meta.extend(t[1])
    m_meta = meta_base[tcodes[owner]] + k
    m_row = owner if not n_slow else np.flatnonzero(merged.many)[owner]
    if n_slow and sb.m_row:
        s_row = merged.few_at[np.array(sb.m_row, np.int64)]
        s_meta = np.arange(len(meta), len(meta) + len(sb.m_row))
        meta.extend(zip(sb.m_name, sb.m_role, sb.m_group, sb.m_agg))
        by_row = _Merge(len(m_row), np.searchsorted(m_row, s_row))
        m_row, m_value, m_meta = (by_row(m_row, s_row), by_row(m_value, np.array(sb.m_value, np.float64)),
                                  by_row(m_meta, s_meta))
    fingerprint = merged(v.fingerprint(m), np.full(n_slow, np.nan))
    return BlockColumns(line=line + first_no, rc=rc, attrs=attrs, counters=counters, src=src,
                        text_start=text_start, text_end=text_end, extra=extra, m_row=m_row,
                        m_value=m_value, m_meta=m_meta, meta=meta, fingerprint=fingerprint,
                        n_templates=u, data_len=data_len)
