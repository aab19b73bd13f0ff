"""The lint audit: dump the linter's findings on the audit set, join them with hand judgements, make worksheets.

    python tests/audit/audit.py dump --split dev --out findings_dev.jsonl
    python tests/audit/audit.py worksheet --split dev --out /work/audit-work/after_dev       # unjudged only
    python tests/audit/audit.py worksheet --split heldout --all-prompts --out /work/audit-work/after_heldout
    python tests/audit/audit.py import --round after --judge independent FINDINGS.jsonl JUDGED.jsonl ...

    python tests/audit/audit.py worksheet --corpus modern --split dev --all-prompts --out /tmp/modern_dev
    python tests/audit/audit.py worksheet --corpus modern --split heldout --all-prompts --out /tmp/modern_heldout

``--corpus sd1`` (the default) is this folder's prompts.jsonl (SD1-era, splits dev/heldout/fresh);
``--corpus modern`` is ../shared/corpus/modern_prompts.jsonl (splits dev/heldout by source repository, see
modern.py). A worksheet lists every prompt with its default findings, each fix as the text after it, and room
for the judge: useful/noise/wrong per finding, right/wrong per fix, and missed problems per prompt.

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
CORPORA = ("sd1", "modern")
MISSED = HERE / "missed"


def splits(corpus: str = "sd1") -> tuple[str, ...]:
    import modern

    return modern.SPLITS if corpus == "modern" else SPLITS


def hidden(corpus: str = "sd1") -> tuple[str, ...]:
    import modern

    return modern.HIDDEN if corpus == "modern" else HIDDEN


def load_prompts(split: str | None = None, corpus: str = "sd1") -> list[dict]:
    if corpus == "modern":
        import modern

        return modern.load_prompts(split)
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
                         select=select, path=record.get("path"))
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


def all_findings(split: str, corpus: str = "sd1") -> list[dict]:
    out = []
    for record in load_prompts(split, corpus):
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


def load_missed(corpus: str = "sd1") -> list[dict]:
    """Problems judges saw that the linter missed (``missed/*.jsonl``; modern ones in ``missed/modern_*``)."""
    out = []
    if not MISSED.is_dir():
        return out
    for path in sorted(MISSED.glob("*.jsonl")):
        if path.name.startswith("modern_") != (corpus == "modern"):
            continue
        out.extend(json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    return out


def missed_found(problem: dict, text: str, rows: list[dict]) -> bool:
    """Whether a finding now covers a problem recorded as missed (a finding overlapping its span)."""
    span = problem.get("span") or ""
    at = text.find(span) if span else -1
    if at < 0:
        return False
    end = at + len(span)
    return any(r["start"] < end and at < r["end"] or (r["start"] == r["end"] and at <= r["start"] <= end)
               for r in rows)


def quality(rows: list[dict], judged: dict[str, dict], prompts: list[dict], missed: list[dict],
            key) -> dict[str, dict]:
    """Precision and recall per ``key(finding or problem, prompt)`` and overall.

    precision = useful / judged findings; recall = problems found / problems known, where the known
    problems are the findings judged useful plus the problems recorded as missed (found when a finding
    now covers them)."""
    by_prompt: dict[str, list[dict]] = {}
    for r in rows:
        by_prompt.setdefault(r["id"], []).append(r)
    texts = {p["id"]: p for p in prompts}
    table: dict[str, Counter] = {}

    def bump(k: str, **kv: int) -> None:
        for kk in (k, "all"):
            c = table.setdefault(kk, Counter())
            for name, n in kv.items():
                c[name] += n

    for r in rows:
        j = judged.get(r["fid"])
        k = key(r, texts[r["id"]])
        bump(k, findings=1)
        if j is not None:
            bump(k, judged=1, **{j["verdict"]: 1}, wrong_fix=int(j.get("fix_verdict") == "wrong"),
                 known=int(j["verdict"] == "useful"), found=int(j["verdict"] == "useful"))
    for m in missed:
        p = texts.get(m["id"])
        if p is None:
            continue
        k = key(m, p)
        if not missed_found(m, p["text"], by_prompt.get(m["id"], [])):
            bump(k, known=1)
    out = {}
    for k, c in sorted(table.items(), key=lambda kv: (kv[0] == "all", kv[0])):
        out[k] = {**{n: c[n] for n in ("findings", "judged", "useful", "noise", "wrong", "wrong_fix", "known", "found")},
                  "precision": c["useful"] / c["judged"] if c["judged"] else None,
                  "recall": c["found"] / c["known"] if c["known"] else None}
    return out


def worksheet(split: str, out_prefix: str, rows: list[dict], judged: dict[str, dict],
              all_prompts: bool = False, corpus: str = "sd1", include_judged: bool = False) -> tuple[int, int]:
    """Write the worksheet of the findings with no judgement yet (markdown for judges + jsonl); return
    (prompts, findings) written. ``all_prompts`` lists every prompt of the split, those without findings
    too, so that judges can record what the linter missed. Nothing of the content is printed."""
    prompts = {p["id"]: p for p in load_prompts(split, corpus)}
    by: dict[str, list[dict]] = {pid: [] for pid in prompts} if all_prompts else {}
    for row in rows:
        if include_judged or row["fid"] not in judged:
            by.setdefault(row["id"], []).append(row)
    md: list[str] = [
        f"# Lint worksheet: corpus {corpus}, split {split}\n",
        "For each finding write one JSON line to JUDGED.jsonl: "
        '{"fid": ..., "verdict": "useful"|"noise"|"wrong", "fix_verdict": "right"|"wrong"|null, "note": ...}. '
        "useful: a careful user would act on it; noise: true but not worth showing; wrong: false or harmful. "
        "fix_verdict judges the text after the fix (null when there is no fix). For each clear problem the "
        "linter missed write a line to MISSED.jsonl: "
        '{"id": PROMPT_ID, "span": EXACT_TEXT, "problem": ..., "expected": ...}. '
        "Judge the prompt as its author would use it: the profile is the model it was written for, "
        "'container' says where it came from (a styles row, a template, a wildcard file ...).\n"]
    written = []
    for pid, fs in by.items():
        p = prompts[pid]
        kind = "NEGATIVE prompt" if p["negative"] else "positive prompt"
        extra = f", model {p['model_hint']}, container {p['container']}" if "model_hint" in p else ""
        md.append(f"\n## prompt {pid}  (profile {p['profile']}, dialect {p['dialect']}, {kind}{extra})\n"
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
    d.add_argument("--corpus", choices=CORPORA, default="sd1")
    d.add_argument("--split", choices=SPLITS, required=True)
    d.add_argument("--out", required=True)
    w = sub.add_parser("worksheet", help="worksheet (.md + .jsonl) of the findings no judgement covers")
    w.add_argument("--corpus", choices=CORPORA, default="sd1")
    w.add_argument("--split", choices=SPLITS, required=True)
    w.add_argument("--out", required=True, help="path prefix: writes PREFIX.md and PREFIX.jsonl")
    w.add_argument("--all-prompts", action="store_true", help="list prompts without findings too (for missed problems)")
    w.add_argument("--include-judged", action="store_true",
                   help="list findings that have a judgement too (a fresh judge sees every finding)")
    i = sub.add_parser("import", help="store judges' lines (with their findings) in tests/audit/judgements")
    i.add_argument("findings")
    i.add_argument("judged", nargs="+")
    i.add_argument("--round", required=True, choices=["before", "after", "round2", "modern"])
    i.add_argument("--judge", default="independent")
    i.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    if args.command in ("dump", "worksheet") and args.split not in splits(args.corpus):
        ap.error(f"corpus {args.corpus} has the splits {', '.join(splits(args.corpus))}")
    if args.command == "dump":
        rows = all_findings(args.split, args.corpus)
        with open(args.out, "w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        print(f"{args.split}: {len(rows)} findings written to {args.out}")
    elif args.command == "worksheet":
        rows = all_findings(args.split, args.corpus)
        judged = load_judgements()
        n_prompts, n = worksheet(args.split, args.out, rows, judged, args.all_prompts, args.corpus,
                                 args.include_judged)
        unjudged = sum(1 for r in rows if r["fid"] not in judged)
        print(f"{args.corpus} {args.split}: {len(rows)} findings ({unjudged} without a judgement), {n} written, "
              f"on {n_prompts} prompts: {args.out}.md, {args.out}.jsonl")
    else:
        n = import_judgements(args.findings, args.judged, args.round, args.judge, args.out)
        print(f"{n} judgements written to {args.out}")


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parents[1]))
    main()
