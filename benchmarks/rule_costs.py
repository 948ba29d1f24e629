#!/usr/bin/env python3
"""Time each rule alone over the batches of a log: where does rule time go?

usage: python benchmarks/rule_costs.py LOG [--mb 10]

The log (its first --mb megabytes) is parsed once into batches, as `analyze` cuts and parses
them (NumPy batches past the first block); then every rule runs over those batches on its own,
fresh, and its wall time is printed per line of the log, slowest first. The first rule to read
a batch's list column or shared series pays for building it, as in a real run. Not a test:
numbers depend on the machine.
"""
from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from logdoc.core.batch import Batch  # noqa: E402
from logdoc.engine.engine import build_rules  # noqa: E402
from logdoc.parsing.parser import Parser  # noqa: E402
from logdoc.parsing.patterns import default_patterns  # noqa: E402
from logdoc.parsing.bulk import BulkParser  # noqa: E402
from logdoc.source.reading import BLOCK, iter_blocks  # noqa: E402


def batches_of(path: str, mb: float) -> tuple[list[Batch], int]:
    """The batches `analyze` gives the rules for the first `mb` megabytes, and their lines."""
    with open(path, "rb") as fh:
        data = fh.read(int(mb * 1024 * 1024))
    data = data[:data.rfind(b"\n")]
    bulk = BulkParser(Parser(default_patterns()))
    out, lines = [], 0
    for first_no, block in iter_blocks(io.BytesIO(data), path, BLOCK, gather=True):
        for batch, n in bulk.parse_blocks(block, first_no):
            out.append(batch)
            lines += n
    return out, lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("log")
    ap.add_argument("--mb", type=float, default=10)
    args = ap.parse_args()
    batches, lines = batches_of(args.log, args.mb)
    n = sum(len(b) for b in batches)
    rows = []
    for rule in build_rules():
        t0 = time.perf_counter()
        found = 0
        for b in batches:
            if rule.wants is None or not rule.wants.isdisjoint(b.roles):
                found += len(list(rule.observe_batch(b)))
        found += len(list(rule.finish()))
        rows.append((time.perf_counter() - t0, rule.id, found))
    total = sum(t for t, _, _ in rows)
    print(f"{lines:,} lines, {n:,} records in {len(batches)} batches "
          f"({sum(b.columns is not None for b in batches)} of them NumPy); all rules {total:.2f} s "
          f"({total / lines * 1e6:.2f} µs per line)")
    for t, rid, found in sorted(rows, reverse=True):
        print(f"{rid:24s} {t:7.3f} s  {t / lines * 1e6:6.3f} µs/line  {found} findings")
    return 0


if __name__ == "__main__":
    sys.exit(main())
