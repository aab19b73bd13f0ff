"""Chunk planning: how A1111 (and Forge) cut a prompt into 75-token CLIP chunks, and where each tag lands.

Rules (shared/reference/embedding-weighting.md 1.2): fragments of equal weight are tokenized as wholes;
a chunk holds 75 tokens and is wrapped as BOS + 75 + EOS; ``BREAK`` pads the current chunk and starts the
next; when a chunk is full and the last comma is within ``backtrack`` tokens (20 by default), the tokens
after that comma move to the next chunk so a tag is not cut in two. No torch is imported here: the linter
uses this to count tokens and to find tags cut across a boundary or past what an encoder can see.
"""

from __future__ import annotations

import bisect
import itertools
import re
from array import array
from dataclasses import dataclass, field
from typing import Iterator

from ..syntax.ast import Break, Embedding, ExtraNetwork, Separator, Text
from ..syntax.prompt import Prompt, Tag
from .clip import BOS, EOS, ClipBPE, clip_bpe

CHUNK_LENGTH = 75


@dataclass(slots=True)  # one per token of a prompt: hundreds of thousands for a big caption
class Token:
    id: int
    weight: float
    start: int  # source span of the word this token came from
    end: int


class Chunk:
    """One 75-token chunk. Its tokens are kept as columns (ids, weights, source spans: 32 bytes a token
    instead of a :class:`Token` and its ints, ~130 bytes); :attr:`tokens` makes the objects when asked.

    The spans are worked out when first read (:attr:`starts`, :attr:`ends`, :meth:`start_of`): the linter plans
    the chunks of every caption to find the few tags cut at a boundary, and reads the spans of the tokens on
    either side of each boundary only; until then a chunk holds where its spans are (:class:`_Spans`)."""

    __slots__ = ("token_ids", "token_weights", "_starts", "_ends", "_pending", "forced", "fixes")

    def __init__(self) -> None:
        self.token_ids = array("i")  # CLIP ids (< 2**31)
        self.token_weights = array("d")
        self._starts = array("q")  # source span of the word each token came from, as far as worked out
        self._ends = array("q")
        self._pending: list[tuple[_Spans | _Same, int, int]] = []  # the spans of the tokens after those: (source, lo, hi)
        self.forced = False  # ended by BREAK
        # textual-inversion embeddings: (token position, name); their tokens are placeholder id 0, as in A1111
        self.fixes: list[tuple[int, str]] = []

    def __repr__(self) -> str:
        return f"Chunk({len(self.token_ids)} tokens, forced={self.forced})"

    @property
    def starts(self) -> array:
        """Where the source word of each token starts."""
        if self._pending:
            self._resolve()
        return self._starts

    @property
    def ends(self) -> array:
        """Where the source word of each token ends."""
        if self._pending:
            self._resolve()
        return self._ends

    def _resolve(self) -> None:
        for source, lo, hi in self._pending:
            starts, ends = source.spans(lo, hi)
            self._starts.extend(starts)
            self._ends.extend(ends)
        self._pending = []

    def start_of(self, i: int) -> int:
        """Where the source word of token ``i`` starts (``-1``: the last token), the other spans left as they are."""
        if i < 0:
            i += len(self.token_ids)
        if not 0 <= i < len(self.token_ids):
            raise IndexError(i)
        done = len(self._starts)
        if i < done:
            return self._starts[i]
        i -= done
        for source, lo, hi in self._pending:
            if i < hi - lo:
                return source.start_of(lo + i)
            i -= hi - lo
        raise AssertionError("a chunk's spans cover its tokens")  # pragma: no cover

    @property
    def tokens(self) -> list[Token]:
        """The tokens as objects (a new list each time: read it once where it is needed)."""
        return list(map(Token, self.token_ids, self.token_weights, self.starts, self.ends))

    def append(self, token_id: int, weight: float, start: int, end: int) -> None:
        self.token_ids.append(token_id)
        self.token_weights.append(weight)
        self._pending.append((_Same(start, end), 0, 1))

    def extend(self, ids: array, lo: int, hi: int, weight: float, spans: "_Spans") -> None:
        """Append tokens ``lo:hi`` of a fragment's ids, all of weight ``weight``, their spans in ``spans``."""
        self.token_ids.extend(ids[lo:hi])
        self.token_weights.extend(array("d", [weight]) * (hi - lo))
        self._pending.append((spans, lo, hi))

    def move_tail(self, keep: int, to: "Chunk") -> None:
        """Move the tokens after the first ``keep`` (and their embeddings) to the empty chunk ``to``."""
        for name in ("token_ids", "token_weights"):
            column = getattr(self, name)
            setattr(to, name, column[keep:])
            del column[keep:]
        done = len(self._starts)
        if keep < done:
            self._resolve()
            to._starts, to._ends = self._starts[keep:], self._ends[keep:]
            del self._starts[keep:], self._ends[keep:]
        else:  # the cut is among the spans not worked out yet: the sources are cut instead
            head: list = []
            tail: list = []
            left = keep - done
            for source, lo, hi in self._pending:
                if left >= hi - lo:
                    head.append((source, lo, hi))
                    left -= hi - lo
                elif left > 0:
                    head.append((source, lo, lo + left))
                    tail.append((source, lo + left, hi))
                    left = 0
                else:
                    tail.append((source, lo, hi))
            self._pending, to._pending = head, tail
        to.fixes = [(p - keep, n) for p, n in self.fixes if p >= keep]
        self.fixes = [(p, n) for p, n in self.fixes if p < keep]

    @property
    def ids(self) -> list[int]:
        """The 77 ids the encoder sees: BOS, tokens, EOS padding."""
        ids = self.token_ids.tolist()
        return [BOS] + ids + [EOS] * (CHUNK_LENGTH - len(ids)) + [EOS]

    @property
    def weights(self) -> list[float]:
        ws = self.token_weights.tolist()
        return [1.0] + ws + [1.0] * (CHUNK_LENGTH - len(ws)) + [1.0]


@dataclass
class ChunkPlan:
    chunks: list[Chunk]
    token_count: int  # as A1111's counter shows it: 75 per full chunk plus the last one's length
    _index: tuple | None = field(default=None, init=False, repr=False, compare=False)

    def chunk_of_offset(self, offset: int) -> list[int]:
        return self._chunks_overlapping(offset, offset + 1)

    def tag_chunks(self, tag: Tag) -> list[int]:
        """Indices of the chunks holding tokens of ``tag`` (two or more: the tag is cut)."""
        return self._chunks_overlapping(tag.start, tag.end)

    def _chunks_overlapping(self, start: int, end: int) -> list[int]:
        """Chunks with a token whose span meets [start, end): a binary search, so asking for every tag of a
        long prompt stays linear overall."""
        if self._index is None:
            self._index = self._build_index()
        starts, reach, ends, chunk_of, monotone = self._index
        hi = bisect.bisect_left(starts, end)  # tokens before hi start before `end`
        lo = bisect.bisect_right(reach, start)  # tokens from lo on may end after `start`
        if lo >= hi:
            return []
        if monotone:  # every token in [lo, hi) meets the span, and chunk numbers only grow
            return list(range(chunk_of[lo], chunk_of[hi - 1] + 1))
        found: list[int] = []
        for i in range(lo, hi):
            if ends[i] > start and (not found or found[-1] != chunk_of[i]):
                found.append(chunk_of[i])
        return sorted(set(found))

    def _build_index(self) -> tuple:
        starts: list[int] = []
        ends: list[int] = []
        chunk_of: list[int] = []
        for i, chunk in enumerate(self.chunks):
            starts.extend(chunk.starts)
            ends.extend(chunk.ends)
            chunk_of.extend([i] * len(chunk.starts))
        reach = list(itertools.accumulate(ends, max)) if ends else []
        monotone = all(a <= b for a, b in zip(starts, starts[1:])) and all(a <= b for a, b in zip(ends, ends[1:]))
        if not monotone:  # not seen from plan_chunks; keep the answers right regardless
            order = sorted(range(len(starts)), key=starts.__getitem__)
            starts = [starts[i] for i in order]
            ends = [ends[i] for i in order]
            chunk_of = [chunk_of[i] for i in order]
            reach = list(itertools.accumulate(ends, max)) if ends else []
        return starts, reach, ends, chunk_of, monotone


class _Spans:
    """The source spans of one fragment's tokens, worked out when first asked. The fragment is tokenized a run
    at a time (a tag and its comma, cached per spelling: :meth:`ClipBPE.encode_run`); each run's spans are
    relative to the run, so a token's span is its run's plus the run's place, mapped through the fragment's
    offsets. One token's span costs a binary search; the columns are built once, when a chunk's are read."""

    __slots__ = ("offsets", "firsts", "runs", "_columns")

    def __init__(self, offsets: array | range | list[int], firsts: list[int], runs: list[tuple]) -> None:
        self.offsets = offsets  # source offset of each character of the fragment
        self.firsts = firsts  # index of each run's first token
        self.runs = runs  # (where the run starts in the fragment, its tokens' starts, their ends)
        self._columns: tuple[array, array] | None = None

    def start_of(self, i: int) -> int:
        k = bisect.bisect_right(self.firsts, i) - 1  # an empty run shares its first with the next: the last wins
        base, starts, _ = self.runs[k]
        return self.offsets[base + starts[i - self.firsts[k]]]

    def end_of(self, i: int) -> int:
        k = bisect.bisect_right(self.firsts, i) - 1
        base, _, ends = self.runs[k]
        return self.offsets[base + ends[i - self.firsts[k]] - 1] + 1

    def spans(self, lo: int, hi: int) -> tuple[array, array]:
        if self._columns is None:
            self._columns = self._build()
        starts, ends = self._columns
        return starts[lo:hi], ends[lo:hi]

    def _build(self) -> tuple[array, array]:
        offsets = self.offsets
        starts, ends = array("q"), array("q")
        # a fragment that is one run of the source maps a run's offsets by adding a number (at C speed)
        shift = offsets.start if type(offsets) is range else None
        for base, run_starts, run_ends in self.runs:
            if shift is not None:
                add = (shift + base).__add__
                starts.extend(map(add, run_starts))
                ends.extend(map(add, run_ends))
            else:
                starts.extend([offsets[base + s] for s in run_starts])
                ends.extend([offsets[base + e - 1] + 1 for e in run_ends])
        return starts, ends


class _Same:
    """The span of an embedding's placeholder tokens: all of them the name's."""

    __slots__ = ("start", "end")

    def __init__(self, start: int, end: int) -> None:
        self.start, self.end = start, end

    def start_of(self, i: int) -> int:
        return self.start

    def spans(self, lo: int, hi: int) -> tuple[array, array]:
        return array("q", [self.start]) * (hi - lo), array("q", [self.end]) * (hi - lo)


# what each leaf of a fragment is (:func:`_fragment_leaves`): plain text (its characters side by side in the
# source), a separator, any other text
_PLAIN, _SEPARATOR, _OTHER = range(3)


def _fragment_leaves(prompt: Prompt) -> Iterator[tuple[list[str], float, list[int], list[int], bool] | None]:
    """A1111's fragments (leaves of equal weight, side by side) as their leaves' texts, the weight, each leaf's
    source offset of its first character and kind, and whether a comma in them may be something else than a
    separator; None marks a BREAK. The one walk behind :func:`_fragments` (which maps every character to the
    source) and :func:`cuts_only_at_separators` (which needs the texts only); a plain caption has no leaves."""
    dialect = prompt.dialect
    values: list[str] = []
    bases: list[int] = []
    kinds: list[int] = []
    foreign = False
    current = 0.0
    for node, weight in prompt.leaf_weights():
        if type(node) is Text:
            if node.kind == Text.PLAIN:
                value, base, kind = node.value, node.start, _PLAIN
            elif node.kind == Text.BACKSLASH and dialect == "a1111":
                continue
            else:
                value, base, kind = node.value, node.start + (1 if node.kind == Text.ESCAPE else 0), _OTHER
        elif type(node) is Separator:
            value, base, kind = node.raw, node.start, _SEPARATOR
        elif type(node) is Break:
            if weight != 0:
                if values:
                    yield values, current, bases, kinds, foreign
                    values, bases, kinds, foreign = [], [], [], False
                # outside brackets a BREAK ends the chunk; inside them A1111 scaled its -1 and encodes the word
                # "BREAK", the empty fragments around it (at minus its weight) keep it a fragment of its own
                yield None if weight == -1.0 else (["BREAK"], weight, [node.start], [_OTHER], False)
                continue
            value, base, kind = "BREAK", node.start, _OTHER
        elif type(node) is ExtraNetwork:
            continue  # A1111 takes <lora:...> out of the prompt before encoding: no text, no tokens
        elif type(node) is Embedding:
            value, base, kind = node.name, node.start, _OTHER  # ComfyUI's embedding:name is the embedding, by name
        else:
            value, base, kind = getattr(node, "raw", ""), node.start, _OTHER
        if not value:
            continue
        if weight != current and values:
            yield values, current, bases, kinds, foreign
            values, bases, kinds, foreign = [], [], [], False
        current = weight
        if kind != _SEPARATOR and "," in value:
            foreign = True
        values.append(value)
        bases.append(base)
        kinds.append(kind)
    if values:
        yield values, current, bases, kinds, foreign


def _fragments(prompt: Prompt) -> list[tuple[str, float, array | range] | None]:
    """Merged (text, weight, source offset per character) fragments; None marks a BREAK.

    A fragment whose characters sit side by side in the source (most: a run of tags between two weighted groups)
    gets a ``range`` of offsets, not an array of them, so that its tokens' spans are its own plus one number."""
    if prompt.plain_caption:  # no syntax, so no weights: the whole text at weight 1, character i at offset i
        return [(prompt.source, 1.0, range(len(prompt.source)))] if prompt.source else []
    out: list[tuple[str, float, array | range] | None] = []
    for fragment in _fragment_leaves(prompt):
        if fragment is None:
            out.append(None)
            continue
        values, weight, bases, kinds, _ = fragment
        offsets = array("q")  # 8 bytes per character, not a list of int objects (a caption can be megabytes)
        first = after = -1  # while the fragment's characters are side by side: its first offset and the next one
        for value, base, kind in zip(values, bases, kinds):
            if (kind == _PLAIN or len(value) == 1) and (first == after == -1 and not offsets or
                                                         first != -1 and base == after):
                if first == -1:
                    first = base
                after = base + len(value)  # still one run of the source: no array yet
            else:
                if first != -1:  # the run ends here: its offsets so far become the array
                    offsets.extend(range(first, after))
                    first = after = -1
                if kind == _PLAIN:
                    offsets.extend(range(base, base + len(value)))
                else:
                    offsets.extend([base] * len(value))
        out.append(("".join(values), weight, range(first, after) if first != -1 else offsets))
    return out


EmbeddingIndex = dict  # first token id -> [(token ids of the name, name, vector count)], longest first


def embedding_index(names: dict[str, int], tokenizer: ClipBPE | None = None) -> EmbeddingIndex:
    """Index textual-inversion names (name -> vector count) by their token ids, as A1111 matches them."""
    bpe = tokenizer or clip_bpe()
    index: dict[int, list[tuple[tuple[int, ...], str, int]]] = {}
    for name, count in names.items():
        ids = tuple(bpe.encode(name))
        if ids:
            index.setdefault(ids[0], []).append((ids, name, count))
    for entries in index.values():
        entries.sort(key=lambda e: -len(e[0]))
    return index


def tokenize_fragments(prompt: Prompt, tokenizer: ClipBPE | None = None) -> list[tuple[array, float, _Spans] | None]:
    """Each fragment's (token ids, weight, their source spans), in order; None marks a BREAK. The first half of
    :func:`plan_chunks`: the tokens it fills the chunks with."""
    bpe = tokenizer or clip_bpe()
    out: list[tuple[array, float, _Spans] | None] = []
    encode_run = bpe.encode_run
    for fragment in _fragments(prompt):
        if fragment is None:
            out.append(None)
            continue
        text, weight, offsets = fragment
        lowered = text.lower()
        if len(lowered) != len(text):  # "İ" lower-cases to two characters: offsets follow the longer text
            lowered, offsets = _lower_with_offsets(text, offsets)
        # the fragment's token ids (a plain caption is one fragment: megabytes of text), one cached look-up
        # per tag: the text is cut after each comma that a space follows (no CLIP word crosses whitespace);
        # each token spans the source of the word it came from, worked out when asked (_Spans)
        ids = array("i")
        firsts: list[int] = []
        runs: list[tuple] = []
        parts = lowered.split(", ")
        last, base = len(parts) - 1, 0
        for k, part in enumerate(parts):
            run_ids, run_starts, run_ends = encode_run(part + "," if k < last else part)
            firsts.append(len(ids))
            runs.append((base, run_starts, run_ends))
            ids.extend(run_ids)
            base += len(part) + 2
        out.append((ids, weight, _Spans(offsets, firsts, runs)))
        del lowered, offsets
    return out


def plan_chunks(prompt: Prompt, backtrack: int = 20, tokenizer: ClipBPE | None = None,
                embeddings: EmbeddingIndex | None = None) -> ChunkPlan:
    """Cut ``prompt`` into chunks exactly as A1111's ``tokenize_line`` does.

    ``embeddings`` (see :func:`embedding_index`) marks textual-inversion names: each becomes its vector count
    of placeholder tokens, moved whole to the next chunk when it does not fit.
    """
    bpe = tokenizer or clip_bpe()
    chunks: list[Chunk] = []
    chunk = Chunk()
    last_comma = -1
    token_count = 0

    def next_chunk(is_last: bool = False, forced: bool = False) -> None:
        nonlocal chunk, last_comma, token_count
        token_count += len(chunk.token_ids) if is_last else CHUNK_LENGTH
        chunk.forced = forced
        chunks.append(chunk)
        chunk = Chunk()
        last_comma = -1

    comma = bpe.comma
    for fragment in tokenize_fragments(prompt, bpe):
        if fragment is None:
            next_chunk(forced=True)
            continue
        ids, weight, spans = fragment
        position = 0
        while position < len(ids):
            size = len(chunk.token_ids)
            if ids[position] == comma:
                last_comma = size  # a comma that finds the chunk full is forgotten with it, just below
            elif backtrack and size == CHUNK_LENGTH and last_comma != -1 and size - last_comma <= backtrack:
                full, keep = chunk, last_comma + 1
                next_chunk()
                full.move_tail(keep, chunk)
            if len(chunk.token_ids) == CHUNK_LENGTH:
                next_chunk()
            match = _embedding_at(ids, position, embeddings) if embeddings else None
            if match is None:
                # this token and the ones after it up to the chunk's end at once (one at a time where an
                # embedding may start); none of those fills the chunk, so only their commas matter
                size = len(chunk.token_ids)
                end = position + 1 if embeddings else min(position + CHUNK_LENGTH - size, len(ids))
                later = ids[position + 1:end]
                if comma in later:
                    last_comma = size + len(later) - later[::-1].index(comma)
                chunk.extend(ids, position, end, weight, spans)
                position = end
                continue
            length, name, count = match
            if len(chunk.token_ids) + count > CHUNK_LENGTH:
                next_chunk()
            chunk.fixes.append((len(chunk.token_ids), name))
            span_start, span_end = spans.start_of(position), spans.end_of(position + length - 1)
            for _ in range(count):
                chunk.append(0, weight, span_start, span_end)
            position += length
    if chunk.token_ids or not chunks:
        next_chunk(is_last=True)
    return ChunkPlan(chunks, token_count)


def cuts_only_at_separators(prompt: Prompt, backtrack: int = 20) -> bool:
    """True when no tag of ``prompt`` can be cut in two: every boundary of ``plan_chunks(prompt, backtrack)`` that
    a BREAK does not force lies right after or right before a comma that separates two tags (a separator's comma,
    a CLIP word of its own). False: maybe not, plan the chunks to know.

    A chunk that fills cuts a tag only where A1111's comma backtrack fails; this follows the plan a run at a time
    (a tag and its comma: its token count and last comma, cached per spelling) instead of building the tokens
    and their spans, and token by token only in the run where a chunk fills (see :func:`_fill`). A prompt of
    at most 75 tokens has no such boundary."""
    if _short_between_commas(prompt, backtrack):
        return True
    size, last_comma, safe = 0, -1, False  # the chunk's length, its last comma and whether that separates tags
    shapes, tails = _SHAPES
    for text, foreign in _fragment_texts(prompt):
        if text is None:  # BREAK
            size, last_comma = 0, -1
            continue
        lowered = text.lower()
        if len(lowered) != len(text):
            return False  # ("İ" lower-cases to two characters; the tokens are then lowered one at a time)
        parts = lowered.split(", ")  # as tokenize_fragments cuts them: each part but the last with its comma
        if max(map(len, parts)) > _LONGEST_PART:
            return False  # (prose or worse: the plan, which tokenizes it once, is no dearer than following it)
        tail = parts.pop()
        for part in parts:
            n, comma_at, separates = shapes.get(part) or _shape(part, True)
            if size + n <= CHUNK_LENGTH:  # the chunk does not fill within the run
                if comma_at != -1:
                    last_comma, safe = size + comma_at, separates and not foreign
                size += n
                continue
            state = _fill(part + ",", separates and not foreign, size, last_comma, safe, backtrack)
            if state is None:
                return False
            size, last_comma, safe = state
        n, comma_at, _ = tails.get(tail) or _shape(tail, False)
        if size + n <= CHUNK_LENGTH:
            if comma_at != -1:
                last_comma, safe = size + comma_at, False
            size += n
        else:
            state = _fill(tail, False, size, last_comma, safe, backtrack)
            if state is None:
                return False
            size, last_comma, safe = state
    return True


def _short_between_commas(prompt: Prompt, backtrack: int) -> bool:
    """True when no tag of ``prompt`` can be cut, wherever the boundaries fall: each comma is a separator and a
    CLIP word of its own, and no stretch between two commas has more tokens than ``backtrack`` (nor than 74). A
    chunk that fills then has a comma among its last ``backtrack`` tokens, after which A1111 cuts.

    Read from the text alone, for a plain ASCII caption or an A1111 prompt whose brackets all pair up (each then a
    group's: no text, no tokens) with no lora or escape (which may hide a comma or make a bracket text). A
    token covers at least one byte, so a stretch has at most as many tokens as characters other than spaces and
    brackets: only the few longer stretches are tokenized, where they hold no bracket (else this says no)."""
    text = prompt.source
    if not text.isascii():
        return False
    weighted = None  # an A1111 prompt's brackets are groups: whether some have an explicit weight, "(x:1.2)"
    if prompt.plain_caption:  # (one fragment, and what brackets it holds its dialect reads as text)
        marked = text.encode("ascii").translate(_MARKS)
    elif prompt.dialect != "a1111" or "<" in text or "\\" in text or not _paired(text):
        return False
    else:  # a bracket is no character of the fragments: what stands beside a comma there is what is left
        weighted = _weighted(text)
        if weighted is None:
            return False
        marked = text.encode("ascii").translate(_MARKS, b"()[]")
    if b",!" in marked or b"!," in marked or b",," in marked:
        return False
    limit = min(backtrack, CHUNK_LENGTH - 1)
    for piece in text.split(","):
        if len(piece) > limit and not _fits(piece, limit, weighted):
            return False
    return True


def _fits(piece: str, limit: int, weighted: bool | None) -> bool:
    """The text between two commas has at most ``limit`` tokens: at most one a character but spaces (and
    brackets, where they are groups: ``weighted`` not None); else, without group brackets (one run of one
    fragment), as many as it has; else, where each bracket is a round one that changes the weight
    (``name_(series)``, in a prompt without explicit weights: every weight a power of 1.1, none 0), as many as the
    pieces between its brackets have, each a fragment of its own or the end of one."""
    rounds = squares = 0
    if weighted is not None:
        rounds = piece.count("(") + piece.count(")")
        squares = piece.count("[") + piece.count("]")
    if len(piece) - piece.count(" ") - rounds - squares <= limit:
        return True
    if len(piece) > 64:
        return False  # (tokenized here only where the tokenizer keeps the result: a tag, not a paragraph)
    encode_run = clip_bpe().encode_run
    if not rounds + squares:
        return len(encode_run(piece.lower())[0]) <= limit
    if weighted or squares or "()" in piece or ")(" in piece:
        return False  # (around "()" or ")(" the weight does not change: the text on either side is one fragment)
    return sum(len(encode_run(run)[0]) for run in _ROUND.split(piece.lower()) if run) <= limit


_ROUND = re.compile(r"[()]")


def _weighted(text: str) -> bool | None:
    """Whether ``text`` has ``:1.2)`` closers; None where ``float()`` rejects the number of one (A1111 then reads
    it as text)."""
    found = False
    if ":" in text:
        from ..syntax.dialects.brackets import WEIGHT_CLOSE  # (loaded already: the prompt was parsed with it)

        for m in re.finditer(WEIGHT_CLOSE, text):
            try:
                float(m.group(1))
            except ValueError:
                return None
            found = True
    return found


def _paired(text: str) -> bool:
    """Every bracket of ``text`` closes the one opened last (a few levels deep at most: else this says no)."""
    brackets = text.encode("ascii").translate(None, _NOT_BRACKETS)
    for _ in range(8):
        if not brackets:
            return True
        brackets = brackets.replace(b"()", b"").replace(b"[]", b"")
    return not brackets


_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"()[]")

# each ASCII character as CLIP's word pattern reads it beside a comma: "a" a letter, digit or space (a word apart
# from the comma), "!" a symbol (in one word with it, as in "),": [^\s\p{L}\p{N}]+); the comma itself kept
_MARKS = bytes(ord("a") if chr(b).isalnum() or chr(b) in " \t\n\r\x0b\x0c" else b if b == ord(",") else ord("!")
               for b in range(256))


_LONGEST_PART = 256  # characters of a part that the check follows; the tokens of a longer one are not kept

# part -> _shape(part, True), and a fragment's last part -> _shape(part, False), for parts of 64 characters or less
_SHAPES: tuple[dict[str, tuple[int, int, bool]], dict[str, tuple[int, int, bool]]] = ({}, {})


def _shape(part: str, comma: bool) -> tuple[int, int, bool]:
    """A run's (token count, index of its last comma token or -1, whether that comma is the comma after the part
    as a word of its own), for the run ``part + ","`` (``comma``) or ``part``."""
    run = part + "," if comma else part
    ids, starts, _ = clip_bpe().encode_run(run)
    comma_id = clip_bpe().comma
    last = len(ids) - 1
    while last >= 0 and ids[last] != comma_id:
        last -= 1
    shape = len(ids), last, comma and last == len(ids) - 1 and starts[last] == len(part)
    if len(part) <= 64:
        cache = _SHAPES[0 if comma else 1]
        if len(cache) >= 100_000:
            cache.clear()
        cache[part] = shape
    return shape


def _fill(run: str, separates: bool, size: int, last_comma: int, safe: bool,
          backtrack: int) -> tuple[int, int, bool] | None:
    """Follow :func:`plan_chunks` token by token through a run in which a chunk fills: the state after it (chunk
    length, last comma, whether it separates tags), or None where a boundary may cut a tag. ``separates``: the
    run's last token is a comma that separates tags."""
    ids = clip_bpe().encode_run(run)[0]
    comma = clip_bpe().comma
    last = len(ids) - 1
    for i, token in enumerate(ids):
        if token == comma:
            last_comma, safe = size, separates and i == last
            if size == CHUNK_LENGTH:  # the boundary lies before this comma, which the new chunk forgets
                if not safe:
                    return None
                size, last_comma = 0, -1
        elif size == CHUNK_LENGTH:
            if not (backtrack and last_comma != -1 and size - last_comma <= backtrack and safe):
                return None  # a cut with no comma to move back to, or after a comma that is no separator
            size, last_comma = size - last_comma - 1, -1  # the tokens after the comma move to the next chunk
        size += 1
    return size, last_comma, safe


def _fragment_texts(prompt: Prompt) -> Iterator[tuple[str | None, bool]]:
    """The texts of :func:`_fragments` (None: a BREAK), without their offsets, each with whether a comma in it
    may be something else than a separator (an escaped ``\\,``, a comma inside an embedding's name...)."""
    if prompt.plain_caption:  # each comma of a plain caption separates two tags
        if prompt.source:
            yield prompt.source, False
        return
    for fragment in _fragment_leaves(prompt):
        yield (None, False) if fragment is None else ("".join(fragment[0]), fragment[4])


def _lower_with_offsets(text: str, offsets: list[int]) -> tuple[str, list[int]]:
    parts: list[str] = []
    mapped: list[int] = []
    for char, offset in zip(text, offsets):
        low = char.lower()
        parts.append(low)
        mapped.extend([offset] * len(low))
    return "".join(parts), mapped


def _embedding_at(token_ids: array, position: int, index: EmbeddingIndex) -> tuple[int, str, int] | None:
    for ids, name, count in index.get(token_ids[position], ()):
        if tuple(token_ids[position:position + len(ids)]) == ids:
            return len(ids), name, count
    return None


def surely_one_chunk(text: str) -> bool:
    """True when ``text`` cannot reach 75 tokens: every token covers at least one byte of non-space text."""
    if len(text) <= CHUNK_LENGTH:
        return True
    # lone surrogates (undecodable input) count as 3 bytes, never fewer than the tokenizer gives them
    return len("".join(text.split()).encode("utf-8", "surrogatepass")) <= CHUNK_LENGTH
