"""The findings of the default rules on every corpus text and every profile, as a snapshot speed work must keep.

A speed change never changes output (issue 24): ``tests/test_lint_snapshot.py`` lints every prompt and negative of
``../shared/corpus/real_prompts.jsonl`` and ``modern_prompts.jsonl`` under every bundled profile and compares the
findings (code, severity, span, message, suggestions, fix) with ``tests/data/lint_snapshot.json.gz``.

A change that is meant to change findings (a rule change) rewrites the snapshot in the same commit and says so:

    python tests/lint_snapshot.py --update      # rewrite the snapshot from the code as it is
    python tests/lint_snapshot.py --diff        # print what differs from the snapshot
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SNAPSHOT = HERE / "data" / "lint_snapshot.json.gz"
CORPORA = HERE.parents[1] / "shared" / "corpus"
WHOLE_FILES = ("wildcard-file", "kohya-sample", "ti-template")


def corpus_texts() -> list[tuple[str, str, bool, str | None]]:
    """(key, text, negative, path) for every prompt and negative of both corpora, in file order."""
    out = []
    for name in ("real_prompts.jsonl", "modern_prompts.jsonl"):
        for n, line in enumerate((CORPORA / name).read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            rec = json.loads(line)
            path = None
            container = rec.get("container")
            source = rec.get("source") or ""
            if (container in WHOLE_FILES or (container == "comfy-graph" and rec["prompt"].lstrip().startswith("{"))) \
                    and ":" in source:
                path = source.split(":", 1)[1].rsplit("@", 1)[0]
            for field in ("prompt", "negative_prompt"):
                if rec.get(field):
                    out.append((f"{name}:{n}:{field}", rec[field], field == "negative_prompt", path))
    return out


def profiles() -> list[str]:
    from promptkit.profiles.registry import bundled_ids

    return sorted(bundled_ids())


def findings(text: str, profile: str, negative: bool, path: str | None) -> list[list]:
    from promptkit import lint

    report = lint(text, profile=profile, negative=negative, path=path)
    return [[d.code, d.severity.value, d.start, d.end, d.message, list(d.suggestions),
             d.fix.to_dict() if d.fix else None] for d in report.diagnostics]


def take() -> dict[str, list]:
    """Every (profile, text) pair's findings: {"profile|key": findings} (pairs with none are left out)."""
    snap = {}
    texts = corpus_texts()
    for profile in profiles():
        for key, text, negative, path in texts:
            found = findings(text, profile, negative, path)
            if found:
                snap[f"{profile}|{key}"] = found
    return snap


def load() -> dict[str, list]:
    with gzip.open(SNAPSHOT, "rt", encoding="utf-8") as fh:
        return json.load(fh)


def digest(snap: dict[str, list]) -> str:
    return hashlib.sha256(json.dumps(snap, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def differences(old: dict[str, list], new: dict[str, list], limit: int = 20) -> list[str]:
    out = []
    for key in sorted(old.keys() | new.keys()):
        a, b = old.get(key, []), new.get(key, [])
        if a != b:
            gone = [f for f in a if f not in b]
            came = [f for f in b if f not in a]
            out.append(f"{key}:\n  - {gone}\n  + {came}")
            if len(out) >= limit:
                break
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--update", action="store_true", help="rewrite the snapshot")
    ap.add_argument("--diff", action="store_true", help="print what differs from the snapshot")
    args = ap.parse_args(argv)
    snap = take()
    if args.update:
        SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps(snap, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
        tmp = SNAPSHOT.with_suffix(".tmp")
        with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as fh:
            fh.write(data)
        tmp.replace(SNAPSHOT)
        print(f"wrote {SNAPSHOT} ({sum(map(len, snap.values()))} findings, {len(snap)} prompt/profile pairs)")
        return 0
    diff = differences(load(), snap, limit=10**9 if args.diff else 20)
    print("\n".join(diff) if diff else "no difference")
    return 1 if diff else 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent))
    sys.exit(main())
