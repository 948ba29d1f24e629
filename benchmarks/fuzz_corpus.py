"""Mutation fuzz over the corpus (issue 17, point 10): not part of the test suite.

    python benchmarks/fuzz_corpus.py [--logs N] [--jobs J] [--seed S] [--keep DIR]

Takes the repository's test logs (tests/**/*.log), mutates each one many ways and analyses
the result in-process through the CLI (`analyze -f json|jsonl|sarif|gitlab|terminal`, a
format per mutant, rotating). Mutations: byte flips, line shuffles, numbers replaced by
nan / inf / -inf / 1e308 / 1e309 / 1e99999 / -0.0 / 300- and 5000-digit integers, ANSI and
OSC escapes, \\r storms, NUL bytes, long lines (64 KB - 1 MB after a real line), truncation.
Reports: internal errors (exit codes other than 0/1/2/5, "internal error", a traceback or a
Python warning on stderr, a code-2 message longer than one line, an `internal-error` finding:
a rule that raised) and mutants under 1 MB that took over 2 s of
CPU. Each worker's address space is capped (--memory, default 4 GB), so a mutant that makes
logdoc allocate without bound is a MemoryError recorded against that mutant, not a worker
killed by the kernel and a pool that hangs. A mutant that fails is written to --keep
(default /tmp/logdoc-fuzz) to replay.
Results are recorded in BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import random
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FORMATS = ("json", "jsonl", "sarif", "gitlab", "terminal")
NUMBERS = [b"nan", b"NaN", b"inf", b"-inf", b"Infinity", b"-Infinity", b"1e308", b"1e309",
           b"-1e309", b"1e99999", b"-1e99999", b"-0.0", b"0.0", b"1e-400", b"9" * 300,
           b"-" + b"9" * 300, b"9" * 5000, b"1" + b"0" * 400 + b".5"]
_NUM = re.compile(rb"[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
ESCAPES = [b"\x1b[31m", b"\x1b]0;title\x07", b"\x1b[2K", b"\x9b1m", b"\x08", b"\x00", b"\t",
           b"\xff\xfe", b"\xc3\xa9", b"\\n", b"\\u0000", b"::error::x", b"##[error]x"]


def mutate(data: bytes, rng: random.Random) -> bytes:
    kind = rng.randrange(9)
    lines = data.split(b"\n")
    if kind == 0:                                   # byte flips
        buf = bytearray(data)
        for _ in range(rng.randint(1, 50)):
            if buf:
                buf[rng.randrange(len(buf))] = rng.randrange(256)
        return bytes(buf)
    if kind == 1:                                   # line shuffles
        k = rng.randint(2, max(2, len(lines)))
        part = lines[:k]
        rng.shuffle(part)
        return b"\n".join(part + lines[k:])
    if kind in (2, 3):                              # numbers of any size
        p = rng.choice([0.05, 0.3, 1.0])
        huge = [rng.randint(0, 50)]                 # 5000-digit ones at most this many times
                                                    # (else a mutant is 50 MB: slow, not a finding)

        def number(m):
            if rng.random() >= p:
                return m.group()
            got = rng.choice(NUMBERS)
            if len(got) > 1000:
                if not huge[0]:
                    return rng.choice(NUMBERS[:-2])
                huge[0] -= 1
            return got

        return _NUM.sub(number, data)
    if kind == 4:                                   # escapes and control bytes
        for _ in range(rng.randint(1, 30)):
            i = rng.randrange(len(lines))
            j = rng.randint(0, len(lines[i]))
            lines[i] = lines[i][:j] + rng.choice(ESCAPES) + lines[i][j:]
        return b"\n".join(lines)
    if kind == 5:                                   # \r storms
        i = rng.randrange(len(lines))
        # (a frame of at most 4 KB: a storm of an earlier mutation's 1 MB line would be 5 GB,
        # which is the fuzzer running out of memory, not logdoc)
        frame = lines[i][:4096] or b"x"
        storm = b"\r".join(frame[:rng.randint(0, len(frame))] for _ in range(rng.randint(10, 5000)))
        lines[i] = storm + (b"\r" * rng.randint(0, 1000))
        return b"\n".join(lines)
    if kind == 6:                                   # a long line after a real one
        i = rng.randrange(len(lines))
        size = rng.choice([1 << 16, 1 << 18, 1 << 20])
        fill = rng.choice([b" x", b"x", b" ", b", ", b"=1 ", b"|", b"0", lines[i][-3:] or b"  "])
        lines[i] = lines[i] + (fill * (size // len(fill) + 1))[:size]
        return b"\n".join(lines)
    if kind == 7:                                   # truncated
        return data[:rng.randrange(len(data) + 1)]
    # several at once
    for _ in range(3):
        data = mutate(data, rng) or b"x"
    return data


def cap_memory(limit_bytes: int) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))


def run_one(args):
    index, path, seed = args
    from logdoc.cli import main

    rng = random.Random(seed)
    data = mutate(Path(path).read_bytes(), rng) or b"\n"
    fmt = FORMATS[index % len(FORMATS)]
    target = Path(os.environ.get("TMPDIR", "/tmp")) / f"logdoc-fuzz-{os.getpid()}.log"
    target.write_bytes(data)
    out, err = io.StringIO(), io.StringIO()
    t0 = time.process_time()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["analyze", str(target), "--format", fmt, "--no-color"])
    except SystemExit as exc:
        code = exc.code
    except BaseException as exc:       # noqa: BLE001 (an escape is exactly what we look for)
        code, err = "raised", io.StringIO(f"{type(exc).__name__}: {exc}")
    cpu = time.process_time() - t0
    msg = err.getvalue()
    # a rule that raised (switched off, reported); SARIF lists every rule, so look at results
    mark = '"ruleId": "internal-error"' if fmt == "sarif" else "internal-error"
    if mark in out.getvalue():
        msg += "\n" + next(line for line in out.getvalue().splitlines() if mark in line)[:300]
    bad = (code not in (0, 1, 2, 5) or "internal error" in msg or "Traceback" in msg
           or "internal-error" in msg or "Warning" in msg
           or (code == 2 and msg.count("\n") != 1))
    return index, path, seed, fmt, len(data), code, cpu, (msg.strip()[:300] if bad else ""), bad


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--logs", type=int, default=10_000)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--keep", default="/tmp/logdoc-fuzz")
    ap.add_argument("--memory", type=float, default=4.0, help="GB of address space per worker")
    a = ap.parse_args()
    limit = int(a.memory * (1 << 30))
    corpus = sorted(str(p) for p in ROOT.glob("tests/**/*.log") if p.stat().st_size > 0)
    work = [(i, corpus[i % len(corpus)], a.seed * 1_000_003 + i) for i in range(a.logs)]
    t0 = time.time()
    errors, slow, sizes, worst = [], [], 0, (0.0, None)
    if a.jobs > 1:
        import multiprocessing

        pool = multiprocessing.get_context("fork").Pool(a.jobs, maxtasksperchild=200,
                                                           initializer=cap_memory, initargs=(limit,))
        results = pool.imap_unordered(run_one, work, chunksize=4)
    else:
        cap_memory(limit)
        results = map(run_one, work)
    for n, (index, path, seed, fmt, size, code, cpu, msg, bad) in enumerate(results, 1):
        sizes += size
        if size < 1 << 20 and cpu > worst[0]:
            worst = (cpu, (path, seed, fmt, size))
        if bad:
            errors.append((path, seed, fmt, code, msg))
        if size < 1 << 20 and cpu > 2.0:
            slow.append((path, seed, fmt, size, cpu))
        if bad or (size < 1 << 20 and cpu > 2.0):
            keep = Path(a.keep)
            keep.mkdir(parents=True, exist_ok=True)
            rng = random.Random(seed)
            (keep / f"{index}-{Path(path).stem}.log").write_bytes(mutate(Path(path).read_bytes(), rng) or b"\n")
        if n % 1000 == 0:
            print(f"{n} mutants, {len(errors)} internal errors, {len(slow)} slow", flush=True)
    wall = time.time() - t0
    print(f"\n{a.logs} mutated logs of {len(corpus)} corpus logs ({sizes / 1e6:.0f} MB), seed {a.seed}, "
          f"{a.jobs} jobs, {wall:.0f} s wall")
    print(f"internal errors: {len(errors)}")
    for e in errors[:20]:
        print("  ", e)
    print(f"under 1 MB and over 2 s of CPU: {len(slow)}")
    for s in slow[:20]:
        print("  ", s)
    print(f"slowest under 1 MB: {worst[0]:.2f} s CPU {worst[1]}")
    return 1 if errors or slow else 0


if __name__ == "__main__":
    sys.exit(main())
