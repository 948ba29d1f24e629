"""Numbers of one printed format, read from many lines at once, exactly as float() reads them.

Every line of a shape prints its numbers in the same format (`7.7777`, `7.777e-77`: the
shape writes each digit as 7), at the same offsets. So the bulk parser can read one value
of a whole block of lines with a few NumPy operations instead of a slice and a float() per
line: gather the digits, build the integer mantissa, then scale it by a power of ten.

Exactness: that scaling is Clinger's fast path. When the mantissa is below 2**53 and the
power of ten is at most 10**22 (both exact in a double), one IEEE multiplication or division
gives the correctly rounded result, which is what float() returns. Values outside those
bounds (rare: more than 15 digits, huge exponents) are read by float() itself.
"""
from __future__ import annotations

import re

import numpy as np

_FORMAT = re.compile(rb"([+-]?)(7*)(?:\.(7*))?(?:[eE]([+-]?)(7+))?")
_POW10 = np.array([10.0 ** k for k in range(23)])   # each exact in a double
_MAX_DIGITS = 15           # 57 * (10**15 - 1) / 9 < 2**53: sums of byte * weight stay exact


class NumberFormat:
    """How to read one printed number format (its shape, e.g. b'7.777e-77')."""

    __slots__ = ("width", "negative", "mantissa", "weights", "zero", "fraction", "exponent",
                 "exp_weights", "exp_negative", "constant")

    def __init__(self, width, negative, mantissa, fraction, exponent, exp_negative, constant):
        self.width = width
        self.negative = negative
        self.mantissa = list(mantissa)      # offsets of the mantissa's digits
        # the weight of every byte of the printed number (0 off the mantissa's digits): the
        # mantissa is rows @ weights - 48 * sum(weights), all exact integers below 2**53
        self.weights = np.zeros(width)
        for i, at in enumerate(mantissa):
            self.weights[at] = 10.0 ** (len(mantissa) - 1 - i)
        self.zero = 48.0 * self.weights.sum()
        self.fraction = fraction            # digits after the point
        self.exponent = list(exponent)      # offsets of the exponent's digits
        self.exp_weights = np.array([10 ** (len(exponent) - 1 - i) for i in range(len(exponent))],
                                    dtype=np.int64)
        self.exp_negative = exp_negative
        self.constant = constant            # the value when the format has no digit (nan, inf)


def number_format(shape: bytes) -> NumberFormat | None:
    """The reader of a number printed as `shape`, or None when float() must read it."""
    if not any(c == 55 for c in shape):            # no digit: "nan", "inf", "-inf"
        try:
            return NumberFormat(len(shape), False, (), 0, (), False, float(shape))
        except ValueError:
            return None
    m = _FORMAT.fullmatch(shape)
    if m is None:
        return None
    whole = range(m.start(2), m.end(2))
    frac = range(m.start(3), m.end(3)) if m.group(3) is not None else range(0)
    digits = (*whole, *frac)
    if not digits or len(digits) > _MAX_DIGITS:
        return None
    exponent = tuple(range(m.start(5), m.end(5))) if m.group(5) is not None else ()
    if len(exponent) > 3:
        return None
    return NumberFormat(len(shape), m.group(1) == b"-", digits, len(frac), exponent,
                        m.group(4) == b"-", None)


def read_numbers(buf: np.ndarray, starts: np.ndarray, fmt: NumberFormat, data: bytes) -> np.ndarray:
    """The values printed in format `fmt` at `starts` of `buf` (uint8 view of `data`)."""
    n = len(starts)
    if fmt.constant is not None:
        return np.full(n, fmt.constant)
    # the printed numbers as rows of bytes: the block seen as overlapping `width`-byte items,
    # gathered once (a plain item copy; a 2-D window view gathers several times slower)
    items = np.ndarray(shape=(len(buf) - fmt.width + 1,), dtype=f"V{fmt.width}", buffer=buf,
                       strides=(1,))
    rows = items[starts].view(np.uint8).reshape(-1, fmt.width)
    # column by column (a matrix product would call BLAS, slower for such thin matrices)
    weights = fmt.weights
    mantissa = rows[:, fmt.mantissa[0]] * weights[fmt.mantissa[0]]
    for at in fmt.mantissa[1:]:
        mantissa += rows[:, at] * weights[at]
    mantissa -= fmt.zero
    if fmt.exponent:
        exp = rows[:, fmt.exponent].astype(np.int64)
        exp -= 48
        scale = exp @ fmt.exp_weights
        if fmt.exp_negative:
            scale = -scale
        scale -= fmt.fraction
        up = scale >= 0
        values = np.empty(n)
        np.multiply(mantissa, _POW10[np.minimum(scale, 22) * up], out=values, where=up)
        down = ~up
        np.divide(mantissa, _POW10[np.minimum(-scale, 22) * down], out=values, where=down)
        far = np.flatnonzero(np.abs(scale) > 22)
        for i in far.tolist():              # outside the exact range: float() itself
            s = int(starts[i])
            values[i] = abs(float(data[s:s + fmt.width]))
    elif fmt.fraction:
        values = mantissa / _POW10[fmt.fraction]
    else:
        values = mantissa
    if fmt.negative:
        values = np.negative(values)
    return values
