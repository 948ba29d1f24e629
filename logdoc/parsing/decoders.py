"""Values as logs spell them: numbers with separators or percent signs, Python lists, and the
serialised payloads some frameworks print (a Python `str(dict)` with bare nan, JSON with NaN).

Nothing here ever evaluates log text: dicts are read with a regex fast path or an AST walk
that accepts literals only.
"""
from __future__ import annotations

import math
import re


def parse_number(text: str) -> float:
    """float() that also accepts thousands separators, percentages and quotes."""
    text = text.strip().strip("'\"")
    if text.endswith("%"):
        text = text[:-1]
    if "," in text:
        text = text.replace(",", "")
    return float(text)


def _parse_list(text: str) -> list[str]:
    inner = text.strip()
    if inner.startswith("[") and inner.endswith("]"):
        inner = inner[1:-1]
    return [item.strip().strip("'\"") for item in inner.split(",") if item.strip()]


def _number(raw) -> float | None:
    if isinstance(raw, bool) or raw is None:
        return None
    if isinstance(raw, float):
        return raw
    if isinstance(raw, int):
        try:
            return float(raw)
        except OverflowError:     # a 400-digit integer: beyond any float, so infinite
            return math.inf if raw > 0 else -math.inf
    if isinstance(raw, str):
        try:
            return parse_number(raw)
        except ValueError:
            return None
    return None


_PY_SCALAR = r"""(?:'[^'\\]*'|"[^"\\]*"|[-+]?(?:nan|inf|NaN|Infinity)|[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|True|False|None)"""
_PY_ITEM = re.compile(r"""\s*('[^'\\]*'|"[^"\\]*")\s*:\s*(""" + _PY_SCALAR + r""")\s*(?:,|(?=\s*\}))""")
_NONFINITE_NAMES = {"nan": math.nan, "NaN": math.nan, "inf": math.inf, "Infinity": math.inf}


def decode_pydict(text: str) -> list[tuple[str, object]]:
    """The items of a Python dict literal as `str(dict)` prints it, tolerating bare nan/inf.

    A flat dict of scalars (the common case) is read with one regex; anything else (nested
    values, odd quoting) goes through a restricted `ast` walk. Never evaluates code.
    """
    text = text.strip()
    if not (text.startswith("{") and text.endswith("}")):
        return []
    items = _exact_str_dict(text)
    if items is not None:
        return items
    body_end = len(text) - 1
    pos = 1
    items = []
    for m in _PY_ITEM.finditer(text, 1):
        if m.start() != pos:
            break
        key, raw = m.group(1)[1:-1], m.group(2)
        items.append((key, raw.strip("'\"") if raw[0] in "'\"" else raw))
        pos = m.end()
    else:
        if text[pos:body_end].strip() == "":
            return items
    return _ast_dict(text)


def _flat_items(text: str) -> list[tuple[str, str]]:
    """`{"key": scalar, …}` read item by item with _PY_ITEM; [] unless it covers the object."""
    if not (text.startswith("{") and text.endswith("}")):
        return []
    pos, items = 1, []
    for m in _PY_ITEM.finditer(text, 1):
        if m.start() != pos:
            return []
        raw = m.group(2)
        items.append((m.group(1)[1:-1], raw.strip("'\"") if raw[0] in "'\"" else raw))
        pos = m.end()
    return items if text[pos:-1].strip() == "" else []


# What str(dict) prints exactly: "'key': value, " between items and "}" at the end.
_STR_DICT_ITEM = re.compile(r"""'([^'\\]*)': ('[^'\\]*'|[^,{}\[\]()'"]*)(?:, |\}$)""")


def _exact_str_dict(text: str) -> list[tuple[str, str]] | None:
    """The fast path for `str(dict)` of scalars; None when the text is anything else."""
    pos = 1
    items = []
    for m in _STR_DICT_ITEM.finditer(text, 1):
        if m.start() != pos:
            return None
        raw = m.group(2)
        items.append((m.group(1), raw[1:-1] if raw[:1] == "'" else raw))
        pos = m.end()
    return items if pos == len(text) and items else None


def _ast_dict(text: str) -> list[tuple[str, object]]:
    import ast

    try:
        node = ast.parse(text, mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    if not isinstance(node, ast.Dict):
        return []
    items = []
    for k, v in zip(node.keys, node.values):
        if not (isinstance(k, ast.Constant) and isinstance(k.value, str)):
            continue
        value = _ast_scalar(v)
        if value is not None:
            items.append((k.value, value))
    return items


def _ast_scalar(node):
    import ast

    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str)) \
            and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.Name) and node.id in _NONFINITE_NAMES:
        return _NONFINITE_NAMES[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _ast_scalar(node.operand)
        if isinstance(inner, (int, float)):
            return -inner if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.Call) and node.args:    # tensor(0.5, device=...) -> 0.5 (never called)
        inner = _ast_scalar(node.args[0])
        return inner if isinstance(inner, (int, float)) else None
    return None


def decode_json(text: str) -> list[tuple[str, object]]:
    """The scalar items of a JSON object (NaN/Infinity allowed, as Python's json writes them)."""
    import json

    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        # Not strict JSON, e.g. a zero-padded number ("epoch": 007). Read a flat object of
        # scalars anyway, so whether a line parses never depends on which digits it holds
        # (line shapes are remembered with every digit folded, see patterns.PatternSet).
        return _flat_items(text.strip())
    if not isinstance(doc, dict):
        return []
    return [(k, v) for k, v in doc.items() if isinstance(v, (int, float, str)) and not isinstance(v, bool)]
