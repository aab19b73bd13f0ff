"""Parser speed against an A1111-equivalent regex attention parser, run in the same process on the same input.

    python bench/bench_parse.py [--seconds 2]

Prints prompts/s and the ratio for: the real prompts of ../shared/corpus (full parse to the tree, reading
every tag's name, span and weight from the tag columns; and again with a ``Tag`` object per tag), plain
WD-tagger style captions built from the bundled Danbooru list (the dataset case), cost against length
(linear?), and 10,000 nested brackets. Goals (issue 2): >= 0.5x the regex parser on real prompts, >= 2x on
plain captions.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from a1111_reference import parse_prompt_attention  # noqa: E402

from promptkit import parse  # noqa: E402


def rate(fn, items, seconds: float, min_passes: int = 3) -> float:
    """Items per second, best of repeated passes (at least ``min_passes``) within the time budget."""
    best = float("inf")
    deadline = time.perf_counter() + seconds
    passes = 0
    while True:
        passes += 1
        t0 = time.perf_counter()
        for item in items:
            fn(item)
        best = min(best, time.perf_counter() - t0)
        if time.perf_counter() > deadline and passes >= min_passes:
            break
    return len(items) / best


def full_parse(text: str):
    """Parse to the tree and read every tag's name, span (start, and end = start + len(raw)) and weight."""
    prompt = parse(text)
    tags = prompt.tags
    tags.names, tags.starts, tags.raws, tags.weights
    return prompt


def full_parse_tag_objects(text: str):
    """The same, reading the tags as one ``Tag`` object each (what ``for tag in prompt.tags`` gives)."""
    prompt = parse(text)
    for tag in prompt.tags:
        tag.name, tag.start, tag.end, tag.weight
    return prompt


def real_prompts() -> list[str]:
    path = ROOT.parent / "shared" / "corpus" / "real_prompts.jsonl"
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        out += [record[k] for k in ("prompt", "negative_prompt") if record.get(k)]
    return out


def plain_captions(n: int = 2000, seed: int = 0) -> list[str]:
    """WD-tagger style captions: 20-40 general tags by real frequency, underscores as spaces."""
    rng = random.Random(seed)
    names, weights = [], []
    with gzip.open(ROOT / "tag_db" / "danbooru_tags_2025-05-01.csv.gz", "rt", encoding="utf-8") as fh:
        for row in csv.reader(fh):
            if row[1] == "0" and "(" not in row[0] and ":" not in row[0] and "\\" not in row[0]:
                names.append(row[0].replace("_", " "))
                weights.append(int(row[2]))
            if len(names) >= 20000:
                break
    return [", ".join(rng.choices(names, weights, k=rng.randint(20, 40))) for _ in range(n)]


def ceiling_split(text: str):
    """What tagger captions cost at the least in Python: names, starts and texts from whole-string operations,
    no checks beyond the layout, no objects, no tree. Shows how far a goal is from what the language allows."""
    if not ("  " in text or " ," in text or "\n" in text or "\t" in text or text[:1] == " " or text[-1:] == " "):
        texts = text.split(", ")
        if text.count(",") == len(texts) - 1:
            starts = []
            pos = 0
            for piece in texts:
                starts.append(pos)
                pos += len(piece) + 2
            return text.lower().replace(" ", "_").split(",_"), starts, texts
    return None


def compare(items: list[str], unit: str, seconds: float, goal: float, ceiling: bool = False) -> None:
    """Interleave the runs, so that a machine that slows down mid-way slows every side alike."""
    sides = {"ref": parse_prompt_attention, "columns": full_parse, "objects": full_parse_tag_objects}
    if ceiling:
        sides["bare"] = ceiling_split
    best = dict.fromkeys(sides, 0.0)
    for _ in range(3):
        for name, fn in sides.items():
            best[name] = max(best[name], rate(fn, items, seconds / 3))
    ref = best["ref"]
    print(f"  a1111 regex attention parser      : {ref:10.0f} {unit}/s")
    print(f"  promptkit parse, tag columns      : {best['columns']:10.0f} {unit}/s   ratio {best['columns'] / ref:.2f}x"
          f"  (goal >= {goal:g}x)")
    print(f"  promptkit parse, one Tag per tag  : {best['objects']:10.0f} {unit}/s   ratio {best['objects'] / ref:.2f}x")
    if ceiling:
        print(f"  ceiling: a bare split, no objects : {best['bare']:10.0f} {unit}/s   ratio {best['bare'] / ref:.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=2.0)
    args = ap.parse_args()

    prompts = real_prompts()
    mean_len = sum(map(len, prompts)) / len(prompts)
    print(f"real prompts ({len(prompts)}, mean {mean_len:.0f} chars)")
    compare(prompts, "prompts", args.seconds, 0.5)
    captions = plain_captions()
    mean_len = sum(map(len, captions)) / len(captions)
    print(f"plain captions ({len(captions)}, mean {mean_len:.0f} chars)")
    compare(captions, "captions", args.seconds, 2.0, ceiling=True)

    print("cost against length (a real prompt repeated):")
    unit = max(prompts, key=len)
    base = None
    for reps in (1, 10, 100):
        text = ", ".join([unit] * reps)
        per_char = 1e9 / (rate(full_parse, [text], args.seconds / 4) * len(text))
        base = base or per_char
        print(f"  {len(text):8d} chars: {per_char:7.1f} ns/char ({per_char / base:.2f}x the shortest)")

    for depth in (1_000, 10_000):
        text = "(" * depth + "deep" + ")" * depth
        t0 = time.perf_counter()
        full_parse(text)
        print(f"  {depth} nested brackets: {1e3 * (time.perf_counter() - t0):.1f} ms")


if __name__ == "__main__":
    main()
