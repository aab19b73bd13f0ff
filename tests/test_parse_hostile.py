"""Issue 16, the parser's items: every input class that was quadratic (or worse) gives the right result, and
memory stays bounded by the input size. Time is shown by bench/bench_parse_scaling.py, never asserted here.

Each case is parsed at 32 KB (the issue's size) and checked against what the slow, obvious reading gives:
lossless render, the tags, A1111's weights where A1111 has them. Memory is the tracemalloc peak of the parse
and of reading every view (tags, weights, render), per input character.
"""

from __future__ import annotations

import subprocess
import sys
import tracemalloc

import pytest

import promptkit
from promptkit import parse

from a1111_reference import parse_prompt_attention

SIZE = 32_768


def peak_per_char(text: str, dialect: str) -> float:
    tracemalloc.start()
    try:
        prompt = parse(text, dialect)
        tags = prompt.tags
        tags.names, tags.weights, tags.branches  # noqa: B018
        prompt.weighted()
        assert prompt.render() == text
        return tracemalloc.get_traced_memory()[1] / len(text)
    finally:
        tracemalloc.stop()


def test_compel_quoted_strings_in_an_open_blend():
    text = "(" + '"a"     ' * 10  # 5 s in the old regex; each more quoted string doubled it
    prompt = parse(text, "compel")
    assert prompt.render() == text
    # compel reads the unclosed "(" as part of the word '("a"', then nine quoted fragments
    assert [t.text for t in prompt.tags] == ['("a"'] + ["a"] * 9
    big = "(" + '"a"     ' * (SIZE // 8)
    assert parse(big, "compel").render() == big


def test_text_at_every_nesting_level():
    text = "(a," * (SIZE // 3)
    prompt = parse(text)
    tags = prompt.tags
    assert len(tags) == SIZE // 3 and set(tags.names) == {"a"}
    # A1111 applies unclosed brackets at the end, outermost first: tag k has 1.1^(k+1), exactly A1111's product
    # where A1111's own order can be followed (EXACT_DEPTH levels), the same up to rounding below that
    assert tags.weights[0] == 1.1 and tags.weights[1] == 1.1 * 1.1
    assert tags.weights[40] == pytest.approx(1.1 ** 41, rel=1e-12)
    short = "(a," * 30
    assert parse(short).weighted() == parse_prompt_attention(short)
    for dialect in ("comfy", "novelai", "compel"):
        unit = "{a," if dialect == "novelai" else "(a,"
        assert parse(unit * (SIZE // 3), dialect).render() == unit * (SIZE // 3)


def test_spaces_next_to_break():
    text = "BREAK x" + " " * SIZE + "y"
    prompt = parse(text)
    assert prompt.weighted() == [("", 1.0), ("BREAK", -1.0), ("x" + " " * SIZE + "y", 1.0)]
    spaced = " " * SIZE + "BREAK" + " " * SIZE + "z"
    assert parse(spaced).weighted() == parse_prompt_attention(spaced)


def test_long_number_in_a_schedule():
    text = "[a:" + "1" * (SIZE // 2) + "x]"
    prompt = parse(text)
    assert not prompt.has_schedules  # "111...1x" is no number: a [ ] group
    assert prompt.weighted() == parse_prompt_attention(text)
    assert parse("[a:" + "1" * (SIZE // 2) + "]").has_schedules
    nai = parse(text, "novelai")
    assert nai.render() == text and nai.tags[0].weight == pytest.approx(1 / 1.05)
    assert parse("v" + "1" * SIZE + "::", "novelai").render() == "v" + "1" * SIZE + "::"


def test_closers_with_no_opener_and_crossing_brackets():
    nai = "[" * (SIZE // 2) + "}" * (SIZE // 2)
    assert parse(nai, "novelai").render() == nai
    crossing = "[(]" * (SIZE // 6) + "[" * (SIZE // 6) + ")" * (SIZE // 6)
    prompt = parse(crossing)
    assert prompt.render() == crossing
    small = "[(]" * 20 + "[" * 20 + ")" * 20 + "a"
    assert parse(small).weighted() == parse_prompt_attention(small)


def test_long_sign_run_in_compel():
    from promptkit.syntax.dialects.compel import CompelRejects, compel_conjunction

    text = "a" + "+" * SIZE + "b"
    prompt = parse(text, "compel")
    # compel reads the signs as a weight of 1.1^32766 on "a" (its pow() overflows), then the word "b"
    assert prompt.render() == text and [t.name for t in prompt.tags] == ["a", "b"]
    assert prompt.tags[0].weight == float("inf")
    with pytest.raises(CompelRejects, match="OverflowError"):
        compel_conjunction(text)
    assert compel_conjunction("a" + "+" * 20 + "b").parts[0][0].weight == pow(1.1, 20)


def test_and_weight_after_long_whitespace():
    text = "a" + " " * SIZE + "AND b :1.5"
    parts = parse(text).subprompts
    assert [(p.text, p.weight) for p in parts] == [("a", 1.0), (" b", 1.5)]


def test_nested_schedules_memory_is_bounded():
    depth = SIZE // 8
    text = "[a:" * depth + "b" + ":0.5]" * depth
    prompt = parse(text)
    tags = prompt.tags
    assert len(tags) == depth + 1
    # each tag's branch is its innermost schedule's; the path is kept once per branch, not once per tag
    assert tags.branches[0] == "schedule0:before" and tags.branch_path(depth)[:2] == ("schedule0:after",
                                                                                       "schedule1:after")
    assert len(tags.branch_path(depth)) == depth
    assert peak_per_char(text, "a1111") < 600  # was 56,000 bytes per character (7.2 GB for 128 KB)
    alternation = "[a|" * (SIZE // 4) + "b" + "]" * (SIZE // 4)
    assert peak_per_char(alternation, "a1111") < 600


NODE_DENSE = {  # a tree node every one to three characters (bench_parse_scaling's node-dense classes)
    "text at every nesting level": ("(a,", "a1111"),
    "text at every nesting level, novelai": ("{a,", "novelai"),
    "text at every nesting level, comfy": ("(a,", "comfy"),
    "closers with no opener": ("[" * (SIZE // 2) + "}" * (SIZE // 2), "novelai"),
    "crossing brackets": ("[(]" * (SIZE // 6) + "[" * (SIZE // 6) + ")" * (SIZE // 6), "a1111"),
    "nested alternation": ("[a|" * (SIZE // 4) + "b" + "]" * (SIZE // 4), "a1111"),
}


@pytest.mark.parametrize("case", list(NODE_DENSE))
def test_node_dense_input_stays_within_350_bytes_per_character(case):
    """Not issue 16's 100 bytes per character: the lossless tree alone is 160-180 bytes per character here (a
    Group, its children list, a Text and a Separator are about 320 bytes for ``(a,``; see the issue's note).
    The bound holds what round 2 reached (190-320); main before it was at 360-390 for three of these."""
    text, dialect = NODE_DENSE[case]
    if len(text) <= 3:
        text = text * (SIZE // 3)
    assert peak_per_char(text, dialect) < 350


@pytest.mark.parametrize("dialect", ["a1111", "comfy", "novelai", "compel"])
def test_ordinary_prompts_stay_within_a_hundred_bytes_per_character(dialect, texts):
    text = ", ".join(texts)[:SIZE]
    assert peak_per_char(text, dialect) < 100


def test_no_module_is_named_like_a_public_function():
    """``import promptkit.syntax.parse`` used to replace the function ``parse`` with the module."""
    import pkgutil

    import promptkit.syntax

    for package in (promptkit, promptkit.syntax):
        modules = {m.name for m in pkgutil.iter_modules(package.__path__)}
        assert not modules & set(package.__all__), package.__name__
    code = ("import pkgutil, importlib, promptkit, promptkit.syntax\n"
            "for m in pkgutil.walk_packages(promptkit.syntax.__path__, 'promptkit.syntax.'):\n"
            "    importlib.import_module(m.name)\n"
            "print(promptkit.parse('a').tags[0].name, promptkit.syntax.parse('b').tags[0].name)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["a", "b"]
