"""The lint audit: dump the linter's findings on the audit set, join them with hand judgements, make worksheets.

    python tests/audit/audit.py dump --split dev --out findings_dev.jsonl
    python tests/audit/audit.py worksheet --split dev --out /work/audit-work/after_dev       # unjudged only
    python tests/audit/audit.py worksheet --split heldout --all-prompts --out /work/audit-work/after_heldout
    python tests/audit/audit.py import --round after --judge independent FINDINGS.jsonl JUDGED.jsonl ...

Held-out texts and findings never reach the terminal: commands given a hidden split (``fresh``, the one held
out now; ``heldout`` was judged once and seen in round 2, but its output stays counts-only too) write files and
print counts only. A finding is identified by its ``fid``: a hash of prompt id, rule code, span, fix edits and
suggestions (the formula of the judging worksheets), so a finding that changes in any of these is a new
finding that needs a new judgement.

Judgements live in ``tests/audit/judgements/*.jsonl``, one object per finding judged: the judge's fields
(``fid``, ``verdict`` useful/noise/wrong, ``fix_verdict`` right/wrong/null, ``note``), plus ``round``
(``before``: the linter as it was before issue 11; ``after``: the rebuilt one), ``judge`` and the finding
itself (``id``, ``code``, ``start``, ``end``, ``span``, ``message``, ``fix``) so that useful findings can be
matched by prompt, code and span when their wording changes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROMPTS = HERE / "prompts.jsonl"
JUDGEMENTS = HERE / "judgements"
FINDING_FIELDS = ("id", "code", "start", "end", "span", "message", "fix")
SPLITS = ("dev", "heldout", "fresh")
#: splits whose texts and findings are never shown (only counted): ``fresh`` is held out now
HIDDEN = ("heldout", "fresh")


def load_prompts(split: str | None = None) -> list[dict]:
    rows = [json.loads(line) for line in PROMPTS.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in rows if split in (None, "all") or r["split"] == split]


def fid(finding: dict) -> str:
    """The judging worksheets' finding id (see the module docstring)."""
    edits = json.dumps(finding["fix"]["edits"] if finding.get("fix") else None, ensure_ascii=False)
    sugg = json.dumps(finding.get("suggestions") or [], ensure_ascii=False)
    key = f"{finding['id']}|{finding.get('code')}|{finding.get('start')}|{finding.get('end')}|{edits}|{sugg}"
    return hashlib.sha1(key.encode()).hexdigest()[:12]


def _apply(text: str, edits: list[dict]) -> str:
    for e in sorted(edits, key=lambda e: (e["start"], e["end"]), reverse=True):
        text = text[:e["start"]] + e["replacement"] + text[e["end"]:]
    return text


def findings(record: dict, select=None) -> list[dict]:
    """The linter's findings on one audit prompt (its profile, dialect and polarity), as worksheet rows."""
    from promptkit.linter import lint_prompt

    text = record["text"]
    report = lint_prompt(text, record["profile"], dialect=record["dialect"], negative=record["negative"],
                         select=select)
    rows = []
    for d in report.diagnostics:
        fix = d.fix.to_dict() if d.fix else None
        row = {"id": record["id"], "profile": record["profile"], "negative": record["negative"], "code": d.code,
               "severity": d.severity.value, "start": d.start, "end": d.end, "span": text[d.start:d.end],
               "message": d.message, "suggestions": list(d.suggestions), "fix": fix,
               "text_after_fix": _apply(text, fix["edits"]) if fix else None}
        row["fid"] = fid(row)
        rows.append(row)
    return rows


def all_findings(split: str) -> list[dict]:
    out = []
    for record in load_prompts(split):
        out.extend(findings(record))
    return out


def load_judgements(round_: str | None = None) -> dict[str, dict]:
    """fid -> judgement, from every file in ``judgements/`` (a later file wins for the same fid)."""
    out: dict[str, dict] = {}
    if not JUDGEMENTS.is_dir():
        return out
    for path in sorted(JUDGEMENTS.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                if round_ is None or row.get("round") == round_:
                    out[row["fid"]] = row
    return out


def precision(rows: list[tuple[str, dict | None]]) -> dict[str, dict]:
    """Per rule and overall: findings, judged, useful, noise, wrong, fixes judged wrong, precision."""
    table: dict[str, Counter] = {}
    for code, judgement in rows:
        for key in (code, "all"):
            c = table.setdefault(key, Counter())
            c["findings"] += 1
            if judgement is not None:
                c["judged"] += 1
                c[judgement["verdict"]] += 1
                if judgement.get("fix_verdict") == "wrong":
                    c["wrong_fix"] += 1
    out = {}
    for key, c in sorted(table.items(), key=lambda kv: (kv[0] == "all", kv[0])):
        out[key] = {**{k: c[k] for k in ("findings", "judged", "useful", "noise", "wrong", "wrong_fix")},
                    "precision": c["useful"] / c["judged"] if c["judged"] else None}
    return out


def worksheet(split: str, out_prefix: str, rows: list[dict], judged: dict[str, dict],
              all_prompts: bool = False) -> tuple[int, int]:
    """Write the worksheet of the findings with no judgement yet (markdown for judges + jsonl); return
    (prompts, findings) written. ``all_prompts`` lists every prompt of the split, those without findings
    too, so that judges can record what the linter missed. Nothing of the content is printed."""
    prompts = {p["id"]: p for p in load_prompts(split)}
    by: dict[str, list[dict]] = {pid: [] for pid in prompts} if all_prompts else {}
    for row in rows:
        if row["fid"] not in judged:
            by.setdefault(row["id"], []).append(row)
    md: list[str] = []
    written = []
    for pid, fs in by.items():
        p = prompts[pid]
        kind = "NEGATIVE prompt" if p["negative"] else "positive prompt"
        md.append(f"\n## prompt {pid}  (profile {p['profile']}, dialect {p['dialect']}, {kind})\n"
                  f"source: {p['source']}\n```\n{p['text']}\n```")
        if not fs:
            md.append("(no findings)")
        for f in fs:
            fixline = ""
            if f.get("fix"):
                fx = f["fix"]
                safety = "SAFE" if fx["safe"] else "unsafe"
                fixline = (f"\n    fix ({safety}): {fx['description']}\n    text after this fix: {f['text_after_fix']!r}"
                           if len(f["text_after_fix"]) < 600 else
                           f"\n    fix ({safety}): {fx['description']}; edits: {fx['edits']}")
            sug = f"\n    suggestions: {f['suggestions']}" if f.get("suggestions") else ""
            md.append(f"- fid {f['fid']}: {f['code']} {f['severity']} at {f['start']}:{f['end']} span {f['span']!r}\n"
                      f"    message: {f['message']}{sug}{fixline}")
            written.append(f)
    Path(out_prefix + ".md").write_text("\n".join(md) + "\n", encoding="utf-8")
    with open(out_prefix + ".jsonl", "w", encoding="utf-8") as fh:
        for f in written:
            fh.write(json.dumps(f, ensure_ascii=False) + "\n")
    return len(by), len(written)


def import_judgements(findings_path: str, judged_paths: list[str], round_: str, judge: str, out: str) -> int:
    """Join judges' lines with the findings they judged and write them (with round and judge) to ``out``."""
    found = {}
    for line in Path(findings_path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            found.setdefault(row.get("fid") or fid(row), row)
    rows = []
    for path in judged_paths:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            j = json.loads(line)
            f = found.get(j["fid"])
            if f is None:
                raise SystemExit(f"{path}: fid {j['fid']} is not in {findings_path}")
            row = dict(j)
            row.update({"round": round_, "judge": judge})
            for key in FINDING_FIELDS:
                row.setdefault(key, f.get(key))
            rows.append(row)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return len(rows)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    d = sub.add_parser("dump", help="the linter's findings on one split, as JSON lines (a file)")
    d.add_argument("--split", choices=SPLITS, required=True)
    d.add_argument("--out", required=True)
    w = sub.add_parser("worksheet", help="worksheet (.md + .jsonl) of the findings no judgement covers")
    w.add_argument("--split", choices=SPLITS, required=True)
    w.add_argument("--out", required=True, help="path prefix: writes PREFIX.md and PREFIX.jsonl")
    w.add_argument("--all-prompts", action="store_true", help="list prompts without findings too (for missed problems)")
    i = sub.add_parser("import", help="store judges' lines (with their findings) in tests/audit/judgements")
    i.add_argument("findings")
    i.add_argument("judged", nargs="+")
    i.add_argument("--round", required=True, choices=["before", "after", "round2"])
    i.add_argument("--judge", default="independent")
    i.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    if args.command == "dump":
        rows = all_findings(args.split)
        with open(args.out, "w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        print(f"{args.split}: {len(rows)} findings written to {args.out}")
    elif args.command == "worksheet":
        rows = all_findings(args.split)
        n_prompts, n = worksheet(args.split, args.out, rows, load_judgements(), args.all_prompts)
        print(f"{args.split}: {len(rows)} findings, {n} without a judgement, on {n_prompts} prompts: "
              f"{args.out}.md, {args.out}.jsonl")
    else:
        n = import_judgements(args.findings, args.judged, args.round, args.judge, args.out)
        print(f"{n} judgements written to {args.out}")


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parents[1]))
    main()
