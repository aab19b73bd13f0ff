"""The shipped CLIP tokenizer and A1111's chunking rules."""

from __future__ import annotations

from promptkit import parse
from promptkit.tokens.chunks import plan_chunks, surely_one_chunk
from promptkit.tokens.clip import BOS, EOS, VOCAB_SIZE, clip_bpe


def test_known_ids():
    bpe = clip_bpe()
    assert len(bpe.encoder) == VOCAB_SIZE == 49408
    assert [BOS] + bpe.encode("a photo of a cat") + [EOS] == [49406, 320, 1125, 539, 320, 2368, 49407]
    assert bpe.encode("A  Photo") == bpe.encode("a photo")  # cleaned and lower-cased
    assert bpe.comma == 267 and bpe.encode(",") == [267]
    assert bpe.decode(bpe.encode("kazusa (blue archive)")) == "kazusa ( blue archive )"  # as CLIPTokenizer.decode


def test_chunks_break_and_padding():
    plan = plan_chunks(parse("a cat BREAK a dog"))
    assert [len(c.tokens) for c in plan.chunks] == [2, 2]
    assert plan.chunks[0].forced and plan.token_count == 75 + 2
    assert plan.chunks[0].ids[:4] == [49406, 320, 2368, 49407] and len(plan.chunks[0].ids) == 77
    empty = plan_chunks(parse(""))
    assert len(empty.chunks) == 1 and empty.chunks[0].ids == [49406] + [49407] * 76


def test_comma_backtrack_moves_the_last_tag_whole():
    # "solo," is 2 tokens, each "long hair," 3: the chunk fills after "long" and that tag moves on whole
    text = "solo, " + ", ".join(["long hair"] * 30)
    plan = plan_chunks(parse(text), backtrack=20)
    first = plan.chunks[0]
    assert clip_bpe().decoder[first.tokens[-1].id] == ",</w>"
    assert len(first.tokens) < 75
    assert not [t for t in parse(text).tags if len(plan.tag_chunks(t)) > 1]
    no_backtrack = plan_chunks(parse(text), backtrack=0)
    assert len(no_backtrack.chunks[0].tokens) == 75
    assert [t for t in parse(text).tags if len(no_backtrack.tag_chunks(t)) > 1]


def test_weights_follow_tokens():
    plan = plan_chunks(parse("(red:1.5) cat"))
    assert [(clip_bpe().decoder[t.id], t.weight) for t in plan.chunks[0].tokens] == [("red</w>", 1.5), ("cat</w>", 1.0)]


def test_surely_one_chunk_is_a_safe_bound(texts):
    for text in texts:
        if surely_one_chunk(text):
            assert len(plan_chunks(parse(text)).chunks) == 1
