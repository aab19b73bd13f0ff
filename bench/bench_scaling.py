"""Cost against input size for every hostile pattern class of issue #16, next to an ordinary prompt.

    python bench/bench_scaling.py                         # every class, every operation, 8/32/128 KB
    python bench/bench_scaling.py --only nested_schedules # one class
    python bench/bench_scaling.py --ops parse,lint --sizes 8k,32k --timeout 10
    python bench/bench_scaling.py --list

Each case (class, operation, size) runs in its own child process under a timeout, so a quadratic or
exponential case shows as TIMEOUT instead of hanging the run, and its memory is its own. Printed per case:
seconds, microseconds per character, the ratio of that to an ordinary prompt's time per character for the
same operation and size, and the peak of Python allocations during the operation as a multiple of the input.
Goal: every class within 3x of the ordinary prompt's time per character, memory within 100x the input.
The reference is the ordinary prompt (real corpus prompts joined), which goes on to 2 MB.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "real_prompts.jsonl"
TIME_GOAL = 3.0
MEMORY_GOAL = 100.0


def _fill(unit: str, size: int, head: str = "", tail: str = "") -> str:
    return head + unit * max(1, (size - len(head) - len(tail)) // len(unit)) + tail


def _ordinary(size: int) -> str:
    texts = []
    if CORPUS.exists():
        for line in CORPUS.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                if record.get("prompt"):
                    texts.append(record["prompt"].replace("\n", " "))
    if not texts:
        texts = ["masterpiece, best quality, 1girl, solo, (long hair:1.2), smile, [blurry], looking at viewer"]
    out, total, i = [], 0, 0
    while total < size:
        out.append(texts[i % len(texts)])
        total += len(out[-1]) + 2
        i += 1
    return ", ".join(out)[:size]


def _half(unit: str, middle: str, closer: str, size: int) -> str:
    n = max(1, (size - len(middle)) // (len(unit) + len(closer)))
    return unit * n + middle + closer * n


# name -> (dialect, text of about `size` characters, what it probes)
CLASSES: dict[str, tuple[str, Callable[[int], str], str]] = {
    "ordinary": ("a1111", _ordinary, "real corpus prompts joined: the reference"),
    "caption": ("a1111", lambda n: _fill("long hair, blue eyes, smile, ", n), "a plain tag caption"),
    "compel_blend": ("compel", lambda n: _fill('"a"     ', n, "("), "quoted strings after '(' (exponential regex)"),
    "nested_text": ("a1111", lambda n: _fill("(a,", n), "text at every nesting level"),
    "break_spaces": ("a1111", lambda n: _fill(" ", n, "BREAK x", "y"), "spaces next to BREAK"),
    "schedule_number": ("a1111", lambda n: _fill("1", n, "[a:", "x]"), "a long number in a schedule"),
    "schedule_number_nai": ("novelai", lambda n: _fill("1", n, "[a:", "x]"), "the same in novelai"),
    "unopened_closers_nai": ("novelai", lambda n: _half("[", "", "}", n), "closers with no opener"),
    "crossing_brackets": ("a1111", lambda n: _half("([", "a", ")]", n), "crossing brackets"),
    "compel_signs": ("compel", lambda n: _fill("+", n, "a", "b"), "a long sign run"),
    "and_weights": ("a1111", lambda n: _fill(" ", n, "a AND b", ":1.5"), "AND weight after long whitespace"),
    "nested_schedules": ("a1111", lambda n: _half("[a:", "b", ":0.5]", n), "nested schedules (memory)"),
    "nested_alternation": ("a1111", lambda n: _half("[a|", "b", "]", n), "nested alternation (memory)"),
    "deep_braces_nai": ("novelai", lambda n: _half("{", "a", "}", n), "deep braces (1.05**depth)"),
    "deep_parens": ("a1111", lambda n: _half("(", "a", ")", n), "deep parentheses"),
    "long_word": ("a1111", lambda n: "a" * n, "one long word (CLIP BPE)"),
    "symbol_run": ("a1111", lambda n: ",." * (n // 2), "one long run of symbols (CLIP BPE)"),
    "dotted_i": ("a1111", lambda n: _fill("İstanbul, ", n), "İ, whose lower case is longer"),
    "two_line_caption": ("a1111", lambda n: _fill("long hair smile ", n // 2) + "\nSteps: 20 " + _fill("a b ", n // 2),
                         "a two-line caption without colons (infotext regex)"),
}

OPS = ("parse", "lint", "fmt", "infotext")
DEFAULT_SIZES = (8 * 1024, 32 * 1024, 128 * 1024)
ORDINARY_SIZES = DEFAULT_SIZES + (512 * 1024, 2 * 1024 * 1024)


def _operation(op: str, dialect: str) -> Callable[[str], object]:
    import promptkit

    if op == "parse":
        return lambda text: promptkit.parse(text, dialect=dialect)
    if op == "infotext":
        from promptkit.infotext import looks_like_infotext, parse_infotext

        return lambda text: looks_like_infotext(text) and parse_infotext(text)
    from promptkit.linter import format_prompt, lint_prompt
    from promptkit.tags import default_db

    db = default_db()
    lint_prompt("1girl, smile", "sdxl-base", dialect, db)  # tables and caches built before measuring
    if op == "lint":
        return lambda text: lint_prompt(text, "sdxl-base", dialect, db)
    return lambda text: format_prompt(text, "sdxl-base", dialect, db)


def _text(name: str, op: str, size: int) -> str:
    if name == "ordinary" and op == "infotext":  # the same shape as the hostile case: a long last line
        return _ordinary(size // 2) + "\n" + _ordinary(size - size // 2)
    return CLASSES[name][1](size)


def child(name: str, op: str, size: int) -> None:
    """Measure one case in this process and print it as JSON (run by the parent under a timeout).

    Time: the best of repeated runs (at least 0.2 s in all) after a warm-up on a small text of the same
    class. Memory: the peak of Python allocations (tracemalloc) during one more run.
    """
    import tracemalloc

    dialect = CLASSES[name][0]
    text = _text(name, op, size)
    run = _operation(op, dialect)
    error = None
    try:
        run(_text(name, op, 256))
        best, spent = float("inf"), 0.0
        while spent < 0.2:
            start = time.perf_counter()
            run(text)
            took = time.perf_counter() - start
            best, spent = min(best, took), spent + took
        tracemalloc.start()
        run(text)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    except Exception as exc:  # a crash is a finding, reported in the table
        error = f"{type(exc).__name__}: {str(exc)[:80]}"
        best, peak = None, None
    print(json.dumps({"chars": len(text), "seconds": best, "peak_bytes": peak, "error": error}))


def measure(name: str, op: str, size: int, timeout: float) -> dict:
    timeout *= max(1.0, size / DEFAULT_SIZES[-1])  # the ordinary prompt's 512 KB and 2 MB get more time
    command = [sys.executable, __file__, "--child", name, op, str(size)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                              env=_child_env())
    except subprocess.TimeoutExpired:
        return {"chars": size, "seconds": None, "peak_bytes": None, "error": f"TIMEOUT >{timeout:g}s"}
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["killed"])[-1]
        return {"chars": size, "seconds": None, "peak_bytes": None, "error": f"exit {done.returncode}: {last[:80]}"}  # -9: out of memory
    return json.loads(done.stdout.strip().splitlines()[-1])


def _child_env() -> dict:
    import os

    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def _size_label(size: int) -> str:
    return f"{size // (1024 * 1024)}M" if size >= 1024 * 1024 else f"{size // 1024}K"


def parse_size(text: str) -> int:
    text = text.strip().lower()
    factor = {"k": 1024, "m": 1024 * 1024}.get(text[-1], 1)
    return int(float(text.rstrip("km")) * factor)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", action="append", metavar="NAME", help="run only this class (repeatable)")
    parser.add_argument("--ops", default=",".join(OPS), help=f"comma-separated operations ({', '.join(OPS)})")
    parser.add_argument("--sizes", default=None, help="comma-separated sizes, e.g. 8k,32k,128k")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per case (default 10)")
    parser.add_argument("--list", action="store_true", help="list the classes and exit")
    parser.add_argument("--child", nargs=3, metavar=("NAME", "OP", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], int(args.child[2]))
        return
    if args.list:
        for name, (dialect, _, what) in CLASSES.items():
            print(f"{name:22} {dialect:8} {what}")
        return
    names = args.only or list(CLASSES)
    unknown = [n for n in names if n not in CLASSES]
    if unknown:
        parser.error(f"unknown class {', '.join(unknown)} (see --list)")
    ops = [o for o in args.ops.split(",") if o]
    sizes = [parse_size(s) for s in args.sizes.split(",")] if args.sizes else list(DEFAULT_SIZES)
    print(f"{'class':22} {'op':8} {'size':>5} {'seconds':>9} {'us/char':>9} {'x ordinary':>10} "
          f"{'peak MB':>8} {'x input':>8}  verdict")
    reference: dict[tuple[str, int], float] = {}
    failures = 0
    for op in ops:
        for size in sorted(set(sizes) | set(ORDINARY_SIZES if "ordinary" in names else ())):
            reference_case = measure("ordinary", op, size, args.timeout)
            if reference_case["seconds"]:
                reference[(op, size)] = reference_case["seconds"] / reference_case["chars"]
            if "ordinary" in names:
                failures += _report("ordinary", op, size, reference_case, reference)
        for name in names:
            if name == "ordinary":
                continue
            timed_out = False
            for size in sizes:
                if timed_out:  # a larger size of a class that already ran out of time only takes longer
                    print(f"{name:22} {op:8} {_size_label(size):>5} {'':>57}  FAIL (not run: a smaller size timed out)")
                    failures += 1
                    continue
                case = measure(name, op, size, args.timeout)
                timed_out = bool(case["error"] and case["error"].startswith("TIMEOUT"))
                failures += _report(name, op, size, case, reference)
    print(f"\n{failures} case(s) miss the goal (time per character within {TIME_GOAL:g}x of an ordinary prompt's, "
          f"memory within {MEMORY_GOAL:g}x the input).")


def _report(name: str, op: str, size: int, case: dict, reference: dict) -> int:
    if case["seconds"] is None or case["error"]:
        print(f"{name:22} {op:8} {_size_label(size):>5} {'':>9} {'':>9} {'':>10} {'':>8} {'':>8}  FAIL {case['error']}")
        return 1
    per_char = case["seconds"] / case["chars"]
    base = reference.get((op, size))
    ratio = per_char / base if base else float("nan")
    memory = case["peak_bytes"] / case["chars"]
    ok = (name == "ordinary" or ratio <= TIME_GOAL) and memory <= MEMORY_GOAL
    print(f"{name:22} {op:8} {_size_label(size):>5} {case['seconds']:9.4f} {per_char * 1e6:9.3f} {ratio:10.2f} "
          f"{case['peak_bytes'] / 1e6:8.1f} {memory:8.1f}  {'ok' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    main()
