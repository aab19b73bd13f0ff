"""The shipped CLIP tokenizer and A1111's chunking rules."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

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


def test_the_plan_holds_every_token_and_a_short_prompt_cuts_only_at_breaks(texts):
    """The plan holds every token of the prompt's fragments (BREAKs aside), and a prompt of at most 75 has no
    boundary but a BREAK's."""
    from promptkit.tokens.chunks import CHUNK_LENGTH, tokenize_fragments

    short = long = 0
    for text in texts:
        prompt = parse(text, "a1111")
        total = sum(len(fragment[0]) for fragment in tokenize_fragments(prompt) if fragment is not None)
        plan = plan_chunks(prompt)
        assert total == sum(len(c.token_ids) for c in plan.chunks), text
        if total <= CHUNK_LENGTH:
            short += 1
            assert all(c.forced for c in plan.chunks[:-1]), text
        else:
            long += 1
    assert short > 100 and long > 100


# -- cuts_only_at_separators: PK306's cheap proof that no tag is cut ------------------------------------------------

def _corpus_texts() -> list[str]:
    import json
    from pathlib import Path

    corpus = Path(__file__).resolve().parents[2] / "shared" / "corpus"
    texts = []
    for name in ("real_prompts.jsonl", "modern_prompts.jsonl"):
        for line in (corpus / name).read_text(encoding="utf-8").splitlines():
            record = json.loads(line) if line.strip() else {}
            texts += [record[key] for key in ("prompt", "negative_prompt") if record.get(key)]
    return texts


def _boundaries_between_tags(prompt, plan) -> bool:
    """Every boundary of ``plan`` that BREAK does not force lies right after or right before a comma token that is a
    word of its own, a ',' of the source inside no tag; and no tag has tokens in two chunks."""
    comma = clip_bpe().comma
    inside = {i for tag in prompt.tags for i in range(tag.start, tag.end)}
    for before, after in zip(plan.chunks, plan.chunks[1:]):
        if before.forced or not before.token_ids or not after.token_ids:
            continue
        if before.token_ids[-1] == comma:
            start, end = before.starts[-1], before.ends[-1]
        elif after.token_ids[0] == comma:
            start, end = after.starts[0], after.ends[0]
        else:
            return False
        if prompt.source[start:end] != "," or start in inside:
            return False
    return not [tag for tag in prompt.tags if len(plan.tag_chunks(tag)) > 1]


def test_cuts_only_at_separators_on_the_corpora():
    """Where the check says no tag can be cut, the plan agrees, on every prompt of both corpora in every dialect,
    with A1111's backtrack and without; and the check says so for most long prompts, not for all."""
    from promptkit.tokens.chunks import cuts_only_at_separators

    proved = unproved = 0
    for text in _corpus_texts():
        if surely_one_chunk(text):
            continue
        for dialect in ("a1111", "comfy", "novelai", "compel"):
            prompt = parse(text, dialect)
            for backtrack in (20, 0):
                if cuts_only_at_separators(prompt, backtrack):
                    proved += 1
                    assert _boundaries_between_tags(prompt, plan_chunks(prompt, backtrack)), (dialect, backtrack, text)
                else:
                    unproved += 1
    assert proved > 1000 and unproved > 100, (proved, unproved)


_WORDS = ["girl", "long", "hair", "blue_eyes", "hatsune_miku", "kazusa_(blue_archive)", "1girl", "absurdres",
          "thighhighs", "a", "school uniform"]
_ODD_WORDS = ["!!", "...", "'s", "10,000", "x,y", "İstanbul", "(wink)", "\\(x\\)"]


_FORMS = ["{}", "({})", "({}:1.3)", "[{}]", "\\({}\\)", "{}\\, x", "<lora:{}:0.8>", "BREAK", "(BREAK)", "embedding:{}",
          "({}), ", "{},,", "{}_(x)", "{}_(x_(y))", ":d", "[{}:x:0.5]", "[{}|x]", "({}:1.2.3)", "({}", "{})", "{}:"]
_SEPARATORS = [", ", ",", ",, ", " , ", ",\n", "\n", " "]


@st.composite
def _tag_lists(draw):
    """Tag lists with what moves a boundary: long tags (past the backtrack), weights, escapes, BREAK, odd commas.
    Each list draws the few forms and separators it uses, so that some are ordinary tag lists throughout."""
    forms = ["{}"] * 4 + draw(st.lists(st.sampled_from(_FORMS), max_size=3))
    separators = [", "] * 4 + draw(st.lists(st.sampled_from(_SEPARATORS), max_size=2))
    words = _WORDS + draw(st.lists(st.sampled_from(_ODD_WORDS), max_size=2))
    longest = draw(st.sampled_from([2, 2, 4, 30]))
    tags = draw(st.lists(st.tuples(st.lists(st.sampled_from(words), min_size=1, max_size=longest),
                                   st.sampled_from(forms), st.sampled_from(separators)), min_size=20, max_size=60))
    return "".join(form.format(" ".join(words)) + separator for words, form, separator in tags)


@given(_tag_lists(), st.sampled_from(["a1111", "comfy", "compel", "novelai"]), st.sampled_from([20, 0, 3]))
@settings(max_examples=150)
def test_cuts_only_at_separators_on_drawn_tag_lists(text, dialect, backtrack):
    from promptkit.tokens.chunks import cuts_only_at_separators

    prompt = parse(text, dialect)
    if cuts_only_at_separators(prompt, backtrack):
        assert _boundaries_between_tags(prompt, plan_chunks(prompt, backtrack))


def test_cuts_only_at_separators_trusts_only_separator_commas():
    """A comma that is not a separator node may lie inside a tag: a tree whose one text holds the whole tag list
    (one tag, commas and all) is cut in two, and the check must not say otherwise."""
    from promptkit.syntax.ast import Text
    from promptkit.syntax.prompt import Prompt
    from promptkit.tokens.chunks import cuts_only_at_separators

    text = ", ".join(["long hair"] * 40)
    separated = parse(text, "comfy")
    assert cuts_only_at_separators(separated) and _boundaries_between_tags(separated, plan_chunks(separated))
    whole = Prompt(text, "comfy", [Text(0, len(text), text, text)])
    assert len(whole.tags) == 1 and len(plan_chunks(whole).tag_chunks(whole.tags[0])) == 2
    assert not cuts_only_at_separators(whole)


def test_cuts_only_at_separators_at_the_backtrack_limit():
    """A tag of exactly ``backtrack`` tokens (digits: a token each) is never cut, wherever the boundary falls in
    it, and the check proves it; a tag of one token more is cut somewhere, and the check does not say otherwise.
    Past 74 tokens no comma is left in the chunk to move back to, whatever the backtrack."""
    from promptkit.tokens.chunks import cuts_only_at_separators

    for backtrack in (3, 20, 80):
        fits = min(backtrack, 74)
        for length in (fits - 1, fits, fits + 1):
            verdicts = set()
            for before in range(80):  # "a," is two tokens, "a a," three: the boundary moves through the long tag
                prompt = parse("a a, " * (before % 2) + "a, " * (before // 2) + "1" * length + ", b" * 40)
                plan = plan_chunks(prompt, backtrack)
                uncut = _boundaries_between_tags(prompt, plan)
                proved = cuts_only_at_separators(prompt, backtrack)
                assert uncut or not proved, (backtrack, length, before)
                verdicts.add((proved, uncut))
            if length <= fits:
                assert verdicts == {(True, True)}, (backtrack, length, verdicts)
            else:
                assert (False, False) in verdicts, (backtrack, length, verdicts)


def test_cuts_only_at_separators_reads_a_comma_among_symbols_as_none():
    """",." and ".," are CLIP words of their own, whose tokens are no comma: the two short tags around one are a
    single stretch of 25 tokens for A1111's backtrack of 20, cut where a boundary falls in it."""
    from promptkit.tokens.chunks import cuts_only_at_separators

    for joint in (",.", ".,", ",,"):
        assert parse(joint).plain_caption
        _assert_one_stretch("1" * 12 + joint + "1" * 12)


def test_cuts_only_at_separators_reads_what_hides_or_joins_a_comma():
    """In an A1111 prompt, text around a comma that the prompt's brackets and colons do not show as such: a closer
    with nothing open or an escaped one is text (``),`` one word), a weight float() rejects is text and leaves its
    group open, a colon beside a comma is in its word, a lora's comma is no token (and a tag of 21 tokens in two
    fragments is no shorter). Each is a stretch of more than 20 tokens, cut where a boundary falls in it."""
    for joined in ("1" * 10 + "(" + "1" * 11 + ")", "1" * 12 + ")," + "1" * 12, "(" + "1" * 12 + ":1.2.3)," + "1" * 12, "\\(" + "1" * 12 + ")," + "1" * 12,
                   "(x) " + "1" * 12 + ":," + "1" * 12, "1" * 12 + "<lora:x,y:1>" + "1" * 12):
        assert not parse(joined).plain_caption
        _assert_one_stretch(joined)


def test_cuts_only_at_separators_counts_the_brackets_a_dialect_reads_as_text():
    """ComfyUI reads square brackets as text, NovelAI round ones: in a plain caption of theirs each is a token
    (a word of its own between digits), so a tag of 12 digits and 11 brackets is 23 tokens, and cut."""
    for joined, dialect in (("1[" * 11 + "1", "comfy"), ("1(" * 11 + "1", "novelai")):
        assert parse(joined, dialect).plain_caption
        _assert_one_stretch(joined, dialect)


def _assert_one_stretch(joined: str, dialect: str = "a1111") -> None:
    from promptkit.tokens.chunks import cuts_only_at_separators

    verdicts = set()
    for before in range(80):
        prompt = parse("a a, " * (before % 2) + "a, " * (before // 2) + joined + ", b" * 40, dialect)
        uncut = _boundaries_between_tags(prompt, plan_chunks(prompt))
        proved = cuts_only_at_separators(prompt)
        assert uncut or not proved, (joined, before)
        verdicts.add((proved, uncut))
    assert (False, False) in verdicts, joined


def test_cuts_only_at_separators_counts_a_series_tag_by_its_fragments():
    """``name_(series)`` is two fragments (the series at 1.1): a long one of 13 tokens in 34 characters is proved
    uncut from the text alone (its tokens counted per fragment), wherever the boundary falls."""
    from promptkit.tokens.chunks import _short_between_commas

    for before in range(80):
        prompt = parse("a a, " * (before % 2) + "a, " * (before // 2) + "girl_" * 4 + "(" + "girl_" * 2 + "girl)" +
                       ", b" * 40)
        assert _short_between_commas(prompt, 20) and _boundaries_between_tags(prompt, plan_chunks(prompt)), before
