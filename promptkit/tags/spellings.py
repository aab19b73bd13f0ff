"""The typo-search index of a compiled tag store: every spelling (tag names and aliases) by length and by the
first three characters, so that a search reads a few rows instead of building the index in memory.

Building the index over Danbooru's ~190k spellings took ~1.2 s of every run that met one unknown tag (more
than the rest of a lint); it is built once, with the store, into two tables:

- ``spelling_groups (len, prefix, spellings)``: the spellings of one length that share their first three
  characters (``spellings`` joined by :data:`SEP`);
- ``spelling_keys (len, key, prefix)``: for each group, the symmetric deletions (none or one character) of
  its prefix. Two spellings one edit apart (a transposition counts one) share such a key, so the query's own
  few keys find every spelling within one edit (see ``_FuzzyIndex`` in ``db.py``).
"""

from __future__ import annotations

from typing import Iterable, Iterator

SEP = "\n"
"""Between the spellings of a group: normalized tags never hold a line break (``normalize_tag`` folds
whitespace), and a spelling that does is left out of the index."""

SCHEMA = """
CREATE TABLE spelling_groups (len INTEGER NOT NULL, prefix TEXT NOT NULL, spellings TEXT NOT NULL,
                              PRIMARY KEY (len, prefix)) WITHOUT ROWID;
CREATE TABLE spelling_keys (len INTEGER NOT NULL, key TEXT NOT NULL, prefix TEXT NOT NULL,
                            PRIMARY KEY (len, key, prefix)) WITHOUT ROWID;
"""


def prefix_deletions(spelling: str) -> tuple[str, ...]:
    """The first three characters of ``spelling`` and each string made from them by deleting one."""
    p = spelling[:3]
    if len(p) < 3:
        return (p, p[1:], p[:1]) if len(p) == 2 else (p, "")
    return (p, p[1:], p[0] + p[2], p[:2])


def index_rows(spellings: Iterable[str]) -> tuple[list[tuple[int, str, str]], list[tuple[int, str, str]]]:
    """The rows of ``spelling_groups`` and ``spelling_keys`` for a store's spellings."""
    by_length: dict[int, set[str]] = {}
    for spelling in spellings:
        if SEP not in spelling:
            by_length.setdefault(len(spelling), set()).add(spelling)
    groups: list[tuple[int, str, str]] = []
    keys: set[tuple[int, str, str]] = set()
    for n, names in by_length.items():
        for prefix, group in _groups(sorted(names)):
            groups.append((n, prefix, SEP.join(group)))
            keys.update((n, k, prefix) for k in prefix_deletions(prefix))
    return groups, sorted(keys)


def _groups(names: list[str]) -> Iterator[tuple[str, list[str]]]:
    """(prefix, names) runs of sorted ``names`` that share their first three characters."""
    i = 0
    while i < len(names):
        prefix = names[i][:3]
        j = i + 1
        while j < len(names) and names[j].startswith(prefix):
            j += 1
        yield prefix, names[i:j]
        i = j
