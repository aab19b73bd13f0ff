"""Chunk planning: how A1111 (and Forge) cut a prompt into 75-token CLIP chunks, and where each tag lands.

Rules (shared/reference/embedding-weighting.md 1.2): fragments of equal weight are tokenized as wholes;
a chunk holds 75 tokens and is wrapped as BOS + 75 + EOS; ``BREAK`` pads the current chunk and starts the
next; when a chunk is full and the last comma is within ``backtrack`` tokens (20 by default), the tokens
after that comma move to the next chunk so a tag is not cut in two. No torch is imported here: the linter
uses this to count tokens and to find tags cut across a boundary or past what an encoder can see.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..syntax.ast import Break, Text
from ..syntax.prompt import Prompt, Tag
from .clip import BOS, EOS, ClipBPE, clip_bpe

CHUNK_LENGTH = 75


@dataclass
class Token:
    id: int
    weight: float
    start: int  # source span of the word this token came from
    end: int


@dataclass
class Chunk:
    tokens: list[Token] = field(default_factory=list)
    forced: bool = False  # ended by BREAK
    # textual-inversion embeddings: (token position, name); their tokens are placeholder id 0, as in A1111
    fixes: list[tuple[int, str]] = field(default_factory=list)

    @property
    def ids(self) -> list[int]:
        """The 77 ids the encoder sees: BOS, tokens, EOS padding."""
        ids = [t.id for t in self.tokens]
        return [BOS] + ids + [EOS] * (CHUNK_LENGTH - len(ids)) + [EOS]

    @property
    def weights(self) -> list[float]:
        ws = [t.weight for t in self.tokens]
        return [1.0] + ws + [1.0] * (CHUNK_LENGTH - len(ws)) + [1.0]


@dataclass
class ChunkPlan:
    chunks: list[Chunk]
    token_count: int  # as A1111's counter shows it: 75 per full chunk plus the last one's length

    def chunk_of_offset(self, offset: int) -> list[int]:
        return [i for i, c in enumerate(self.chunks) if any(t.start <= offset < t.end for t in c.tokens)]

    def tag_chunks(self, tag: Tag) -> list[int]:
        """Indices of the chunks holding tokens of ``tag`` (two or more: the tag is cut)."""
        found = []
        for i, chunk in enumerate(self.chunks):
            if any(t.start < tag.end and t.end > tag.start for t in chunk.tokens):
                found.append(i)
        return found


def _fragments(prompt: Prompt) -> list[tuple[str, float, list[int]] | None]:
    """Merged (text, weight, source offset per character) fragments; None marks a BREAK."""
    leaves = prompt.leaf_weights()
    out: list[tuple[str, float, list[int]] | None] = []
    text_parts: list[str] = []
    offsets: list[int] = []
    current: float | None = None

    def flush() -> None:
        nonlocal current
        if text_parts:
            out.append(("".join(text_parts), current if current is not None else 1.0, offsets[:]))
        text_parts.clear()
        offsets.clear()
        current = None

    for node, weight in leaves:
        if type(node) is Break:
            if weight == -1.0:
                flush()
                out.append(None)
                continue
            value, base = "BREAK", node.start
        elif type(node) is Text:
            if node.kind == Text.BACKSLASH and prompt.dialect == "a1111":
                continue
            value = node.value
            base = node.start + (1 if node.kind == Text.ESCAPE else 0)
        else:
            value, base = getattr(node, "raw", ""), node.start
        if not value:
            continue
        if current is not None and weight != current:
            flush()
        current = weight
        text_parts.append(value)
        if type(node) is Text and node.kind == Text.PLAIN:
            offsets.extend(range(base, base + len(value)))
        else:
            offsets.extend([base] * len(value))
    flush()
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
        token_count += len(chunk.tokens) if is_last else CHUNK_LENGTH
        chunk.forced = forced
        chunks.append(chunk)
        chunk = Chunk()
        last_comma = -1

    for fragment in _fragments(prompt):
        if fragment is None:
            next_chunk(forced=True)
            continue
        text, weight, offsets = fragment
        toks = [(token_id, offsets[s], offsets[e - 1] + 1)
                for word, s, e in bpe.words(text.lower()) for token_id in bpe.encode_word(word)]
        position = 0
        while position < len(toks):
            token_id, start, end = toks[position]
            if token_id == bpe.comma:
                last_comma = len(chunk.tokens)
            elif (backtrack and len(chunk.tokens) == CHUNK_LENGTH and last_comma != -1
                  and len(chunk.tokens) - last_comma <= backtrack):
                moved = chunk.tokens[last_comma + 1:]
                moved_fixes = [(p - last_comma - 1, n) for p, n in chunk.fixes if p > last_comma]
                chunk.tokens = chunk.tokens[:last_comma + 1]
                chunk.fixes = [(p, n) for p, n in chunk.fixes if p <= last_comma]
                next_chunk()
                chunk.tokens = moved
                chunk.fixes = moved_fixes
            if len(chunk.tokens) == CHUNK_LENGTH:
                next_chunk()
            match = _embedding_at(toks, position, embeddings) if embeddings else None
            if match is None:
                chunk.tokens.append(Token(token_id, weight, start, end))
                position += 1
                continue
            length, name, count = match
            if len(chunk.tokens) + count > CHUNK_LENGTH:
                next_chunk()
            chunk.fixes.append((len(chunk.tokens), name))
            span_end = toks[position + length - 1][2]
            chunk.tokens.extend(Token(0, weight, start, span_end) for _ in range(count))
            position += length
    if chunk.tokens or not chunks:
        next_chunk(is_last=True)
    return ChunkPlan(chunks, token_count)


def _embedding_at(toks: list, position: int, index: EmbeddingIndex) -> tuple[int, str, int] | None:
    for ids, name, count in index.get(toks[position][0], ()):
        if tuple(t[0] for t in toks[position:position + len(ids)]) == ids:
            return len(ids), name, count
    return None


def surely_one_chunk(text: str) -> bool:
    """True when ``text`` cannot reach 75 tokens: every token covers at least one byte of non-space text."""
    if len(text) <= CHUNK_LENGTH:
        return True
    return len("".join(text.split()).encode("utf-8")) <= CHUNK_LENGTH
