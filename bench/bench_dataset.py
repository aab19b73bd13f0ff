"""Caption-dataset speed: normalize and lint end to end over caption files, against a naive baseline.

    python bench/bench_dataset.py [--count 200000] [--jobs 2]

Generates WD-tagger style captions (20-40 tags drawn by real Danbooru frequencies, with a few typos and
aliases mixed in) as one .txt file each in a temporary folder, then times:
- naive baseline: read, split on commas, strip, join, write every file back (no tag knowledge);
- promptkit normalize (underscores to spaces, aliases resolved, duplicates removed), end to end with
  ``--jobs`` processes, writing atomically only what changed (first run) and the idempotent re-run;
- promptkit dataset lint (single process, per-tag answers cached).
Goal (issue 7): >= 20,000 captions/s for normalize on 2 cores, within 3x of the naive baseline.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import os
import random
import shutil
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def generate(folder: Path, count: int, seed: int = 0) -> list[Path]:
    rng = random.Random(seed)
    names, weights = [], []
    with gzip.open(ROOT / "tag_db" / "danbooru_tags_2025-05-01.csv.gz", "rt", encoding="utf-8") as fh:
        for row in csv.reader(fh):
            if row[1] in ("0", "4", "3"):
                names.append(row[0])
                weights.append(int(row[2]))
            if len(names) >= 30000:
                break
    noise = ["hires", "1grl", "long hiar", "blonde hiar", "absurd res"]
    paths = []
    for i in range(count):
        tags = rng.choices(names, weights, k=rng.randint(20, 40))
        if rng.random() < 0.1:
            tags[rng.randrange(len(tags))] = rng.choice(noise)
        sub = folder / f"{i // 5000:03d}"
        if i % 5000 == 0:
            sub.mkdir()
        path = sub / f"{i:07d}.txt"
        path.write_text(", ".join(tags) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def naive(paths: list[Path]) -> None:
    for path in paths:
        text = path.read_text(encoding="utf-8")
        path.write_text(", ".join(t.strip() for t in text.split(",")), encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=200_000)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    args = ap.parse_args()
    from promptkit.dataset import NormalizeOptions, NormalizerFactory, find_captions, process_files
    from promptkit.dataset.analyze import CaptionAnalyzer
    from promptkit.dataset.files import read_caption
    from promptkit.tags import default_db

    work = Path(tempfile.mkdtemp(prefix="pk-bench-"))
    try:
        t0 = time.perf_counter()
        paths = generate(work / "data", args.count) if (work / "data").mkdir() is None else []
        print(f"generated {len(paths):,} caption files in {time.perf_counter() - t0:.1f} s")
        baseline_dir = work / "baseline"
        shutil.copytree(work / "data", baseline_dir)
        base_paths = find_captions(baseline_dir)
        t0 = time.perf_counter()
        naive(base_paths)
        t_naive = time.perf_counter() - t0
        print(f"naive baseline (read, split, strip, rewrite): {len(paths) / t_naive:,.0f} captions/s")
        options = NormalizeOptions(underscores_to_spaces=True, resolve_aliases=True, remove_duplicates=True)
        factory = NormalizerFactory(options)
        found = find_captions(work / "data")
        t0 = time.perf_counter()
        changed = sum(r.written for r in process_files(found, factory, write=True, workers=args.jobs))
        t_norm = time.perf_counter() - t0
        rate = len(found) / t_norm
        print(f"promptkit normalize, {args.jobs} processes: {rate:,.0f} captions/s ({changed:,} rewritten); "
              f"{t_norm / t_naive:.2f}x the baseline's time (goals: >= 20,000/s, <= 3x)")
        t0 = time.perf_counter()
        changed = sum(r.written for r in process_files(found, factory, write=True, workers=args.jobs))
        print(f"re-run (already normalized, nothing to write): {len(found) / (time.perf_counter() - t0):,.0f} "
              f"captions/s, {changed} rewritten")
        captions = [read_caption(p)[0] for p in base_paths]
        normalizer = factory()
        t0 = time.perf_counter()
        normalizer.many(captions)
        t_mem = time.perf_counter() - t0
        t0 = time.perf_counter()
        [", ".join(t.strip() for t in c.split(",")) for c in captions]
        t_mem_naive = time.perf_counter() - t0
        print(f"in memory, 1 process (no disk): promptkit {len(captions) / t_mem:,.0f} captions/s, naive split/join "
              f"{len(captions) / t_mem_naive:,.0f}/s")
        analyzer = CaptionAnalyzer(default_db(), suggest=False)
        t0 = time.perf_counter()
        findings = 0
        for path in found:
            text, _ = read_caption(path)
            findings += len(analyzer.lint(text))
        t_lint = time.perf_counter() - t0
        print(f"promptkit dataset lint, 1 process: {len(found) / t_lint:,.0f} captions/s ({findings:,} findings)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
