"""Lint, fix and fmt cost against prompt size: 2 KB to 2 MB captions made of real corpus tags.

    python bench/bench_lint_scaling.py [--sizes 2000,20000,200000,2000000] [--profile kivotos-xl-2]
    python bench/bench_lint_scaling.py --huge 10000000      # also `promptkit lint --fix` on a 10 MB file

Each size runs in a fresh process (after one warm-up call that opens the tag database and builds the
suggestion index), so the peak RSS printed is that size's. Prints seconds, microseconds per character and
the ratio of that to the smallest size's (1.0 = perfectly linear), and peak RSS. Goal (issue 11, 16): linear
cost, a 200 KB prompt in a few seconds with a few hundred MB at most.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "real_prompts.jsonl"

CHILD = r"""
import json, random, resource, sys, time
from promptkit.linter import fix_text, format_prompt, lint_prompt
size, profile, what = int(sys.argv[1]), sys.argv[2], sys.argv[3]
tags = json.load(open(sys.argv[4]))
rng = random.Random(size)
out, n = [], 0
while n < size:
    t = rng.choice(tags); out.append(t); n += len(t) + 2
text = ", ".join(out)[:size]
lint_prompt("masterpeice, 1girl, long hiar", profile)  # open the database, read the typo index and word lists
t0 = time.perf_counter()
if what == "lint":
    result = len(lint_prompt(text, profile).diagnostics)
elif what == "fix":
    result = len(fix_text(text, profile)[1])
else:
    result = len(format_prompt(text, profile))
seconds = time.perf_counter() - t0
print(json.dumps({"seconds": seconds, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "result": result, "chars": len(text)}))
"""


def corpus_tags() -> list[str]:
    tags = []
    for line in CORPUS.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        for key in ("prompt", "negative_prompt"):
            tags += [t.strip() for t in (record.get(key) or "").split(",") if t.strip()]
    return tags


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="2000,20000,200000,2000000")
    ap.add_argument("--profile", default="kivotos-xl-2")
    ap.add_argument("--huge", type=int, default=0, help="also time `promptkit lint --fix` on a caption file this big")
    args = ap.parse_args()
    tags_file = Path("/tmp/promptkit_bench_tags.json")
    tags_file.write_text(json.dumps(corpus_tags()), encoding="utf-8")
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"profile {args.profile}; captions of real corpus tags; seconds, us/char (ratio to {sizes[0]:,} chars), "
          "peak RSS")
    for what in ("lint", "fix", "fmt"):
        base = None
        for size in sizes:
            out = subprocess.run([sys.executable, "-c", CHILD, str(size), args.profile, what, str(tags_file)],
                                 capture_output=True, text=True, cwd=ROOT)
            if out.returncode != 0:
                print(f"{what:4} {size:>10,}: failed: {out.stderr.strip().splitlines()[-1:]}")
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            per = 1e6 * r["seconds"] / r["chars"]
            base = base or per
            print(f"{what:4} {r['chars']:>10,} chars: {r['seconds']:7.2f} s  {per:6.1f} us/char  "
                  f"(x{per / base:4.2f})  peak {r['rss_mb']:6.0f} MB")
    if args.huge:
        huge(args.huge, args.profile)


def huge(size: int, profile: str) -> None:
    """`promptkit lint --fix` on one caption file of ``size`` bytes (issue 16: 50 MB did not finish in 180 s)."""
    import random
    import tempfile

    tags = corpus_tags()
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "huge.txt"
        with open(path, "w", encoding="utf-8") as fh:
            written = 0
            while written < size:
                chunk = ", ".join(rng.choice(tags) for _ in range(10_000)) + ", "
                fh.write(chunk)
                written += len(chunk)
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "promptkit.cli.main", "lint", str(path), "--fix", "--profile",
                              profile, "--format", "json"], capture_output=True, cwd=ROOT)
        seconds = time.perf_counter() - t0
        import resource

        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the largest child so far
        findings = out.stdout.count(b'"code"')
        print(f"promptkit lint --fix on a {written / 1e6:.0f} MB caption: {seconds:.1f} s "
              f"({1e6 * seconds / written:.1f} us/char), exit {out.returncode}, {findings:,} findings left, "
              f"peak RSS {rss:.0f} MB (largest child process of this run)")


if __name__ == "__main__":
    main()
