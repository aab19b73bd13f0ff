"""Grammar-aware fuzzing with hypothesis, at a bounded example count (cheap in CI); ``tools/fuzz.py`` runs
the same targets under atheris for longer. Prompts are built from the constructs of every dialect (weights,
groups, schedules, alternation, BREAK, AND, compel signs and blends, LoRA and embedding names, escapes),
nested, mixed with real tags, stray brackets and arbitrary text, lone surrogates included (text decoded with
``surrogateescape`` carries them; every stage must take them).
"""

from __future__ import annotations

import struct
import zlib

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import fuzz_targets as targets
from dynamic_strategies import templates as dynamic_templates

TAGS = ["1girl", "solo", "long hair", "long_hair", "kazusa (blue archive)", "kazusa \\(blue archive\\)", "score_9",
        "masterpiece", "hires", "blurry", "smile", "frown", ":d", "^_^", "İstanbul", "日本", "café", "1.2",
        "<lora:detail:0.6>", "embedding:easynegative", "a", "BREAK", "AND", "\\", "\\(", ")", "(", "[", "]", "{",
        "}", ":", "|", '"', "+", "-", "caf\udce9", "\ud800"]
WEIGHTS = ["1.2", "0.5", "-1", "1e3", "", "abc", "1.", ".5", "0", "99999999999999999999", "nan", "inf"]
SEPARATORS = [", ", ",", " ", "\n", "\r\n", " BREAK ", " AND ", " AND :0.5 ", ",, ", "\t", "  "]
JUNK = list("()[]{}:|,\\\"'<>+-.0123456789 \n\tBREAKAND_")

atom = st.one_of(st.sampled_from(TAGS),
                 st.text(st.characters(blacklist_categories=()), max_size=12),
                 st.lists(st.sampled_from(JUNK), max_size=12).map("".join))


def _nest(inner):
    weight = st.sampled_from(WEIGHTS)
    return st.one_of(
        st.tuples(inner, weight).map(lambda t: f"({t[0]}:{t[1]})"),
        inner.map(lambda s: f"({s})"), inner.map(lambda s: f"[{s}]"), inner.map(lambda s: f"{{{s}}}"),
        st.tuples(inner, inner, weight).map(lambda t: f"[{t[0]}:{t[1]}:{t[2]}]"),
        st.tuples(inner, weight).map(lambda t: f"[{t[0]}:{t[1]}]"),
        st.tuples(inner, inner).map(lambda t: f"[{t[0]}|{t[1]}]"),
        st.tuples(inner, st.sampled_from(["+", "++", "-", "--", "+-", "1.3"])).map(lambda t: f"({t[0]}){t[1]}"),
        st.lists(inner, min_size=1, max_size=3).map(lambda xs: "(" + ", ".join(f'"{x}"' for x in xs) + ").blend(1, 0.5)"),
        st.tuples(st.lists(inner, min_size=2, max_size=4), st.sampled_from(SEPARATORS)).map(lambda t: t[1].join(t[0])),
    )


prompts = st.tuples(st.lists(st.recursive(atom, _nest, max_leaves=10), max_size=6),
                    st.sampled_from(SEPARATORS)).map(lambda t: t[1].join(t[0]))
profiles = st.sampled_from(targets.profiles())
def fuzz(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@fuzz(80)
@given(prompts)
def test_parse_and_convert_never_crash(text):
    targets.check_parse(text)
    targets.check_convert(text)


@fuzz(60)
@given(prompts, profiles, st.booleans())
def test_lint_fix_and_fmt_never_crash(text, profile, negative):
    targets.check_lint(text, profile, negative)
    targets.check_fix_and_fmt(text, profile)


HOSTILE = ["", " ", "\n", "((((((((a", "a))))))))", "[a:b:", "[a|", "(a:1e308)", "(a:-1e308)", "{" * 200 + "a" + "}" * 200,
           "smile()frown", "BREAK BREAK", "AND AND", '("a" "b").blend(', "<lora:", "\\", "İ" * 80, "a" * 3000,
           ",,,,,,,,,,", "[a:" * 50 + "b" + ":0.5]" * 50, "1girl, (kazusa (blue archive):1.2), [blurry:0.3]"]


def test_every_profile_on_hostile_prompts():
    for profile in targets.profiles():
        for text in HOSTILE:
            targets.check_lint(text, profile)
            targets.check_fix_and_fmt(text, profile)


@fuzz(100)
@given(st.tuples(prompts, st.lists(st.sampled_from(["Negative prompt: ", "Steps: 20", ", Sampler: Euler a",
                                                    ', Size: "8x8"', "CFG scale: 7", ":", ",", "\n", " "]),
                                   max_size=12).map("".join)).map("\n".join))
def test_infotext_readers_never_crash(text):
    targets.check_infotext(text)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _utf8(text: str) -> bytes:
    """The bytes a file holds for ``text``: lone surrogates (which ``prompts`` draws) become the invalid UTF-8
    that a program writing with ``surrogatepass`` leaves, instead of raising in the test's own strategy."""
    return text.encode("utf-8", "surrogatepass")


_bodies = st.one_of(
    st.binary(max_size=40),
    st.tuples(st.sampled_from([b"parameters", b"prompt", b"workflow"]), st.binary(max_size=30)).map(
        lambda t: t[0] + b"\0" + t[1]),
    st.tuples(st.sampled_from([b"parameters", b"prompt"]), st.binary(max_size=30)).map(
        lambda t: t[0] + b"\0\0" + zlib.compress(t[1])),
    st.tuples(st.sampled_from([b"parameters", b"prompt"]), st.booleans(), prompts).map(
        lambda t: t[0] + b"\0" + (b"\1\0\0\0" + zlib.compress(_utf8(t[2])) if t[1] else b"\0\0\0\0" + _utf8(t[2]))),
    st.recursive(st.one_of(st.none(), st.integers(), st.text(max_size=5), prompts),
                 lambda inner: st.one_of(st.lists(inner, max_size=3),
                                         st.dictionaries(st.sampled_from(["class_type", "inputs", "text", "1"]), inner,
                                                         max_size=3)),
                 max_leaves=8).map(lambda g: b"prompt\0" + repr(g).replace("'", '"').replace("None", "null").encode()),
)
_chunks = st.lists(st.tuples(st.sampled_from([b"tEXt", b"zTXt", b"iTXt", b"IDAT", b"IEND", b"abcd"]), _bodies).map(
    lambda t: _chunk(*t)), max_size=4)


@fuzz(80)
@given(_chunks, st.integers(0, 40))
@example([_chunk(b"iTXt", b"parameters\0\0\0\0\0" + _utf8("caf\udce9, \ud800"))], 0)  # lone surrogates, every run
def test_png_readers_never_crash(chunks, cut):
    data = b"\x89PNG\r\n\x1a\n" + b"".join(chunks) + _chunk(b"IEND", b"")
    targets.check_png(data[:len(data) - cut])


@settings(max_examples=120, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.one_of(dynamic_templates(), prompts))
def test_dynamic_template_tree_round_trips(text):
    """A template's tree renders back byte for byte; text the reference refuses is a PromptSyntaxError."""
    from promptkit.syntax.dynamic import parse_template
    from promptkit.syntax.errors import PromptSyntaxError

    try:
        tree = parse_template(text)
    except PromptSyntaxError as exc:
        assert 0 <= exc.offset <= len(text)
        return
    assert tree.render() == text
    starts, ends = [node.start for node in tree.body], [node.end for node in tree.body]
    assert starts == [0, *ends[:-1]] if text else not starts  # the top-level nodes tile the text
    assert not ends or ends[-1] == len(text)
