#!/usr/bin/env python3
"""Time each rule alone over the batches of a log: where does rule time go?

usage: python benchmarks/rule_costs.py LOG [--mb 10] [--batch-lines 65536]

The log (its first --mb megabytes) is parsed once into batches, as `analyze` cuts them; then
every rule runs over those batches on its own, fresh, and its wall time is printed per
record of the log, slowest first. Not a test: numbers depend on the machine.
"""
from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from logdoc.batch import Batch  # noqa: E402
from logdoc.engine import build_rules  # noqa: E402
from logdoc.parser import Parser  # noqa: E402
from logdoc.patterns import default_patterns  # noqa: E402
from logdoc.reading import iter_lines  # noqa: E402


def batches_of(path: str, mb: float, batch_lines: int) -> list[Batch]:
    with open(path, "rb") as fh:
        data = fh.read(int(mb * 1024 * 1024))
    parser = Parser(default_patterns())
    out, pending = [], []
    for line in iter_lines(io.BytesIO(data), path):
        pending.extend(parser.feed(line))
        if line.no % batch_lines == 0:
            out.append(Batch.from_records(pending))
            pending = []
    out.append(Batch.from_records(pending))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("log")
    ap.add_argument("--mb", type=float, default=10)
    ap.add_argument("--batch-lines", type=int, default=65536)
    args = ap.parse_args()
    batches = batches_of(args.log, args.mb, args.batch_lines)
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
    print(f"{n:,} records in {len(batches)} batches; all rules {total:.2f} s "
          f"({total / n * 1e6:.2f} µs per record)")
    for t, rid, found in sorted(rows, reverse=True):
        print(f"{rid:24s} {t:7.3f} s  {t / n * 1e6:6.2f} µs/record  {found} findings")
    return 0


if __name__ == "__main__":
    sys.exit(main())
