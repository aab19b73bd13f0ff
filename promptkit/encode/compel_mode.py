"""compel 2.5.1's conditioning, reproduced step for step (``compel/compel.py``, ``embeddings_provider.py``).

The ``compel`` weighting follows ``CompelForSD`` (``Compel(..., truncate_long_prompts=False)``): nothing is
cut off, a long prompt is split at the last ``.`` within 75 tokens (else ``. , ; :``, else a word end, else
at 75). For each fragment list (a prompt, a blend's sub-prompt, a swap's original side):

1. every fragment is tokenized on its own and the tokens concatenated, each with its fragment's weight;
2. each 77-token chunk is encoded, and every token of weight w != 1 becomes ``empty + (z - empty) * w``
   (``empty`` is the encoding of ``[BOS, EOS, pad...]``);
3. for every fragment of weight w < 1 the same tokens are encoded again with that fragment masked out of the
   attention (and weighted the same way), and the results are averaged with weights
   ``[1, tan((1 - w) * pi / 2), ...]`` normalized to sum 1.

A blend pads its sub-prompts with ``empty`` chunks to one length and sums them with its weights (divided by
their sum unless ``no_normalize``); ``.and()`` concatenates its parts along the tokens, a part of weight
w != 1 lerped from the encoding of ``""``; a swap is encoded as its original side, padded to the length of
its edited side as compel's cross-attention arguments are.

This module plans tokens and masks (pure Python); :class:`CompelJob` turns a plan into encoder requests
and the results back into one tensor, so that every chunk of every prompt goes through one forward pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from ..syntax.dialects.compel import CompelBlend, CompelConjunction, CompelFragment, CompelSwap

CHUNK = 77
_SENTENCE = frozenset({".</w>"})
_PHRASE = frozenset({".</w>", ",</w>", ";</w>", ":</w>"})


class CompelCannotEncode(ValueError):
    """compel itself fails on this prompt (or would output NaN): there is nothing to reproduce."""


@dataclass
class TokenPlan:
    """One fragment list as compel lays it out: every chunk's ids, weights and attention mask (77 each)."""

    ids: list[int]
    weights: list[float]
    mask: list[int]
    masked: list[tuple[float, list[int]]]  # (fragment weight < 1, mask without that fragment)

    @property
    def chunks(self) -> int:
        return len(self.ids) // CHUNK


def plan_tokens(fragments: list[CompelFragment], tokenize: Callable[[str], list[int]],
                token_text: Callable[[int], str], bos: int, eos: int, pad: int) -> TokenPlan:
    """``get_token_ids_and_expand_weights`` + ``_chunk_and_pad_token_ids`` + the down-weight masks."""
    if not fragments:
        fragments = [CompelFragment("", 1.0)]
    per_fragment = [tokenize(f.text) for f in fragments]
    tokens: list[int] = []
    token_weights: list[float] = []
    for ids, fragment in zip(per_fragment, fragments):
        tokens += ids
        token_weights += [float(fragment.weight)] * len(ids)
    ids_out: list[int] = []
    weights_out: list[float] = []
    mask_out: list[int] = []
    remaining, remaining_w = tokens, token_weights
    while True:
        split = _split_point(remaining, CHUNK - 2, token_text)
        chunk, chunk_w = remaining[:split], remaining_w[:split]
        remaining, remaining_w = remaining[split:], remaining_w[split:]
        chunk = [bos] + chunk + [eos]
        chunk_w = [1.0] + chunk_w + [1.0]
        pad_length = CHUNK - len(chunk)
        ids_out += chunk + [pad] * pad_length
        weights_out += chunk_w + [1.0] * pad_length
        mask_out += [1] * CHUNK  # padding_attention_mask_value=1
        if not remaining:
            break
    masked = []
    ranges = _fragment_ranges(ids_out, per_fragment, bos, eos, pad)
    for index, (start, end) in enumerate(ranges):
        weight = fragments[index].weight
        if weight < 1:
            if start is None:
                raise CompelCannotEncode(f"the fragment {fragments[index].text!r} at weight {weight:g} has no tokens: "
                                         "compel raises TypeError on it")
            without = mask_out[:]
            without[start:end + 1] = [0] * (end + 1 - start)
            without[0::CHUNK] = [1] * len(without[0::CHUNK])  # the chunks' BOS and EOS stay visible
            without[CHUNK - 1::CHUNK] = [1] * len(without[CHUNK - 1::CHUNK])
            masked.append((weight, without))
    return TokenPlan(ids_out, weights_out, mask_out, masked)


def chunk_count(fragments: list[CompelFragment], tokenize: Callable[[str], list[int]],
                token_text: Callable[[int], str]) -> int:
    """How many chunks ``plan_tokens`` makes of ``fragments`` (without building the masks)."""
    tokens = [t for f in (fragments or [CompelFragment("", 1.0)]) for t in tokenize(f.text)]
    count = 0
    while True:
        split = _split_point(tokens, CHUNK - 2, token_text)
        tokens = tokens[split:]
        count += 1
        if not tokens:
            return count


def _split_point(tokens: list[int], max_length: int, token_text: Callable[[int], str]) -> int:
    """``_find_next_best_split_point`` in SENTENCES mode: the last '.', else '. , ; :', else a word end."""
    if len(tokens) <= max_length:
        return max_length
    texts = [token_text(t) for t in tokens[:max_length]]
    for found in (lambda t: t in _SENTENCE, lambda t: t in _PHRASE, lambda t: t.endswith("</w>")):
        for index in range(len(texts) - 1, -1, -1):
            if found(texts[index]):
                return index + 1
    return max_length


def _fragment_ranges(chunked: list[int], per_fragment: list[list[int]], bos: int, eos: int,
                     pad: int) -> list[tuple[int | None, int | None]]:
    """compel's ``_get_token_ranges_for_fragments`` (it searches the chunked ids for each fragment's tokens)."""
    start = 0
    out: list[tuple[int | None, int | None]] = []
    last = len(chunked) - 1
    for index, tokens in enumerate(per_fragment):
        if not tokens:
            out.append((None, None))
            continue
        while True:
            if start >= last:
                raise CompelCannotEncode(f"compel raises RuntimeError: it cannot find fragment {index}'s tokens")
            if chunked[start] == tokens[0]:
                break
            start += 1
        end = start
        relative = 0
        while True:
            if end >= last:
                raise CompelCannotEncode(f"compel raises RuntimeError: it cannot find fragment {index}'s end")
            if chunked[end] == tokens[relative]:
                relative += 1
                if relative == len(tokens):
                    break
                end += 1
            elif chunked[end] in (eos, pad, bos):
                end += 1
            else:
                raise CompelCannotEncode(f"compel raises RuntimeError: token mismatch for fragment {index}")
        out.append((start, end))
        start = end + 1
    return out


def downweight_coefficients(weights: list[float]) -> list[float]:
    """``[1, tan((1 - w) * pi / 2) ...]`` for the fragments of weight w < 1 (epsilon 1e-5 as in compel)."""
    return [1.0] + [math.tan((1.0 - max(1e-5, w)) * math.pi / 2) for w in weights]


def check_conjunction(conj: CompelConjunction) -> None:
    """What compel itself cannot encode: a swap inside a blend or another swap, a blend whose weights make
    its normalization divide by zero or produce NaN."""
    for part in conj.parts:
        if type(part) is CompelBlend:
            if part.normalize and (sum(part.weights) == 0 or not math.isfinite(sum(part.weights))):
                raise CompelCannotEncode(f"the .blend() weights {part.weights} sum to {sum(part.weights):g}: "
                                         "compel divides by that sum (NaN or infinite embeddings)")
            for prompt in part.prompts:
                if any(type(x) is CompelSwap for x in prompt):
                    raise CompelCannotEncode("compel cannot .swap() inside a .blend() (AttributeError)")
            continue
        for x in part:
            if type(x) is CompelSwap and any(type(y) is CompelSwap for y in x.original + x.edited):
                raise CompelCannotEncode("compel cannot nest a .swap() in a .swap() (AttributeError)")


def original_side(part: list) -> list[CompelFragment]:
    """The fragments compel's conditioning encodes for a prompt with swaps: each swap's original side."""
    out: list[CompelFragment] = []
    for x in part:
        out += x.original if type(x) is CompelSwap else [x]
    return out


def edited_side(part: list) -> list[CompelFragment]:
    out: list[CompelFragment] = []
    for x in part:
        out += x.edited if type(x) is CompelSwap else [x]
    return out
