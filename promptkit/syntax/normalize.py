"""Tag spelling: the one place that knows how a written tag maps to its database name and back.

Booru names are lowercase with underscores (``kazusa_(blue_archive)``); prompts are written with spaces and
escaped parentheses (``kazusa \\(blue archive\\)``). Kaomoji such as ``^_^`` or ``>_<`` keep their underscores
in both spellings.
"""

from __future__ import annotations

import re

_WHITESPACE = re.compile(r"\s+")
_A1111_ESCAPES = re.compile(r"\\(.)", re.S)
_NEEDS_ESCAPE = re.compile(r"([\\()\[\]])")

# Kaomoji whose underscores are part of the face, from the Danbooru list (see shared/tag-data/README.md).
KAOMOJI = frozenset(
    """^_^ o_o 0_0 >_< @_@ +_+ x_x u_u =_= 3_3 6_9 ._. |_| ||_|| <o>_<o> <|>_<|> (o)_(o) +_- >_o -_- ^_- >_@
    ;_; t_t q_q ^_^; >o< o_0 0_o n_n v_v -_o o_- *_* $_$ ._o >_> <_< ^_~ ~_~ -_-; x_o o_x""".split()
)


def normalize_tag(text: str) -> str:
    """The database spelling of an already-unescaped tag: trimmed, lowercase, whitespace runs -> ``_``."""
    text = text.strip().lower()
    if " " in text or "\t" in text or "\n" in text:
        text = _WHITESPACE.sub("_", text)
    return text


def unescape(text: str) -> str:
    """Remove A1111 backslash escapes (``\\(`` -> ``(``)."""
    if "\\" not in text:
        return text
    return _A1111_ESCAPES.sub(r"\1", text)


def escape_a1111(text: str) -> str:
    """Escape the characters A1111 would read as syntax: ``\\ ( ) [ ]``."""
    return _NEEDS_ESCAPE.sub(r"\\\1", text)


def prompt_spelling(name: str, escape: bool = True, underscores: bool = False) -> str:
    """How a database tag is written in a prompt: spaces for underscores (kaomoji kept), parentheses escaped."""
    text = name
    if not underscores and name not in KAOMOJI and "_" in name:
        text = name.replace("_", " ")
    return escape_a1111(text) if escape else text


def lookup_key(text: str) -> str:
    """Normalize any user spelling (escaped or not, spaces or underscores) to the database key."""
    return normalize_tag(unescape(text))
