"""What some bundled tag source knows, answered without opening the sources a profile does not use.

A typo is never "corrected" when some bundled source (Danbooru, e621, the WD vocabulary) knows the spelling:
``glans`` is e621's tag, not a typo of ``glass``, also under a Danbooru-only profile. Asking the whole stack
meant building and opening the e621 store (1.3 s and 7 MB the first time) for profiles that never use it.

The answer is the same without it: where Danbooru knows a spelling (as a tag or an alias) it decides, and the
other sources can change the answer only for the few Danbooru aliases whose target Danbooru does not list; a
spelling Danbooru does not know is decided by e621 and the WD list alone. ``tag_db/known_beyond_danbooru.json.gz``
holds what those sources add, derived from the bundled lists by ``tools/known_beyond_danbooru.py``
(:func:`derive`; ``tests/test_known_anywhere.py`` checks that it is current):

- ``known``: spellings Danbooru does not know that :func:`known_in` accepts on the whole stack;
- ``flip``: Danbooru spellings whose answer the other sources turn round;
- ``name_words``: words of the other sources' artist, character, series... names that Danbooru's lack.
"""

from __future__ import annotations

import functools
import gzip

from ..tags.db import TagDB, query_keys, stacked_db, storable
from .lexicon import CompiledSet, compiled, file_stamp
from ..tags.sources import TagCategory

STACK = ("danbooru", "e621", "wd14")
DATA_FILE = "known_beyond_danbooru.json.gz"
SECTIONS = ("known", "flip", "name_words")


def known_in(db: TagDB, name: str) -> bool:
    """``db`` knows ``name``: an artist, character, series... tag at any count, any other tag with 100 posts or
    more, or an alias that leads to another word (``gleaming`` -> ``glistening``). A site's alias that only
    respells a tag (a known misspelling) does not count: that is a typo."""
    info = db.lookup(name)
    if info is None or not info.listed:
        return False
    if info.matched == "alias" and db.rename(name) is not None:
        return False
    if info.category not in (TagCategory.GENERAL, TagCategory.META, TagCategory.UNKNOWN):
        return True
    return info.post_count >= 100


def known_anywhere(name: str) -> bool:
    """:func:`known_in` the whole bundled stack (Danbooru, e621, WD), opening only the Danbooru store.

    A spelling that still holds a backslash once unescaped (a tag written with ``\\\\``) has two database keys;
    the whole stack decides those, as it always did: the one rare case that still opens e621's store.
    """
    keys = [k for k in query_keys(name) if k and storable(k)]
    if not keys:
        return False
    if len(keys) > 1:
        return known_in(stacked_db(STACK), name)
    danbooru = stacked_db(("danbooru",))
    key = keys[0]
    if danbooru.lookup(name) is not None:  # Danbooru decides; e621 only matters for an alias it cannot follow
        return known_in(danbooru, name) != (key in _section("flip"))
    return key in _section("known")


def name_words() -> CompiledSet | frozenset[str]:
    """Every word of the bundled sources' artist, character, series... names (not of general tags, which
    include misspelled ones): a set to ask ``word in name_words()``."""
    return _section("name_words")


def _section(name: str) -> CompiledSet | frozenset[str]:
    """``known``, ``flip`` (the shipped sections) or ``name_words`` (Danbooru's own and the shipped ones),
    compiled once into the cache folder and read by look-ups (see :mod:`.lexicon`), or loaded whole where that
    cannot be done."""
    tables = _compiled()
    if tables is not None:
        return tables[name]
    if name == "name_words":
        return _all_name_words()
    return beyond_danbooru()[name]


@functools.cache
def _compiled() -> dict[str, CompiledSet] | None:
    from .._resources import tag_db_path
    from ..tags.sources import bundled_sources
    from ..tags.store import source_digest

    try:
        stamps = [file_stamp(tag_db_path(DATA_FILE)), "danbooru=" + source_digest(bundled_sources()["danbooru"])]
    except OSError:
        return None
    return compiled("known-beyond-danbooru", stamps, lambda: {
        "known": ((k, 1) for k in beyond_danbooru()["known"]), "flip": ((k, 1) for k in beyond_danbooru()["flip"]),
        "name_words": ((w, 1) for w in _all_name_words())})


@functools.cache
def _all_name_words() -> frozenset[str]:
    return frozenset(names_words_of(stacked_db(("danbooru",))) | beyond_danbooru()["name_words"])


def names_words_of(db: TagDB) -> set[str]:
    words: set[str] = set()
    for conn, scheme in zip(db._conns, db._schemes):
        general = [str(k) for k, v in scheme.items() if v in (TagCategory.GENERAL, TagCategory.META)]
        query = f"SELECT name FROM tags WHERE category NOT IN ({','.join(general) or '-1'})"
        for (name,) in conn.execute(query):
            words.update(name.split("_"))
    return words


@functools.cache
def beyond_danbooru() -> dict[str, frozenset[str]]:
    """The shipped sections (see the module docstring), read once."""
    import json

    from .._resources import tag_db_path

    data = json.loads(gzip.decompress(tag_db_path(DATA_FILE).read_bytes()))
    return {name: frozenset(data[name]) for name in SECTIONS}


def derive() -> dict[str, list[str]]:
    """The sections, computed from the bundled sources with :func:`known_in` itself (builds every store)."""
    full, danbooru = stacked_db(STACK), stacked_db(("danbooru",))

    def spellings(db: TagDB) -> set[str]:
        found: set[str] = set()
        for conn in db._conns:
            found.update(n for (n,) in conn.execute("SELECT name FROM tags"))
            found.update(a for (a,) in conn.execute("SELECT alias FROM aliases"))
        return {s for s in found if query_keys(s) == (s,)}  # the spellings a one-key look-up can reach

    ours = spellings(danbooru)
    return {
        "known": sorted(s for s in spellings(full) - ours if known_in(full, s)),
        "flip": sorted(s for s in ours if known_in(full, s) != known_in(danbooru, s)),
        "name_words": sorted(names_words_of(full) - names_words_of(danbooru)),
    }


def write(path, sections: dict[str, list[str]]) -> None:
    """The sections as gzip-compressed JSON, byte for byte the same for the same data."""
    import json

    body = {"about": "What e621 and the WD list add to Danbooru for promptkit.linter.known.known_anywhere; "
                     "derived from the bundled lists by tools/known_beyond_danbooru.py, never edited by hand.",
            **{name: sections[name] for name in SECTIONS}}
    raw = json.dumps(body, ensure_ascii=False, indent=0).encode("utf-8")
    with open(path, "wb") as fh, gzip.GzipFile(fileobj=fh, mode="wb", mtime=0, filename="") as out:
        out.write(raw)
