"""Encoders against independent references on tiny random-weight models with the real tokenizer.

References: compel 2.5.1's own output; diffusers' own ``encode_prompt``; the A1111 "Original" and ComfyUI
formulas written out here from shared/reference/embedding-weighting.md.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("diffusers")

from tiny_models import finite, sd1_pipeline, sdxl_pipeline, text_model, text_model_with_projection  # noqa: E402

from promptkit import parse  # noqa: E402
from promptkit.encode import PromptEncoder, clip_tokenizer  # noqa: E402
from promptkit.tokens.chunks import plan_chunks  # noqa: E402

BOS, EOS = 49406, 49407


@pytest.fixture(scope="module")
def te():
    return text_model()


@pytest.fixture(scope="module")
def sd1():
    return sd1_pipeline()


@pytest.fixture(scope="module")
def sdxl():
    return sdxl_pipeline()


def test_clip_tokenizer_is_the_real_vocabulary(texts):
    tok = clip_tokenizer()
    assert tok("a photo of a cat").input_ids == [49406, 320, 1125, 539, 320, 2368, 49407]
    assert len(tok) == 49408 and clip_tokenizer("!").pad_token_id == 0
    from promptkit.tokens.clip import clip_bpe

    for text in texts[:200]:
        assert tok(text, add_special_tokens=False).input_ids == clip_bpe().encode(text)


@pytest.mark.parametrize("prompt", [
    "a cat++ on a mat--", "(red cat)1.3 on a mat", "a cat- sits", "(a (b)0.5 c)1.2 d", "a photo of a cat",
    "masterpiece, (best quality)1.2, 1girl, (blurry)0.5, (lowres)0.8",
])
def test_compel_weighting_equals_compel(te, prompt):
    from compel import Compel

    reference = Compel(tokenizer=clip_tokenizer(), text_encoder=te)(prompt)
    ours = PromptEncoder(clip_tokenizer(), te, weighting="compel", dialect="compel").encode(prompt)["prompt_embeds"]
    assert ours.shape == reference.shape
    assert (finite(ours) - finite(reference)).abs().max().item() < 1e-5


def _chunk_ids(prompt: str) -> tuple[torch.Tensor, torch.Tensor]:
    plan = plan_chunks(parse(prompt))
    ids = torch.tensor([c.ids for c in plan.chunks])
    weights = torch.tensor([c.weights for c in plan.chunks])
    return ids, weights


def test_a1111_original_formula(te):
    prompt = "a (red:1.4) cat, [blurry], (((sharp)))"
    ids, w = _chunk_ids(prompt)
    with torch.no_grad():
        z = te(ids).last_hidden_state
    # the formula rescales by a ratio of chunk means: they must be numbers, not rounding noise around 0
    assert (z.mean(dim=(1, 2)).abs() > 1e-2).all()
    expected = []
    for k in range(z.shape[0]):  # A1111 "Original": multiply, then restore the chunk's mean
        weighted = z[k] * w[k][:, None]
        expected.append(weighted * (z[k].mean() / weighted.mean()))
    expected = torch.cat(expected)[None]
    ours = PromptEncoder(clip_tokenizer(), te, weighting="a1111").encode(prompt)["prompt_embeds"]
    assert (finite(ours) - finite(expected)).abs().max().item() < 1e-6
    no_norm = PromptEncoder(clip_tokenizer(), te, weighting="a1111-no-norm").encode(prompt)["prompt_embeds"]
    assert (no_norm - (z * w[..., None]).reshape(1, -1, z.shape[-1])).abs().max().item() < 1e-6


def test_comfy_formula(te):
    prompt = "a (red:1.4) cat, (blurry:0.5)"
    ids, w = _chunk_ids(prompt)
    with torch.no_grad():
        z = te(ids).last_hidden_state[0]
        empty = te(torch.tensor([[BOS] + [EOS] * 76])).last_hidden_state[0]
    expected = torch.where((w[0] != 1)[:, None], (z - empty) * w[0][:, None] + empty, z)
    ours = PromptEncoder(clip_tokenizer(), te, weighting="comfy").encode(prompt)["prompt_embeds"][0]
    assert (finite(ours) - finite(expected)).abs().max().item() < 1e-6


def test_unweighted_short_prompts_equal_diffusers_sd1(sd1):
    kw = PromptEncoder.from_pipeline(sd1).encode("a photo of a cat, 1girl", "lowres, blurry")
    pos, neg = sd1.encode_prompt("a photo of a cat, 1girl", "cpu", 1, True, "lowres, blurry")
    assert torch.equal(finite(kw["prompt_embeds"]), pos) and torch.equal(kw["negative_prompt_embeds"], neg)


def test_unweighted_short_prompts_equal_diffusers_sdxl(sdxl):
    kw = PromptEncoder.from_pipeline(sdxl).encode("a photo of a cat, 1girl", "lowres, blurry")
    pos, neg, pooled, neg_pooled = sdxl.encode_prompt("a photo of a cat, 1girl", negative_prompt="lowres, blurry",
                                                      device="cpu")
    assert kw["prompt_embeds"].shape == (1, 77, 64) and kw["pooled_prompt_embeds"].shape == (1, 32)
    assert torch.equal(finite(kw["prompt_embeds"]), pos) and torch.equal(kw["negative_prompt_embeds"], neg)
    # the pooled projection is a matmul over the whole batch (ours: 3 rows, diffusers': 1), which may round
    # the last bit differently
    assert (kw["pooled_prompt_embeds"] - pooled).abs().max().item() < 1e-6
    assert (kw["negative_pooled_prompt_embeds"] - neg_pooled).abs().max().item() < 1e-6


def test_sdxl_empty_negative_is_zero_like_a1111(sdxl):
    kw = PromptEncoder.from_pipeline(sdxl).encode("a cat", "")
    assert not kw["negative_prompt_embeds"].any() and not kw["negative_pooled_prompt_embeds"].any()


def test_sd1_clip_skip_is_a1111s_meaning(sd1):
    enc = PromptEncoder.from_pipeline(sd1, clip_skip=2)
    ids = torch.tensor([clip_tokenizer()("a cat", padding="max_length", max_length=77).input_ids])
    with torch.no_grad():
        out = sd1.text_encoder(ids, output_hidden_states=True)
    expected = getattr(sd1.text_encoder, "text_model", sd1.text_encoder).final_layer_norm(out.hidden_states[-2])
    assert torch.equal(enc.encode("a cat")["prompt_embeds"], expected)


def test_long_prompts_chunked_padded_and_batched(sd1):
    enc = PromptEncoder.from_pipeline(sd1)
    long_prompt = ", ".join(["long hair", "blue eyes", "smile"] * 12) + " BREAK sky"
    kw = enc.encode(long_prompt, "lowres")
    chunks = len(plan_chunks(parse(long_prompt)).chunks)
    assert chunks == 3
    assert kw["prompt_embeds"].shape == kw["negative_prompt_embeds"].shape == (1, 77 * chunks, 32)
    assert enc.forward_passes == 1  # every chunk of both prompts, and the empty chunk, in one pass
    # the negative is padded with the encoding of "" as A1111 does
    empty = enc.encode("")["prompt_embeds"]
    assert torch.equal(kw["negative_prompt_embeds"][:, 77:154], empty)
    # each chunk equals an independent 77-token encode of that chunk
    plan = plan_chunks(parse(long_prompt))
    with torch.no_grad():
        second = sd1.text_encoder(torch.tensor([plan.chunks[1].ids])).last_hidden_state
    assert torch.equal(kw["prompt_embeds"][:, 77:154], second)


def test_cache_encodes_identical_chunks_once(sd1):
    enc = PromptEncoder.from_pipeline(sd1)
    first = enc.encode("a cat", "lowres")
    passes = enc.forward_passes
    again = enc.encode("a cat", "lowres")
    assert enc.forward_passes == passes
    assert torch.equal(first["prompt_embeds"], again["prompt_embeds"])


def test_sdxl_pooled_from_first_chunk_or_last(sdxl):
    long_prompt = "a cat BREAK a dog"
    first = PromptEncoder.from_pipeline(sdxl).encode(long_prompt, "x")
    last = PromptEncoder.from_pipeline(sdxl, pooled="last").encode(long_prompt, "x")
    short = PromptEncoder.from_pipeline(sdxl).encode("a cat", "x")
    assert (first["pooled_prompt_embeds"] - short["pooled_prompt_embeds"]).abs().max().item() < 1e-6
    assert (first["pooled_prompt_embeds"] - last["pooled_prompt_embeds"]).abs().max().item() > 1e-3


def test_cascade_layer_mask_and_pooled_shape():
    te2 = text_model_with_projection()
    enc = PromptEncoder(clip_tokenizer(), te2, architecture="cascade")
    kw = enc.encode("a cat, " * 60, "lowres")
    assert kw["prompt_embeds"].shape == (1, 77, 32)  # Stable Cascade reads one chunk
    assert kw["prompt_embeds_pooled"].shape == (1, 1, 32)
    tok = clip_tokenizer()("a cat", padding="max_length", max_length=77, truncation=True, return_tensors="pt")
    with torch.no_grad():
        out = te2(tok.input_ids, attention_mask=tok.attention_mask, output_hidden_states=True)
    short = enc.encode("a cat")
    assert torch.equal(short["prompt_embeds"], out.hidden_states[-1])
    assert torch.equal(short["prompt_embeds_pooled"], out.text_embeds[:, None])


def test_schedule_and_callback_swap_embeddings(sd1):
    enc = PromptEncoder.from_pipeline(sd1)
    sched = enc.schedule("a [cat:dog:2] on a mat", steps=4, negative="lowres")
    assert [end for end, _ in sched.entries] == [2, 4]
    cat, dog = enc.encode("a cat on a mat", "lowres"), enc.encode("a dog on a mat", "lowres")
    assert torch.equal(sched.at(1)["prompt_embeds"], cat["prompt_embeds"])
    assert torch.equal(sched.at(3)["prompt_embeds"], dog["prompt_embeds"])
    seen = []

    def spy(pipe, i, t, kwargs):
        out = sched.callback()(pipe, i, t, kwargs)
        seen.append(out["prompt_embeds"][1:].clone())
        return out

    sd1(**sched.initial, num_inference_steps=4, height=64, width=64, output_type="latent",
        callback_on_step_end=spy, callback_on_step_end_tensor_inputs=sched.tensor_inputs,
        generator=torch.Generator().manual_seed(0))
    assert torch.equal(seen[0], cat["prompt_embeds"]) and torch.equal(seen[1], dog["prompt_embeds"])
    with pytest.raises(ValueError, match="schedule"):
        enc.encode("a [cat:dog:2]")


def test_and_subprompts_with_weights(sd1):
    enc = PromptEncoder.from_pipeline(sd1)
    parts = enc.encode_subprompts("a cat :1.2 AND a dog :0.8", "lowres")
    assert [w for w, _ in parts] == [1.2, 0.8]
    assert torch.equal(parts[0][1]["prompt_embeds"], enc.encode("a cat", "lowres")["prompt_embeds"])


def _token_vectors(model, text: str) -> torch.Tensor:
    ids = clip_tokenizer()(text, add_special_tokens=False).input_ids
    return model.get_input_embeddings().weight[ids].detach().clone()


def test_textual_inversion_from_local_safetensors(tmp_path, sd1, sdxl):
    from safetensors.torch import save_file

    # an embedding whose vectors are the token embeddings of "red cat" must encode exactly like "red cat"
    path = tmp_path / "mycat.safetensors"
    save_file({"emb_params": _token_vectors(sd1.text_encoder, "red cat")}, str(path))
    enc = PromptEncoder.from_pipeline(sd1)
    assert enc.load_embedding(str(path)) == "mycat"
    ours = enc.encode("a (mycat:1.2) on a mat", "lowres")["prompt_embeds"]
    plain = PromptEncoder.from_pipeline(sd1).encode("a (red cat:1.2) on a mat", "lowres")["prompt_embeds"]
    assert (ours - plain).abs().max().item() < 1e-6
    xl_path = tmp_path / "xlcat.safetensors"
    save_file({"clip_l": _token_vectors(sdxl.text_encoder, "red cat"),
               "clip_g": _token_vectors(sdxl.text_encoder_2, "red cat")}, str(xl_path))
    xl = PromptEncoder.from_pipeline(sdxl)
    xl.load_embedding(str(xl_path))
    a = xl.encode("a xlcat", "x")
    b = PromptEncoder.from_pipeline(sdxl).encode("a red cat", "x")
    assert (a["prompt_embeds"] - b["prompt_embeds"]).abs().max().item() < 1e-6
    assert (a["pooled_prompt_embeds"] - b["pooled_prompt_embeds"]).abs().max().item() < 1e-6
    with pytest.raises(ValueError, match="clip_l"):
        xl.load_embedding(str(path))


def test_embedding_that_does_not_fit_starts_a_new_chunk():
    from promptkit.tokens.chunks import embedding_index

    plan = plan_chunks(parse("a " * 73 + "mybig"), embeddings=embedding_index({"mybig": 4}))
    assert [len(c.tokens) for c in plan.chunks] == [73, 4]
    assert plan.chunks[1].fixes == [(0, "mybig")]


def test_a_batch_larger_than_the_cache_still_encodes(sd1):
    small = PromptEncoder.from_pipeline(sd1, cache_size=2)
    big = PromptEncoder.from_pipeline(sd1)
    prompt = "a cat BREAK a dog BREAK a bird"
    assert torch.equal(small.encode(prompt, "lowres")["prompt_embeds"], big.encode(prompt, "lowres")["prompt_embeds"])
    assert len(small._cache) <= 2


def test_a1111_weighting_refuses_where_a1111_would_divide_by_zero(te):
    """A chunk whose outputs average 0 makes A1111's rescale 0/0 (NaN): promptkit says so instead of encoding."""
    import copy

    from promptkit.encode import UnsupportedPrompt

    zero = copy.deepcopy(te)
    with torch.no_grad():
        zero.final_layer_norm.weight.zero_()
        zero.final_layer_norm.bias.zero_()
    prompt = "a (red:1.4) cat"
    ids, w = _chunk_ids(prompt)
    with torch.no_grad():
        z = zero(ids).last_hidden_state
    assert torch.isnan(z * w[..., None] * (z.mean() / (z * w[..., None]).mean())).all()   # A1111's formula
    with pytest.raises(UnsupportedPrompt, match="mean is 0"):
        PromptEncoder(clip_tokenizer(), zero, weighting="a1111").encode(prompt)
    assert torch.equal(PromptEncoder(clip_tokenizer(), zero, weighting="a1111-no-norm").encode(prompt)["prompt_embeds"],
                       torch.zeros_like(z).reshape(1, -1, z.shape[-1]))
