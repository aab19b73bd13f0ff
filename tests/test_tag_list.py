"""The fast paths of the parser against its slow, obvious ones.

Tags are collected while the bracket parsers build the tree, and captions without syntax skip the tree
altogether; both must give exactly what splitting the finished tree gives (``extract_tags``), on the real
corpus and on random text. A1111's weighting is replayed from the tree on demand and must still equal the
reference implementation (tests/test_parse.py checks ``weighted()``; here every leaf is checked).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from a1111_reference import parse_prompt_attention
from promptkit import parse
from promptkit._resources import known_namespaces
from promptkit.syntax.dialects.brackets import A1111, NOVELAI, parse_brackets
from promptkit.syntax.parser import is_plain, parse_tree
from promptkit.syntax.prompt import Prompt, extract_tags
from promptkit.syntax.tag_list import TagList, split_caption

BRACKETS = {"a1111": A1111, "novelai": NOVELAI}
FIELDS = ("raw", "text", "name", "namespace", "weight", "branch", "start", "end", "index")


def tag_rows(tags) -> list[tuple]:
    return [tuple(getattr(t, f) for f in FIELDS) for t in tags]


def tags_from_tree(text: str, dialect: str) -> list[tuple]:
    """The slow way: build the whole tree with the dialect's parser, then walk it."""
    children = parse_tree(text, dialect)
    return tag_rows(extract_tags(Prompt(text, dialect, children)))


def check_against_tree(text: str, dialect: str) -> None:
    prompt = parse(text, dialect)
    assert tag_rows(prompt.tags) == tags_from_tree(text, dialect), (dialect, text)
    assert prompt.render() == text


@pytest.mark.parametrize("dialect", ["a1111", "comfy", "novelai", "compel"])
def test_collected_tags_equal_the_tree_walk_on_every_corpus_prompt(texts, dialect):
    for text in texts:
        check_against_tree(text, dialect)
    # The comma-free spelling of real prompts takes the general caption path.
    for text in texts[:200]:
        check_against_tree(text.replace(", ", ","), dialect)


PIECES = ["a", "B", "x y", "  ", " ", ",", ", ", " ,", "\n", "\t", "\u3000", "|", ":", "<", ">", "_", "__",
          "species:seal", "BREAK", "AND", "(", ")", "[", "]", "{", "}", "::", "1.2", ":1.2)", "\\", "\\(", "+", "-",
          "embedding:x", "<lora:x:1>", "İ", "\x1c"]


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=14).map("".join), st.sampled_from(["a1111", "comfy", "novelai", "compel"]))
def test_collected_tags_equal_the_tree_walk_on_random_text(text, dialect):
    check_against_tree(text, dialect)


@settings(max_examples=800, deadline=None)
@given(st.lists(st.sampled_from(PIECES[:18]), max_size=14).map("".join), st.sampled_from(["a1111", "comfy", "novelai"]))
def test_plain_captions_read_like_the_full_parser(text, dialect):
    """Text the dialect reads without syntax: the caption path gives the full parser's tags and weights."""
    if not is_plain(text, dialect):
        return
    prompt = parse(text, dialect)
    assert prompt._children is None  # the caption path: no tree built yet
    full = Prompt(text, dialect, parse_tree(text, dialect))
    assert tag_rows(prompt.tags) == tag_rows(extract_tags(full))
    assert prompt.weighted() == full.weighted()
    assert prompt.render() == text
    assert prompt.render("compel") == full.render("compel")


def test_tagger_captions_and_their_spans():
    text = "1girl, Long Hair, species:seal, ^_^, a b c"
    tags = split_caption(text, known_namespaces())
    assert tags.names == ["1girl", "long_hair", "seal", "^_^", "a_b_c"]
    assert tags.namespaces == [None, None, "species", None, None]
    assert [text[s:e] for s, e in zip(tags.starts, tags.ends)] == tags.raws
    assert tags.raws == ["1girl", "Long Hair", "species:seal", "^_^", "a b c"]
    messy = " 1girl ,,  long   hair\n\n solo ,"
    tags = split_caption(messy, known_namespaces())
    assert tags.names == ["1girl", "long_hair", "solo"]
    assert [messy[s:e] for s, e in zip(tags.starts, tags.ends)] == ["1girl", "long   hair", "solo"]


def test_tag_list_is_a_sequence_of_stable_tag_objects():
    prompt = parse("(masterpiece:1.2), kazusa \\(blue archive\\), [smile], solo")
    tags = prompt.tags
    assert isinstance(tags, TagList) and len(tags) == 4 and tags
    assert tags[0] is tags[0] and tags[-1] is tags[3]
    assert [t.name for t in tags] == tags.names == ["masterpiece", "kazusa_(blue_archive)", "smile", "solo"]
    assert [t.weight for t in tags] == tags.weights == pytest.approx([1.2, 1.0, 1 / 1.1, 1.0])
    assert [t.index for t in tags[1:3]] == [1, 2]
    assert tags.raws[1] == "kazusa \\(blue archive\\)" and tags.texts[1] == "kazusa (blue archive)"
    assert list(tags) == tags[:] and tags == list(tags)
    with pytest.raises(IndexError):
        tags[4]
    tags[2].info = "kept"
    assert prompt.tags[2].info == "kept"


def test_a1111_replay_from_the_tree_handles_crossing_brackets():
    # Each closer here is matched differently by A1111's two stacks and by the tree.
    for text, expected in [
        ("([a)]", [("a", 1.0)]),
        ("(a[b)c]", [("a", 1.1), ("b", 1.0), ("c", 1 / 1.1)]),
        ("[(a]b)", [("a", 1.0), ("b", 1.1)]),
        ("a)b]c:1.2)", [("a)b]c:1.2)", 1.0)]),
        ("(a:x)", [("a:x", 1.1)]),
    ]:
        got = parse(text).weighted()
        assert got == parse_prompt_attention(text), text
        assert [t for t, _ in got] == [t for t, _ in expected], text
        assert [w for _, w in got] == pytest.approx([w for _, w in expected]), text
