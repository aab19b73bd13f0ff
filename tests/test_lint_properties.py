"""Properties of the linter on every corpus prompt with every profile (issue 11).

No crash; every span inside the prompt; after all safe fixes every tag keeps its meaning (the same tag of
the profile's own tag sources: the same name, or a spelling that resolves to it) and its weight and
branch; LoRAs, BREAK and AND stay; applying the safe fixes again changes nothing. A failure on a text that
is (or holds) a held-out audit prompt (``heldout``, ``fresh``) names only its corpus position (held-out prompts
are read once, by the judges).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from promptkit import parse
from promptkit.linter import fix_text, lint_prompt
from promptkit.profiles import bundled_ids
from promptkit.syntax.ast import And, Break
from promptkit.tags import TagDB

AUDIT = Path(__file__).resolve().parent / "audit" / "prompts.jsonl"


def _held_out() -> set[str]:
    rows = [json.loads(line) for line in AUDIT.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {r["text"].strip() for r in rows if r["split"] in ("heldout", "fresh")}


def _signature(text: str, profile, db) -> tuple:
    from promptkit.profiles import load_profile

    prof = load_profile(profile)
    prompt = parse(text, prof.dialect)
    tags = Counter((t.qualified_name if t.namespace else db.resolve(t.name), round(t.weight, 4), t.branch)
                   for t in prompt.tags)
    nodes = list(prompt.walk())
    structure = (sorted(n.raw for n in prompt.loras), sum(type(n) is Break for n in nodes),
                 sum(type(n) is And for n in nodes))
    return tags, structure


@pytest.mark.parametrize("profile", bundled_ids())
def test_safe_fixes_keep_every_tag_on_every_corpus_prompt(texts, profile):
    held = _held_out()
    db = TagDB.for_profile(profile)
    failures = []
    for i, text in enumerate(texts):
        hidden = text.strip() in held or any(h in text for h in held if len(h) > 30)
        where = f"corpus text {i} (held-out: hidden)" if hidden else repr(text[:300])
        report = lint_prompt(text, profile, db=db)
        bad_span = [d.code for d in report.diagnostics if not 0 <= d.start <= d.end <= len(text)]
        if bad_span:
            failures.append(f"{where}: spans out of range {bad_span}")
            continue
        fixed, applied = fix_text(text, profile, db=db)
        if not applied:
            continue
        if _signature(fixed, profile, db) != _signature(text, profile, db):
            codes = sorted({d.code for d in applied})
            failures.append(f"{where}: safe fixes {codes} changed tags" +
                            ("" if "hidden" in where else f" -> {fixed[:300]!r}"))
            continue
        if fix_text(fixed, profile, db=db)[0] != fixed:
            failures.append(f"{where}: safe fixes are not idempotent")
    if failures:  # pytest.fail: assertion rewriting must not print anything of a held-out prompt
        pytest.fail(f"{len(failures)} failure(s):\n" + "\n".join(failures[:20]))
