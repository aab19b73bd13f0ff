"""The parser on hostile input: time per character and peak memory of every pathological class of issue 16.

    python bench/bench_parse_scaling.py [--sizes 8192,32768,131072] [--timeout 120] [--only NAME]

For each class (``parser_cases()``) and size, one child process parses the text in its dialect and reads
what users read (every tag's name, weight and branch, ``weighted()``, the AND parts, the lossless
``render()``), and
prints the time per character, its ratio to an ordinary prompt of the same size in the same dialect, and
the peak of Python allocations (tracemalloc, a second run) against the input size. Goal (issue 16): every
class within 3x of the ordinary prompt's time per character, memory within 100x the input size.

``parser_cases()`` is the parser's part of the scaling benchmark: ``bench/bench_scaling.py`` may import it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]


def _repeat(unit: str, size: int, head: str = "", tail: str = "") -> str:
    count = max(1, (size - len(head) - len(tail)) // len(unit))
    return head + unit * count + tail


def _ordinary(size: int) -> str:
    """Real prompts of the shared corpus joined with ', ' to ``size`` characters."""
    path = ROOT.parent / "shared" / "corpus" / "real_prompts.jsonl"
    texts = []
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        texts += [record[k] for k in ("prompt", "negative_prompt") if record.get(k)]
    out, total, i = [], 0, 0
    while total < size:
        out.append(texts[i % len(texts)])
        total += len(out[-1]) + 2
        i += 1
    return ", ".join(out)[:size]


@dataclass(frozen=True)
class ParserCase:
    name: str
    dialect: str
    build: Callable[[int], str]  # size in characters -> text
    note: str = ""


def parser_cases() -> list[ParserCase]:
    """Every parser class of issue 16, plus the ordinary prompt of each dialect they are compared with."""
    half = lambda size: size // 2  # noqa: E731
    return [
        ParserCase("ordinary", "a1111", _ordinary, "real prompts joined"),
        ParserCase("ordinary", "comfy", _ordinary),
        ParserCase("ordinary", "novelai", _ordinary),
        ParserCase("ordinary", "compel", _ordinary),
        ParserCase("text at every nesting level", "a1111", lambda n: _repeat("(a,", n)),
        ParserCase("text at every nesting level", "comfy", lambda n: _repeat("(a,", n)),
        ParserCase("text at every nesting level", "novelai", lambda n: _repeat("{a,", n)),
        ParserCase("text at every nesting level", "compel", lambda n: _repeat("(a,", n)),
        ParserCase("spaces next to BREAK", "a1111", lambda n: "BREAK x" + " " * (n - 8) + "y"),
        ParserCase("long number in a schedule", "a1111", lambda n: "[a:" + "1" * (n - 5) + "x]"),
        ParserCase("long number in a schedule", "novelai", lambda n: "[a:" + "1" * (n - 5) + "x]"),
        ParserCase("digits before ::", "novelai", lambda n: "v" + "1" * (n - 3) + "::"),
        ParserCase("closers with no opener", "novelai", lambda n: "[" * half(n) + "}" * half(n)),
        ParserCase("crossing brackets", "a1111", lambda n: _repeat("[(]", n // 2) + "[" * (n // 6) + ")" * (n // 6)),
        ParserCase("long sign run", "compel", lambda n: "a" + "+" * (n - 2) + "b"),
        ParserCase("AND weight after long whitespace", "a1111", lambda n: "a" + " " * (n - 6) + "AND b"),
        ParserCase("nested schedules", "a1111", lambda n: "[a:" * (n // 8) + "b" + ":0.5]" * (n // 8)),
        ParserCase("nested alternation", "a1111", lambda n: "[a|" * (n // 4) + "b" + "]" * (n // 4)),
        ParserCase("quoted strings in an open blend", "compel", lambda n: "(" + _repeat('"a"     ', n - 1)),
        ParserCase("unclosed groups", "compel", lambda n: _repeat("(a ", n)),
        ParserCase("blend of many parts", "compel",
                   lambda n: "(" + ", ".join(['"a b"'] * max(1, (n - 12) // 7)) + ").blend()"),
    ]


def _work(text: str, dialect: str) -> None:
    from promptkit import parse

    prompt = parse(text, dialect)
    tags = prompt.tags
    tags.names, tags.weights, tags.branches  # noqa: B018
    prompt.weighted()
    prompt.subprompts  # noqa: B018 - A1111's AND split (and its weights)
    assert prompt.render() == text


def child(name: str, dialect: str, size: int) -> None:
    """Run in a fresh process: time (best of a few runs), then the tracemalloc peak of one run."""
    import gc
    import tracemalloc

    case = next(c for c in parser_cases() if c.name == name and c.dialect == dialect)
    text = case.build(size)
    best = float("inf")
    deadline = time.perf_counter() + 1.0
    runs = 0
    while runs < 3 or (time.perf_counter() < deadline and runs < 20):
        gc.collect()
        t0 = time.perf_counter()
        _work(text, dialect)
        best = min(best, time.perf_counter() - t0)
        runs += 1
    gc.collect()
    tracemalloc.start()
    _work(text, dialect)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(json.dumps({"chars": len(text), "seconds": best, "peak": peak}))


def measure(case: ParserCase, size: int, timeout: float) -> dict | None:
    cmd = [sys.executable, __file__, "--child", case.name, case.dialect, str(size)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                             env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    except subprocess.TimeoutExpired:
        return None
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["killed"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="8192,32768,131072")
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--only", default=None, help="run the classes whose name contains this text")
    ap.add_argument("--child", nargs=3, metavar=("NAME", "DIALECT", "SIZE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], args.child[1], int(args.child[2]))
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    ordinary: dict[tuple[str, int], float] = {}
    print(f"{'class':34} {'dialect':8} {'chars':>7} {'ns/char':>9} {'x ordinary':>10} {'peak/input':>10}")
    for case in parser_cases():
        if args.only and args.only not in case.name and case.name != "ordinary":
            continue
        for size in sizes:
            result = measure(case, size, args.timeout)
            if result is None:
                print(f"{case.name:34} {case.dialect:8} {size:7d} {'> ' + str(int(args.timeout)) + ' s':>9}")
                continue
            if "error" in result:
                print(f"{case.name:34} {case.dialect:8} {size:7d}  failed: {result['error']}")
                continue
            per_char = 1e9 * result["seconds"] / result["chars"]
            if case.name == "ordinary":
                ordinary[(case.dialect, size)] = per_char
            base = ordinary.get((case.dialect, size))
            ratio = f"{per_char / base:10.2f}" if base else f"{'-':>10}"
            print(f"{case.name:34} {case.dialect:8} {result['chars']:7d} {per_char:9.0f} {ratio} "
                  f"{result['peak'] / result['chars']:10.1f}", flush=True)


if __name__ == "__main__":
    main()
