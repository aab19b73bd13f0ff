"""Hostile and huge text, infotexts and PNGs: the right answer in linear time and bounded memory, never a
traceback (issue #16). Times are in ``bench/bench_scaling.py``; here only outcomes and memory bounds."""

from __future__ import annotations

import json
import random
import struct
import tracemalloc
import zlib

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import promptkit
from promptkit.cli.main import cli
from promptkit.infotext import (_PARAM, comfy_prompts, looks_like_infotext, param_pairs, parse_infotext,
                                png_text_chunks, read_png_prompts)
from promptkit.tokens.chunks import plan_chunks, surely_one_chunk
from promptkit.tokens.clip import clip_bpe, read_merges, vocabulary


# -- CLIP BPE -------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def reference_tokenizer():
    """Hugging Face's CLIP tokenizer (the Rust BPE) built from the same vocabulary: the oracle."""
    transformers = pytest.importorskip("transformers")
    return transformers.CLIPTokenizer(vocab=dict(vocabulary()), merges=[tuple(m) for m in read_merges()])


def test_long_words_tokenize_exactly_as_the_reference(reference_tokenizer):
    rng = random.Random(16)
    words = ["a" * 8000, "ab" * 4000, ",.!?" * 2000, "smile" * 1000, "İ" * 300, "日本" * 500]
    words += ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(n)) for n in (100, 1000, 8000)]
    bpe = clip_bpe()
    for word in words:
        assert bpe.encode(word) == reference_tokenizer(word, add_special_tokens=False)["input_ids"], word[:20]


def test_corpus_words_tokenize_exactly_as_the_reference(reference_tokenizer, texts):
    bpe = clip_bpe()
    words = sorted({w for t in texts for w, _, _ in bpe.words(bpe.clean(t)) if w.isascii()})
    ours = [list(bpe._bpe_word_uncached(w)) for w in words]
    assert ours == [reference_tokenizer(w, add_special_tokens=False)["input_ids"] for w in words]


def test_dotted_capital_i_over_75_bytes_plans_chunks():
    """"İ".lower() is two characters: offsets must follow the longer text (was IndexError)."""
    text = "İstanbul, " * 20 + "smile"
    prompt = promptkit.parse(text)
    plan = plan_chunks(prompt)
    assert plan.token_count > 75
    smile = prompt.tags[-1]
    assert plan.tag_chunks(smile) == [len(plan.chunks) - 1]
    assert all(0 <= t.start < t.end <= len(text) for c in plan.chunks for t in c.tokens)


def test_lone_surrogates_tokenize():
    """Undecodable stdin bytes arrive as surrogateescape code points; the tokenizer takes their byte."""
    bpe = clip_bpe()
    assert bpe.encode("caf\udce9") == bpe.encode("caf") + [bpe.encoder[bpe.byte_encoder[0xE9] + "</w>"]]
    ids = bpe.encode("smile, caf\udce9, \ud800")
    assert ids[:2] == bpe.encode("smile,") and len(ids) > 4
    plan = plan_chunks(promptkit.parse("smile, caf\udce9, " * 30))
    assert plan.token_count > 75
    assert not surely_one_chunk("caf\udce9 " * 100)


def test_tag_chunks_agree_with_the_definition(texts):
    for text in texts[:60]:
        prompt = promptkit.parse(text * 3)
        plan = plan_chunks(prompt)
        for tag in prompt.tags:
            expected = [i for i, c in enumerate(plan.chunks)
                        if any(t.start < tag.end and t.end > tag.start for t in c.tokens)]
            assert plan.tag_chunks(tag) == expected


# -- infotext -------------------------------------------------------------------------------------------------
_LINE = st.lists(st.sampled_from(list("ab1_ \t-/:,\"\\é٣") + ["Steps: 20", ", ", "Size: 1x1"]),
                 max_size=40).map("".join)


@settings(max_examples=400, deadline=None)
@given(_LINE)
def test_param_pairs_finds_what_a1111s_regex_finds(line):
    assert param_pairs(line) == _PARAM.findall(line)


def test_param_pairs_on_real_infotexts(corpus):
    raws = [r["raw"] for r in corpus if r.get("raw")]
    for raw in raws:
        last = raw.strip().rsplit("\n", 1)[-1]
        assert param_pairs(last) == _PARAM.findall(last)


def test_a_long_two_line_caption_is_not_an_infotext():
    caption = "1girl, " + "long hair smile " * 6000 + "\nSteps: 20 " + "a b " * 25000  # 100 KB, no colons
    assert not looks_like_infotext(caption)
    info = parse_infotext("masterpiece, 1girl\nNegative prompt: lowres\nSteps: 28, Sampler: Euler a, CFG scale: 7")
    assert info.params == {"Steps": "28", "Sampler": "Euler a", "CFG scale": "7"} and info.negative_prompt == "lowres"


# -- PNG ------------------------------------------------------------------------------------------------------
def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_with(*chunks: bytes) -> bytes:
    header = _chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + header + _chunk(b"IDAT", zlib.compress(b"\0\0")) + b"".join(chunks) + \
        _chunk(b"IEND", b"")


def graph(nodes) -> bytes:
    return _chunk(b"tEXt", b"prompt\0" + json.dumps(nodes).encode())


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """1 GiB of zeros compressed to 4.7 MB."""
    packer = zlib.compressobj(1)
    block = bytes(1 << 24)
    return b"".join(packer.compress(block) for _ in range(64)) + packer.flush()


MALFORMED = {
    "bad zlib": _chunk(b"zTXt", b"parameters\0\0this is no zlib stream"),
    "empty iTXt": _chunk(b"iTXt", b"parameters\0"),
    "iTXt not UTF-8": _chunk(b"iTXt", b"parameters\0\0\0\0\0caf\xe9"),
    "graph is a list": graph([1, 2, 3]),
    "graph is not JSON": _chunk(b"tEXt", b"prompt\0{not json"),
    "graph nested 10^5 deep": _chunk(b"tEXt", b'prompt\0{"1": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
    "truncated chunk": struct.pack(">I", 1 << 30) + b"tEXt" + b"parameters\0abc",
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_pngs_are_one_line_and_exit_2(tmp_path, case):
    path = tmp_path / "image.png"
    data = png_with(MALFORMED[case])
    path.write_bytes(data if case != "truncated chunk" else data[:-12])
    for command in (["lint", str(path)], ["info", str(path)]):
        result = CliRunner().invoke(cli, command)
        assert result.exit_code == 2, (case, result.output)
        assert result.output.startswith(f"promptkit: error: {path}: ") and result.output.count("\n") == 1, result.output


def test_a_text_chunk_without_keyword_is_passed_over(tmp_path):
    path = tmp_path / "image.png"
    path.write_bytes(png_with(_chunk(b"tEXt", b"no separator at all"),
                              _chunk(b"tEXt", b"parameters\0" + b"1girl\nSteps: 2, Sampler: Euler, CFG scale: 7")))
    assert read_png_prompts(path) == [("prompt", "1girl", False)]


def test_graph_nodes_of_other_shapes_are_passed_over():
    nodes = {"1": {"class_type": "CLIPTextEncode", "inputs": [1, 2]}, "2": [1], "3": {"class_type": ["x"]},
             "4": {"class_type": "CLIPTextEncodeSDXL", "inputs": {"text_g": "1girl, smile", "text_l": 5}},
             "5": {"inputs": {"text": "not a text encoder"}}}
    assert comfy_prompts(json.dumps(nodes)) == [("4.text_g", "1girl, smile")]


def test_a_decompression_bomb_is_refused_within_bounded_memory(tmp_path, bomb):
    path = tmp_path / "bomb.png"
    # under the graph key: 'parameters' (a prompt, 4 MiB) would refuse the 4.7 MB chunk before inflating it
    path.write_bytes(png_with(_chunk(b"zTXt", b"prompt\0\0" + bomb)))
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="decompresses to more than"):
            read_png_prompts(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024 * 1024  # the bomb is 1 GiB; we stop after the chunk limit (16 MiB)
    assert CliRunner().invoke(cli, ["lint", str(path)]).exit_code == 2


def test_total_text_is_bounded(tmp_path, monkeypatch):
    import promptkit.infotext as infotext

    monkeypatch.setattr(infotext, "MAX_TEXT_MEMORY", 1000)
    path = tmp_path / "big.png"
    path.write_bytes(png_with(_chunk(b"tEXt", b"workflow\0" + b"x" * 600), _chunk(b"tEXt", b"prompt\0" + b"y" * 600)))
    with pytest.raises(ValueError, match="text chunks"):
        png_text_chunks(path)
    assert png_text_chunks(path, keys={"workflow"}) == {"workflow": "x" * 600}  # others are skipped unread


def test_image_data_is_not_read_into_memory(tmp_path):
    path = tmp_path / "large.png"
    idat = _chunk(b"IDAT", bytes(32 * 1024 * 1024))
    infotext = "1girl, smile\nNegative prompt: lowres\nSteps: 20, Sampler: Euler a, CFG scale: 7"
    path.write_bytes(png_with(idat, _chunk(b"tEXt", b"parameters\0" + infotext.encode("latin-1"))))
    tracemalloc.start()
    try:
        prompts = read_png_prompts(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert prompts == [("prompt", "1girl, smile", False), ("negative", "lowres", True)]
    assert peak < 1024 * 1024
