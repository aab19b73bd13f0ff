"""The held-out figures of the December unseen sets, from their stored worksheets and judges' files.

    python tests/audit/unseen_figures.py

Per judge: findings, useful / noise / wrong, fixes right / wrong, safe fixes judged wrong, clear problems the judge
listed as missed, and recall (useful findings / (useful findings + missed)); then the verdicts per rule. The
figures are those of the code at each measurement (the worksheets hold its findings), not of the code now.
"""

from __future__ import annotations

import collections
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent

def _all_held_out(folder: str, title: str, judges: tuple[int, int], infix: str = "") -> tuple:
    """A set whose every record is held out: its worksheet and each judge's judged and missed files."""
    here = HERE / folder
    return (f"{folder}, all held out ({title})", here / "worksheet_findings.jsonl",
            [(j, here / f"judge{j}{infix}_judged.jsonl", here / f"judge{j}{infix}_missed.jsonl") for j in judges])


SETS = [  # (title, worksheet findings, [(judge, judged file, missed file)])
    ("unseen_dec held-out half (60 texts, 14 repositories)", HERE / "unseen_dec" / "heldout_worksheet_findings.jsonl",
     [(j, HERE / "unseen_dec" / f"heldout_judge{j}_unseen_heldout_judged.jsonl",
       HERE / "unseen_dec" / f"heldout_judge{j}_unseen_heldout_missed.jsonl") for j in (1, 2)]),
    _all_held_out("unseen_dec2", "32 texts, 19 repositories", (3, 4), "_unseen2"),
    _all_held_out("unseen_dec3", "48 texts, 22 repositories", (5, 6)),
    _all_held_out("unseen_dec4", "33 texts, 15 repositories", (7, 8)),
    _all_held_out("unseen_dec5", "42 texts, 24 repositories", (9, 10)),
    _all_held_out("unseen_dec6", "18 texts, 6 repositories and 8 issue threads", (11, 12)),
    _all_held_out("unseen_dec7", "33 texts: Hugging Face model cards, Spaces and datasets, and 2 web pages", (14, 15)),
    ("unseen_dec6 after tuning to it (0b117fc; a tuned figure, not held out)",
     HERE / "unseen_dec6" / "after_worksheet_findings.jsonl",
     [(13, HERE / "unseen_dec6" / "judge13_after_judged.jsonl", HERE / "unseen_dec6" / "judge13_after_missed.jsonl")]),
    ("unseen_dec7 after tuning to it (13f63f4; a tuned figure, not held out)",
     HERE / "unseen_dec7" / "after_worksheet_findings.jsonl",
     [(16, HERE / "unseen_dec7" / "judge16_after_judged.jsonl", HERE / "unseen_dec7" / "judge16_after_missed.jsonl")]),
]


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def main() -> None:
    for title, worksheet, judges in SETS:
        findings = {r["fid"]: r for r in rows(worksheet)}
        print(f"\n{title}: {len(findings)} findings")
        per_rule: dict[str, list[collections.Counter]] = collections.defaultdict(lambda: [collections.Counter()
                                                                                          for _ in judges])
        for k, (judge, judged_path, missed_path) in enumerate(judges):
            judged = {r["fid"]: r for r in rows(judged_path)}
            verdicts = collections.Counter(judged[f]["verdict"] for f in findings)
            fixes = collections.Counter(judged[f].get("fix_verdict") for f in findings if findings[f].get("fix"))
            safe_wrong = sum(1 for f in findings if (findings[f].get("fix") or {}).get("safe")
                             and judged[f].get("fix_verdict") == "wrong")
            missed = len(rows(missed_path))
            useful = verdicts["useful"]
            print(f"  judge {judge}: useful {useful} ({useful / len(findings):.0%}), noise {verdicts['noise']}, "
                  f"wrong {verdicts['wrong']} ({verdicts['wrong'] / len(findings):.0%}); fixes right {fixes['right']}, "
                  f"wrong {fixes['wrong']}; safe fixes judged wrong {safe_wrong}; missed {missed}; "
                  f"recall {useful / (useful + missed):.0%}")
            for f, r in findings.items():
                per_rule[r["code"]][k][judged[f]["verdict"]] += 1
        for code in sorted(per_rule):
            print(f"    {code}: " + "  |  ".join(", ".join(f"{v} {n}" for v, n in sorted(c.items()))
                                                 for c in per_rule[code]))


if __name__ == "__main__":
    main()
