"""The real CLIP BPE tokenizer in pure Python (no torch, no transformers): what the linter counts with.

Built from the shipped ``bpe_simple_vocab_16e6.txt.gz`` the way CLIP's own tokenizer builds its tables:
256 byte symbols, their end-of-word forms, one token per merge, then ``<|startoftext|>`` (49406) and
``<|endoftext|>`` (49407). Text is lower-cased and split into words by CLIP's pattern (letters, single
digits, runs of other symbols), each word is byte-encoded and merged. Results per word are cached.
"""

from __future__ import annotations

import functools
import gzip
import html
from pathlib import Path

import regex

VOCAB_FILE = Path(__file__).resolve().parent / "data" / "bpe_simple_vocab_16e6.txt.gz"
BOS = 49406
EOS = 49407
VOCAB_SIZE = 49408

_WORD = regex.compile(
    r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
    regex.IGNORECASE,
)
_WHITESPACE = regex.compile(r"\s+")


def bytes_to_unicode() -> dict[int, str]:
    """CLIP's (and GPT-2's) reversible byte -> printable character table."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    chars = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(printable, map(chr, chars)))


@functools.cache
def read_merges() -> list[tuple[str, str]]:
    """The 48,894 merges, in rank order."""
    with gzip.open(VOCAB_FILE, "rt", encoding="utf-8") as fh:
        lines = fh.read().split("\n")
    return [tuple(line.split()) for line in lines[1:49152 - 256 - 2 + 1]]  # type: ignore[misc]


@functools.cache
def vocabulary() -> dict[str, int]:
    """Token string -> id, exactly CLIP's 49,408 entries."""
    symbols = list(bytes_to_unicode().values())
    tokens = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in read_merges()]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    return {tok: i for i, tok in enumerate(tokens)}


class ClipBPE:
    """Encode text to CLIP token ids (without BOS/EOS), with per-word caching."""

    def __init__(self) -> None:
        self.encoder = vocabulary()
        self.decoder = {i: t for t, i in self.encoder.items()}
        self.ranks = {pair: i for i, pair in enumerate(read_merges())}
        self.byte_encoder = bytes_to_unicode()
        self.comma = self.encoder[",</w>"]
        self._bpe_word = functools.lru_cache(maxsize=200_000)(self._bpe_word_uncached)

    @staticmethod
    def clean(text: str) -> str:
        """CLIP's cleaning: HTML entities decoded, whitespace collapsed, lower case (ftfy is not applied)."""
        text = html.unescape(html.unescape(text)).strip()
        return _WHITESPACE.sub(" ", text).strip().lower()

    def _bpe_word_uncached(self, word: str) -> tuple[int, ...]:
        symbols = [self.byte_encoder[b] for b in word.encode("utf-8")]
        symbols[-1] = symbols[-1] + "</w>"
        ranks = self.ranks
        while len(symbols) > 1:
            best = None
            best_rank = None
            for i in range(len(symbols) - 1):
                rank = ranks.get((symbols[i], symbols[i + 1]))
                if rank is not None and (best_rank is None or rank < best_rank):
                    best, best_rank = i, rank
            if best is None:
                break
            first, second = symbols[best], symbols[best + 1]
            merged: list[str] = []
            i = 0
            while i < len(symbols):
                if i < len(symbols) - 1 and symbols[i] == first and symbols[i + 1] == second:
                    merged.append(first + second)
                    i += 2
                else:
                    merged.append(symbols[i])
                    i += 1
            symbols = merged
        return tuple(self.encoder[s] for s in symbols)

    def words(self, text: str) -> list[tuple[str, int, int]]:
        """CLIP's pre-tokenized words of already-cleaned text with their (start, end) offsets."""
        return [(m.group(), m.start(), m.end()) for m in _WORD.finditer(text)]

    def encode_word(self, word: str) -> tuple[int, ...]:
        return self._bpe_word(word)

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` (cleaned and lower-cased first), without BOS/EOS."""
        ids: list[int] = []
        for m in _WORD.finditer(self.clean(text)):
            word = m.group()
            if word in ("<|startoftext|>", "<|endoftext|>"):
                ids.append(self.encoder[word])
            else:
                ids.extend(self._bpe_word(word))
        return ids

    def decode(self, ids: list[int]) -> str:
        byte_decoder = {c: b for b, c in self.byte_encoder.items()}
        text = "".join(self.decoder[i] for i in ids if i not in (BOS, EOS))
        data = bytearray(byte_decoder[c] for c in text.replace("</w>", " ") if c in byte_decoder)
        return data.decode("utf-8", errors="replace").replace("</w>", " ").strip()

    def count(self, text: str) -> int:
        return len(self.encode(text))


@functools.cache
def clip_bpe() -> ClipBPE:
    """The process-wide tokenizer (the tables take ~100 ms to build)."""
    return ClipBPE()
