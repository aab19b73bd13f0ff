"""Lint precision and recall on the audit sets, per rule and per model family.

    python bench/bench_lint_quality.py                 # both corpora
    python bench/bench_lint_quality.py --corpus modern

SD1-era corpus (tests/audit/prompts.jsonl): "before" is the independent judgement of the linter as it was
before issue 11 (dev split); "after" the default rules now, each finding joined with its judgement by finding
id (tests/audit/audit.py). Modern corpus (../shared/corpus/modern_prompts.jsonl, split by repository, see
tests/audit/modern.py): per rule and per ``model_hint``, for all records and for the plain prompts alone (until
the container layer splits styles rows, wildcard files and templates, the linter reads each as one prompt).

precision = useful / judged; recall = known problems found / known problems, where the known problems are
the findings judged useful plus the problems judges recorded as missed (tests/audit/missed/), a missed one
counting as found once a finding covers its span. "judged" says how many findings have a judgement yet.
Held-out prompts are counted only: nothing of them is printed.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "audit"))

import audit  # noqa: E402


def _pct(x) -> str:
    return f"{x:.0%}" if x is not None else "-"


def table(title: str, stats: dict[str, dict], label: str = "rule") -> None:
    print(f"\n{title}")
    print(f"  {label:<18} {'findings':>8} {'judged':>7} {'useful':>7} {'noise':>6} {'wrong':>6} {'wrong fix':>9} "
          f"{'precision':>9} {'known':>6} {'found':>6} {'recall':>7}")
    for k, s in stats.items():
        print(f"  {k:<18} {s['findings']:>8} {s['judged']:>7} {s['useful']:>7} {s['noise']:>6} {s['wrong']:>6} "
              f"{s['wrong_fix']:>9} {_pct(s['precision']):>9} {s['known']:>6} {s['found']:>6} "
              f"{_pct(s['recall']):>7}")


def _code(item: dict, prompt: dict) -> str:
    if item.get("code"):
        return item["code"]
    m = re.search(r"PK\d{3}", item.get("expected") or "")
    return m.group(0) if m else "(none)"


def _family(item: dict, prompt: dict) -> str:
    return prompt.get("model_hint") or prompt["profile"]


PLAIN = ("prompt", "comfy-graph")  # modern records that are one prompt (not a styles row, file or template)


def corpus_tables(corpus: str) -> None:
    judged = audit.load_judgements()
    missed = audit.load_missed(corpus)
    for split in audit.splits(corpus):
        prompts = audit.load_prompts(split, corpus)
        rows = audit.all_findings(split, corpus)
        table(f"{corpus} / {split}: default rules, per rule", audit.quality(rows, judged, prompts, missed, _code))
        table(f"{corpus} / {split}: per model family", audit.quality(rows, judged, prompts, missed, _family),
              "model")
        if corpus == "modern":  # plain prompts: what the linter reads as it should before the container layer
            plain = [p for p in prompts if p["container"] in PLAIN]
            ids = {p["id"] for p in plain}
            prow = [r for r in rows if r["id"] in ids]
            table(f"{corpus} / {split}, plain prompts only ({len(plain)}): per rule",
                  audit.quality(prow, judged, plain, missed, _code))
            table(f"{corpus} / {split}, plain prompts only: per model family",
                  audit.quality(prow, judged, plain, missed, _family), "model")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", choices=("all",) + audit.CORPORA, default="all")
    args = ap.parse_args()
    if args.corpus in ("all", "sd1"):
        before = audit.load_judgements("before")
        dev_ids = {p["id"] for p in audit.load_prompts("dev")}
        print("\nsd1 before (dev, independent judges)")
        for code, s in audit.precision([(j["code"], j) for j in before.values() if j["id"] in dev_ids]).items():
            print(f"  {code:<6} judged {s['judged']:>4} useful {s['useful']:>4} precision {_pct(s['precision'])}")
    for corpus in (audit.CORPORA if args.corpus == "all" else (args.corpus,)):
        corpus_tables(corpus)


if __name__ == "__main__":
    main()
