"""When an alias only renames a tag: the test behind every *safe* alias rewrite.

The sites' alias lists mix renames (``hires`` -> ``highres``, ``grey_hair`` -> ``gray_hair``,
``lowres`` -> ``low_res``) with editorial decisions that change what a word means: catch-alls
(``cute`` -> ``invalid_tag``), disambiguation pages (``general`` -> ``general_(disambiguation)``), a phrase
folded into a broader tag (``short_blonde_hair`` -> ``blonde_hair``), a common word sent to one of its senses
(``orange`` -> ``orange_(fruit)``), or to another word altogether (``man`` -> ``male_focus``,
``straight`` -> ``male/female``). Only the first kind keeps the meaning of a prompt, and it can be told from
the spellings alone: the same words, each spelled alike (same letters, a plural, a one-letter variant), in
any order.
"""

from __future__ import annotations

import re

_TOKENS = re.compile(r"[a-z0-9]+|[^\x00-\x7f]+")


def words(name: str) -> list[str]:
    """The words of a tag name (``kazusa_(blue_archive)`` -> ``kazusa``, ``blue``, ``archive``)."""
    return _TOKENS.findall(name.lower())


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def plural_pair(a: str, b: str) -> bool:
    """One of two words is the other's plural (``digit`` / ``digits``, ``berry`` / ``berries``)."""
    short, long_ = sorted((a, b), key=len)
    return long_ in (short + "s", short + "es") or (short.endswith("y") and long_ == short[:-1] + "ies")


def _same_word(a: str, b: str) -> bool:
    from rapidfuzz.distance import OSA

    if a == b:
        return True
    if _digits(a) != _digits(b):
        return False  # numbers name different things (2girls / 3girls, 4k / 8k)
    if plural_pair(a, b):
        return True
    short = min(a, b, key=len)
    if len(short) >= 4 and OSA.distance(a, b) <= 1:
        return True  # grey / gray, colour / color
    if len(short) >= 5 and OSA.normalized_similarity(a, b) >= 0.7 and a[0] == b[0]:
        return True  # hires / highres
    return False


def is_rename(alias: str, target: str) -> bool:
    """True when ``alias`` and ``target`` (database spellings) name the same concept word for word."""
    if alias == target:
        return True
    a, b = words(alias), words(target)
    if not a or not b:
        return False
    if "".join(a) == "".join(b):
        return True  # lowres / low_res, t-shirt / tshirt
    if len(a) != len(b):
        return False  # a word added (a qualifier, a sense) or dropped (a broader tag)
    remaining = list(b)
    for word in sorted(a, key=lambda w: (w not in remaining, -len(w))):
        match = next((r for r in remaining if r == word), None) or \
            next((r for r in remaining if _same_word(word, r)), None)
        if match is None:
            return False
        remaining.remove(match)
    return True


def is_respelling(alias: str, target: str) -> bool:
    """A rename that only fixes how the tag is written: spaces, hyphens or underscores (``pony_tail`` ->
    ``ponytail``, ``low_res`` -> ``lowres``), or the form of a count tag (``2boy`` -> ``2boys``)."""
    from .counts import people_in

    a, b = words(alias), words(target)
    if a and "".join(a) == "".join(b) and alias != target:
        return True
    return people_in(target) > 0 and _digits(alias) == _digits(target) and is_rename(alias, target)
