"""The compel dialect and weighting against the installed compel 2.5.1 itself, live.

Reading: ``compel_conjunction`` must equal ``compel.prompt_parser.PromptParser().parse_conjunction`` on
compel's own parser test suite (tests/data/compel_parser_suite.txt), on cases derived from compel's
documented syntax (README, doc/syntax.md) and on random prompts; where compel raises, promptkit refuses.
Encoding: ``PromptEncoder(weighting="compel")`` must equal ``Compel(truncate_long_prompts=False)`` (what
compel's ``CompelForSD`` uses) to 1e-5 on a tiny random CLIP text model with the real tokenizer, or refuse
with UnsupportedPrompt; never differ without an error.
"""

from __future__ import annotations

import ast
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")
compel = pytest.importorskip("compel")

from compel.prompt_parser import Blend, CrossAttentionControlSubstitute, PromptParser  # noqa: E402
from tiny_models import finite, text_model  # noqa: E402

from promptkit import ConversionError, convert, parse  # noqa: E402
from promptkit.encode import PromptEncoder, UnsupportedPrompt, clip_tokenizer  # noqa: E402
from promptkit.syntax.ast import Blend as BlendNode  # noqa: E402
from promptkit.syntax.ast import ExtraNetwork, Group, Swap  # noqa: E402
from promptkit.syntax.dialects.compel import (  # noqa: E402
    CompelBlend,
    CompelRejects,
    CompelSwap,
    compel_conjunction,
)

SUITE_FILE = Path(__file__).parent / "data" / "compel_parser_suite.txt"

# Derived from compel's documented syntax (README and doc/syntax.md): each construct, and its combinations.
DOCUMENTED = [
    "a tall thin man picking apricots+", "a tall thin man picking (apricots)+", "a tall thin man picking (apricots)-",
    "a tall thin man (picking apricots)+", "a tall thin man (picking apricots)++", "a tall thin man (picking apricots+)++",
    "a tall thin man picking (apricots)1.1", "a tall thin man (picking (apricots)1.3)1.1",
    "a man picking apricots--- from a tree", "mountain+++ man", "mountain man++++",
    '("spider man", "robot mech").blend(1, 0.8)', '("spider man", "robot mech").blend(1, 0.8, no_normalize)',
    '("A dream of a distant galaxy, by Caspar David Friedrich, matte painting", "trending on artstation, HQ").and()',
    '("a cat playing with a ball", "a dog").and(1, 0.5)', "a cat playing with a ball.attend(1.5) in the forest",
    '"a cat, playing"0.7 with a ball', "a cat.swap(dog) playing with a ball", "a (cat).swap(dog, s_start=0.3) playing",
    "a cat withLora(ghibli, 0.7) in the forest", "useLora(ghibli) a cat", "a cat,playing,with a ball",
    "(cat:1.3), dog",  # A1111 syntax: compel reads it as text
    "a very long prompt about a cat. " * 6 + "it plays with a ball-- in the forest++, at night.",  # > 75 tokens
]


def load_suite() -> list[str]:
    prompts = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the literals use escapes like \( as compel's test file does
        for line in SUITE_FILE.read_text(encoding="utf-8").splitlines():
            if line and not line.startswith("#"):
                prompts.append(ast.literal_eval(line))
    return prompts


def compel_reading(prompt: str):
    """compel's own parse as comparable data, or ("error", type) where compel raises."""
    try:
        conj = PromptParser().parse_conjunction(prompt)
    except Exception as exc:  # noqa: BLE001 - any exception of compel's is "compel rejects"
        return ("error", type(exc).__name__), None
    return _their_data(conj), conj


def _their_data(conj):
    def fragments(fp):
        out = []
        for x in fp.children:
            if type(x) is CrossAttentionControlSubstitute:
                out.append(("swap", [(f.text, f.weight) for f in x.original], [(f.text, f.weight) for f in x.edited]))
            else:
                out.append((x.text, x.weight))
        return out

    parts = []
    for p in conj.prompts:
        if type(p) is Blend:
            parts.append(("blend", [fragments(q) for q in p.prompts], [float(w) for w in p.weights], p.normalize_weights))
        else:
            parts.append(fragments(p))
    return parts, [float(w) for w in conj.weights], [(lora.model, float(lora.weight)) for lora in conj.lora_weights]


def our_reading(prompt: str):
    try:
        conj = compel_conjunction(prompt)
    except CompelRejects:
        return ("error", "refused")

    def fragments(items):
        out = []
        for x in items:
            if type(x) is CompelSwap:
                out.append(("swap", [(f.text, f.weight) for f in x.original], [(f.text, f.weight) for f in x.edited]))
            else:
                out.append((x.text, x.weight))
        return out

    parts = []
    for p in conj.parts:
        if type(p) is CompelBlend:
            parts.append(("blend", [fragments(q) for q in p.prompts], list(p.weights), p.normalize))
        else:
            parts.append(fragments(p))
    return parts, list(conj.weights), list(conj.loras)


def readings_agree(prompt: str, theirs=None) -> str:
    """'equal', 'both reject', or 'we refuse' (compel would drop text); asserts on anything else."""
    if theirs is None:
        theirs, _ = compel_reading(prompt)
    ours = our_reading(prompt)
    if theirs[0] == "error":
        assert ours[0] == "error", (prompt, theirs, ours)
        return "both reject"
    if ours[0] == "error":
        # the only reading compel accepts and promptkit refuses: text after .and(...) that compel drops
        with pytest.raises(CompelRejects, match="ignores the text after"):
            compel_conjunction(prompt)
        return "we refuse"
    assert ours == theirs, prompt
    return "equal"


@pytest.fixture(scope="module")
def te():
    return text_model()


@pytest.fixture(scope="module")
def reference(te):
    return compel.Compel(tokenizer=clip_tokenizer(), text_encoder=te, truncate_long_prompts=False)


@pytest.fixture(scope="module")
def encoder(te):
    return PromptEncoder(clip_tokenizer(), te, weighting="compel", dialect="compel")


def compare_embeddings(prompt: str, reference, encoder, conj=None) -> str:
    """'equal' or 'refused'; asserts that a prompt is never encoded differently from compel."""
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if conj is None:
                theirs = reference(prompt)
            elif conj == "failed":
                raise ValueError("compel's parser raised")
            else:
                theirs = reference.build_conditioning_tensor_for_conjunction(conj)[0]
        if not torch.isfinite(theirs).all():
            theirs = None  # compel outputs NaN (a normalized blend whose weights sum to 0)
    except Exception:  # noqa: BLE001
        theirs = None
    try:
        ours = encoder.encode(prompt)["prompt_embeds"]
    except UnsupportedPrompt as exc:
        assert str(exc)
        return "refused"
    assert theirs is not None, f"compel fails or outputs NaN on {prompt!r}, promptkit encodes it"
    assert ours.shape == theirs.shape, prompt
    assert (finite(ours) - theirs).abs().max().item() < 1e-5, prompt
    return "equal"


def test_compel_test_suite_reads_and_encodes_as_compel(reference, encoder, capsys):
    """compel's own parser test suite, compared live: the reading, then the embeddings."""
    suite = load_suite()
    assert len(suite) == 187
    readings: dict[str, int] = {}
    encodings: dict[str, int] = {}
    for prompt in suite:
        theirs, conj = compel_reading(prompt)  # compel's parser is slow: parse once, encode that parse
        verdict = readings_agree(prompt, theirs)
        readings[verdict] = readings.get(verdict, 0) + 1
        verdict = compare_embeddings(prompt, reference, encoder, conj if conj is not None else "failed")
        encodings[verdict] = encodings.get(verdict, 0) + 1
    with capsys.disabled():
        print(f"\ncompel's parser test suite ({len(suite)} prompts): readings {readings}, embeddings {encodings}")
    # compel itself raises on 5 of them and outputs NaN on one (.blend(1,-1) normalized): those are refused
    assert encodings == {"equal": 181, "refused": 6}


@pytest.mark.parametrize("prompt", DOCUMENTED)
def test_documented_syntax_reads_and_encodes_as_compel(prompt, reference, encoder):
    readings_agree(prompt)
    assert compare_embeddings(prompt, reference, encoder) == "equal"


PIECES = ["a", "cat", " ", ",", ", ", "(", ")", '"', "+", "++", "-", "1.2", "0.5", ".", ".swap(", ".attend(",
          ".blend(", ".and(", "withLora(", "x", "\\(", '\\"', "\\", "=", "no_normalize", "\n", "é", ":", "-1"]


def _shallow(text: str) -> bool:
    return text.count("(") <= 3  # compel's parser is exponential in nesting depth


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(st.lists(st.sampled_from(PIECES), max_size=9).map("".join).filter(_shallow))
def test_random_prompts_read_as_compel_reads_them(text):
    readings_agree(text)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(text=st.lists(st.sampled_from(PIECES + ["red hair, blue eyes. ", "smile, "]), max_size=12).map("".join).filter(_shallow))
def test_random_prompts_encode_as_compel_or_refuse(text, reference, encoder):
    compare_embeddings(text, reference, encoder)


# -- the tree ------------------------------------------------------------------------------------------------

def test_tree_has_nodes_for_compel_constructs_and_renders_losslessly():
    text = 'a "fire, flames"+ cat.swap(dog, s_start=0.2) x.attend(0.5) withLora(ghibli, 0.7), (big sky)1.3'
    prompt = parse(text, "compel")
    assert prompt.render() == text
    kinds = [(type(n).__name__, getattr(n, "kind", None)) for n in prompt.walk() if type(n) in (Group, Swap, ExtraNetwork)]
    assert kinds == [("Group", "compel_weight"), ("Swap", None), ("Group", "compel_attend"), ("ExtraNetwork", "lora"),
                     ("Group", "compel_weight")]
    tags = [(t.name, round(t.weight, 4), t.branch) for t in prompt.tags]
    assert tags == [("a", 1.0, None), ("fire", 1.1, None), ("flames", 1.1, None), ("cat", 1.0, "swap0:original"),
                    ("dog", 1.0, "swap0:replacement"), ("x", 0.5, None), ("big_sky", 1.3, None)]
    assert [(n.name, n.multiplier) for n in prompt.loras] == [("ghibli", 0.7)]


def test_blend_node_parts_weights_and_normalization():
    blend = parse('("fire", (fire flames)).blend(0.7, 0.3, no_normalize)', "compel").children[0]
    assert type(blend) is BlendNode and blend.op == "blend"
    assert (blend.weights, blend.normalize, len(blend.parts)) == ([0.7, 0.3], False, 2)
    assert type(parse('("a", "b").and()', "compel").children[0]).__name__ == "Blend"


def test_compel_surprises_are_kept():
    # unbalanced "(" stays text; ",x" reads as ", x"; a number after a word is text; A1111 syntax is text
    assert our_reading("a badly (formed test") == ([[("a badly (formed test", 1.0)]], [1.0], [])
    assert our_reading("a,b")[0] == [[("a, b", 1.0)]]
    assert our_reading("cat1.3")[0] == [[("cat1.3", 1.0)]]
    assert our_reading("(cat:1.3) dog")[0] == [[("cat:1 . 3 dog", 1.0)]]


def test_what_compel_rejects_or_drops_is_refused_with_a_reason():
    for text, reason in [('("a", "b").and() more text', "ignores the text after"),
                         ('("a", "b").blend(1)', "2 parts but 1 weights"),
                         ('("a", "b").blend() trailing', "cannot parse"),
                         ("a.swap(b, shape_freedom=x)", "shape_freedom"),
                         ("withLora(x)", "no text")]:
        with pytest.raises(CompelRejects, match=reason):
            compel_conjunction(text)


def test_deep_nesting_is_linear_and_refused_for_encoding():
    text = "(" * 5000 + "a" + ")" * 5000
    prompt = parse(text, "compel")
    assert prompt.render() == text
    with pytest.raises(CompelRejects, match="nested more than"):
        compel_conjunction(text)


def test_convert_to_and_from_compel_keeps_weights_or_refuses():
    assert convert("a (cat:1.21) on a (mat:0.8)", read="a1111", write="compel") == "a (cat)1.21 on a (mat)0.8"
    assert convert("a cat++ on a (mat)0.8", read="compel", write="a1111") == "a (cat:1.21) on a (mat:0.8)"
    assert convert("x+", read="a1111", write="compel") == "x +"  # a sign that would weight the word is spaced off
    with pytest.raises(ConversionError, match="weighted group"):
        convert("(a+:1.2)", read="a1111", write="compel")
    with pytest.raises(ConversionError, match="swap"):
        convert("a cat.swap(dog)", read="compel", write="comfy")


def test_encoder_reports_loras_and_never_encodes_them(encoder):
    assert encoder.networks("a cat withLora(ghibli, 0.7)") == [("lora", "ghibli", 0.7)]
    with_lora = encoder.encode("a cat withLora(ghibli, 0.7)")["prompt_embeds"]
    assert torch.equal(with_lora, encoder.encode("a cat")["prompt_embeds"])
