"""Where the warm lint's time goes, per text of the shared corpora (issue 24): the figures behind a change.

    python bench/bench_lint_profile.py [--profile illustrious-xl] [--limit 300] [--functions 25]

The texts and the warm state are ``bench_lint_throughput``'s (every cache full, the same texts linted twice
before timing). Printed per text, CPU time, best of ``--passes``:

- ``parse``: ``promptkit.parse`` of the text in the profile's dialect (the goal's yardstick);
- ``lint``: ``promptkit.lint`` with the default rules;
- ``no rules``: the same with every rule taken out: containers, parse, the context, the report (what no rule
  change can buy back);
- per rule, in the engine: each prompt rule's ``check`` and the shared tag pass, timed one call at a time
  (a wrapper adds ~0.3 us a call, so the column sums to more than ``lint - no rules``; shared work, such
  as the known flags or the typo spans, is paid by the first rule that asks).

``--functions N`` also prints the N functions of most own time (cProfile, one warm pass).
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "bench"))
sys.path.insert(2, str(ROOT / "tests"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="illustrious-xl")
    ap.add_argument("--limit", type=int, default=300, help="corpus texts (an even spread; 0: all)")
    ap.add_argument("--passes", type=int, default=5)
    ap.add_argument("--functions", type=int, default=0, help="also list the N functions of most own time")
    args = ap.parse_args(argv)

    from bench_lint_throughput import corpus

    import promptkit.linter.engine as engine
    from promptkit import lint, parse
    from promptkit.profiles import load_profile

    items = corpus(args.limit or None)
    dialect = load_profile(args.profile).dialect
    n = len(items)

    def lint_all() -> None:
        for text, negative, path in items:
            lint(text, profile=args.profile, negative=negative, path=path)

    def parse_all() -> None:
        for text, _, _ in items:
            parse(text, dialect)

    def best(run) -> float:
        times = []
        for _ in range(args.passes):
            t0 = time.process_time()
            run()
            times.append(time.process_time() - t0)
        return min(times) / n * 1e6

    lint_all(), lint_all()  # every cache full
    selections = dict(engine._INSTANCES)
    rows = [("parse", best(parse_all)), ("lint", best(lint_all))]
    engine._INSTANCES.update({key: ([], [], [], []) for key in selections})
    rows.append(("no rules", best(lint_all)))
    engine._INSTANCES.update(selections)
    print(f"{args.profile}, {n} corpus texts, warm, CPU us a text (best of {args.passes})")
    for name, us in rows:
        print(f"  {name:10} {us:8.1f}")
    print(f"  lint/parse {rows[1][1] / rows[0][1]:.1f}x; no rules/parse {rows[2][1] / rows[0][1]:.1f}x")

    spent: collections.Counter = collections.Counter()
    clock = time.process_time

    def timed(label: str, fn):
        def run(*a, **k):
            t0 = clock()
            out = list(fn(*a, **k))
            spent[label] += clock() - t0
            return out
        return run

    for every, prompt_rules, _, _ in selections.values():
        for rule in prompt_rules:
            rule.check = timed(rule.code, rule.check)
    engine.tag_pass = timed("tag pass", engine.tag_pass)
    for _ in range(args.passes):
        lint_all()
    print("in the engine, us a text:")
    for label, seconds in spent.most_common():
        us = seconds / args.passes / n * 1e6
        if us >= 0.5:
            print(f"  {label:10} {us:8.1f}")
    if args.functions:
        import cProfile
        import pstats

        for _, prompt_rules, _, _ in selections.values():
            for rule in prompt_rules:
                del rule.check  # the class's own again
        profiler = cProfile.Profile()
        profiler.runcall(lint_all)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(args.functions)
    return 0


if __name__ == "__main__":
    sys.exit(main())
