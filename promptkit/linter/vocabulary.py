"""Words in prompts that are not tags: textual-inversion names, wildcards, placeholders, numbers.

A1111 users write embedding file names (``EasyNegative``, ``bad-hands-5``) as plain words, sd-dynamic-prompts
wildcards (``__hair_color__``) and variants (``{red|blue}``), and styles.csv placeholders (``{prompt}``). None
of them is a misspelled tag, and none may be "fixed".
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Iterable

_DATA = Path(__file__).resolve().parent / "data"
_NOT_A_TAG = re.compile(
    r"^__[^_\s].*__$"                 # wildcard file: __hair_color__
    r"|^\{[^{}]*\}$"                  # styles.csv placeholder {prompt}, dynamic-prompts variant {a|b}
    r"|^\{\d*-?\d*\$\$"               # {2$$a|b|c}
    r"|^[\d\s.,:;!?%x*+/-]*$"         # numbers, sizes, punctuation: 1024x768, 1 9 1 8
    r"|^embedding:|^https?://|^<.*>$",
    re.I,
)
EMBEDDING_SUFFIXES = (".pt", ".safetensors", ".bin", ".ckpt")


def embedding_key(name: str) -> str:
    """How A1111-style embedding names are compared: case and ``- _ .`` and spaces ignored."""
    return re.sub(r"[\s._-]+", "", name.lower())


def data_lines(name: str) -> list[str]:
    """The entries of a bundled list in ``linter/data/`` (one a line; blank lines and ``#`` comments skipped)."""
    lines = (_DATA / name).read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


@functools.cache
def bundled_embeddings() -> frozenset[str]:
    """The widely used textual-inversion names shipped in ``data/embeddings.txt`` (as embedding keys)."""
    return frozenset(embedding_key(line) for line in data_lines("embeddings.txt"))


def embeddings_in(folder: str | Path) -> frozenset[str]:
    """Embedding names (file stems) in a user's embeddings folder, searched recursively, as embedding keys."""
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"{folder}: no such embeddings folder")
    return frozenset(embedding_key(p.stem) for p in root.rglob("*")
                     if p.is_file() and p.suffix.lower() in EMBEDDING_SUFFIXES)


def embedding_names(folders: Iterable[str | Path] = ()) -> frozenset[str]:
    names = bundled_embeddings()
    for folder in folders:
        names = names | embeddings_in(folder)
    return names


#: a template's field in capitals, replaced before the prompt is read: {{MOOD_TAGS}}
_SHOUTED_FIELD = re.compile(r"\{\{[A-Z][A-Z0-9_]*\}\}")
#: ... and a field named for the prompt: {prompt}, {userprompt}
_PROMPT_FIELD = re.compile(r"\{\w*prompt\w*\}")


def is_template_field(text: str) -> bool:
    """``{{MOOD_TAGS}}`` or ``{prompt}``: a placeholder a template fills before anything reads the prompt."""
    return bool(_SHOUTED_FIELD.fullmatch(text) or _PROMPT_FIELD.fullmatch(text))


def is_not_a_tag(text: str, embeddings: frozenset[str] = frozenset()) -> bool:
    """True for words that are meant as something else than a tag (see the module docstring)."""
    text = text.strip()
    if not text or _NOT_A_TAG.search(text) or _SHOUTED_FIELD.fullmatch(text):
        return True
    key = embedding_key(text)
    return key in embeddings or key in bundled_embeddings()
