"""English words: which spans of a prompt are real words, and the near-certain typos of common ones.

The word list is SymSpell's English frequency dictionary (82,765 words with their Google Books n-gram counts,
intersected with SCOWL so that only genuine English words are in it), shipped inside the ``symspellpy``
package (MIT; the counts come from Google Books Ngram data, CC BY 3.0). promptkit reads only that data file.

Two uses: a span made of real words is never "corrected" into another tag (``gleaming eye`` is not
``flaming eye``), and a word that is not a word but one edit from a common one (``beatiful``, ``villiage``)
is a typo even inside prose, where the tag database cannot help.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Iterable

from .lexicon import CompiledSet, compiled, file_stamp

_PARTS = re.compile(r"[_\s-]+")
_LETTERS = "abcdefghijklmnopqrstuvwxyz"

#: a typo is corrected to a word at least this common (Google Books count): common words, not rare ones
COMMON = 1_000_000
#: ... and at least this many times as common as any other word one edit away (noisy channel: near-certain)
MARGIN = 20
#: people rarely get the first letter wrong: a rival that changes it weighs this much
FIRST_LETTER = 0.1


def _dictionary_path():
    from importlib.resources import files

    return files("symspellpy") / "frequency_dictionary_en_82_765.txt"


@functools.cache
def word_counts() -> dict[str, int]:
    """Every word of the dictionary with its count, loaded whole (the lint asks :func:`_counts` instead)."""
    counts: dict[str, int] = {}
    for line in _dictionary_path().read_text(encoding="utf-8").splitlines():
        word, _, count = line.partition(" ")
        if word and count.isdigit():
            counts[word] = int(count)
    return counts


@functools.cache
def _compiled() -> dict[str, CompiledSet] | None:
    """The word list compiled once into the cache folder, read by look-ups (see :mod:`.lexicon`); None where
    that cannot be done (then the list is loaded whole)."""
    try:
        stamp = file_stamp(Path(str(_dictionary_path())))
    except OSError:  # not a plain file (a zipped install)
        return None
    return compiled("english-words", [stamp], lambda: {
        "words": word_counts().items(), "longest": [("", max(map(len, word_counts())))]})


def _counts() -> CompiledSet | dict[str, int]:
    """The word list as the linter asks it: ``in``, ``get``, ``[]``."""
    tables = _compiled()
    return tables["words"] if tables else word_counts()


def _known(counts: CompiledSet | dict[str, int], words: Iterable[str]) -> dict[str, int]:
    """The ``words`` that are words, with their counts."""
    if isinstance(counts, CompiledSet):
        return counts.many(words)
    return {w: counts[w] for w in words if w in counts}


def is_word(word: str) -> bool:
    return word.lower() in _counts()


def frequency(word: str) -> int:
    return _counts().get(word.lower(), 0)


def all_words(name: str) -> bool:
    """Every part of ``name`` (split at spaces, underscores, hyphens) is an English word (``gleaming eye``)."""
    parts = [p for p in _PARTS.split(name) if p]
    counts = _counts()
    return bool(parts) and all(p.lower() in counts for p in parts)


@functools.cache
def longest_word() -> int:
    tables = _compiled()
    return tables["longest"][""] if tables else max(map(len, word_counts()))


def one_edit(word: str) -> set[str]:
    """Every string one edit from ``word`` (a deletion, an adjacent swap, a substitution or an insertion) that
    could be a word: none for a word longer than any word plus one (``'a' * 8000`` would make 400,000 strings
    of 8,000 characters)."""
    if len(word) > longest_word() + 1:
        return set()
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    out = {a + b[1:] for a, b in splits if b}
    out |= {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    out |= {a + c + b[1:] for a, b in splits if b for c in _LETTERS}
    out |= {a + c + b for a, b in splits for c in _LETTERS}
    out.discard(word)
    return out


def word_typo(word: str) -> str | None:
    """The common word ``word`` is a near-certain typo of, or None.

    Near-certain: ``word`` (lower case letters, five or more) is not a word; exactly one word one edit away is
    common and at least :data:`MARGIN` times as common as every other (a rival that changes the first letter
    weighs :data:`FIRST_LETTER`); and the change is not only a plural ``s`` or an ending that makes a word
    (``beachy``). A plural written with ``s`` where a common word takes ``es`` (``splashs``) is a typo too.
    """
    if len(word) < 4 or not word.isascii() or not word.isalpha() or not word.islower():
        return None
    counts = _counts()
    if word in counts:
        return None
    if len(word) == 4:
        return _short_typo(word)
    stem = word[:-1]
    if word[-1] == "s" and stem[-1] in "sxzh" and counts.get(stem, 0) >= COMMON and stem + "es" in counts and \
            (stem[-1] != "h" or stem[-2] in "sc"):
        return stem + "es"  # "splashs", "boxs": a plural written with "s" where the word takes "es"
    near = _known(counts, one_edit(word))
    found = sorted(((c * (1.0 if w[0] == word[0] else FIRST_LETTER), w) for w, c in near.items()), reverse=True)
    if not found:
        return None
    weight, best = found[0]
    if len(found) > 1 and found[1][0] * MARGIN > weight:
        # forms of one word (``detaild``: details, detailed, detail): the one that keeps the last letter
        close = [w for c, w in found if c * MARGIN > weight]
        if not all(_same_family(w, best) for w in close):
            return None
        same_end = [w for w in close if w[-1] == word[-1] and len(w) > len(word)]
        if len(same_end) != 1:
            return None
        best = same_end[0]
        weight = counts[best]
    if best[0] != word[0] or counts[best] < COMMON:
        return None
    if best in (word + "s", word + "es") or word in (best + "s", best + "es"):
        return None
    if word.startswith(best) and word[len(best):] in DERIVING_SUFFIXES:
        return None  # ``beachy``, ``greenish``: a word made from ``beach`` the list lacks, not a typo of it
    if _far_rival(word, best):
        return None
    return best


#: endings that make a word from another (``beach`` -> ``beachy``): a word the list lacks, not a typo
DERIVING_SUFFIXES = frozenset({"y", "ish", "ly", "er", "ed", "ie", "ey"})

#: a four-letter typo is only two swapped letters of one of the most common words (``wiht``, ``taht``)
SHORT_COMMON = 100_000_000
SHORT_MARGIN = 200


def _short_typo(word: str) -> str | None:
    counts = _counts()
    swaps = {word[:i] + word[i + 1] + word[i] + word[i + 2:] for i in range(1, len(word) - 1)}
    hits = [w for w in swaps if counts.get(w, 0) >= SHORT_COMMON]
    if len(hits) != 1:
        return None
    best = hits[0]
    rivals = [c for w, c in _known(counts, one_edit(word)).items() if w != best]
    if rivals and max(rivals) * SHORT_MARGIN > counts[best]:
        return None
    return best


#: a word two edits away this many times as common as the one-edit word makes the typo ambiguous
FAR_RIVAL = 5


def _far_rival(word: str, best: str) -> bool:
    """A much more common word of another family two edits away, with the same first letter (``behide``:
    ``beside`` is one edit away, but ``behind`` is ten times as common)."""
    from rapidfuzz import process
    from rapidfuzz.distance import OSA

    counts = _counts()
    n = len(word)
    if isinstance(counts, CompiledSet):
        pool = [w for w in counts.starting(word[0]) if n - 2 <= len(w) <= n + 2]
    else:
        buckets = _by_start()
        pool = [w for length in range(n - 2, n + 3) for w in buckets.get((word[0], length), ())]
    for other, distance, _ in process.extract(word, pool, scorer=OSA.distance, score_cutoff=2, limit=None):
        if distance == 2 and not _same_family(other, best) and counts[other] >= FAR_RIVAL * counts[best]:
            return True
    return False


def _same_family(a: str, b: str) -> bool:
    """Forms of one word (``detail``, ``details``, ``detailed``): they share all but their last two letters."""
    shared = 0
    for x, y in zip(a, b):
        if x != y:
            break
        shared += 1
    return shared >= 4 and shared >= min(len(a), len(b)) - 2


@functools.cache
def _by_start() -> dict[tuple[str, int], tuple[str, ...]]:
    """Words by first letter and length (two-edit rivals keep the first letter: see FIRST_LETTER)."""
    out: dict[tuple[str, int], list[str]] = {}
    for w in word_counts():
        out.setdefault((w[0], len(w)), []).append(w)
    return {k: tuple(ws) for k, ws in out.items()}

