"""Lint throughput against parse throughput, per profile family, on the shared corpora (issue 24).

    python bench/bench_lint_throughput.py [--quick] [--profiles illustrious-xl,pony-v6] [--passes 3] [--cpu]

Every prompt and negative of ../shared/corpus/real_prompts.jsonl and modern_prompts.jsonl is linted with the
default rules (``promptkit.lint``, as the lint snapshot test does) and parsed (``promptkit.parse`` with the
profile's dialect), in the same process, one child process per profile. Three lint figures per profile:

- ``first``: the first pass in a fresh process: every lazy load (tag stores, word lists, fuzzy index, CLIP
  vocabulary) and every per-tag answer is paid for inside it; what one ``promptkit lint FILE`` sees.
- ``cold``: the data loaded, every per-tag cache emptied (the linter's run memos, the tag database's
  look-up and correction memos, the tokenizer's word cache): a dataset run's first thousand captions.
- ``warm``: the same prompts again, caches full, best of ``--passes``: what a long dataset run sees once its
  captions' few thousand tags have all been met. The same prompts twice is the best case of that.

Parse is always timed warm (its caches are the grammar's). The issue's goal (lint costs at most 4x parse, at
least 5,000 prompts/s on a quiet core) is for a dataset run, so it is judged on the ``warm`` figure; ``cold`` says
what a run pays before its caches fill. Numbers on a shared machine are noisy: run it on a quiet one, or pass
``--cpu`` to count the process's CPU time instead of wall time (other processes stretch it less; not the goal's
measure).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # measure this checkout, not an installed copy
sys.path.insert(1, str(ROOT / "tests"))  # lint_snapshot: the corpus texts the snapshot test lints
FAMILIES = {  # family -> the profiles measured for it
    "danbooru": ("illustrious-xl", "animagine-xl-3.1"),
    "pony (e621+danbooru)": ("pony-v6",),
    "noobai v-pred": ("noobai-xl-vpred",),
    "sd15 (natural language)": ("sd15",),
}


def corpus(limit: int | None = None) -> list[tuple[str, bool, str | None]]:
    """(text, negative, path) of every prompt and negative of both corpora, as the lint snapshot test reads them."""
    from lint_snapshot import corpus_texts

    out = [(text, negative, path) for _, text, negative, path in corpus_texts()]
    if limit:  # an even spread over both corpora, not the first file only
        step = max(1, len(out) // limit)
        out = out[::step][:limit]
    return out


def clear_caches(profile: str) -> None:
    """Empty every per-tag cache, keep the loaded data (open stores, word lists, fuzzy index): the databases a
    lint under ``profile`` reads (its own stack, and the bundled stack the typo rules ask whether anyone knows
    a spelling), the run memos, the tokenizer's word and tag caches."""
    from promptkit.tags.db import TagDB, stacked_db
    from promptkit.tokens.clip import clip_bpe

    try:
        from promptkit.linter.memo import clear_memos
    except ImportError:  # the code before the run memos
        pass
    else:
        clear_memos()
    for db in (TagDB.for_profile(profile), stacked_db(("danbooru", "e621", "wd14"))):
        db._cache.clear()
        db._implied_cache.clear()
        if db._fuzzy is not None:
            db._fuzzy._corrections.clear()
    clip_bpe()._bpe_word.cache_clear()
    if hasattr(clip_bpe(), "_run"):  # the per-tag token cache (absent in older code)
        clip_bpe()._run.cache_clear()


def measure(profile: str, limit: int | None, passes: int, cpu: bool = False) -> dict:
    """Run in a child process: first, cold and warm lint rates and the parse rate for one profile."""
    clock = time.process_time if cpu else time.perf_counter
    t_import = clock()
    from promptkit import lint, parse
    from promptkit.profiles import load_profile

    items = corpus(limit)
    dialect = load_profile(profile).dialect
    t0 = clock()
    for text, negative, path in items:
        lint(text, profile=profile, negative=negative, path=path)
    first = clock() - t0
    clear_caches(profile)
    t0 = clock()
    for text, negative, path in items:
        lint(text, profile=profile, negative=negative, path=path)
    cold = clock() - t0
    warm = parse_t = float("inf")
    for _ in range(passes):  # interleaved, so a machine that slows down mid-way slows both alike
        t0 = clock()
        for text, negative, path in items:
            lint(text, profile=profile, negative=negative, path=path)
        warm = min(warm, clock() - t0)
        t0 = clock()
        for text, _, _ in items:
            parse(text, dialect)
        parse_t = min(parse_t, clock() - t0)
    n = len(items)
    return {"profile": profile, "prompts": n, "first": n / first, "cold": n / cold, "warm": n / warm,
            "parse": n / parse_t, "seconds": clock() - t_import}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="300 prompts, 2 warm passes, one profile per family")
    ap.add_argument("--profiles", help="comma-separated profile ids (default: the families' profiles)")
    ap.add_argument("--passes", type=int, default=3, help="warm passes (best is shown)")
    ap.add_argument("--limit", type=int, help="prompts per profile (default: all; --quick: 300)")
    ap.add_argument("--cpu", action="store_true", help="time with the process's CPU time, not wall time")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    limit = args.limit or (300 if args.quick else None)
    passes = 2 if args.quick and args.passes == 3 else args.passes
    if args.child:
        print(json.dumps(measure(args.child, limit, passes, args.cpu)))
        return 0
    if args.profiles:
        chosen = [(p, p) for p in args.profiles.split(",")]
    else:
        chosen = [(fam, p) for fam, ps in FAMILIES.items() for p in (ps[:1] if args.quick else ps)]
    print(f"lint (default rules) vs parse, prompts/s ({'CPU' if args.cpu else 'wall'} time), {limit or 'all'} corpus "
          "texts per profile; one fresh process per profile")
    print(f"{'family':24} {'profile':18} {'parse':>8} {'first':>8} {'cold':>8} {'warm':>8} {'warm/parse':>11}")
    worst = 0.0
    for family, profile in chosen:
        cmd = [sys.executable, __file__, "--child", profile, "--passes", str(passes)]
        if limit:
            cmd += ["--limit", str(limit)]
        if args.cpu:
            cmd.append("--cpu")
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        if done.returncode != 0:
            print(f"{family:24} {profile:18} failed:\n{done.stderr}")
            return 1
        r = json.loads(done.stdout.strip().splitlines()[-1])
        ratio = r["parse"] / r["warm"]
        worst = max(worst, ratio)
        print(f"{family:24} {profile:18} {r['parse']:8.0f} {r['first']:8.0f} {r['cold']:8.0f} {r['warm']:8.0f}"
              f" {ratio:10.1f}x   (cold {r['parse'] / r['cold']:.1f}x parse)")
    print(f"goal (warm): lint at most 4x parse and >= 5,000 prompts/s on a quiet core; worst here {worst:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
