"""The shipped CLIP vocabulary as a transformers tokenizer (no hub access, ever)."""

from __future__ import annotations

import functools

from ..tokens.clip import read_merges, vocabulary


@functools.lru_cache(maxsize=4)
def clip_tokenizer(pad: str = "<|endoftext|>", model_max_length: int = 77):
    """transformers' ``CLIPTokenizer`` built in memory from ``bpe_simple_vocab_16e6.txt.gz``.

    ``pad="<|endoftext|>"`` is the SD1/CLIP-L tokenizer; ``pad="!"`` (id 0) is SDXL's ``tokenizer_2`` and
    SD2's OpenCLIP tokenizer.
    """
    from transformers import CLIPTokenizer

    merges = [tuple(m) for m in read_merges()]
    return CLIPTokenizer(vocab=dict(vocabulary()), merges=merges, pad_token=pad, model_max_length=model_max_length)
