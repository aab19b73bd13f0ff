"""The run memos (promptkit.linter.memo) never change findings: a prompt linted after others, with every per-tag
answer already kept, gets exactly the findings it gets alone, even where its search budget runs out, under
other embeddings, and with tables small enough to be emptied mid-run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from promptkit import lint
from promptkit.linter import memo
from promptkit.linter.rules import tags as tag_rules

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "modern_prompts.jsonl"


def corpus_prompts(n: int) -> list[tuple[str, bool]]:
    out = []
    for line in CORPUS.read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        if rec.get("container") not in (None, "prompt", "comfy-graph", "a1111-infotext"):
            continue
        out += [(rec[f], f == "negative_prompt") for f in ("prompt", "negative_prompt") if rec.get(f)]
    return out[:n]


def found(text: str, profile: str, negative: bool = False, **kw) -> list:
    report = lint(text, profile=profile, negative=negative, **kw)
    return [(d.code, d.start, d.end, d.message, d.suggestions, d.fix.to_dict() if d.fix else None)
            for d in report.diagnostics]


def alone(prompts, profile: str) -> list:
    """Each prompt's findings with nothing kept from the prompts before it."""
    out = []
    for text, negative in prompts:
        memo.clear_memos()
        out.append(found(text, profile, negative))
    return out


@pytest.mark.parametrize("profile", ["illustrious-xl", "sd15"])
def test_a_spent_budget_gets_what_it_would_alone(monkeypatch, profile):
    # a budget of three typo searches per prompt runs out on most corpus prompts: kept answers must be paid for
    monkeypatch.setattr(tag_rules, "MAX_CORRECTIONS", 3)
    prompts = corpus_prompts(120)
    expected = alone(prompts, profile)
    assert sum(map(len, expected)) > 20  # the prompts do have findings to lose or gain
    memo.clear_memos()
    assert [found(t, profile, n) for t, n in prompts] == expected
    backwards = [found(t, profile, n) for t, n in reversed(prompts)]  # every answer is kept now
    assert backwards[::-1] == expected


def test_the_budget_is_what_limits_the_findings(monkeypatch):
    """The check above can fail: with a budget this small the findings are not those of a full budget."""
    prompts = corpus_prompts(120)
    full = alone(prompts, "illustrious-xl")
    monkeypatch.setattr(tag_rules, "MAX_CORRECTIONS", 3)
    assert alone(prompts, "illustrious-xl") != full


def test_embedding_names_are_part_of_the_key():
    typo = "a beatiful girl in a small villiage, 1grl"
    plain = found(typo, "sdxl-base")
    assert {"PK215"} <= {f[0] for f in plain}
    memo.clear_memos()
    named = found(typo, "sdxl-base", embeddings=["villiage", "1grl"])
    assert not any("villiage" in f[3] or "1grl" in f[3] for f in named) and named != plain
    assert found(typo, "sdxl-base") == plain  # after the named run, in the same process
    assert found(typo, "sdxl-base", embeddings=["villiage", "1grl"]) == named


def test_tables_stay_bounded_and_change_nothing(monkeypatch):
    prompts = corpus_prompts(80)
    expected = alone(prompts, "pony-v6")
    monkeypatch.setattr(memo, "TABLE_LIMIT", 16)
    memo.clear_memos()
    seen = 0
    for (text, negative), want in zip(prompts, expected):
        assert found(text, "pony-v6", negative) == want
        for kept in memo._MEMOS.values():
            for table in kept._tables.values():
                # emptied once it holds TABLE_LIMIT answers; within one prompt it grows by at most the pieces
                # (tags, words, runs of up to three words) that prompt asks about
                assert len(table) <= 16 + 3 * len(text)
                seen = max(seen, len(table))
    assert seen >= 16  # the tables did fill up and get emptied


def test_kept_typo_windows_are_paid_for(monkeypatch):
    """A typo found inside a phrase (``lokking at viewer``) takes searches; a prompt whose budget is gone by
    then does not get it from what an earlier prompt, with budget to spare, found."""
    phrase = "girl lokking at viewer while smiling"
    assert [f[0] for f in found(phrase, "illustrious-xl")] == ["PK201"]
    monkeypatch.setattr(tag_rules, "MAX_CORRECTIONS", 2)
    memo.clear_memos()
    spent = "1grl, " + phrase  # the typo 1grl takes a search first
    expected = found(spent, "illustrious-xl")
    assert [f[0] for f in expected] == ["PK201"]  # 1grl only: no search left for the phrase
    memo.clear_memos()
    monkeypatch.setattr(tag_rules, "MAX_CORRECTIONS", 1000)
    found(phrase, "illustrious-xl")  # kept with its searches
    monkeypatch.setattr(tag_rules, "MAX_CORRECTIONS", 2)
    assert found(spent, "illustrious-xl") == expected
