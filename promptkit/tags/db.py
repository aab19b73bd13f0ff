"""``TagDB``: look tags up, resolve aliases, expand implications, suggest and complete spellings.

A TagDB stacks one or more compiled sources (Danbooru, e621, the WD vocabulary, a user's CSV). A name found
in several sources reports all of them; its category and post count come from the first. Look-ups
normalize spaces/underscores, case, escapes and surrounding whitespace, and are memoized: dataset work asks
for the same few thousand tags millions of times.
"""

from __future__ import annotations

import functools
import math
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from ..syntax.normalize import normalize_tag, unescape
from .sources import CATEGORY_IDS, TagCategory, TagSource, bundled_sources, user_source
from .store import compiled_path, open_readonly


@dataclass(frozen=True)
class TagInfo:
    """What the database knows about one tag.

    ``matched`` says how the query found it: ``exact``, ``alias`` (the query was an alias of ``name``) or
    ``fuzzy`` (a suggestion; ``score`` is the similarity 0-100).
    """

    name: str
    category: TagCategory
    post_count: int
    source: str
    sources: tuple[str, ...]
    matched: str = "exact"
    query: str = ""
    score: float | None = None

    def to_dict(self) -> dict:
        return {"name": self.name, "category": self.category.value, "post_count": self.post_count,
                "source": self.source, "sources": list(self.sources), "matched": self.matched,
                "query": self.query, "score": self.score}


def query_keys(text: str) -> tuple[str, ...]:
    """Database keys to try for a user spelling: unescaped first, then literally (``\\m/`` is a tag)."""
    if "\\" in text:
        first = normalize_tag(unescape(text))
        second = normalize_tag(text)
        return (first, second) if first != second else (first,)
    return (normalize_tag(text),)


class TagDB:
    """A stack of compiled tag sources (see :meth:`default`)."""

    def __init__(self, sources: Sequence[TagSource]) -> None:
        if not sources:
            raise ValueError("a TagDB needs at least one source")
        self.sources = list(sources)
        self._conns: list[sqlite3.Connection] = [open_readonly(compiled_path(s)) for s in self.sources]
        self._schemes = [CATEGORY_IDS[s.categories] for s in self.sources]
        self._cache: dict[str, TagInfo | None] = {}
        self._implied_cache: dict[str, tuple[str, ...]] = {}
        self._fuzzy: _FuzzyIndex | None = None

    # -- construction -------------------------------------------------------------------------------------
    @classmethod
    def default(cls, danbooru: bool = True, e621: bool = True, wd14: bool = False,
                extra: Iterable[str | Path] = ()) -> "TagDB":
        """The bundled databases: Danbooru then e621 (then the WD vocabulary with ``wd14=True``), plus users' CSVs."""
        bundled = bundled_sources()
        chosen = [bundled[n] for n, on in (("danbooru", danbooru), ("e621", e621), ("wd14", wd14)) if on]
        chosen += [user_source(p) for p in extra]
        return cls(chosen)

    @classmethod
    def from_names(cls, names: Iterable[str]) -> "TagDB":
        """Sources by name (``danbooru``, ``e621``, ``wd14``) or path to a user CSV, in stacking order."""
        bundled = bundled_sources()
        return cls([bundled[n] if n in bundled else user_source(n) for n in names])

    @property
    def source_names(self) -> list[str]:
        return [s.name for s in self.sources]

    def close(self) -> None:
        for conn in self._conns:
            conn.close()

    # -- exact look-ups -----------------------------------------------------------------------------------
    def _row(self, key: str) -> tuple[int, int, int, tuple[str, ...]] | None:
        """(source index, category id, post count, all sources) of a canonical name, or None."""
        found = None
        names: list[str] = []
        for i, conn in enumerate(self._conns):
            row = conn.execute("SELECT category, post_count FROM tags WHERE name = ?", (key,)).fetchone()
            if row is not None:
                names.append(self.sources[i].name)
                if found is None:
                    found = (i, row[0], row[1])
        if found is None:
            return None
        return found[0], found[1], found[2], tuple(names)

    def _info(self, key: str, matched: str, query: str) -> TagInfo | None:
        row = self._row(key)
        if row is None:
            return None
        i, cat, count, names = row
        category = self._schemes[i].get(cat, TagCategory.UNKNOWN)
        return TagInfo(key, category, count, self.sources[i].name, names, matched, query)

    def _alias_target(self, key: str) -> str | None:
        for conn in self._conns:
            row = conn.execute("SELECT name FROM aliases WHERE alias = ?", (key,)).fetchone()
            if row is not None:
                return row[0]
        return None

    def _follow_alias(self, target: str, query: str) -> TagInfo:
        """The tag an alias leads to. Stacked sources can chain aliases (Danbooru ``paintings`` -> ``painting``,
        e621 ``painting`` -> ``painting_(action)``); a few hops are followed, cycles are not."""
        seen = {target}
        for _ in range(4):
            info = self._info(target, "alias", query)
            if info is not None:
                return info
            nxt = self._alias_target(target)
            if nxt is None or nxt in seen:
                break
            seen.add(nxt)
            target = nxt
        return TagInfo(target, TagCategory.UNKNOWN, 0, "", (), "alias", query)  # below the post-count cut-off

    def lookup(self, text: str) -> TagInfo | None:
        """The tag a spelling names: exact canonical name first, then an alias. None when unknown."""
        cache = self._cache
        if text in cache:
            return cache[text]
        info = None
        keys = query_keys(text)
        for key in keys:
            info = self._info(key, "exact", text)
            if info is not None:
                break
        if info is None:
            for key in keys:
                target = self._alias_target(key)
                if target is not None:
                    info = self._follow_alias(target, text)
                    break
        cache[text] = info
        return info

    def __contains__(self, text: str) -> bool:
        return self.lookup(text) is not None

    def resolve(self, text: str) -> str:
        """The canonical name for a spelling (aliases followed); the normalized spelling when unknown."""
        info = self.lookup(text)
        return info.name if info is not None else query_keys(text)[0]

    # -- implications -------------------------------------------------------------------------------------
    def implied(self, name: str) -> list[str]:
        """Every tag ``name`` implies, transitively, nearest first (``very_long_hair`` -> ``long_hair``...)."""
        start = self.resolve(name)
        cached = self._implied_cache.get(start)
        if cached is not None:
            return list(cached)
        seen = {start}
        order: list[str] = []
        frontier = [start]
        while frontier:
            nxt = []
            for tag in frontier:
                for conn in self._conns:
                    for (consequent,) in conn.execute(
                            "SELECT consequent FROM implications WHERE antecedent = ?", (tag,)):
                        if consequent not in seen:
                            seen.add(consequent)
                            order.append(consequent)
                            nxt.append(consequent)
            frontier = nxt
        self._implied_cache[start] = tuple(order)
        return order

    def implies(self, a: str, b: str) -> bool:
        """True when tag ``a`` implies tag ``b`` (directly or through a chain)."""
        return self.resolve(b) in self.implied(a)

    # -- fuzzy --------------------------------------------------------------------------------------------
    def suggest(self, text: str, limit: int = 5) -> list[TagInfo]:
        """Near matches for a misspelled tag, ranked by similarity and then popularity."""
        if self._fuzzy is None:
            self._fuzzy = _FuzzyIndex(self)
        results = []
        for name, score in self._fuzzy.search(query_keys(text)[0], limit):
            info = self.lookup(name)
            if info is not None:
                results.append(TagInfo(info.name, info.category, info.post_count, info.source, info.sources,
                                       "fuzzy", text, round(score, 1)))
        return results

    def complete(self, prefix: str, limit: int = 20) -> list[TagInfo]:
        """Tags starting with ``prefix`` (aliases included), most used first: the autocomplete case."""
        key = query_keys(prefix)[0]
        if not key:
            return []
        upper = key + "\U0010ffff"
        best: dict[str, tuple[int, str]] = {}  # name -> (post count, how matched)
        for conn in self._conns:
            for name, count in conn.execute(
                    "SELECT name, post_count FROM tags WHERE name >= ? AND name < ? "
                    "ORDER BY post_count DESC LIMIT ?", (key, upper, limit)):
                if name not in best or best[name][0] < count:
                    best[name] = (count, "exact")
            for alias, name in conn.execute(
                    "SELECT alias, name FROM aliases WHERE alias >= ? AND alias < ? LIMIT ?", (key, upper, limit * 10)):
                if name not in best:
                    info = self.lookup(name)
                    if info is not None:
                        best[name] = (info.post_count, "alias")
        ranked = sorted(best.items(), key=lambda kv: -kv[1][0])[:limit]
        out = []
        for name, (_, how) in ranked:
            info = self.lookup(name)
            if info is not None:
                out.append(TagInfo(info.name, info.category, info.post_count, info.source, info.sources, how, prefix))
        return out


class _FuzzyIndex:
    """Candidate buckets for ``suggest``: names grouped by first character and length.

    Comparing a query with all ~290k names costs tens of milliseconds; a misspelling rarely changes the
    first character or the length by more than a few, so only those buckets are scored (a second pass
    keyed on the second character catches a wrong first letter).
    """

    def __init__(self, db: TagDB) -> None:
        popularity: dict[str, int] = {}
        targets: dict[str, str] = {}  # spelling -> canonical name
        for conn in db._conns:
            for name, count in conn.execute("SELECT name, post_count FROM tags"):
                if count > popularity.get(name, -1):
                    popularity[name] = count
                targets.setdefault(name, name)
        for conn in db._conns:
            for alias, name in conn.execute("SELECT alias, name FROM aliases"):
                if name in popularity:
                    targets.setdefault(alias, name)
        self.popularity = popularity
        self.targets = targets
        self.by_first: dict[tuple[str, int], list[str]] = {}
        self.by_second: dict[tuple[str, int], list[str]] = {}
        for spelling in targets:
            n = len(spelling)
            self.by_first.setdefault((spelling[0], n), []).append(spelling)
            if n > 1:
                self.by_second.setdefault((spelling[1], n), []).append(spelling)

    def _candidates(self, buckets: dict[tuple[str, int], list[str]], ch: str, n: int) -> list[str]:
        spread = max(2, n // 4)
        out: list[str] = []
        for length in range(max(1, n - spread), n + spread + 1):
            out.extend(buckets.get((ch, length), ()))
        return out

    def search(self, key: str, limit: int) -> list[tuple[str, float]]:
        from rapidfuzz import fuzz, process

        if not key:
            return []
        n = len(key)
        candidates = self._candidates(self.by_first, key[0], n)
        found = process.extract(key, candidates, scorer=fuzz.ratio, limit=limit * 8, score_cutoff=60)
        if (not found or found[0][1] < 85) and n > 1:
            more = self._candidates(self.by_second, key[1], n)
            found += process.extract(key, more, scorer=fuzz.ratio, limit=limit * 8, score_cutoff=60)
        best: dict[str, float] = {}
        for spelling, score, _ in found:
            name = self.targets[spelling]
            if spelling == key and name == key:
                continue  # the query itself is a tag: suggest others
            if score > best.get(name, -1.0):
                best[name] = score
        ranked = sorted(best.items(),
                        key=lambda kv: -(kv[1] + 2.0 * math.log10(1 + self.popularity.get(kv[0], 0))))
        return ranked[:limit]


@functools.cache
def default_db() -> TagDB:
    """The process-wide default database (Danbooru + e621), opened once."""
    return TagDB.default()
