"""Lint on today's prompts (issue 21): tag order safety, recall classes and quiet classes, with examples from
../shared/corpus/modern_prompts.jsonl (dev split) and the issue's own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from promptkit.linter import all_rules, fix_text, format_prompt, lint_prompt

CORPUS = Path(__file__).resolve().parents[1] / ".." / "shared" / "corpus" / "modern_prompts.jsonl"


def corpus_record(line: int) -> dict:
    return json.loads(CORPUS.resolve().read_text(encoding="utf-8").splitlines()[line - 1])


def order(text, profile="animagine-xl-3.1"):
    return [d for d in lint_prompt(text, profile, select=["PK303"]).diagnostics]


# --- PK303: a reorder is never a same-meaning fix, and never crosses a boundary -------------------------------

def test_tag_order_is_off_by_default_and_unsafe():
    (rule,) = [r for r in all_rules() if r.code == "PK303"]
    assert rule.default is False and rule.fix_safety == "unsafe"
    text = "smile, 1girl, kazusa \\(blue archive\\)"
    assert "PK303" not in lint_prompt(text, "kivotos-xl-2").codes()
    (d,) = order(text, "kivotos-xl-2")
    assert d.fix is not None and not d.fix.safe
    assert fix_text(text, "kivotos-xl-2", select=["PK303"])[0] == text  # safe fixes only: nothing moves


def test_card_preset_with_absurdres_is_in_order():
    """modern corpus m4 (S-Tubasa/Animagine_XL_3_1_Basic): the card's preset before a template placeholder."""
    rec = corpus_record(4)
    assert rec["prompt"].startswith("masterpiece, best quality, very aesthetic, absurdres, {userprompt}")
    assert order(rec["prompt"]) == []
    assert order("1girl, solo, masterpiece, best quality, very aesthetic, absurdres") == []


@pytest.mark.parametrize("text", [
    "smile, {prompt}, 1girl",                        # A1111 styles placeholder
    "smile, {p}, 1girl",                             # AI Horde
    "smile, 1girl ### lowres, 1boy",                 # Horde negative part
    "smile, ###, 1girl",
    "smile, __hair__, 1girl",                        # wildcard
    "smile, {red|blue} dress, 1girl",                # dynamic-prompts variant
    "smile, [name], 1girl",                          # textual-inversion template
    "smile BREAK 1girl",
    "smile AND 1girl",
    "smile\n1girl",
])
def test_reorder_never_crosses_a_boundary(text):
    assert order(text) == []
    assert [t.strip() for t in format_prompt(text, "animagine-xl-3.1").replace("\n", ",").split(",")] == \
        [t.strip() for t in text.replace("\n", ",").split(",")]


def test_reorder_keeps_a_group_of_mixed_tags_where_it_stands():
    """A weighted group holding 1girl and quality tags is the author's choice: it neither moves nor is crossed."""
    text = "smile, (masterpiece, 1girl:1.2), outdoors, kazusa \\(blue archive\\)"
    (d,) = order(text, "kivotos-xl-2")
    after = fix_text(text, "kivotos-xl-2", select=["PK303"], unsafe=True)[0]
    assert after.startswith("smile, (masterpiece, 1girl:1.2), ")
    assert after.endswith("kazusa \\(blue archive\\), outdoors")


def test_reorder_within_a_segment_still_works():
    assert format_prompt("smile, 1girl", "kivotos-xl-2") == "1girl, smile"
    assert format_prompt("smile, 1girl ### lowres", "kivotos-xl-2") == "smile, 1girl ### lowres"


def test_fmt_does_not_reorder_models_trained_on_shuffled_tags():
    assert format_prompt("newest, extremely aesthetic, best quality", "sotediffusion-wuerstchen3") == \
        "newest, extremely aesthetic, best quality"
    assert format_prompt("1girl, masterpiece", "illustrious-xl") == "1girl, masterpiece"


# --- characters by bare name plus series ---------------------------------------------------------------------

def test_bare_name_beside_its_series_is_a_character():
    assert order("1girl, cagliostro, granblue fantasy, solo") == []
    assert "PK213" not in lint_prompt("1girl, kazusa, blue archive, solo", "kivotos-xl-2").codes()
    assert "PK213" in lint_prompt("1girl, kazusa, solo", "kivotos-xl-2").codes()
