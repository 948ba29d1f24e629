"""Turn bytes into the lines a terminal user saw.

* Split on b"\\n" only, so line numbers equal `grep -n` (a bare \\r never starts a line).
* Within a line, \\r returns the cursor to column 0 and \\b moves it left, so tqdm and Keras
  redraws collapse to the final frame; CRLF endings disappear the same way.
* ANSI/OSC escapes and other control characters are removed: log text is untrusted and
  must never reach a terminal, an annotation or a report as a control sequence.
* Invalid UTF-8 is replaced, never fatal; mojibake (UTF-8 read as cp1252) is repaired.
* gzip is recognised by its magic bytes, on files and on stdin. A gzip cut short (the run
  died while writing it) is read as far as its data goes, with a warning (GzipStream).
"""
from __future__ import annotations

import gzip
import io
import os
import re
import sys
import zlib
from collections.abc import Iterator
from typing import BinaryIO

from ..core.model import Line

CHUNK = 1 << 20
BLOCK = 8 << 20        # what analyze and watch parse at once when the input has that much ready
MAX_LINE = 4 << 20          # longer physical lines are cut (bounded memory on \r-only streams)


class InputError(Exception):
    """A problem with the input that the user must fix. The CLI prints it as one line, exit 2."""


class GzipStream:
    """The decompressed bytes of a gzip stream (its members one after another, as `gzip -d`
    reads them), as far as its data goes.

    gzip.GzipFile rejects a stream cut mid-member (EOFError): the lines before the cut are
    lost, and a run that died while writing its log is exactly the one to read. Here a cut
    ends the text where the data ends; `cut` is then the byte offset of the cut in the
    compressed input (its length) and `text_bytes` how much text came before it (iter_chunks
    warns on stderr, warn_cut). Corrupt data (a bad block, a wrong CRC) still raises
    zlib.error, reported as an InputError."""

    def __init__(self, raw: BinaryIO, name: str):
        self.raw, self.name = raw, name
        self._d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._in = b""             # read from raw, not yet given to the decompressor
        self._fed = False          # the current member has been given data
        self.read_bytes = 0        # compressed bytes read from raw
        self.text_bytes = 0        # decompressed bytes returned
        self.cut: int | None = None

    def read1(self, size: int = -1) -> bytes:
        size = size if size and size > 0 else CHUNK
        while True:
            if not self._in:
                self._in = self.raw.read(CHUNK)
                self.read_bytes += len(self._in)
                if not self._in:
                    if self._fed and not self._d.eof and self.cut is None:
                        self.cut = self.read_bytes
                    return b""
            if self._d.eof:                       # a member ended: padding or another member
                if not self._in.strip(b"\0"):
                    self._in = b""
                    continue
                self._d = zlib.decompressobj(16 + zlib.MAX_WBITS)
                self._fed = False
            out = self._d.decompress(self._in, size)
            self._fed = True
            self._in = self._d.unused_data if self._d.eof else self._d.unconsumed_tail
            if out:
                self.text_bytes += len(out)
                return out

    read = read1

    def close(self) -> None:
        self.raw.close()


def cut_message(stream: GzipStream) -> str:
    return (f"truncated gzip data: the compressed stream is cut at byte {stream.cut:,} before its "
            f"end; read the {stream.text_bytes:,} bytes of text before the cut")


_WARNED: set[tuple[str, int]] = set()


def warn_cut(stream: GzipStream) -> None:
    """One line on stderr for a cut gzip (once per input and offset in this process: the
    expectations read a log a second time)."""
    key = (stream.name, stream.cut)
    if key not in _WARNED:
        _WARNED.add(key)
        print(f"logdoc: warning: {stream.name}: {cut_message(stream)}", file=sys.stderr, flush=True)


_ESCAPES = re.compile(
    r"\x1b(?:\[[0-?]*[ -/]*[@-~]"          # CSI: colours, cursor moves
    r"|\][^\x07\x1b]*(?:\x07|\x1b\\)?"     # OSC: titles, hyperlinks
    r"|[PX^_][^\x1b]*(?:\x1b\\)?"          # DCS/SOS/PM/APC strings
    r"|[ -/]*[0-~])?"                      # two-character escapes (or a lone ESC)
    r"|\x9b[0-?]*[ -/]*[@-~]"              # 8-bit CSI
)
_CONTROLS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# A cp1252/latin-1 lead byte of a UTF-8 sequence followed by a continuation-looking char.
_MOJIBAKE = re.compile(
    "[\u00c2-\u00f4][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6"
    "\u02dc\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]"
)


def render_cursor(text: str) -> str:
    """Apply \\r and \\b the way a terminal does: later text overwrites earlier columns."""
    if "\b" not in text:
        segments = text.split("\r")
        last = segments[-1]
        if len(last) >= max(map(len, segments)):
            return last           # tqdm's usual redraw: the last frame covers every earlier one
        # each column shows the last frame that reached it: walk the frames from the last,
        # keeping what each longer one adds on the right (linear, whatever the \r storm)
        parts = []
        covered = 0
        for seg in reversed(segments):
            if len(seg) > covered:
                parts.append(seg[covered:])
                covered = len(seg)
        return "".join(parts)
    buf: list[str] = []
    pos = 0
    for ch in text:
        if ch == "\r":
            pos = 0
        elif ch == "\b":
            pos = max(0, pos - 1)
        else:
            if pos < len(buf):
                buf[pos] = ch
            else:
                buf.append(ch)
            pos += 1
    return "".join(buf)


def fix_mojibake(text: str) -> str:
    if _MOJIBAKE.search(text):
        import ftfy  # imported only when needed: it is slow to import and rarely used

        return ftfy.fix_encoding(text)
    return text


def clean_line(raw: bytes) -> str:
    """Decode one physical line (without its \\n) into the text a terminal finally showed."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("utf-8", "replace")
    if text.isascii():
        if "\x1b" in text:
            text = _ESCAPES.sub("", text)
        if "\r" in text or "\b" in text:
            text = render_cursor(text)
        if not text.isprintable():
            text = _CONTROLS.sub("", text.replace("\t", "  "))
        return text.rstrip()
    if "\x1b" in text or "\x9b" in text:
        text = _ESCAPES.sub("", text)
    if "\r" in text or "\b" in text:
        text = render_cursor(text)
    text = fix_mojibake(text)
    text = _CONTROLS.sub("", text.replace("\t", "  "))
    return text.rstrip()


def open_input(path: str) -> tuple[BinaryIO, str]:
    """Open a path or '-' for reading bytes; returns (stream, display name)."""
    if path == "-":
        raw: BinaryIO = sys.stdin.buffer
        name = "<stdin>"
    else:
        name = path
        if os.path.isdir(path):
            raise InputError(f"{path}: is a directory")
        try:
            raw = open(path, "rb", buffering=CHUNK)
        except FileNotFoundError:
            raise InputError(f"{path}: no such file") from None
        except PermissionError:
            raise InputError(f"{path}: permission denied") from None
        except OSError as exc:
            raise InputError(f"{path}: cannot open: {exc.strerror or exc}") from None
    peek = getattr(raw, "peek", None)
    head = peek(2)[:2] if peek else b""
    if head == b"\x1f\x8b":
        return GzipStream(raw, name), name
    return raw, name


def iter_chunks(stream: BinaryIO, name: str, size: int = CHUNK) -> Iterator[bytes]:
    """Yield chunks as soon as they are available (read1 does not wait for a full buffer)."""
    read = getattr(stream, "read1", None) or stream.read
    first = True
    while True:
        try:
            chunk = read(size)
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise InputError(f"{name}: corrupt gzip data ({exc})") from None
        except OSError as exc:
            raise InputError(f"{name}: read error: {exc.strerror or exc}") from None
        if first:
            if not chunk and getattr(stream, "cut", None) is not None:
                raise InputError(f"{name}: truncated gzip data: cut at byte {stream.cut:,}, before any text")
            if not chunk:
                raise InputError(f"{name}: empty input, nothing to analyse")
            if b"\x00" in chunk[:8192]:
                raise InputError(f"{name}: binary file (contains NUL bytes), not a text log")
            first = False
        if not chunk:
            if getattr(stream, "cut", None) is not None:
                warn_cut(stream)
            return
        yield chunk


def iter_lines(stream: BinaryIO, name: str) -> Iterator[Line]:
    """Split a byte stream into cleaned Lines numbered like `grep -n`."""
    carry = b""
    no = 0
    for chunk in iter_chunks(stream, name):
        parts = (carry + chunk).split(b"\n") if carry else chunk.split(b"\n")
        carry = parts.pop()
        if len(carry) > MAX_LINE:
            # a redraw-only stream (tqdm without newlines): keep the last frame's neighbourhood
            cut = carry.rfind(b"\r", 0, len(carry) - 1)
            carry = carry[cut + 1:] if cut > 0 else carry[-MAX_LINE // 2:]
        for raw in parts:
            no += 1
            yield Line(no, clean_line(raw))
    if carry:
        no += 1
        yield Line(no, clean_line(carry))


def iter_blocks(stream: BinaryIO, name: str, size: int = CHUNK,
                gather: bool = False) -> Iterator[tuple[int, bytes]]:
    """(number of the first line, complete lines joined by \\n) for each chunk as it arrives.

    The bulk parser's input: the same lines as iter_lines, uncleaned, without per-line
    Python objects. A live stream gives small blocks (whatever arrived, up to `size`); with
    `gather` (a file: nobody waits for its lines), chunks are joined up to `size` first."""
    for no, _, block in iter_blocks_at(stream, name, size, gather):
        yield no, block


def iter_blocks_at(stream: BinaryIO, name: str, size: int = CHUNK, gather: bool = False,
                   numbered: bool = True) -> Iterator[tuple[int, int, bytes]]:
    """iter_blocks, with each block's offset in the stream: (first line, offset, block).

    Not `numbered`: every block's first line is given as 1, for a reader that counts the
    lines it parses (counting them here is a pass over the block)."""
    carry = b""
    no = 1
    offset = 0                 # of carry's first byte
    chunks = iter_chunks(stream, name, size)
    for chunk in (_gathered(chunks, size) if gather else chunks):
        data = carry + chunk if carry else chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            carry = data
        else:
            carry = data[cut + 1:]
            block = data[:cut]
            yield no, offset, block
            if numbered:
                no += block.count(b"\n") + 1
            offset += cut + 1
        if len(carry) > MAX_LINE:
            cut = carry.rfind(b"\r", 0, len(carry) - 1)
            dropped = cut + 1 if cut > 0 else len(carry) - MAX_LINE // 2
            carry = carry[dropped:]
            offset += dropped
    if carry:
        yield no, offset, carry


def _gathered(chunks: Iterator[bytes], size: int) -> Iterator[bytes]:
    parts, got = [], 0
    for chunk in chunks:
        parts.append(chunk)
        got += len(chunk)
        if got >= size:
            yield b"".join(parts)
            parts, got = [], 0
    if parts:
        yield b"".join(parts)


def read_blocks(path: str, size: int = BLOCK, cuts: list | None = None) -> Iterator[tuple[int, bytes]]:
    """Blocks of a path or '-' (stdin), gzip or plain text, of about `size` bytes (see
    iter_blocks): analyze reads big blocks, which the vector parser takes fastest. A gzip cut
    short is appended to `cuts` (see read_blocks_at)."""
    for no, _, block in read_blocks_at(path, size, cuts=cuts):
        yield no, block


def read_blocks_at(path: str, size: int = BLOCK, numbered: bool = True,
                   cuts: list | None = None) -> Iterator[tuple[int, int, bytes]]:
    """read_blocks with each block's offset in the (decompressed) text: (line, offset, block).
    A gzip cut short appends its GzipStream to `cuts` once read to the end."""
    stream, name = open_input(path)
    try:
        yield from iter_blocks_at(stream, name, size, gather=True, numbered=numbered)
        if cuts is not None and getattr(stream, "cut", None) is not None:
            cuts.append(stream)
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


def read_lines(path: str) -> Iterator[Line]:
    """Lines of a path or '-' (stdin), gzip or plain text."""
    stream, name = open_input(path)
    try:
        yield from iter_lines(stream, name)
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


def lines_from_text(text: str | bytes) -> list[Line]:
    """Convenience for tests and the API: clean an in-memory log."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    return list(iter_lines(io.BytesIO(data), "<memory>"))


class _RawReader(io.RawIOBase):
    """Any object with read(n) -> bytes, as a raw stream (for a peekable BufferedReader)."""

    def __init__(self, stream):
        self.stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.stream.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


def stream_blocks(stream, name: str, size: int = BLOCK, cuts: list | None = None) -> Iterator[tuple[int, bytes]]:
    """read_blocks for an open binary stream (the API's `parse(stream)`): gzip, recognised by
    its magic bytes, or plain text; the stream is read, not closed."""
    raw = stream if hasattr(stream, "peek") else io.BufferedReader(_RawReader(stream), CHUNK)
    head = raw.peek(2)[:2]
    data = GzipStream(raw, name) if head == b"\x1f\x8b" else raw
    for no, _, block in iter_blocks_at(data, name, size, gather=True):
        yield no, block
    if cuts is not None and getattr(data, "cut", None) is not None:
        cuts.append(data)
