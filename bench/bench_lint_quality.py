"""Lint precision on the audit set, per rule and overall, per split, before and after issue 11.

    python bench/bench_lint_quality.py

"before": the independent judgements of the linter as it was before the rebuild (round ``before``, dev
split: the held-out split was never linted by it for judging). "after": the default rules now, each
finding joined with its judgement by finding id (tests/audit/audit.py); "judged" says how many of them
have one yet. Precision = useful / judged. Three splits: ``dev`` (tuned on), ``heldout`` (held out in round 1,
judged once, then seen), ``fresh`` (drawn after that, held out now). Held-out prompts are counted only:
nothing of them is printed.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "audit"))

import audit  # noqa: E402


def table(title: str, rows) -> None:
    stats = audit.precision(rows)
    print(f"\n{title}")
    print(f"  {'rule':<6} {'findings':>8} {'judged':>7} {'useful':>7} {'noise':>6} {'wrong':>6} {'wrong fix':>9} "
          f"{'precision':>9}")
    for code, s in stats.items():
        p = f"{s['precision']:.0%}" if s["precision"] is not None else "-"
        print(f"  {code:<6} {s['findings']:>8} {s['judged']:>7} {s['useful']:>7} {s['noise']:>6} {s['wrong']:>6} "
              f"{s['wrong_fix']:>9} {p:>9}")


def main() -> None:
    before = audit.load_judgements("before")
    dev_ids = {p["id"] for p in audit.load_prompts("dev")}
    table("before (dev, independent judges)", [(j["code"], j) for j in before.values() if j["id"] in dev_ids])
    judged = audit.load_judgements()
    for split in audit.SPLITS:
        rows = audit.all_findings(split)
        table(f"after ({split}, default rules; judgements from every round)", [(r["code"], judged.get(r["fid"]))
                                                                              for r in rows])


if __name__ == "__main__":
    main()
