"""The real CLIP BPE tokenizer in pure Python (no torch, no transformers): what the linter counts with.

Built from the shipped ``bpe_simple_vocab_16e6.txt.gz`` the way CLIP's own tokenizer builds its tables:
256 byte symbols, their end-of-word forms, one token per merge, then ``<|startoftext|>`` (49406) and
``<|endoftext|>`` (49407). Text is lower-cased and split into words by CLIP's pattern (letters, single
digits, runs of other symbols), each word is byte-encoded and merged. Results per word are cached.
"""

from __future__ import annotations

import functools
import gzip
import heapq
from pathlib import Path

from .._resources import cached_data

VOCAB_FILE = Path(__file__).resolve().parent / "data" / "bpe_simple_vocab_16e6.txt.gz"
BOS = 49406
EOS = 49407
VOCAB_SIZE = 49408


@functools.cache
def _patterns():
    """CLIP's word pattern and its whitespace pattern, compiled on first use: importing this module (the
    linter does, for chunk planning) does not load the ``regex`` package before a prompt needs tokens."""
    import regex

    word = regex.compile(
        r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
        regex.IGNORECASE,
    )
    return word, regex.compile(r"\s+")


def _utf8(word: str) -> bytes:
    """UTF-8 bytes of a word; lone surrogates (undecodable input bytes) keep their original byte where Python's
    ``surrogateescape`` made them, else their surrogate code point's bytes, rather than failing."""
    try:
        return word.encode("utf-8")
    except UnicodeEncodeError:
        try:
            return word.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            return word.encode("utf-8", "surrogatepass")


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
    """The 48,894 merges, in rank order (read from the file once, then from the cache folder)."""
    return cached_data("clip-merges", VOCAB_FILE, _read_merges)


def _read_merges() -> list[tuple[str, str]]:
    with gzip.open(VOCAB_FILE, "rt", encoding="utf-8") as fh:
        lines = fh.read().split("\n")
    return [tuple(line.split()) for line in lines[1:49152 - 256 - 2 + 1]]  # type: ignore[misc]


@functools.cache
def vocabulary() -> dict[str, int]:
    """Token string -> id, exactly CLIP's 49,408 entries (derived once, then read from the cache folder)."""
    return cached_data("clip-vocabulary", VOCAB_FILE, _vocabulary)


def _vocabulary() -> dict[str, int]:
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
        self._run = functools.lru_cache(maxsize=100_000)(self._run_uncached)

    @staticmethod
    def clean(text: str) -> str:
        """CLIP's cleaning: HTML entities decoded, whitespace collapsed, lower case (ftfy is not applied)."""
        import html

        text = html.unescape(html.unescape(text)).strip()
        return _patterns()[1].sub(" ", text).strip().lower()

    def _bpe_word_uncached(self, word: str) -> tuple[int, ...]:
        """CLIP's merge loop (apply the lowest-ranked adjacent pair everywhere, repeat), in O(n log n).

        Pairs wait in a heap ordered by (rank, position); merging never creates a pair ranked before the one
        being applied (a merged symbol only appears in later merges), so popping in that order applies the
        merges exactly as CLIP's quadratic loop does, also for one 100,000-letter word.
        """
        symbols: list[str | None] = [self.byte_encoder[b] for b in _utf8(word)]
        if not symbols:
            return ()
        symbols[-1] = symbols[-1] + "</w>"  # type: ignore[operator]
        n = len(symbols)
        ranks = self.ranks
        following = list(range(1, n)) + [-1]
        preceding = list(range(-1, n - 1))
        heap = [(rank, i) for i in range(n - 1) if (rank := ranks.get((symbols[i], symbols[i + 1]))) is not None]
        heapq.heapify(heap)
        while heap:
            rank, i = heapq.heappop(heap)
            j = following[i]
            left = symbols[i]
            if left is None or j == -1 or ranks.get((left, symbols[j])) != rank:
                continue  # stale: one side was merged away since this pair was queued
            merged = left + symbols[j]  # type: ignore[operator]
            symbols[i], symbols[j] = merged, None
            k = following[j]
            following[i] = k
            if k != -1:
                preceding[k] = i
                after = ranks.get((merged, symbols[k]))
                if after is not None:
                    heapq.heappush(heap, (after, i))
            p = preceding[i]
            if p != -1:
                before = ranks.get((symbols[p], merged))
                if before is not None:
                    heapq.heappush(heap, (before, p))
        return tuple(self.encoder[s] for s in symbols if s is not None)

    def _cached_word(self, word: str) -> tuple[int, ...]:
        # long words (hostile input) are not cached: the cache would hold megabytes per entry
        return self._bpe_word(word) if len(word) <= 64 else self._bpe_word_uncached(word)

    def iter_words(self, text: str):
        """:meth:`words` as regex matches, one at a time (a big caption need not hold them all)."""
        return _patterns()[0].finditer(text)

    def encode_run(self, run: str) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
        """Token ids of a run of lower-cased text cut from a longer one at whitespace (a tag and its comma), and
        per token the (start, end) in the run of the word it came from. No CLIP word crosses whitespace, so the
        runs' words are the text's words. Cached: captions repeat the same tags, so a prompt's tokens cost one
        look-up per tag instead of a regex match per word."""
        return self._run(run) if len(run) <= 64 else self._run_uncached(run)

    def _run_uncached(self, run: str) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
        ids: list[int] = []
        starts: list[int] = []
        ends: list[int] = []
        for m in _patterns()[0].finditer(run):
            word_ids = self._cached_word(m.group())
            ids.extend(word_ids)
            starts.extend([m.start()] * len(word_ids))
            ends.extend([m.end()] * len(word_ids))
        return tuple(ids), tuple(starts), tuple(ends)

    def words(self, text: str) -> list[tuple[str, int, int]]:
        """CLIP's pre-tokenized words of already-cleaned text with their (start, end) offsets."""
        return [(m.group(), m.start(), m.end()) for m in _patterns()[0].finditer(text)]

    def encode_word(self, word: str) -> tuple[int, ...]:
        return self._cached_word(word)

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` (cleaned and lower-cased first), without BOS/EOS."""
        ids: list[int] = []
        for m in _patterns()[0].finditer(self.clean(text)):
            word = m.group()
            if word in ("<|startoftext|>", "<|endoftext|>"):
                ids.append(self.encoder[word])
            else:
                ids.extend(self._cached_word(word))
        return ids

    def decode(self, ids: list[int]) -> str:
        """The text of token ids as CLIP's tokenizer decodes it: a space after every word-final token
        (``kazusa (blue archive)`` -> ``kazusa ( blue archive )``)."""
        return " ".join(self.pieces(ids, word_gap="", subword_gap="")).strip()

    def pieces(self, ids: list[int], word_gap: str = "", subword_gap: str = "·") -> list[str]:
        """One string per word of the token ids; the sub-word tokens of a word joined by ``subword_gap``
        (``kaz·usa``), so that token boundaries stay visible."""
        byte_decoder = self._byte_decoder()
        words: list[str] = []
        current: list[str] = []
        for i in ids:
            if i in (BOS, EOS):
                continue
            piece = self.decoder[i]
            final = piece.endswith("</w>")
            raw = piece[:-4] if final else piece
            current.append(bytearray(byte_decoder[c] for c in raw if c in byte_decoder)
                           .decode("utf-8", errors="replace"))
            if final:
                words.append(subword_gap.join(current) + word_gap)
                current = []
        if current:
            words.append(subword_gap.join(current))
        return words

    def _byte_decoder(self) -> dict[str, int]:
        cached = self.__dict__.get("_byte_decoder_cache")
        if cached is None:
            cached = self.__dict__["_byte_decoder_cache"] = {c: b for b, c in self.byte_encoder.items()}
        return cached

    def count(self, text: str) -> int:
        return len(self.encode(text))


@functools.cache
def clip_bpe() -> ClipBPE:
    """The process-wide tokenizer (the tables take ~100 ms to build)."""
    return ClipBPE()
