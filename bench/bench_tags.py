"""Tag database speed and memory.

    python bench/bench_tags.py

Prints: cold open of the default database + first lookup in a fresh process (after the one-time build),
lookup throughput on tags drawn by real frequency, ``suggest`` latency (p50/p99) for misspelled tags against
all names, with a plain ``rapidfuzz.process.extractOne`` over every name as the baseline, and the RSS of a
process that has loaded the database and the suggestion index. Goals (issue 3): cold open + first lookup
< 50 ms, >= 500k lookups/s, suggest p50 < 2 ms and p99 < 10 ms, < 150 MB RSS.
"""

from __future__ import annotations

import random
import resource
import statistics
import subprocess
import sys
import time

COLD = """
import time
t0 = time.perf_counter()
from promptkit.tags import TagDB
db = TagDB.default()
db.lookup("long hair")
print((time.perf_counter() - t0) * 1000)
"""


def misspell(rng: random.Random, word: str) -> str:
    chars = list(word)
    i = rng.randrange(len(chars))
    op = rng.choice("dswi")
    if op == "d" and len(chars) > 3:
        del chars[i]
    elif op == "s" and i + 1 < len(chars):
        chars[i], chars[i + 1] = chars[i + 1], chars[i]
    elif op == "w":
        chars[i] = rng.choice("aeiou")
    else:
        chars.insert(i, rng.choice("aeiou"))
    return "".join(chars)


def main() -> None:
    from promptkit.tags import TagDB

    TagDB.default().close()  # make sure the one-time build is done
    colds = []
    for _ in range(5):
        out = subprocess.run([sys.executable, "-c", COLD], capture_output=True, text=True, check=True)
        colds.append(float(out.stdout.strip()))
    print(f"cold open + first lookup (fresh process, incl. imports): median {statistics.median(colds):.1f} ms "
          f"(goal < 50 ms)")

    db = TagDB.default()
    rows = db._conns[0].execute("SELECT name, post_count FROM tags ORDER BY post_count DESC LIMIT 20000").fetchall()
    rng = random.Random(0)
    names = [n.replace("_", " ") for n, _ in rows]
    weights = [c for _, c in rows]
    queries = rng.choices(names, weights, k=200_000)
    t0 = time.perf_counter()
    for q in queries:
        db.lookup(q)
    first = len(queries) / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for q in queries:
        db.lookup(q)
    warm = len(queries) / (time.perf_counter() - t0)
    print(f"lookups by real frequency: {first:,.0f}/s first pass (cold cache), {warm:,.0f}/s after (goal >= 500k/s)")

    typos = [misspell(rng, n) for n in rng.choices(names[:5000], k=300)]
    t0 = time.perf_counter()
    db.suggest(typos[0])
    print(f"suggest: first call builds the index in {1e3 * (time.perf_counter() - t0):.0f} ms")
    latencies = []
    for typo in typos:
        t0 = time.perf_counter()
        db.suggest(typo)
        latencies.append(1e3 * (time.perf_counter() - t0))
    latencies.sort()
    p50 = latencies[len(latencies) // 2]
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    print(f"suggest latency over {len(typos)} misspellings: p50 {p50:.2f} ms, p99 {p99:.2f} ms (goal < 2 / < 10 ms)")

    from rapidfuzz import fuzz, process

    all_names = list(db._fuzzy.targets)  # type: ignore[union-attr]
    t0 = time.perf_counter()
    for typo in typos[:30]:
        process.extractOne(typo.replace(" ", "_"), all_names, scorer=fuzz.ratio)
    base = 1e3 * (time.perf_counter() - t0) / 30
    print(f"baseline rapidfuzz.process.extractOne over {len(all_names):,} names: {base:.2f} ms/query "
          f"-> suggest p50 is {base / p50:.1f}x faster")

    # accuracy on typos of known tags
    correct = sum(1 for n in names[:300] if (s := db.suggest(misspell(rng, n))) and s[0].name == n.replace(" ", "_"))
    print(f"suggest top-1 accuracy on 300 single-edit typos of popular tags: {correct / 3:.0f}%")

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS with database and suggestion index loaded: {rss:.0f} MB (goal < 150 MB)")


if __name__ == "__main__":
    main()
