"""``parse(text, dialect, strict)``: the single entry point from text to :class:`Prompt`."""

from __future__ import annotations

import gc
import re
from contextlib import contextmanager
from typing import Iterator

from .dialects import canonical_dialect
from .dialects.brackets import A1111, COMFY, NOVELAI, parse_brackets
from .dialects.compel import parse_compel
from .prompt import Prompt, make_plain_caption

_BRACKET_DIALECTS = {"a1111": A1111, "comfy": COMFY, "novelai": NOVELAI}

# Characters or words that can mean syntax in each dialect; text without any of them is a plain caption
# (the dataset case), which only needs splitting at commas and newlines.
_SYNTAX = {
    "a1111": re.compile(r"[\\()\[\]:<|]|BREAK|AND"),
    "comfy": re.compile(r"[\\():<|]|BREAK|AND|embedding"),
    "novelai": re.compile(r"[\\{}\[\]:<|]|BREAK|AND"),
    "compel": re.compile(r"[\\()+\-\"|]|BREAK|AND"),
}


LARGE_INPUT = 4096  # characters; above this the cyclic garbage collector is paused while the tree is built


@contextmanager
def paused_gc(size: int) -> Iterator[None]:
    """Pause Python's cyclic GC while building a large tree.

    A tree is millions of small acyclic objects; the collector would rescan them again and again as they are
    created, making the cost grow faster than the input (1.6x per character at 1 MB, measured). Reference
    counting still frees everything; the collector resumes afterwards.
    """
    if size < LARGE_INPUT or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def parse(text: str, dialect: str = "a1111", strict: bool = False,
          namespaces: frozenset[str] | None = None) -> Prompt:
    """Parse a prompt written in ``dialect`` (``a1111``/``forge``, ``comfy``, ``novelai``, ``compel``).

    Lenient mode (the default) mirrors A1111: it accepts every string. ``strict=True`` raises
    :class:`~promptkit.syntax.errors.PromptSyntaxError` (line, column, caret, hint) for unbalanced brackets and
    other malformed syntax. ``namespaces`` overrides the recognised namespace prefixes (``species:``...).
    """
    if not isinstance(text, str):
        raise TypeError(f"parse() takes a str, not {type(text).__name__}")
    dialect = canonical_dialect(dialect)
    if strict:
        from .strict import check_strict

        check_strict(text, dialect)
    with paused_gc(len(text)):
        if _SYNTAX[dialect].search(text) is None:
            return make_plain_caption(text, dialect, namespaces)
        if dialect == "compel":
            result = parse_compel(text)
            prompt = Prompt(text, dialect, result.children, None)
        else:
            result = parse_brackets(text, _BRACKET_DIALECTS[dialect])
            prompt = Prompt(text, dialect, result.children, result.weighted_leaves)
    if namespaces is not None:
        prompt.namespaces = namespaces
    return prompt
