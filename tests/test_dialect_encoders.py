"""Each dialect's encoder against an independent reference of the program it claims to match.

ComfyUI: ``token_weights`` (its parser), ``tokenize_with_weights`` (a tokenizer call per weighted segment,
word-wrapped 75-token chunks) and ``encode_token_weights`` (one batch with an empty row, ``(z - empty) * w +
empty`` where w != 1), written here from the behaviour described in issue 13 and
shared/reference/embedding-weighting.md (2.1-2.3). A1111: ``parse_prompt_attention`` (tests/a1111_reference),
``tokenize_line`` (one tokenizer call per fragment, BREAK, comma backtrack of 20) and the "Original" emphasis
(1.2-1.3). Both run on a tiny random CLIP text model with the real tokenizer. The encoder must equal the
reference to 1e-5 or raise UnsupportedPrompt naming what it cannot honour; it never differs silently.
(compel is compared with compel itself in tests/test_compel.py; NovelAI publishes no encoder to compare with.)
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from a1111_reference import parse_prompt_attention  # noqa: E402
from tiny_models import finite, text_model  # noqa: E402

from promptkit import parse  # noqa: E402
from promptkit.encode import PromptEncoder, UnsupportedPrompt, clip_tokenizer  # noqa: E402

BOS, EOS, COMMA = 49406, 49407, 267


@pytest.fixture(scope="module")
def te():
    model = text_model()
    # A random model's final layer norm has zero bias, so its outputs average exactly 0 and A1111's mean
    # restoration divides 0 by 0; a real CLIP's does not. Give it a bias as trained models have.
    with torch.no_grad():
        getattr(model, "text_model", model).final_layer_norm.bias.copy_(torch.linspace(-0.5, 1.0, model.config.hidden_size))
    return model


# -- ComfyUI, from its described behaviour -------------------------------------------------------------------

def comfy_items(text: str) -> list[str]:
    """parse_parentheses: split at top-level parentheses with a counter that may go below zero."""
    items, current, level = [], "", 0
    for ch in text:
        if ch == "(":
            if level == 0:
                if current:
                    items.append(current)
                current = "("
            else:
                current += ch
            level += 1
        elif ch == ")":
            level -= 1
            if level == 0:
                items.append(current + ")")
                current = ""
            else:
                current += ch
        else:
            current += ch
    if current:
        items.append(current)
    return items


def comfy_token_weights(text: str, weight: float) -> list[tuple[str, float]]:
    out = []
    for item in comfy_items(text):
        if len(item) >= 2 and item[0] == "(" and item[-1] == ")":
            inner = item[1:-1]
            w = weight * 1.1
            colon = inner.rfind(":")
            if colon > 0:
                try:
                    w = float(inner[colon + 1:])
                    inner = inner[:colon]
                except ValueError:
                    pass
            out += comfy_token_weights(inner, w)
        else:
            out.append((item, weight))
    return out


def comfy_reference(te, text: str) -> torch.Tensor:
    tok = clip_tokenizer()
    escaped = text.replace("\\)", "\0\1").replace("\\(", "\0\2")
    segments = [(s.replace("\0\1", ")").replace("\0\2", "("), w) for s, w in comfy_token_weights(escaped, 1.0)]
    groups = [[(t, w) for t in tok(s)["input_ids"][1:-1]] for s, w in segments if s]
    batch = [(BOS, 1.0)]
    batches = [batch]
    for group in groups:
        large = len(group) >= 8
        while group:
            if len(group) + len(batch) > 76:
                room = 77 - len(batch) - 1
                if large:
                    batch.extend(group[:room])
                    batch.append((EOS, 1.0))
                    group = group[room:]
                else:
                    batch.append((EOS, 1.0))
                    batch.extend([(EOS, 1.0)] * room)
                batch = [(BOS, 1.0)]
                batches.append(batch)
            else:
                batch.extend(group)
                group = []
    batch.append((EOS, 1.0))
    batch.extend([(EOS, 1.0)] * (77 - len(batch)))
    rows = [[t for t, _ in b] for b in batches] + [[BOS, EOS] + [EOS] * 75]
    with torch.no_grad():
        z = te(torch.tensor(rows)).last_hidden_state
    empty = z[-1]
    out = []
    for k, b in enumerate(batches):
        zk = z[k].clone()
        for j, (_, w) in enumerate(b):
            if w != 1.0:
                zk[j] = (zk[j] - empty[j]) * w + empty[j]
        out.append(zk)
    return torch.cat(out)[None]


# -- A1111, from its described behaviour ---------------------------------------------------------------------

EXTRA_NETWORK = re.compile(r"<(\w+):([^>]+)>")  # A1111 takes these out of the prompt before anything else


def a1111_reference(te, text: str, backtrack: int = 20) -> torch.Tensor | None:
    fragments = parse_prompt_attention(EXTRA_NETWORK.sub("", text))
    if fragments is None:
        return None
    tok = clip_tokenizer()
    chunks: list[tuple[list[int], list[float]]] = []
    tokens: list[int] = []
    weights: list[float] = []
    last_comma = -1

    def next_chunk() -> None:
        nonlocal tokens, weights, last_comma
        pad = 75 - len(tokens)
        chunks.append(([BOS] + tokens + [EOS] * pad + [EOS], [1.0] + weights + [1.0] * pad + [1.0]))
        tokens, weights, last_comma = [], [], -1

    for piece, weight in fragments:
        if piece == "BREAK" and weight == -1:
            next_chunk()
            continue
        ids = tok(piece, add_special_tokens=False)["input_ids"]
        for token in ids:
            if token == COMMA:
                last_comma = len(tokens)
            elif backtrack and len(tokens) == 75 and last_comma != -1 and len(tokens) - last_comma <= backtrack:
                moved, moved_w = tokens[last_comma + 1:], weights[last_comma + 1:]
                tokens, weights = tokens[:last_comma + 1], weights[:last_comma + 1]
                next_chunk()
                tokens, weights = moved, moved_w
            if len(tokens) == 75:
                next_chunk()
            tokens.append(token)
            weights.append(weight)
    if tokens or not chunks:
        next_chunk()
    out = []
    with torch.no_grad():
        for ids, w in chunks:
            z = te(torch.tensor([ids])).last_hidden_state[0]
            w = torch.tensor(w)
            weighted = z * w[:, None]
            out.append(weighted * (z.mean() / weighted.mean()))
    return torch.cat(out)[None]


def check_equal_or_refused(encoder, reference, text: str) -> str:
    try:
        ours = encoder.encode(text)["prompt_embeds"]
    except UnsupportedPrompt as exc:
        assert str(exc)
        return "refused"
    theirs = reference(text)
    if theirs is None:
        return "no reference"
    assert ours.shape == theirs.shape, text
    assert (finite(ours) - finite(theirs)).abs().max().item() < 1e-5, text
    return "equal"


MALFORMED_COMFY = [
    "a (b c", "a (b) c) (d) e", "a) (b (c)) d", "(x:1e2)", "(x:1.2.3)", "(:1.2)", "( :1.2)", "a\\:b", "(a\\:b:1.2)",
    "((x:1.5))", "((x):1.5)", "(text)(words)", "\\(x\\) (y)", "(a:2:3)", "(x: 1.5 )", "(((a)", "((a)",
    "(a,(]\\:1.2)", "[a] (b:0.5), c", "foo ((((lol (cat:666) attack:100)))) baz", "(x:1_0)",
]


def test_comfy_weighting_equals_comfyui_on_malformed_prompts(te):
    enc = PromptEncoder(clip_tokenizer(), te, weighting="comfy", dialect="comfy")
    for text in MALFORMED_COMFY:
        assert check_equal_or_refused(enc, lambda t: comfy_reference(te, t), text) == "equal", text
    with pytest.raises(UnsupportedPrompt, match="inf"):  # ComfyUI's float() takes it: infinite embeddings
        enc.encode("(x:inf) y")


def test_comfy_weighting_equals_comfyui_on_the_corpus(te, texts):
    enc = PromptEncoder(clip_tokenizer(), te, weighting="comfy", dialect="comfy")
    verdicts = [check_equal_or_refused(enc, lambda t: comfy_reference(te, t), text) for text in texts[::25]]
    assert verdicts.count("equal") >= len(verdicts) - 3  # only prompts with an unloaded embedding:name refuse
    assert set(verdicts) <= {"equal", "refused"}


def test_comfy_segments_are_tokenized_on_their_own(te):
    enc = PromptEncoder(clip_tokenizer(), te, weighting="comfy", dialect="comfy")
    a1111 = PromptEncoder(clip_tokenizer(), te, weighting="a1111", dialect="comfy")
    # "(text)(words)": two words for ComfyUI, "textwords" for A1111's merged fragment
    assert (enc.encode("(text)(words)")["prompt_embeds"] - comfy_reference(te, "(text)(words)")).abs().max() < 1e-5
    assert not torch.allclose(enc.encode("(text)(words)")["prompt_embeds"],
                              a1111.encode("(text)(words)")["prompt_embeds"], atol=1e-3)


def test_a1111_weighting_equals_a1111_on_the_corpus(te, texts):
    enc = PromptEncoder(clip_tokenizer(), te, weighting="a1111")
    verdicts = [check_equal_or_refused(enc, lambda t: a1111_reference(te, t), text) for text in texts[::25]]
    assert verdicts.count("equal") > len(verdicts) * 0.8
    assert set(verdicts) <= {"equal", "refused", "no reference"}


def test_encoders_never_encode_syntax_as_text(te):
    cases = [("a1111", '("a", "b").blend()', "compel", "blend"), ("a1111", "a cat.swap(dog)", "compel", "swap"),
             ("comfy", "a BREAK b", "a1111", "BREAK"), ("compel", "a BREAK b", "a1111", "BREAK"),
             ("a1111", "a [cat:dog:5]", "a1111", "schedule"), ("a1111", "a AND b", "a1111", "AND"),
             ("comfy", "a embedding:missing b", "comfy", "embedding:missing"),
             ("compel", '("a", "b").and() dropped', "compel", "ignores the text")]
    for weighting, text, dialect, named in cases:
        enc = PromptEncoder(clip_tokenizer(), te, weighting=weighting, dialect=dialect)
        with pytest.raises(UnsupportedPrompt, match=named):
            enc.encode(text)
    # extra networks are no text: the prompt encodes as without them
    enc = PromptEncoder(clip_tokenizer(), te)
    assert torch.equal(enc.encode("a cat <lora:detail:0.8>")["prompt_embeds"], enc.encode("a cat ")["prompt_embeds"])
    assert enc.networks("a cat <lora:detail:0.8>") == [("lora", "detail", 0.8)]


A1111_PIECES = ["a", "cat", " ", ", ", "(", ")", "[", "]", ":1.2)", ":0.5)", "\\(", " BREAK ", "1girl", "long hair",
                "[a:b:3]", "[a|b]", "AND"]
COMFY_PIECES = ["a", "cat", " ", ", ", "(", ")", ":", "1.2", ":1.5)", "\\(", "\\)", "[", "]", "embedding:x", "e2", "\\"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.lists(st.sampled_from(A1111_PIECES), max_size=16).map("".join))
def test_random_a1111_prompts_equal_a1111_or_raise(te, text):
    enc = PromptEncoder(clip_tokenizer(), te, weighting="a1111")
    check_equal_or_refused(enc, lambda t: a1111_reference(te, t), text)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.lists(st.sampled_from(COMFY_PIECES), max_size=16).map("".join))
def test_random_comfy_prompts_equal_comfyui_or_raise(te, text):
    enc = PromptEncoder(clip_tokenizer(), te, weighting="comfy", dialect="comfy")
    check_equal_or_refused(enc, lambda t: comfy_reference(te, t), text)


def test_comfy_pads_a_shorter_negative_by_repeating_it(te):
    enc = PromptEncoder(clip_tokenizer(), te, weighting="comfy", dialect="comfy")
    long = ", ".join(["long hair", "blue eyes", "smile"] * 12)
    kw = enc.encode(long, "lowres")
    assert kw["prompt_embeds"].shape == kw["negative_prompt_embeds"].shape
    neg = kw["negative_prompt_embeds"]
    assert torch.equal(neg[:, :77], neg[:, 77:154])  # the one-chunk negative, repeated (ComfyUI's concat)
    assert parse(long, "comfy").render() == long
