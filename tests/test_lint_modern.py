"""Lint on today's prompts (issue 21): tag order safety, recall classes and quiet classes, with examples from
../shared/corpus/modern_prompts.jsonl (dev split) and the issue's own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from promptkit.contain import detect_container
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


# --- recall: what a careful user wants to hear (the issue's examples and the corpus' own) --------------------

def found(text, profile="illustrious-xl", **kw):
    report = lint_prompt(text, profile, **kw)
    return {(d.code, text[d.start:d.end], _after(text, d)) for d in report.diagnostics}


def _after(text, d):
    if d.fix is None:
        return None
    from promptkit.linter.diagnostics import apply_edits

    return apply_edits(text, list(d.fix.edits))


@pytest.mark.parametrize("profile, text, code, span, after", [
    # a misspelled English word inside a tag list
    ("illustrious-xl", "1girl, detaild background", "PK215", "detaild", "1girl, detailed background"),
    ("illustrious-xl", "1girl, wiht flowers", "PK215", "wiht", "1girl, with flowers"),
    ("illustrious-xl", "1girl, mutiple fingers", "PK215", "mutiple", "1girl, multiple fingers"),
    # tags glued without comma or space
    ("illustrious-xl", "best qualitymasterpiece, 1girl", "PK217", "best qualitymasterpiece",
     "best quality, masterpiece, 1girl"),
    ("illustrious-xl", "1girl, lookingat viewer", "PK217", "lookingat viewer", "1girl, looking at viewer"),
    # a weight A1111 does not read
    ("illustrious-xl", "1girl, smile:1.3", "PK102", "smile:1.3", "1girl, (smile:1.3)"),
    ("illustrious-xl", "(masterpiece, detailed:1.2, 1girl)", "PK102", "detailed:1.2",
     "(masterpiece, (detailed:1.2), 1girl)"),
    # LoRA syntax A1111 rejects
    ("illustrious-xl", "1girl, <lora:detail:0,8>", "PK113", "<lora:detail:0,8>", "1girl, <lora:detail:0.8>"),
    ("illustrious-xl", "1girl, \\<lora:detail:0.8\\>", "PK113", "\\<lora:detail:0.8\\>", "1girl, <lora:detail:0.8>"),
    # a stray space inside an underscore tag; a count written apart
    ("illustrious-xl", "1girl, cat _ears", "PK217", "cat _ears", "1girl, cat_ears"),
    ("illustrious-xl", "1 girl, solo", "PK217", "1 girl", "1girl, solo"),
    # a doubled escape
    ("kivotos-xl-2", "1girl, kazusa \\\\(blue archive\\\\)", "PK114", "\\\\(", "1girl, kazusa \\(blue archive\\)"),
    # misspelled ladder tags of the profile's own family
    ("pony-v6", "score_9, score_8up, 1girl", "PK308", "score_8up", "score_9, score_8_up, 1girl"),
    ("pony-v6", "score_9, sorce_anime, 1girl", "PK201", "sorce_anime", "score_9, source_anime, 1girl"),
    ("pony-v6", "score_9, score_6, 1girl", "PK308", "score_6", "score_9, score_6_up, 1girl"),
    # a misspelled well-known name
    ("sd15", "portrait, by greg rutkowsky", "PK216", "greg rutkowsky", "portrait, by greg rutkowski"),
])
def test_recall_classes(profile, text, code, span, after):
    assert (code, span, after) in found(text, profile)


def test_syntax_of_another_front_end():
    text = "(1girl), smile"
    (d,) = [d for d in lint_prompt(text, "illustrious-xl", dialect="novelai").diagnostics if d.code == "PK106"]
    assert _after(text, d) == "{1girl}, smile"
    text = "(1girl)+, smile"
    (d,) = [d for d in lint_prompt(text, "illustrious-xl", dialect="a1111").diagnostics if d.code == "PK106"]
    assert text[d.start:d.end] == "(1girl)+"


@pytest.mark.parametrize("line, field, code, span, after_span", [
    (29, "prompt", "PK201", "sholder pads", "shoulder pads"),      # franklinjobs617-jpg/genanime.art
    (33, "prompt", "PK215", "japonese", "japanese"),
    (149, "negative_prompt", "PK102", "fused fingers:1.61051", "(fused fingers:1.61051)"),  # a styles.csv row
    (127, "prompt", "PK114", "\\\\(", "\\("),                     # a wildcard file copied with doubled escapes
])
def test_recall_on_the_modern_corpus(line, field, code, span, after_span):
    rec = corpus_record(line)
    text = rec[field]
    profile = {"illustrious-xl": "illustrious-xl", "pony-v6": "pony-v6", "sd15": "sd15"}.get(rec["model_hint"],
                                                                                           "sdxl-base")
    report = lint_prompt(text, profile, negative=field == "negative_prompt")
    hits = [d for d in report.diagnostics if d.code == code and text[d.start:d.end] == span]
    assert hits, [(d.code, text[d.start:d.end]) for d in report.diagnostics]
    assert after_span in _after(text, hits[0])


# --- quiet: what must not be "corrected" -------------------------------------------------------------------

@pytest.mark.parametrize("profile, text", [
    ("sd15", "portrait, by wlop and greg rutkowski, artstation"),       # a famous name is not 'wolf'
    ("illustrious-xl", "1girl, wlop, solo"),
    ("sd15", "a gloaming sky over a susurrous meadow, crepuscular rays"),   # rare real words stay words
    ("sd15", "trending on artstation, ultradetailed, linework, ecopunk"),  # compounds are not glued tags
    ("sd15", "a cat :1.2 AND a dog AND a penguin :2.2"),               # AND sub-prompt weights
    ("illustrious-xl", "1girl, 16:9, aspect ratio 2:3, Clip skip: 2"),
    ("sdxl-base", "masterpiece, {userprompt}, ${style}, {red|blue} dress"),  # template syntax, not NovelAI
    ("illustrious-xl", "1girl, cagliostro, granblue fantasy, solo"),
])
def test_quiet_classes(profile, text):
    report = lint_prompt(text, profile)
    assert [(d.code, text[d.start:d.end], d.message) for d in report.diagnostics] == []


def test_wlop_in_a_real_wildcard_file_is_not_corrected():
    """modern corpus m24 (a wildcard file that lists wlop among its style names)."""
    text = corpus_record(24)["prompt"]
    at = text.index("wlop")
    assert not [d for d in lint_prompt(text, "sd15").diagnostics if d.start <= at < d.end]


def test_token_count_does_not_add_a_templates_negative_part():
    """An AI Horde style's negative after ### is its own prompt: each part fits SoteDiffusion's 77 tokens."""
    positive = ", ".join(["long hair", "blue eyes", "smile", "sky"] * 6)     # 60 tokens
    negative = ", ".join(["lowres", "bad hands", "worst quality", "text"] * 6)
    assert "PK305" in lint_prompt(positive + ", " + negative, "sotediffusion-wuerstchen3").codes()
    assert "PK305" not in lint_prompt(positive + " ### " + negative, "sotediffusion-wuerstchen3").codes()


def test_novelai_negative_emphasis_is_a_feature_not_a_broken_weight():
    """NovelAI V4's numeric emphasis takes negative weights (its own default quality suffix uses them); a held-out
    judge called PK103 on ``-0.8::feet::`` wrong. Elsewhere a negative weight is still reported."""
    text = "1girl, solo, -0.8::feet::, very aesthetic, masterpiece, no text"
    assert "PK103" not in [d.code for d in lint_prompt(text, "illustrious-xl", dialect="novelai").diagnostics]
    assert "PK103" in [d.code for d in lint_prompt("1girl, (feet:-0.8)", "illustrious-xl").diagnostics]


def test_ladder_typo_leaves_other_scores_and_pony_negatives_alone():
    """Judged wrong on fresh prompts: PK308 turned a negative's score_1..3 into score_9 and its bare score_6 into
    score_6_up, which work against what the author wants."""
    negative = "score_6, score_5, score_4, score_3, score_2, score_1, worst quality, low quality"
    assert "PK308" not in [d.code for d in lint_prompt(negative, "pony-v6", negative=True).diagnostics]
    found = [(d.code, d.suggestions) for d in lint_prompt("score_9, score_8up, 1girl", "pony-v6").diagnostics]
    assert ("PK308", ["score_8_up"]) in found


@pytest.mark.parametrize("profile", ["noobai-xl-vpred", "animagine-xl-3.1", "illustrious-xl"])
def test_pony_source_and_rating_tags_are_foreign_elsewhere(profile):
    """'source_anime' is made of English words but is Pony's pseudo-tag (an independent judge listed it as a
    miss on NoobAI and Animagine prompts); plain-English quality words stay unreported."""
    text = "source_anime, rating_safe, 1girl, very aesthetic, bad quality"
    found = [text[d.start:d.end] for d in lint_prompt(text, profile).diagnostics if d.code == "PK301"]
    assert found == ["source_anime", "rating_safe"]
    assert "PK301" not in [d.code for d in lint_prompt(text, "pony-v6").diagnostics]


def test_a_comma_inside_a_tag_is_found():
    """'jpeg,artifacts' (an independent judge's miss on a fresh prompt): neither half is a tag, the whole is."""
    text = "lowres, jpeg,artifacts, blurry, 1girl,smile"
    (d,) = [d for d in lint_prompt(text, "illustrious-xl").diagnostics if d.code == "PK217"]
    assert text[d.start:d.end] == "jpeg,artifacts" and _after(text, d) == "lowres, jpeg artifacts, blurry, 1girl,smile"


# --- characters written by bare name (PK213 on every Danbooru-caption profile) ------------------------------------

def _fresh_record(path_part: str) -> dict:
    fresh = Path(__file__).parent / "audit" / "fresh_modern" / "records.jsonl"
    return next(json.loads(line) for line in fresh.read_text(encoding="utf-8").splitlines() if path_part in line)


def test_a_bare_character_name_gets_its_danbooru_tag():
    # the fresh set's wildcards/anime_girl.txt (Mylakovich/SD-wildcards): its judge listed both as missed
    text = _fresh_record("wildcards/anime_girl.txt")["prompt"]
    report = lint_prompt(text, "illustrious-xl", path="wildcards/anime_girl.txt")
    named = {text[d.start:d.end]: d.suggestions[0] for d in report.diagnostics if d.code == "PK213"}
    assert named == {"ishtar": "ishtar \\(fate\\)", "ereshkigal": "ereshkigal \\(fate\\)"}
    # real_prompts.jsonl line 19, a Genshin fan prompt: 'Noelle'
    rec = json.loads((CORPUS.parent / "real_prompts.jsonl").read_text(encoding="utf-8").splitlines()[18])
    assert "PK213" in lint_prompt(rec["prompt"], "illustrious-xl").codes()


@pytest.mark.parametrize("profile, text", [
    ("illustrious-xl", "white\nblack\nmagenta\ncyan\nyellow"),          # a colour list: cyan (show by rock!!) has 606
    ("illustrious-xl", "night sky, (((hanabi))), backlight"),            # Japanese for fireworks: 112 posts
    ("illustrious-xl", "hephaestus, blacksmith, leather apron"),         # a god: hephaestus (housamo) has 294
    ("illustrious-xl", "1girl, asuna, sword"),                           # Blue Archive's and SAO's: no one character
    ("noobai-xl-eps", "1girl, makima, chainsaw man, suit"),              # the series beside it: the card convention
    ("pony-v6", "1girl, makima"),                                        # not a Danbooru-caption model
])
def test_bare_names_that_are_no_one_character_stay_quiet(profile, text):
    assert "PK213" not in lint_prompt(text, profile).codes()


def test_no_character_is_named_in_a_negative():
    assert "PK213" not in lint_prompt("text, ui, error, cropped", "kivotos-xl-2", negative=True).codes()


# --- backslashes that escape nothing (PK115) ----------------------------------------------------------------------

def test_wrapping_backslashes_of_a_real_wildcard_file_are_found_and_removed():
    # the fresh set's wildcards/anime_girl.txt wraps lines in backslashes: '\medusa (rider) (fate)\'
    text = _fresh_record("wildcards/anime_girl.txt")["prompt"]
    report = lint_prompt(text, "illustrious-xl", path="wildcards/anime_girl.txt")
    lines = {d.line for d in report.diagnostics if d.code == "PK115"}
    wrapped = {n for n, line in enumerate(text.splitlines(), 1) if line.startswith("\\") and line.endswith("\\")}
    assert wrapped and lines == wrapped
    fixed, _ = fix_text("\\medusa (rider) (fate)\\", "illustrious-xl", select=["PK115"], unsafe=True)
    assert fixed == "medusa (rider) (fate)"


@pytest.mark.parametrize("text", [
    "kazusa \\(blue archive\\), 1girl",          # escapes
    "1girl, <lora:C:\\loras\\detail:0.8>",       # a path inside a LoRA tag
    "¯\\_(ツ)_/¯, 1girl",                         # a kaomoji
    "kazusa \\\\(blue archive\\\\)",             # a doubled escape is PK114's
])
def test_backslashes_that_are_escapes_or_text_on_purpose_stay_quiet(text):
    assert "PK115" not in lint_prompt(text, "illustrious-xl").codes()


def _unseen_record(path_part: str) -> dict:
    unseen = Path(__file__).parent / "audit" / "unseen_dec" / "records.jsonl"
    return next(json.loads(line) for line in unseen.read_text(encoding="utf-8").splitlines() if path_part in line)


def _unseen(folder: str, line: int) -> dict:
    """Record ``line`` (from 1) of a December unseen set's records.jsonl (tests/audit/FOLDER)."""
    return _jsonl_line(Path(__file__).parent / "audit" / folder / "records.jsonl", line)


def _jsonl_line(path: Path, line: int) -> dict:
    return json.loads(path.read_text(encoding="utf-8").splitlines()[line - 1])


def test_format_fields_are_no_novelai_braces():
    # Siberpone/lazy-pony-prompter's README template (unseen set, dev half): its judge called PK106 there wrong
    text = _unseen_record("{character} in the form of {species}")["prompt"]
    assert "{character}" in text and "PK106" not in lint_prompt(text, "pony-v6").codes()
    # one tag in braces, or braces round tags among other braces, are still NovelAI emphasis
    assert "PK106" in lint_prompt("{masterpiece}, 1girl", "pony-v6").codes()
    assert "PK106" in lint_prompt("{{worst quality}}, {bad}, {widescreen}", "illustrious-xl", negative=True).codes()


@pytest.mark.parametrize("span, fixed", [
    ("(expressive brush strokes):1.2", "(expressive brush strokes:1.2)"),   # the weight after the bracket
    ("(solo;1.8)", "(solo:1.8)"),                                           # a semicolon for the colon
])
def test_weights_a1111_does_not_read_in_unseen_prompts(span, fixed):
    """Both listed missed by the unseen set's dev judge; A1111's attention parser reads ':<number>)' only, so
    the group gets 1.1 and the number is text (tests/a1111_reference.py is the oracle)."""
    from a1111_reference import parse_prompt_attention

    text = _unseen_record(span)["prompt"]
    hits = [d for d in lint_prompt(text, "illustrious-xl").diagnostics if d.code == "PK102"
            and text.find(span) <= d.start < text.find(span) + len(span)]
    assert len(hits) == 1
    after = fix_text(span, "illustrious-xl", select=["PK102"], unsafe=True)[0]
    assert after == fixed
    weight = float(fixed.rsplit(":", 1)[1][:-1])
    before = parse_prompt_attention(span)
    assert before[0][1] == 1.1 and str(weight) in "".join(t for t, _ in before)   # the number is text
    assert parse_prompt_attention(after) == [(fixed[1:].rsplit(":", 1)[0], weight)]
    assert "PK102" not in lint_prompt("a cat AND (dog):1.2", "illustrious-xl").codes()   # an AND weight


@pytest.mark.parametrize("path_part, span", [
    ("wildcards/hairstyle.txt", "beachy"),       # 'beachy waves': a word made from 'beach', not a typo of it
    ("wildcards/face.txt", "Plump lips"),        # an adjective and what it describes, not two tags
])
def test_words_the_unseen_dev_judge_called_wrong_findings_stay_quiet(path_part, span):
    rec = _unseen_record(path_part)
    text = rec["prompt"]
    path = rec["source"].split(":", 1)[1].rsplit("@", 1)[0]
    at = text.index(span)
    assert not [d for d in lint_prompt(text, "illustrious-xl", path=path).diagnostics if d.start <= at < d.end]


def test_western_name_order_in_unseen_prompts():
    """Listed missed by the unseen set's dev judge; its 'Asuka Langley Soryu wearing her red plugsuit' is a
    sentence, not a tag, and stays missed (only whole tags are reordered)."""
    text = _unseen_record("Rei Ayanami")["prompt"]
    hits = [d for d in lint_prompt(text, "illustrious-xl").diagnostics if d.code == "PK218"]
    assert [(text[d.start:d.end], d.suggestions[0]) for d in hits] == [("Rei Ayanami", "ayanami rei")]
    # through Danbooru's alias soryu_asuka_langley
    d, = [d for d in lint_prompt("1girl, Asuka Langley Soryu, plugsuit", "illustrious-xl").diagnostics
          if d.code == "PK218"]
    assert d.suggestions == ["souryuu asuka langley"]


@pytest.mark.parametrize("profile, text", [
    ("illustrious-xl", "1girl, red hair, long sleeves"),       # no other order is a character
    ("pony-v6", "1girl, rei ayanami"),                         # not a Danbooru-caption model
    ("illustrious-xl", "rei ayanami, lowres"),                 # a negative names no one
])
def test_name_order_quiet(profile, text):
    negative = "lowres" in text
    assert "PK218" not in lint_prompt(text, profile, negative=negative).codes()


def test_a1111_square_brackets_in_a_comfyui_negative():
    """The unseen set's dev half: Animagine's card negative ('..., [abstract]') in a ComfyUI workflow, where the
    brackets are text; its judge listed it as missed. The fix writes the weight A1111 gave it."""
    rec = _unseen_record("[abstract]")
    text = rec["negative_prompt"]
    d, = [d for d in lint_prompt(text, "animagine-xl-3.1", dialect="comfy", negative=True).diagnostics
          if d.code == "PK106"]
    assert text[d.start:d.end] == "[abstract]" and d.fix.edits[0].replacement == "(abstract:0.909091)"
    assert "PK106" not in lint_prompt(text, "animagine-xl-3.1", negative=True).codes()   # A1111 reads them


def test_a_space_inside_the_profiles_own_quality_tag():
    # 'master piece' (the unseen dev judge listed one, inside NovelAI braces) is the quality tag 'masterpiece'
    d, = [d for d in lint_prompt("master piece, best quality, 1girl", "illustrious-xl").diagnostics if d.code == "PK217"]
    assert d.suggestions == ["masterpiece"]
    assert "PK217" not in lint_prompt("1girl, master chief, best quality", "illustrious-xl").codes()


def test_an_html_entity_in_an_unseen_prompt():
    # '&apos;' in m84 of the unseen set's dev half: listed missed by its judge
    text = _unseen_record("&apos;")["prompt"]
    d, = [d for d in lint_prompt(text, "sd15").diagnostics if d.code == "PK116"]
    assert text[d.start:d.end] == "&apos;" and d.fix.edits[0].replacement == "'"
    assert lint_prompt("&lt;lora:detail:1&gt;", "sd15").diagnostics[0].fix is None   # no LoRA made out of text
    assert "PK116" not in lint_prompt("rock & roll, R&B", "sd15").codes()


def test_a_tag_beside_its_other_spelling_is_written_so_on_purpose():
    # modern record 200 (a lazy-wildcards YAML): every option writes its tag twice, 'a_b,A b', on purpose
    text = corpus_record(200)["prompt"]
    assert "french_colonial_influence,French Colonial influence" in text
    assert "PK204" not in lint_prompt(text, "illustrious-xl", path="wildcards/mix-lazy-auto.yaml").codes()
    assert "PK204" in lint_prompt("long_hair, smile, Long hair", "illustrious-xl").codes()   # apart: a slip


def test_a_word_that_is_a_tag_of_its_own_is_no_typo():
    # 'odango hair': odango is Danbooru's alias of double bun, not a typo of 'orange' (both held-out judges)
    assert "PK201" not in lint_prompt("1girl, odango hair, smile", "illustrious-xl").codes()
    d, = [d for d in lint_prompt("1girl, flower earings", "illustrious-xl").diagnostics if d.code == "PK201"]
    assert d.suggestions == ["flower earrings"]      # 'earings' is an alias of the very word meant


def test_joining_words_are_no_duplicate_tags():
    # a natural-language template cut by commas repeats 'and' (both held-out judges called PK204 there wrong)
    assert "PK204" not in lint_prompt("a girl, and, a cat, and, a dog", "sdxl-base").codes()


def test_an_sd15_embedding_in_an_sdxl_prompt():
    """Both held-out judges listed 'easynegative' in SDXL negatives as missed (the check was made after)."""
    text = "EasyNegative, lowres, (badhandv4:1.2), bad anatomy"
    found = [text[d.start:d.end] for d in lint_prompt(text, "illustrious-xl", negative=True).diagnostics
             if d.code == "PK309"]
    assert found == ["EasyNegative", "badhandv4"]
    assert "PK309" not in lint_prompt(text, "sd15", negative=True).codes()


@pytest.mark.parametrize("text, expected", [
    ("1girl, twintails hair, smile", ["twintails"]),    # the held-out judges' largest missed class (one file)
    ("1girl, hime cut hair", ["hime cut"]),
    ("1girl, glitch hair", []),                         # not a hairstyle: hair with a glitch effect
    ("1girl, flower hair", []),                         # flowers in the hair ('hair flower')
])
def test_a_hairstyle_with_a_hair_too_many(text, expected):
    found = [d.suggestions[0] for d in lint_prompt(text, "illustrious-xl").diagnostics if d.code == "PK219"]
    assert found == expected


def test_a_weight_without_its_colon():
    """'(head garland 0.5)': listed missed by both held-out judges (the check was made after); A1111's parser is
    the oracle: the number is text and the group gets 1.1."""
    from a1111_reference import parse_prompt_attention

    assert parse_prompt_attention("(head garland 0.5)") == [("head garland 0.5", 1.1)]
    d, = [d for d in lint_prompt("1girl, (head garland 0.5)", "illustrious-xl").diagnostics if d.code == "PK102"]
    assert fix_text("(head garland 0.5)", "illustrious-xl", select=["PK102"], unsafe=True)[0] == "(head garland:0.5)"
    assert "PK102" not in lint_prompt("(2 girls), (1 girl)", "illustrious-xl").codes()   # counts, not weights


def test_full_width_commas_between_latin_tags():
    # 'moon、Silver hair' (both held-out judges; made after); real_prompts 396 has '...boots:1.3)，witch costume'
    d, = [d for d in lint_prompt("1girl, moon、Silver hair, smile", "illustrious-xl").diagnostics if d.code == "PK112"]
    assert d.fix.edits[0].replacement == ", "
    assert "PK112" not in lint_prompt("杰作、最高品质, 1girl", "illustrious-xl").codes()   # Chinese text's own comma


# --- made after the second held-out measurement (unseen_dec2), from its judges' notes -----------------------------

def _second_unseen(path_part: str) -> dict:
    path = Path(__file__).parent / "audit" / "unseen_dec2" / "records.jsonl"
    return next(json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if path_part in line)


def test_a_promptchain_template_has_no_novelai_braces_and_sfw_is_no_typo():
    text = _second_unseen("data/prompts/wai-illustrious.json")["prompt"]
    assert "{cursor}" in text and "// SFW" in text
    found = lint_prompt(text, "illustrious-xl").diagnostics   # since stop 28 only 'censor' -> 'censored' (PK202)
    assert [(d.code, text[d.start:d.end]) for d in found] == [("PK202", "censor")]
    assert "PK106" in lint_prompt("{masterpiece}, 1girl", "sd15").codes()       # one tag in braces, among tags


def test_paragraphs_are_prompts_of_their_own():
    # a file of negative prompts, one a paragraph (finasu/wildcards_for_sd-dynamic-prompts): no duplicates across
    text = _second_unseen("negative_quality_tags.txt")["prompt"]
    assert "PK204" not in lint_prompt(text, "illustrious-xl").codes()


def test_pony_scores_in_another_models_negative():
    found = lint_prompt("worst quality, score_4, score_5, lowres", "noobai-xl-vpred", negative=True).diagnostics
    assert [d.code for d in found] == ["PK301", "PK301"]
    assert "PK301" not in lint_prompt("score_4, score_5, lowres", "pony-v6", negative=True).codes()
    assert "PK301" not in lint_prompt("worst aesthetic, year 2014", "pony-v6", negative=True).codes()


def test_a_kept_misspelling_tag_is_still_a_typo():
    # e621 keeps 'hiar' as a tag (21 posts): 'long hiar' on Pony is still 'long hair'; 'odango' (Danbooru's alias
    # of double bun, an e621 tag) two edits from 'orange' is no typo of it
    found = [(d.code, d.suggestions) for d in lint_prompt("1girl, long hiar, odango hair", "pony-v6").diagnostics]
    assert found == [("PK201", ["long hair"])]


# --- made in stop 27 from the judges' notes on both December sets (now development data) --------------------------

def test_a_stray_closer_is_removed_or_its_opener_restored():
    """Both judges of the first held-out half called the old safe fix (escape ')' as '\\)') wrong: it keeps the junk
    bracket. A1111's parser is the oracle for what the model reads."""
    from a1111_reference import parse_prompt_attention

    text = _unseen_record("Flat color:2)")["prompt"]
    at = text.index("Flat color:2)")
    d, = [d for d in lint_prompt(text, "illustrious-xl").diagnostics
          if d.code == "PK101" and d.start == at + len("Flat color:2")]
    assert not d.fix.safe and d.fix.edits[0].start == at and d.fix.edits[0].replacement == "("
    assert parse_prompt_attention("a, Flat color:2)") == [("a, Flat color:2)", 1.0)]       # text, no weight
    assert parse_prompt_attention("a, (Flat color:2)") == [("a, ", 1.0), ("Flat color", 2.0)]
    d, = lint_prompt("1girl, smile), blue sky", "illustrious-xl").diagnostics
    assert (d.code, d.fix.safe, d.fix.edits[0].replacement) == ("PK101", False, "")
    assert fix_text("1girl, smile), blue sky", "illustrious-xl")[0] == "1girl, smile), blue sky"   # not safe


@pytest.mark.parametrize("text, expected", [
    ("1girl, uneven twintails hair", ["uneven twintails"]),   # the unseen hairstyle file's judges listed these
    ("1girl, quad tails hair", ["quad tails"]),
    ("1girl, crew cut hair", ["crew cut"]),
])
def test_more_hairstyles_with_a_hair_too_many(text, expected):
    assert [d.suggestions[0] for d in lint_prompt(text, "illustrious-xl").diagnostics if d.code == "PK219"] == expected


def test_an_article_dropped_from_a_popular_tag():
    # 'looking at the viewer' (unseen_dec, both judges); 'on a swing' -> 'on swing' was judged wrong by both
    found = lint_prompt("1girl, looking at the viewer, on a swing", "illustrious-xl").diagnostics
    assert [(d.code, d.suggestions) for d in found] == [("PK201", ["looking at viewer"])]
    assert "PK201" in lint_prompt("off-the-shoulder sweater", "illustrious-xl").codes()  # a hyphenated word


def test_an_empty_artist_prefix():
    text = _second_unseen("anime-noobai-xl.json")["prompt"]                 # both judges of unseen_dec2
    assert text.startswith("artist:, very awa")
    d, = [d for d in lint_prompt(text, "noobai-xl-vpred").diagnostics if d.code == "PK220"]
    assert (d.start, d.end) == (0, 7) and fix_text(text, "noobai-xl-vpred", select=["PK220"], unsafe=True)[0] == \
        text[len("artist:, "):]
    for quiet in ("artist:wlop, 1girl", "Style:\nanime, 1girl", "re:zero, 1girl"):
        assert "PK220" not in lint_prompt(quiet, "noobai-xl-vpred").codes()


def test_novelai_braces_fix_leaves_lopsided_runs_alone():
    # '{master piece}},(((best quality)))' (unseen_dec, dev judge): rewriting the balanced part left a stray '}'
    text = _unseen_record("{master piece}}")["prompt"]
    d, = [d for d in lint_prompt(text, "sd15").diagnostics if d.code == "PK106"]
    assert d.fix is None or all("master piece" not in text[e.start:e.end] for e in d.fix.edits)
    d, = lint_prompt("{{masterpiece}}, {{ {x}}, 1girl", "illustrious-xl").diagnostics
    assert [(e.start, e.end, e.replacement) for e in d.fix.edits] == [(0, 15, "(masterpiece:1.1025)")]


def test_an_insertion_point_among_tags_is_no_novelai_brace():
    text = _second_unseen("pony-family.json")["prompt"]              # 'score_9, ..., {cursor}': both judges
    assert text.endswith("{cursor}") and "PK106" not in lint_prompt(text, "pony-v6").codes()


def test_quality_words_in_a_pony_prompt_without_scores():
    # unseen_dec's three xianxia templates for Pony V6 (both judges listed each as missed); nothing else of the
    # Pony records of the corpus and both unseen sets is reported (they have score tags)
    text = _unseen_record("__xianxia/emotions__ __xianxia/races__ xia")["prompt"]
    assert text.startswith("masterpiece, best quality, detailed,")
    d, = [d for d in lint_prompt(text, "pony-v6").diagnostics if d.code == "PK301"]
    assert text[d.start:d.end] == "masterpiece" and d.suggestions == ["score_9, score_8_up, score_7_up"]
    assert "PK301" not in lint_prompt("score_9, masterpiece, best quality, 1girl", "pony-v6").codes()
    assert "PK301" not in lint_prompt("masterpiece, best quality", "pony-v6", negative=True).codes()
    assert "PK301" not in lint_prompt("masterpiece, best quality, 1girl", "illustrious-xl").codes()


def test_western_name_order_inside_a_long_phrase():
    # unseen_dec (both judges): 'Asuka Langley Soryu wearing her red plugsuit' is prose, still the character
    text = _unseen_record("Asuka Langley Soryu wearing her red plugsuit")["prompt"]
    found = [d.suggestions for d in lint_prompt(text, "illustrious-xl").diagnostics if d.code == "PK218"]
    assert found == [["souryuu asuka langley"]]
    assert "PK218" not in lint_prompt("1girl, Asuka Langley Soryu wearing her red plugsuit", "sdxl-base").codes()


def test_a_plural_written_with_s_where_the_word_takes_es():
    # 'splashs' (unseen_dec, listed missed); 'months', 'paths' are words, 'monarchs' takes 's'
    text = _unseen_record("splashs")["prompt"]
    assert ["splashes"] in [d.suggestions for d in lint_prompt(text, "illustrious-xl").diagnostics if d.code == "PK215"]
    from promptkit.linter.words import word_typo

    assert [word_typo(w) for w in ("brushs", "watchs", "monarchs", "months")] == ["brushes", "watches", None, None]


def test_a_tag_with_its_last_letter_lost():
    # 'floating_hai' (unseen_dec, listed missed): 'hai' is a word to CLIP, so the phrase is all real words
    text = _unseen_record("floating_hai")["prompt"]
    found = [d.suggestions for d in lint_prompt(text, "illustrious-xl").diagnostics if d.code == "PK201"]
    assert found == [["floating hair"]]                # the profile writes spaces
    quiet = lint_prompt("1girl, cat ear, blue ey, school ba", "illustrious-xl").codes()
    assert "PK201" not in quiet                        # a plural, and cuts of more than one letter


# --- made after the third held-out measurement (unseen_dec3), from its judges' notes ------------------------------


def test_template_fields_in_capitals_or_snake_case_are_no_novelai_braces():
    # unseen_dec3 m22 and m43: '{{PROFESSION_TAGS}}', '{subject}', '{negative_extra}' (both judges: wrong)
    for line, profile in ((22, "illustrious-xl"), (43, "animagine-xl-3.1")):
        rec = _unseen("unseen_dec3", line)
        for text, negative in ((rec["prompt"], False), (rec["negative_prompt"] or "", True)):
            codes = lint_prompt(text, profile, negative=negative).codes()
            assert "PK106" not in codes and "PK306" not in codes
    assert "PK106" in lint_prompt("{{masterpiece}}, {cute}, 1girl", "illustrious-xl").codes()   # still emphasis


def test_a_foreign_ladder_tag_in_a_negative_gets_the_negative_words():
    # unseen_dec3 m34/m37 (both judges): 'masterpiece, best quality' was suggested inside a negative prompt
    found = lint_prompt("score_4, score_5, lowres", "illustrious-xl", negative=True).diagnostics
    assert [d.suggestions for d in found if d.code == "PK301"] == [["worst quality, low quality"]] * 2


@pytest.mark.parametrize("text, expected", [
    ("1girl, no pattern in eyes, smile", ["no pattern in eyes"]),            # unseen_dec3 m9, both judges
    ("1girl, (not holding anything:1.2)", ["not holding anything"]),          # unseen_dec3 m10, both judges
    ("no humans, scenery, no shoes, no bra", []),                             # Danbooru's own 'no' tags
])
def test_a_negation_in_a_positive_prompt(text, expected):
    found = lint_prompt(text, "illustrious-xl").diagnostics
    assert [text[d.start:d.end] for d in found if d.code == "PK221"] == expected
    assert "PK221" not in lint_prompt(text, "illustrious-xl", negative=True).codes()


def test_tags_an_image_cannot_have_both_of():
    # unseen_dec3 m24 'upper body, full body' and m25 'indoors, outdoors' (both judges)
    for line in (24, 25):
        assert "PK222" in lint_prompt(_unseen("unseen_dec3", line)["prompt"], "illustrious-xl").codes()
    quiet = ["1girl, upper body, portrait", "(cowboy shot:0.7), close-up", "[indoors|outdoors], 1girl"]
    assert all("PK222" not in lint_prompt(t, "illustrious-xl").codes() for t in quiet)


def test_a_lost_opener_is_looked_for_within_one_tag():
    # the look-back stops at the last separator and at 200 characters: ")" * n stays linear, a far weight is no
    # lost opener of this bracket
    far = [d for d in lint_prompt("a, " + "x" * 300 + ":2)", "illustrious-xl").diagnostics if d.code == "PK101"]
    assert far == []                                   # no guess at an opener 300 characters back
    d, = lint_prompt("a\nb:1.3)", "illustrious-xl").diagnostics
    assert (d.fix.edits[0].start, d.fix.edits[0].replacement) == (2, "(")


def test_a_lora_trigger_word_is_no_unqualified_character():
    # unseen_dec3 m41/m42/m45 (both judges: wrong): a LoRA trainer's sample prompts open with the trigger word
    # 'jingliu' before '1girl'; qualifying it would drop the word the LoRA was trained on
    for line in (41, 42, 45):
        assert "PK213" not in lint_prompt(_unseen("unseen_dec3", line)["prompt"], "animagine-xl-3.1").codes()
    assert "PK213" not in lint_prompt("1girl, solo, jingliu, <lora:Jingliu_v2:0.8>", "animagine-xl-3.1").codes()
    # in the card's place, after the count tag, the bare name still wants its series
    found = lint_prompt("1girl, jingliu, solo", "animagine-xl-3.1").diagnostics
    assert [d.suggestions for d in found if d.code == "PK213"] == [["jingliu \\(honkai: star rail\\)"]]


def test_a_compound_that_reads_two_ways_gets_no_comma():
    # unseen_dec3 (judge 5 noise, judge 6 wrong): 'pink flower hair ornament' is a pink flower worn as a hair
    # ornament ('flower hair ornament' is a tag of its own), not 'pink flower, hair ornament'
    rec = next(json.loads(line) for line in (Path(__file__).parent / "audit" / "unseen_dec3" / "records.jsonl")
               .read_text(encoding="utf-8").splitlines() if "pink flower hair ornament" in line)
    assert "PK212" not in lint_prompt(rec["prompt"], "illustrious-xl").codes()
    found = lint_prompt("1girl, twintails braids", "illustrious-xl").diagnostics
    assert [d.suggestions for d in found if d.code == "PK212"] == [["twintails, braids"]]


def test_everyday_spellings_of_count_and_resolution_tags():
    # unseen_dec3 m36 '1woman' (both judges) and m37 'low resolution' in a negative (judge 6): Danbooru writes
    # '1girl' and 'lowres'; no one-edit search finds them
    found = lint_prompt(_unseen("unseen_dec3", 36)["prompt"], "illustrious-xl").diagnostics
    assert ["1girl"] in [d.suggestions for d in found if d.code == "PK201"]
    found = lint_prompt(_unseen("unseen_dec3", 37)["negative_prompt"], "illustrious-xl", negative=True).diagnostics
    assert ["lowres"] in [d.suggestions for d in found if d.code == "PK201"]
    assert "PK201" not in lint_prompt("lowres, low resolution, blurry", "illustrious-xl", negative=True).codes()
    assert "PK201" not in lint_prompt("1woman, smiling", "sdxl-base").codes()   # natural language reads it fine


def test_word_forms_of_general_tags_on_danbooru_sdxl_models():
    # judges of unseen_dec and unseen_dec4 listed 'hair ornaments', 'blushing', 'smiling', 'censor' as missed:
    # Illustrious-era models learned the canonical Danbooru tag
    text = "1girl, blushing, smiling, hair ornaments, flowers"
    found = [(text[d.start:d.end], d.suggestions) for d in lint_prompt(text, "illustrious-xl").diagnostics
             if d.code == "PK202"]
    assert found == [("blushing", ["blush"]), ("smiling", ["smile"]), ("hair ornaments", ["hair ornament"]),
                     ("flowers", ["flower"])]
    assert "PK202" not in lint_prompt(text, "sd15-anime").codes()          # CLIP's English reads them alike
    negative = lint_prompt("censor, extra digit, watermarks", "illustrious-xl", negative=True).diagnostics
    assert [d.suggestions for d in negative if d.code == "PK202"] == [["censored"]]   # a plural alone stays
    # unseen_dec4 (both judges, wrong): 'double-blade' was the tag the captions had; a hyphen is no respelling
    assert "PK202" not in lint_prompt("1girl, double-blade, sword", "illustrious-xl").codes()
    assert "PK202" in lint_prompt("1girl, pony tail", "illustrious-xl").codes()


# --- made after the fourth held-out measurement (unseen_dec4), from its judges' notes ------------------------------


def test_escaped_brackets_around_a_whole_tag_are_no_emphasis():
    # unseen_dec4 m14 (both judges): '\(perfect details\)' in a ComfyUI preset is text, not emphasis
    text = _unseen("unseen_dec4", 14)["prompt"]
    d, = [d for d in lint_prompt(text, "noobai-xl-eps", dialect="comfy").diagnostics if d.code == "PK117"]
    assert text[d.start:d.end] == "\\(perfect details\\)"
    fixed, _ = fix_text(text, "noobai-xl-eps", dialect="comfy", select=["PK117"], unsafe=True)
    assert "(perfect details)" in fixed and "\\(perfect details\\)" not in fixed
    assert "star \\(sky\\)" in fixed                               # a tag's own escaped brackets stay
    assert "PK117" not in lint_prompt("1girl, kazusa \\(blue archive\\)", "illustrious-xl").codes()


def test_a_stray_quote_stuck_to_a_tag():
    # unseen_dec4 m5 (both judges): the prompt ends in 'absurdres"', copied out of a graph
    text = _unseen("unseen_dec4", 5)["prompt"]
    d, = [d for d in lint_prompt(text, "illustrious-xl", dialect="comfy").diagnostics if d.code == "PK118"]
    assert text[d.start - 9:d.end] == 'absurdres"'
    assert "PK118" not in lint_prompt('text "hello", 1girl', "illustrious-xl").codes()   # a pair of quotes


def test_everyday_camera_words():
    # unseen_dec4 m27 'looking at you' (both judges); their 'from bottom' stays quiet: Animagine 3.1's own card
    # example writes it (test_lint_cards)
    found = lint_prompt("1girl, from bottom, looking at you", "illustrious-xl").diagnostics
    assert [d.suggestions for d in found if d.code == "PK201"] == [["looking at viewer"]]


def test_another_lines_graded_words_are_its_pseudo_tags():
    # unseen_dec4 m5/m6/m7/m33 (both judges): NoobAI's 'worst aesthetic' in Illustrious negatives; unseen_dec
    # m124/m125/m127 (both): Animagine 4.0's 'low score, bad score, average score' in NoobAI/Illustrious negatives
    negative = _unseen("unseen_dec4", 5)["negative_prompt"]
    found = [negative[d.start:d.end] for d in lint_prompt(negative, "illustrious-xl", dialect="comfy",
                                                             negative=True).diagnostics if d.code == "PK301"]
    assert found == ["worst aesthetic"]
    assert "PK301" not in lint_prompt(negative, "noobai-xl-eps", dialect="comfy", negative=True).codes()
    scores = lint_prompt("lowres, low score, bad score, average score", "noobai-xl-eps", negative=True).diagnostics
    assert [d.code for d in scores] == ["PK301"] * 3
    # plain words several lines use stay quiet: 'very aesthetic', 'bad quality', 'ultra-detailed'
    assert "PK301" not in lint_prompt("1girl, very aesthetic, ultra-detailed, bad quality", "illustrious-xl").codes()
    high, = [d for d in lint_prompt("1girl, high score", "animagine-xl-3.1").diagnostics if d.code == "PK301"]
    assert "of Animagine XL 4.0;" in high.message     # the sibling model, not 'the animagine family'


# --- made after the fifth held-out measurement (unseen_dec5), from its judges' notes -------------------------------


def test_a_tag_list_file_is_no_pony_prompt_without_scores():
    # unseen_dec5 m3 (both judges, wrong x5): a list of common tags, one a line, starting with score_9: each line
    # is no prompt asking for quality
    text = _unseen("unseen_dec5", 3)["prompt"]
    assert "PK301" not in lint_prompt(text, "pony-v6").codes()
    assert "PK301" in lint_prompt("1girl, solo, masterpiece, best quality", "pony-v6").codes()


def test_findings_inside_a_pasted_infotext_go_with_it():
    # unseen_dec5 m18 (both judges): the '++' of 'DPM++ 2M' in a pasted settings line is no compel sign
    negative = _unseen("unseen_dec5", 18)["negative_prompt"]
    codes = lint_prompt(negative, "illustrious-xl", negative=True).codes()
    assert "PK110" in codes and "PK106" not in codes


def test_typographic_quotes_and_plural_ladder_tags():
    # unseen_dec5 m21 '“1girl ,solo, best quality”' and m22 'masterpieces' (both judges)
    text = _unseen("unseen_dec5", 21)["prompt"]
    d, = [d for d in lint_prompt(text, "noobai-xl-eps").diagnostics if d.code == "PK118"]
    assert fix_text(text, "noobai-xl-eps", select=["PK118"], unsafe=True)[0] == "1girl ,solo, best quality"
    assert "PK118" not in lint_prompt("“a cat in the style of a painter”", "sd15").codes()   # a quoted sentence
    found = lint_prompt("1girl, masterpieces, flowers", "illustrious-xl").diagnostics
    assert [d.suggestions for d in found if d.code == "PK201"] == [["masterpiece"]]
    assert [d.suggestions for d in lint_prompt("low-res, blurry", "illustrious-xl", negative=True).diagnostics] \
        == [["lowres"]]


def test_underscores_in_a_negative_among_spaced_tags():
    # unseen_dec2 m25, unseen_dec4 m5-m7/m33, unseen_dec5 m1 (both judges each): 'ambiguous_form', 'bar_censor'
    negative = _unseen("unseen_dec4", 5)["negative_prompt"]
    found = [d for d in lint_prompt(negative, "noobai-xl-eps", dialect="comfy", negative=True).diagnostics
             if d.code == "PK208"]
    assert [negative[d.start:d.end] for d in found] == ["ambiguous_form"]
    # the record's hint is Illustrious, whose Danbooru tags lack e621's 'ambiguous_form': in a negative, a tag of
    # any bundled source is written as the captions wrote it; in a positive, a spelling only another source
    # knows may be a template's field ('[character_name]' of modern m168 is an e621 tag too) and stays
    found = [d for d in lint_prompt(negative, "illustrious-xl", dialect="comfy", negative=True).diagnostics
             if d.code == "PK208"]
    assert [negative[d.start:d.end] for d in found] == ["ambiguous_form"]
    assert "PK208" not in lint_prompt("1girl, ambiguous_form, smile", "illustrious-xl").codes()


def test_a_tag_repeated_with_a_hyphen_for_a_space():
    # unseen_dec m99 (both judges): 'ultra-detailed, ultra detailed' is one tag written twice
    text = next(json.loads(line)["prompt"] for line in (Path(__file__).parent / "audit" / "unseen_dec" /
                "records.jsonl").read_text(encoding="utf-8").splitlines() if "ultra-detailed, ultra detailed" in line)
    found = [text[d.start:d.end] for d in lint_prompt(text, "illustrious-xl").diagnostics if d.code == "PK204"]
    assert "ultra detailed" in found
    assert "PK204" not in lint_prompt("1girl, t-shirt, shirt", "illustrious-xl").codes()


# --- made after stop 28, from the dev sets' judges' missed lists ----------------------------------------------------

def test_a_prompt_in_prose_paragraphs_is_one_prompt():
    # unseen_dec5 m17 (both judges): four paragraphs, three ending in a full stop, are one prompt whose third
    # paragraph repeats tags of the first two; a file of whole prompts a paragraph each stays a list of options
    text = _unseen("unseen_dec5", 17)["prompt"]
    repeated = {text[d.start:d.end] for d in lint_prompt(text, "illustrious-xl", dialect="comfy").diagnostics
                if d.code == "PK204"}
    assert {"1girl", "solo", "detailed eyes", "high contrast", "sharp focus"} <= repeated
    options = "1girl, solo, smile\n\n1girl, solo, frown\n\n1girl, solo, crying"
    assert "PK204" not in lint_prompt(options, "illustrious-xl").codes()


def test_one_word_of_a_tag_written_as_two():
    # unseen_dec5 m7 (both judges): 'space suit' is Danbooru's 'spacesuit'; the paired region's negative has it
    text = _unseen("unseen_dec5", 7)["prompt"]
    found = [d for d in lint_prompt(text, "illustrious-xl").diagnostics if d.code == "PK217"]
    assert [(text[d.start:d.end], d.suggestions) for d in found] == [("space suit", ["spacesuit"])]
    # only a popular tag known as written: 'hand drawn' is no 'handdrawn' (an alias of traditional media), and a
    # natural-language model reads 'space suit' as the words it is
    assert "PK217" not in lint_prompt("1girl, hand drawn, photo realistic", "illustrious-xl").codes()
    assert "PK217" not in lint_prompt("an astronaut in a space suit", "sd15").codes()


def test_a_bare_score_beside_its_own_up_form_is_no_slip():
    # unseen_dec5 m3 (both judges, wrong): 'score_8' on the line before 'score_8_up' in a list of tags; the fix
    # wrote the next line twice
    text = _unseen("unseen_dec5", 3)["prompt"]
    assert "PK308" not in lint_prompt(text, "pony-v6").codes()
    found = lint_prompt("score_9, score_8, 1girl", "pony-v6").diagnostics
    assert [d.suggestions for d in found if d.code == "PK308"] == [["score_8_up"]]


# --- made after the sixth held-out measurement (unseen_dec6), from its judges' notes -------------------------------


@pytest.mark.parametrize("line, profile", [(10, "illustrious-xl"), (11, "pony-v6"), (12, "animagine-xl-3.1"),
                                           (14, "animagine-xl-3.1")])
def test_lines_that_each_open_with_a_count_are_forge_couple_regions(line, profile):
    # unseen_dec6 m10-m14 (both judges, 12 wrong): Forge Couple's README has every region line repeat the picture's
    # count ('4girls'), and each character's 'looking at viewer' is her own; a repeat within a line is still one
    text = _unseen("unseen_dec6", line)["prompt"]
    assert detect_container(text) == "forge-couple"
    assert "PK204" not in lint_prompt(text, profile).codes()
    assert "PK204" in lint_prompt("4girls, smile\n4girls, red hair, smile, smile", profile).codes()
    assert detect_container("1girl, smile,\nred hair, blue eyes,\nstanding, 1boy in the background") == "prompt"


def test_a_typed_string_escape_goes_with_its_letter():
    # unseen_dec6 m11 (both judges): the fix removed the backslash of a typed '\n' and left an 'n'; the unknown-tag
    # finding on 'looking away \n' said it again
    text = _unseen("unseen_dec6", 11)["prompt"]
    found = lint_prompt(text, "pony-v6").diagnostics
    assert {d.code for d in found} == {"PK115"}
    assert all(text[d.start:d.end] == "\\n" for d in found)
    fixed = fix_text(text, "pony-v6", select=["PK115"], unsafe=True)[0]
    assert "\\" not in fixed and " n\n" not in fixed and "smile \n" in fixed
    assert fix_text(r"\medusa (rider), smile", "illustrious-xl", select=["PK115"], unsafe=True)[0] == \
        "medusa (rider), smile"


def test_a_tag_taken_away_with_a_negative_weight_is_no_repeat():
    # unseen_dec6 m4 (both judges): '(cleavage, ...:-1)' beside 'cleavage' is PK103's; deleting the -1 copy reversed
    # what the author asked
    text = _unseen("unseen_dec6", 4)["prompt"]
    codes = lint_prompt(text, "illustrious-xl").codes()
    assert "PK103" in codes and "PK204" not in codes


def test_a_series_name_in_escaped_brackets_is_written_bare():
    # unseen_dec6 m14 (both judges): 'vegeta, \(dragon ball\)': the fix made emphasis no one asked for
    text = _unseen("unseen_dec6", 14)["prompt"]
    fixed = fix_text(text, "animagine-xl-3.1", select=["PK117"], unsafe=True)[0]
    assert fixed.endswith("vegeta, dragon ball\n1girl, 1boy, raiden shogun, genshin impact")
    assert fix_text(r"1girl, \(perfect details\)", "illustrious-xl", select=["PK117"], unsafe=True)[0] == \
        "1girl, (perfect details)"


def test_animagine_3_0_ladder_tags_under_3_1():
    # unseen_dec6 m12-m14 (judge 12) and unseen_dec3 m6 (both judges): 3.1's card renamed 3.0's 'high quality' and
    # its 'rating: general' tags
    text = _unseen("unseen_dec6", 13)["prompt"]
    found = [(text[d.start:d.end], d.suggestions) for d in lint_prompt(text, "animagine-xl-3.1").diagnostics
             if d.code == "PK308"]
    assert found == [("rating: general", ["safe"]), ("high quality", ["great quality"])]
    # Animagine 4.0 (a child of the 3.1 profile) has no 'great quality': only the rating is renamed there
    codes = [d.suggestions for d in lint_prompt("1girl, high quality, rating: general", "animagine-xl-4.0").diagnostics
             if d.code == "PK308"]
    assert codes == [["safe"]]
    assert "PK308" not in lint_prompt("1girl, high quality", "illustrious-xl").codes()


def test_a1111_break_in_a_comfyui_prompt():
    # unseen_dec6 m1 (both judges): core ComfyUI reads BREAK as the word; A1111 and comfy's 'break' in a tag do not
    text = _unseen("unseen_dec6", 1)["prompt"]
    found = [text[d.start:d.end] for d in lint_prompt(text, "illustrious-xl", dialect="comfy").diagnostics
             if d.code == "PK106"]
    assert found and set(found) == {"BREAK"}
    assert "PK106" not in lint_prompt(text, "illustrious-xl").codes()
    assert "PK106" not in lint_prompt("1girl, break dancing, breakfast", "illustrious-xl", dialect="comfy").codes()


def test_an_everyday_spelling_of_a_meta_tag_danbooru_keeps_as_its_alias():
    # unseen_dec6 m1 (judge 11): 'high resolution' is Danbooru's alias of the meta tag 'highres'
    text = _unseen("unseen_dec6", 1)["prompt"]
    found = [(text[d.start:d.end], d.suggestions) for d in lint_prompt(text, "illustrious-xl").diagnostics
             if d.code == "PK202"]
    assert ("high resolution", ["highres"]) in found
    assert "PK202" not in lint_prompt("1girl, high resolution", "sd15-anime").codes()


def test_count_tags_without_a_comma_between_them():
    # unseen_dec6 m10 '1 girl 1 boy' and m14 '1boy 1girl' (both judges)
    for line, written, meant in [(10, "1 girl 1 boy", "1girl, 1boy"), (14, "1boy 1girl", "1boy, 1girl")]:
        text = _unseen("unseen_dec6", line)["prompt"]
        found = [(text[d.start:d.end], d.suggestions) for d in lint_prompt(text, "illustrious-xl").diagnostics
                 if d.code == "PK217"]
        assert (written, [meant]) in found
    assert "PK217" not in lint_prompt("2girls 1boy, smile", "illustrious-xl").codes()  # PK212 says it


def _modern_record(line: int) -> dict:
    return _jsonl_line(Path(__file__).parents[2] / "shared" / "corpus" / "modern_prompts.jsonl", line)


def test_a_json_library_of_prompts_and_a_flat_quoted_mapping_are_collections():
    # modern dev m168 (a JSON file of character prompts, 32 repeats across its prompts judged wrong) and m159
    # (easy-prompt-selector's 'name: "tags"' lines, whose last entry lists LoRA block-weight codes in both cases)
    library = _modern_record(168)["prompt"]
    assert detect_container(library) == "wildcard-file"
    assert "PK204" not in lint_prompt(library, "illustrious-xl").codes()
    selector = _modern_record(159)["prompt"]
    assert detect_container(selector) == "wildcard-file"
    assert "PK204" not in lint_prompt(selector, "sd15").codes()
    assert "PK204" in lint_prompt("McDonald, 1girl, McDonald, Masterpiece, masterpiece", "illustrious-xl").codes()


# --- made after the seventh held-out measurement (unseen_dec7), from its judges' notes ------------------------------


def test_an_alias_of_a_tag_the_prompt_has_is_a_repeat_to_remove_not_a_safe_rename():
    # unseen_dec7 m12 (both judges; the safe fix made 'highres' twice): 'high resolution' beside 'highres'
    text = _unseen("unseen_dec7", 12)["prompt"]
    (d,) = [d for d in lint_prompt(text, "noobai-xl-eps").diagnostics if text[d.start:d.end] == "high resolution"]
    assert d.code == "PK202" and not d.fix.safe and "has already" in d.message
    fixed = fix_text(text, "noobai-xl-eps", select=["PK202"], unsafe=True)[0]
    assert fixed.count("highres") == 1 and "high resolution" not in fixed and "smile" in fixed
    # without 'highres' in the prompt it is still the safe rename
    alone = lint_prompt("1girl, high resolution", "noobai-xl-eps").diagnostics
    assert [(d.code, d.suggestions, d.fix.safe) for d in alone] == [("PK202", ["highres"], True)]


def test_a_styles_row_named_for_another_family_is_linted_with_that_family():
    # unseen_dec7 m25 (both judges, 10 wrong): a styles.csv of NoobAI rows and a row named 'PONY', whose score and
    # source tags are Pony's own
    text = _unseen("unseen_dec7", 25)["prompt"]
    found = lint_prompt(text, "noobai-xl-eps", container="a1111-styles-csv").diagnostics
    assert "PK301" not in {d.code for d in found}
    assert sorted(text[d.start:d.end] for d in found if d.code == "PK204") == ["bad anatomy", "interlocked fingers"]
    from promptkit.linter.containers import _profile_named_by
    from promptkit.linter.engine import resolve_profile

    noobai = resolve_profile("noobai-xl-eps")
    assert [getattr(_profile_named_by(name, noobai), "id", None) for name in
            ("PONY", "Animagine XL 4.0 base", "animagine 3.1", "NoobAI smooth", "line 3")] == \
        ["pony-v6", "animagine-xl-4.0", "animagine-xl-3.1", None, None]
    # the same Pony tags in a row named for NoobAI are still another family's
    noob = text.replace("\nPONY,", "\nNOOBAI 2,")
    assert "PK301" in lint_prompt(noob, "noobai-xl-eps", container="a1111-styles-csv").codes()


def test_a_quality_block_written_again_at_the_end_is_the_authors():
    # unseen_dec7 m23 (both judges: 11 findings noise, their fixes wrong): the model card's own format writes the
    # quality block before and after the subject; the two slips inside the prompt are still repeats
    text = _unseen("unseen_dec7", 23)["prompt"]
    found = [text[d.start:d.end] for d in lint_prompt(text, "illustrious-xl").diagnostics if d.code == "PK204"]
    assert found == ["best quality", "candid"]
    negative = lint_prompt(text, "illustrious-xl", negative=True).diagnostics  # a preset pasted twice: each repeat
    assert sum(d.code == "PK204" for d in negative) > 10
    block = "masterpiece, best quality, very aesthetic, absurdres"
    assert "PK204" not in lint_prompt(f"{block}, 1girl, smile, {block}", "illustrious-xl").codes()
    for slip in (f"{block}, 1girl, {block}, smile", f"{block}, {block}"):  # not the closing block; no subject
        assert lint_prompt(slip, "illustrious-xl").codes().count("PK204") == 4


def test_a_spaced_count_tag_and_a_score_up_the_ladder_does_not_have_on_pony():
    # unseen_dec7 m6 (both judges): e621 knows '1 girl' as an alias of 'female', but the count tag is '1girl'; Pony
    # V6's top score is the bare 'score_9'
    text = _unseen("unseen_dec7", 6)["prompt"]
    found = {(d.code, text[d.start:d.end], tuple(d.suggestions)) for d in lint_prompt(text, "pony-v6").diagnostics}
    assert ("PK217", "1 girl", ("1girl",)) in found
    assert ("PK308", "score_9_up", ("score_9",)) in found
    assert "PK308" not in lint_prompt("score_9, score_8_up, 1girl", "pony-v6").codes()


def test_a_word_written_after_by_elsewhere_is_an_artist_not_a_typo():
    # modern dev m161 (self-judged wrong): a wildcard file of 'style by NAME,<tab>NAME' lines
    text = _modern_record(161)["prompt"]
    assert not any(text[d.start:d.end] == "sakurakono" for d in lint_prompt(text, "noobai-xl-eps").diagnostics)
    assert "PK201" in lint_prompt("1girl, sakurakono", "illustrious-xl").codes()


def test_comfyui_embedding_syntax_in_an_a1111_prompt():
    # unseen_dec7 m31 (judge 15): a model card's A1111 negative written with ComfyUI's 'embedding:folder/name'
    negative = _unseen("unseen_dec7", 31)["negative_prompt"]
    found = [(negative[d.start:d.end], d.suggestions) for d in
             lint_prompt(negative, "animagine-xl-4.0", negative=True).diagnostics if d.code == "PK106"]
    assert found == [("embedding:sdxl/negativeXL_D", ["negativeXL_D"]),
                     ("embedding:sdxl/unaestheticXLv31", ["unaestheticXLv31"])]
    assert "PK106" not in lint_prompt(negative, "animagine-xl-4.0", dialect="comfy", negative=True).codes()


def test_a_phrase_with_one_letter_too_many():
    # unseen_dec7 m19 'cat hears' (both judges) and unseen_dec5 m18 'Two-toned hair' (both judges)
    text = _unseen("unseen_dec7", 19)["prompt"]
    found = [(text[d.start:d.end], d.suggestions) for d in lint_prompt(text, "illustrious-xl").diagnostics]
    assert ("cat hears", ["cat ears"]) in found
    assert lint_prompt("1girl, two-toned hair", "illustrious-xl").diagnostics[0].suggestions == ["two-tone hair"]
    assert lint_prompt("1girl, long hairs, blue eyes, cat ear", "illustrious-xl").codes().count("PK201") == 0


def test_a_typo_of_a_tag_the_prompt_has_already_is_a_copy_to_remove():
    # unseen_dec7 m5 (judge 16): fixing 'backgroud' made a third 'detailed background'; the SD1 corpus's 'lowers'
    # beside 'lowres' (an independent judge: useful) is the same case for whole-tag typos
    text = _unseen("unseen_dec7", 5)["prompt"]
    found = [d for d in lint_prompt(text, "illustrious-xl").diagnostics if text[d.start:d.end] == "backgroud"]
    assert len(found) == 1 and "has already" in found[0].message and not found[0].suggestions
    fixed = fix_text(text, "illustrious-xl", select=["PK215"], unsafe=True)[0]
    assert "backgroud" not in fixed and fixed.count("detailed background") == text.count("detailed background")
    (typo,) = lint_prompt("lowres, 1girl, lowers", "illustrious-xl").diagnostics
    assert typo.code == "PK201" and typo.fix.edits[0].replacement == ""
    assert lint_prompt("1girl, lowers", "illustrious-xl").diagnostics[0].suggestions == ["lowres"]


def test_an_sd15_embedding_inside_a_phrase():
    # unseen_dec7 m7 (judge 16): 'painting by bad-artist' in a Pony negative; A1111 finds the name inside the phrase
    negative = _unseen("unseen_dec7", 7)["negative_prompt"]
    found = [negative[d.start:d.end] for d in lint_prompt(negative, "pony-v6", negative=True).diagnostics
             if d.code == "PK309"]
    assert found == ["bad-artist"]
    assert "PK309" not in lint_prompt("painting by bad-artist", "sd15", negative=True).codes()
