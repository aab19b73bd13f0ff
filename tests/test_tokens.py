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


def test_runs_cut_after_commas_tokenize_as_the_whole_text(texts):
    """plan_chunks looks tokens up per ', '-separated run: the runs' tokens and word spans must be those of CLIP's
    word split of the whole text (no word crosses whitespace)."""
    bpe = clip_bpe()
    for text in texts:
        lowered = text.lower()
        whole = [(i, s, e) for word, s, e in bpe.words(lowered) for i in bpe.encode_word(word)]
        cut, base = [], 0
        parts = lowered.split(", ")
        for k, part in enumerate(parts):
            ids, starts, ends = bpe.encode_run(part + "," if k < len(parts) - 1 else part)
            cut += [(i, base + s, base + e) for i, s, e in zip(ids, starts, ends)]
            base += len(part) + 2
        assert cut == whole, text


def test_plain_caption_plans_as_its_tree(texts):
    """A plain caption is planned as one fragment without its tree: the same chunks as planning its tree."""
    from promptkit.syntax.prompt import Prompt, plain_caption_nodes

    def columns(plan):
        return plan.token_count, [(c.token_ids.tolist(), c.token_weights.tolist(), c.starts.tolist(),
                                   c.ends.tolist(), c.forced) for c in plan.chunks]

    plain = 0
    for text in texts:
        for dialect in ("a1111", "comfy"):
            prompt = parse(text, dialect)
            if not prompt.plain_caption:
                continue
            plain += 1
            tree = Prompt(text, dialect, plain_caption_nodes(text))
            assert not tree.plain_caption
            assert columns(plan_chunks(prompt)) == columns(plan_chunks(tree)), text
    assert plain > 100  # the corpus has plain captions to compare


def test_token_total_says_when_no_chunk_fills(texts):
    """token_total counts every token the plan holds (BREAKs aside), and a prompt of at most 75 has no boundary
    but a BREAK's (what PK306 skips the plan on); the plan made from the counted fragments is the plan."""
    from promptkit.tokens.chunks import CHUNK_LENGTH, token_total, tokenize_fragments

    def columns(plan):
        return plan.token_count, [(c.token_ids.tolist(), c.starts.tolist(), c.ends.tolist(), c.forced)
                                  for c in plan.chunks]

    short = long = 0
    for text in texts:
        prompt = parse(text, "a1111")
        fragments = tokenize_fragments(prompt)
        total = token_total(fragments)
        plan = plan_chunks(prompt)
        assert total == sum(len(c.token_ids) for c in plan.chunks), text
        if total <= CHUNK_LENGTH:
            short += 1
            assert all(c.forced for c in plan.chunks[:-1]), text
        else:
            long += 1
        assert columns(plan_chunks(prompt, fragments=fragments)) == columns(plan), text
    assert short > 100 and long > 100
