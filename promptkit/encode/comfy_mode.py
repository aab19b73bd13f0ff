"""ComfyUI's tokenization and chunking (``SDTokenizer.tokenize_with_weights`` in ``comfy/sd1_clip.py``).

Each weighted segment ComfyUI's parser produces (:func:`promptkit.syntax.dialects.comfy.comfy_segments`) is
split at its embeddings and every piece is tokenized on its own, so ``(text)(words)`` is the two words, not
``textwords``. The pieces ("groups") are then laid into 75-token chunks: a group that does not fit in the
current chunk moves whole to the next one if it has fewer than 8 tokens; a longer group fills the chunk and
continues in the next. There is no comma backtrack and no BREAK. Weights are applied by the encoder as
``empty + (z - empty) * w`` per token (``ClipTokenWeightEncoder.encode_token_weights``).
"""

from __future__ import annotations

from typing import Callable

from ..syntax.ast import Embedding, Node

CHUNK_TOKENS = 75  # max_length 77 less the start and end tokens
MAX_WORD_LENGTH = 8  # groups shorter than this are never split across chunks

# A token of a group: (token id, weight, embedding fix) where the fix is None for a real token, else
# (embedding name, index of the vector) and the id is the placeholder 0.
GroupToken = tuple[int, float, "tuple[str, int] | None"]


def segment_groups(segments: list[tuple[str, float, list[Node]]], tokenize: Callable[[str], list[int]],
                   vector_count: Callable[[str], int]) -> list[list[GroupToken]]:
    """ComfyUI's ``tokens``: one group per text piece (the text between embeddings) and per embedding."""
    groups: list[list[GroupToken]] = []
    for text, weight, nodes in segments:
        pieces: list[str] = []
        current: list[str] = []
        for node in nodes:
            if type(node) is Embedding:
                pieces.append("".join(current))
                current = []
                pieces.append(node)  # type: ignore[arg-type]
            else:
                current.append(_text(node))
        pieces.append("".join(current))
        for piece in pieces:
            if isinstance(piece, Embedding):
                count = vector_count(piece.name)
                groups.append([(0, weight, (piece.name, i)) for i in range(count)])
            elif piece != "":
                groups.append([(t, weight, None) for t in tokenize(piece)])
    return groups


def _text(node: Node) -> str:
    from ..syntax.ast import Text

    if type(node) is Text:
        return node.value  # type: ignore[attr-defined]
    return node.raw  # type: ignore[attr-defined]


def chunk_groups(groups: list[list[GroupToken]]) -> list[list[GroupToken]]:
    """The 75-token chunks (without start and end tokens) ComfyUI's batching makes of the groups."""
    chunks: list[list[GroupToken]] = [[]]
    for group in groups:
        is_large = len(group) >= MAX_WORD_LENGTH
        while group:
            batch = chunks[-1]
            if len(group) + len(batch) > CHUNK_TOKENS:
                remaining = CHUNK_TOKENS - len(batch)
                if is_large:  # break the word in two
                    batch.extend(group[:remaining])
                    group = group[remaining:]
                chunks.append([])
            else:
                batch.extend(group)
                group = []
    return chunks
