"""logdoc.parsing.fastfloat reads a printed number format exactly as float() does."""
from __future__ import annotations

import math
import random

import numpy as np
import pytest

from logdoc.parsing.fastfloat import number_format, read_numbers

_SHAPE = str.maketrans("0123456789", "7777777777")


def _read(texts: list[str]) -> list[float]:
    shape = texts[0].translate(_SHAPE).encode()
    assert all(t.translate(_SHAPE).encode() == shape for t in texts)
    fmt = number_format(shape)
    assert fmt is not None, shape
    data = "".join(texts).encode()
    starts = np.arange(0, len(data), len(shape), dtype=np.int64)
    return read_numbers(np.frombuffer(data, np.uint8), starts, fmt, data).tolist()


def _printed(rng: random.Random) -> str:
    kind = rng.randrange(4)
    if kind == 0:
        return f"{rng.uniform(-100, 100):.{rng.randint(0, 9)}f}"
    if kind == 1:
        return f"{rng.uniform(-1, 1) * 10 ** rng.randint(-40, 40):.{rng.randint(0, 12)}e}"
    if kind == 2:
        return str(rng.randint(0, 10 ** rng.randint(1, 15)))
    return f"{rng.random() * 10 ** rng.randint(-320, 300):.3E}"


def test_random_numbers_of_every_format_equal_float():
    rng = random.Random(7)
    checked = 0
    for _ in range(3000):
        text = _printed(rng)
        shape = text.translate(_SHAPE).encode()
        if number_format(shape) is None:
            continue
        got = _read([text])[0]
        want = float(text)
        assert got == want and math.copysign(1, got) == math.copysign(1, want), text
        checked += 1
    assert checked > 2500


@pytest.mark.parametrize("texts", [
    ["-0.0", "-0.0"], ["0.0000", "9.9999"], ["1.333e-04", "1.000e-22"], ["9.999e+22"],
    ["1e-300", "5e-310"], ["9e+300"],     # beyond 10**22: float() reads them
    ["nan"], ["-inf"], ["7."], [".5"], ["123456789012345"],
])
def test_edges(texts):
    got = _read(texts)
    for g, t in zip(got, texts):
        w = float(t)
        assert (math.isnan(g) and math.isnan(w)) or (g == w and math.copysign(1, g) == math.copysign(1, w))


@pytest.mark.parametrize("shape", [b"7777777777777777", b"7,777", b"77%", b"0x77", b"7.7.7", b"", b"e7"])
def test_formats_float_must_read_are_refused(shape):
    assert number_format(shape) is None
