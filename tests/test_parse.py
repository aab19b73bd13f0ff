"""The parser: losslessness, A1111-exact weights, tags on real data, strict-mode errors, deep nesting."""

from __future__ import annotations

import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import promptkit
from promptkit import PromptSyntaxError, parse
from promptkit.syntax.ast import Alternation, Break, ExtraNetwork, Group, Schedule, Text, render_source
from promptkit.syntax.normalize import prompt_spelling

from a1111_reference import parse_prompt_attention

DIALECTS = ("a1111", "comfy", "novelai", "compel")


# -- A1111's own documented examples (modules/prompt_parser.py docstring) ------------------------------------
@pytest.mark.parametrize("text, expected", [
    ("normal text", [("normal text", 1.0)]),
    ("an (important) word", [("an ", 1.0), ("important", 1.1), (" word", 1.0)]),
    ("(unbalanced", [("unbalanced", 1.1)]),
    ("\\(literal\\]", [("(literal]", 1.0)]),
    ("(unnecessary)(parens)", [("unnecessaryparens", 1.1)]),
    ("a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).",
     [("a ", 1.0), ("house", 1.5730000000000004), (" ", 1.1), ("on", 1.0), (" a ", 1.1), ("hill", 0.55),
      (", sun, ", 1.1), ("sky", 1.4641000000000006), (".", 1.1)]),
])
def test_a1111_documented_examples(text, expected):
    assert parse(text).weighted() == expected


def test_weighted_matches_reference_on_every_corpus_prompt(texts):
    for text in texts:
        expected = parse_prompt_attention(text)
        if expected is None:
            continue
        assert parse(text).weighted() == expected, text


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(list("()[]:\\ ,ab1.2") + ["BREAK", " BREAK ", ":1.2)", "\n", "AND", "<lora:x:1>"]),
                max_size=30).map("".join))
def test_weighted_matches_reference_on_random_input(text):
    expected = parse_prompt_attention(text)
    if expected is not None:
        assert parse(text).weighted() == expected


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=60), st.sampled_from(DIALECTS))
def test_lenient_parse_never_raises_and_is_lossless(text, dialect):
    prompt = parse(text, dialect)
    assert prompt.render() == text
    prompt.tags  # noqa: B018 - computing tags must not fail either
    prompt.weighted()


def test_every_corpus_prompt_round_trips_in_every_dialect(texts):
    for text in texts:
        for dialect in DIALECTS:
            prompt = parse(text, dialect)
            assert prompt.render() == text
            for tag in prompt.tags:
                assert 0 <= tag.start < tag.end <= len(text)
                assert text[tag.start:tag.end] == tag.raw


def test_every_danbooru_tag_parses_to_exactly_that_tag(danbooru_names):
    failures = []
    for name in danbooru_names:
        written = prompt_spelling(name)  # spaces, escaped brackets and backslashes
        tags = parse(written).tags
        if len(tags) != 1 or tags[0].name != name or tags[0].weight != 1.0:
            failures.append((name, written, tags))
    assert not failures, failures[:20]


# -- hard cases from real tags --------------------------------------------------------------------------------
def names(text, dialect="a1111"):
    return [t.name for t in parse(text, dialect).tags]


def test_escaped_character_tag_is_one_tag():
    tags = parse("kazusa \\(blue archive\\), blue archive").tags
    assert [t.name for t in tags] == ["kazusa_(blue_archive)", "blue_archive"]
    assert tags[0].text == "kazusa (blue archive)"
    assert tags[0].raw == "kazusa \\(blue archive\\)"


def test_unescaped_character_tag_is_emphasis_as_in_a1111():
    prompt = parse("kazusa (blue archive)")
    assert [(t.name, round(t.weight, 6)) for t in prompt.tags] == [("kazusa", 1.0), ("blue_archive", 1.1)]


@pytest.mark.parametrize("tag", [":d", ":3", ">:)", ";)", "^_^", ">_<", "|_|", "\\m/", "re:zero kara hajimeru isekai seikatsu",
                                 "nier:automata", "2b \\(nier:automata\\)", "vertin \\(reverse:1999\\)"])
def test_emoticons_and_titles_are_tags(tag):
    tags = parse(f"1girl, {tag}, solo").tags
    assert len(tags) == 3
    assert tags[1].namespace is None
    assert tags[1].weight == 1.0
    assert tags[1].raw == tag


def test_weights_and_weight_like_tags():
    assert [(t.name, t.weight) for t in parse("(smile:1.2)").tags] == [("smile", 1.2)]
    assert [(t.name, t.weight) for t in parse("(x: 1.3)").tags] == [("x", 1.3)]
    # unescaped inside a group, A1111 reads ":1999" as a weight: that is what the linter warns about
    assert parse("(vertin (reverse:1999))").tags[-1].weight == pytest.approx(1999 * 1.1)


def test_nested_escaped_parentheses():
    assert names("puru-see \\(hoshizuki \\(seigetsu\\)\\)") == ["puru-see_(hoshizuki_(seigetsu))"]


def test_namespaces_only_from_the_known_list():
    tags = parse("species:seal, studio:dc, artist:wlop, re:zero, foo:bar").tags
    assert [(t.namespace, t.name) for t in tags] == [
        ("species", "seal"), ("studio", "dc"), ("artist", "wlop"), (None, "re:zero"), (None, "foo:bar")]
    custom = parse("foo:bar", namespaces=frozenset({"foo"})).tags[0]
    assert (custom.namespace, custom.name) == ("foo", "bar")


def test_break_and_and_only_as_uppercase_words():
    prompt = parse("a, b BREAK c AND d :1.5 AND e")
    assert any(isinstance(n, Break) for n in prompt.walk())
    assert [(s.text, s.weight) for s in prompt.subprompts] == [("a, b BREAK c", 1.0), (" d", 1.5), (" e", 1.0)]
    assert names("break, and, BREAKFAST, ANDROID") == ["break", "and", "breakfast", "android"]


def test_extra_networks_are_not_tags():
    prompt = parse("1girl, <lora:add_detail:0.8>, <hypernet:foo:1>, smile")
    assert [(n.kind, n.name, n.multiplier) for n in prompt.loras] == [("lora", "add_detail", 0.8), ("hypernet", "foo", 1.0)]
    assert names("1girl, <lora:add_detail:0.8>, smile") == ["1girl", "smile"]


def test_schedules_and_alternation_in_tree_and_tags():
    prompt = parse("a, [cat:dog:0.5], [red|blue] hair")
    kinds = [type(n) for n in prompt.children]
    assert Schedule in kinds and Alternation in kinds
    branches = {t.name: t.branch for t in prompt.tags}
    assert branches["cat"] == "schedule0:before" and branches["dog"] == "schedule0:after"
    assert branches["red"] == "alternation0:0" and branches["blue"] == "alternation0:1"
    assert branches["a"] is None
    # inside a schedule the brackets are not emphasis
    assert {t.name: t.weight for t in prompt.tags}["cat"] == 1.0


def test_group_kinds_are_recorded_for_each_dialect():
    def kinds(text, dialect):
        return [n.kind for n in parse(text, dialect).walk() if isinstance(n, Group)]

    assert kinds("(a), [b], (c:1.2)", "a1111") == ["round", "square", "weight"]
    assert kinds("{a}, [b], 1.5::c::", "novelai") == ["curly", "square", "nai_weight"]
    assert kinds("a++, (b c)1.3, (d)-", "compel") == ["compel_word", "compel_weight", "compel_weight"]


@pytest.mark.parametrize("text, dialect, expected", [
    ("((x:1.5))", "a1111", 1.5 * 1.1),
    ("((x:1.5))", "comfy", 1.5),  # ComfyUI's (x:w) sets the weight
    ("((x):1.5)", "comfy", 1.5 * 1.1),
    ("[x]", "comfy", 1.0),  # square brackets are text in ComfyUI
    ("{{x}}", "novelai", 1.05 * 1.05),
    ("[x]", "novelai", 1 / 1.05),
    ("1.3::x::", "novelai", 1.3),
    ("x++", "compel", 1.1 ** 2),
    ("x---", "compel", 0.9 ** 3),
    ("((x)1.5 y)1.2", "compel", 1.5 * 1.2),
])
def test_dialect_weights(text, dialect, expected):
    tag = next(t for t in parse(text, dialect).tags if t.name.strip("[]") == "x")
    assert tag.weight == pytest.approx(expected, abs=1e-12)


def test_compel_blend_is_a_node():
    prompt = parse('("a red cat", "a blue dog").blend(0.7, 0.3)', "compel")
    blend = prompt.children[0]
    assert (blend.op, blend.weights, blend.normalize) == ("blend", [0.7, 0.3], True)
    assert [render_source(part) for part in blend.parts] == ['"a red cat"', '"a blue dog"']
    assert [(t.name, t.branch) for t in prompt.tags] == [("a_red_cat", "blend0:0"), ("a_blue_dog", "blend0:1")]


# -- strict mode ----------------------------------------------------------------------------------------------
def test_strict_unclosed_bracket_points_at_the_opener():
    with pytest.raises(PromptSyntaxError) as info:
        parse("1girl,\nkazusa (blue archive, smile", strict=True)
    err = info.value
    assert (err.line, err.column) == (2, 8)
    assert err.excerpt == "kazusa (blue archive, smile\n       ^"
    assert "\\(" in err.hint


def test_strict_unexpected_closer_and_bad_weight():
    with pytest.raises(PromptSyntaxError) as info:
        parse("a ) b", strict=True)
    assert (info.value.line, info.value.column) == (1, 3)
    with pytest.raises(PromptSyntaxError, match="not a number"):
        parse("(a:1.2.3)", strict=True)
    with pytest.raises(PromptSyntaxError):
        parse("{a", "novelai", strict=True)
    with pytest.raises(PromptSyntaxError):
        parse("(a b", "compel", strict=True)


def test_strict_accepts_every_balanced_corpus_prompt(texts):
    accepted = 0
    for text in texts:
        lenient = parse(text)
        balanced = all(n.closed for n in lenient.walk() if isinstance(n, Group)) and not any(
            getattr(n, "kind", None) == 3 for n in lenient.walk())
        if balanced:
            parse(text, strict=True)
            accepted += 1
        else:
            with pytest.raises(PromptSyntaxError):
                parse(text, strict=True)
    assert accepted > len(texts) // 2


# -- robustness -----------------------------------------------------------------------------------------------
def test_ten_thousand_nested_brackets():
    depth = 10_000
    assert depth > sys.getrecursionlimit()
    text = "(" * depth + "deep" + ")" * depth
    prompt = parse(text)
    assert prompt.render() == text
    assert [t.name for t in prompt.tags] == ["deep"]
    assert prompt.weighted()[0][0] == "deep"
    assert parse("[" * depth + "x", "a1111").render() == "[" * depth + "x"
    assert parse("{" * depth + "x" + "}" * depth, "novelai").tags[0].name == "x"
    parse("(" * depth + "x" + ")" * depth, "a1111", strict=True)


def test_render_in_other_dialects_keeps_weights(texts):
    """convert() keeps every character's weight to 1e-6 (whitespace aside) or refuses clearly."""

    def char_weights(prompt):
        out = []
        for node, weight in prompt.leaf_weights():
            if isinstance(node, (ExtraNetwork, Break)):
                continue  # networks are compared as networks below
            if isinstance(node, Text):
                if node.kind == Text.BACKSLASH and prompt.dialect == "a1111":
                    continue
                text = node.value
            else:
                text = node.raw
            out += [(ch.lower(), round(weight, 6)) for ch in text if not ch.isspace()]
        return out

    def networks(prompt):
        return [(n.name, round(n.multiplier, 6)) for n in prompt.loras]

    converted = 0
    for text in texts:
        source = parse(text)
        for target in ("comfy", "novelai", "compel"):
            try:
                out = promptkit.convert(text, read="a1111", write=target)
            except promptkit.ConversionError as exc:
                assert str(exc)
                continue
            converted += 1
            back = parse(out, target)
            assert char_weights(back) == char_weights(source), (target, text, out)
            assert networks(back) == networks(source), (target, text, out)
    assert converted > 1000


def test_convert_refuses_what_the_target_cannot_express():
    with pytest.raises(promptkit.ConversionError, match="prompt editing"):
        promptkit.convert("a [b:c:5]", write="comfy")
    with pytest.raises(promptkit.ConversionError, match="BREAK"):
        promptkit.convert("a BREAK b", write="novelai")
    with pytest.raises(promptkit.ConversionError, match="hypernet"):
        promptkit.convert("a <hypernet:x:1>", write="compel")
    with pytest.raises(promptkit.ConversionError, match="withLora"):
        promptkit.convert("a <lora:my.lora:1>", write="compel")  # compel's lora names are keywords
    with pytest.raises(promptkit.ConversionError, match="swap"):
        promptkit.convert("a cat.swap(dog)", read="compel", write="a1111")
    with pytest.raises(promptkit.ConversionError, match="blend"):
        promptkit.convert('("a", "b").blend()', read="compel", write="comfy")


def test_convert_loras_between_a1111_and_compel():
    assert promptkit.convert("a <lora:x:0.8>, b", write="compel") == "a withLora(x, 0.8), b"
    assert promptkit.convert("a withLora(x, 0.8), b useLora(y)", read="compel", write="a1111") == \
        "a <lora:x:0.8>, b <lora:y:1>"


def test_convert_examples():
    text = "masterpiece, (best quality:1.2), [blurry], ((kazusa \\(blue archive\\)))"
    assert promptkit.convert(text, write="compel") == (
        "masterpiece, (best quality)1.2, (blurry)0.909091, (kazusa \\(blue archive\\))1.21")
    assert promptkit.convert(text, write="comfy") == (
        "masterpiece, (best quality:1.2), (blurry:0.909091), (kazusa \\(blue archive\\):1.21)")
    assert promptkit.convert("a cat++ on a (mat)0.8", read="compel", write="a1111") == "a (cat:1.21) on a (mat:0.8)"


def test_readme_dialect_examples():
    """The README's 'every dialect reads as its own program does' lines, as written there."""
    c = promptkit.parse('("a red cat", "a blue dog").blend(0.7, 0.3) withLora(ghibli, 0.6)', dialect="compel")
    assert [(t.name, t.branch) for t in c.tags] == [("a_red_cat", "blend0:0"), ("a_blue_dog", "blend0:1")]
    assert [(n.raw, n.name, n.multiplier) for n in c.loras] == [("withLora(ghibli, 0.6)", "ghibli", 0.6)]
    swap = promptkit.parse("a cat.swap(dog)", dialect="compel").tags
    assert [(t.name, t.branch) for t in swap] == [("a", None), ("cat", "swap0:original"), ("dog", "swap0:replacement")]
    assert promptkit.parse("(x:1e2) (unclosed", dialect="comfy").weighted() == [("x", 100.0), (" (unclosed", 1.0)]
    nested = parse("[a:[b:c:0.5]:0.5]")
    assert nested.tags.branches == ["schedule0:before", "schedule1:before", "schedule1:after"]
    assert nested.tags.branch_path(2) == ("schedule0:after", "schedule1:after")


def test_comfy_reads_malformed_prompts_as_comfyui():
    """issue 13's ComfyUI cases: the weights each segment gets."""
    def segments(text):
        from promptkit.syntax.dialects.comfy import comfy_segments

        return [(s, round(w, 6)) for s, w, _ in comfy_segments(parse(text, "comfy").children) if s]

    assert segments("a (b c") == [("a ", 1.0), ("(b c", 1.0)]  # unclosed: literal at the outer weight
    # after a stray ")" the counter is below zero: brackets are text until it is back at zero
    assert segments("a) (b) ((c))") == [("a) (b) (", 1.0), ("c", 1.1), (")", 1.0)]
    assert segments("(x:1e2)") == [("x", 100.0)]
    assert segments("(x:1.2.3)") == [("x:1.2.3", 1.1)]
    assert segments("(:1.2)") == [(":1.2", 1.1)]
    assert segments("a\\:b") == [("a\\:b", 1.0)]  # only \( and \) are escapes
    assert segments("((x:1.5))") == [("x", 1.5)] and segments("((x):1.5)") == [("x", 1.65)]
    assert segments("(text)(words)") == [("text", 1.1), ("words", 1.1)]


def test_strict_mode_for_compel_and_comfy():
    parse('a "b c"+ (d)1.2 e.swap(f) withLora(x, 0.5)', "compel", strict=True)
    with pytest.raises(PromptSyntaxError, match="unclosed"):
        parse("a (b c", "compel", strict=True)
    with pytest.raises(PromptSyntaxError, match="ignores the text after"):
        parse('("a", "b").and() more', "compel", strict=True)
    parse("a (b:1.2) \\(c\\)", "comfy", strict=True)
    with pytest.raises(PromptSyntaxError, match="unclosed"):
        parse("a (b c", "comfy", strict=True)
    with pytest.raises(PromptSyntaxError, match="unexpected"):
        parse("a) b", "comfy", strict=True)
