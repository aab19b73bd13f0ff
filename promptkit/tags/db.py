"""``TagDB``: look tags up, resolve aliases, expand implications, suggest and complete spellings.

A TagDB stacks one or more compiled sources (Danbooru, e621, the WD vocabulary, a user's CSV) in order of
precedence: the first source that knows a spelling, as a tag name or as an alias, decides what it means.
For a Danbooru-trained model (``TagDB.for_profile``) a Danbooru name or alias therefore wins over anything
e621 says about the same spelling. Look-ups normalize spaces/underscores, case, escapes and surrounding
whitespace, and are memoized: dataset work asks for the same few thousand tags millions of times.
"""

from __future__ import annotations

import functools
import math
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

from ..syntax.normalize import normalize_tag, unescape
from .aliases import is_rename
from .sources import CATEGORY_IDS, TagCategory, TagSource, bundled_sources, user_source
from .spellings import SEP, prefix_deletions
from .store import compiled_path, open_readonly

if TYPE_CHECKING:
    from ..profiles import Profile


@dataclass(frozen=True)
class TagInfo:
    """What the database knows about one tag.

    ``matched`` says how the query found it: ``exact``, ``alias`` (the query was an alias of ``name``) or
    ``fuzzy`` (a suggestion; ``score`` ranks it: similarity in percent plus a bonus for popular tags).
    ``source`` is the source that decided (for an alias: whose alias it is); ``sources`` every source that
    has ``name`` as a tag. ``post_count`` 0 with category ``unknown``: the alias leads to a tag that none of
    the sources lists (deprecated, a disambiguation page, or below the lists' post-count cut-off).
    """

    name: str
    category: TagCategory
    post_count: int
    source: str
    sources: tuple[str, ...]
    matched: str = "exact"
    query: str = ""
    score: float | None = None

    @property
    def listed(self) -> bool:
        """True when ``name`` is a tag of at least one source (not only an alias target)."""
        return bool(self.sources)

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


def storable(key: str) -> bool:
    """Whether SQLite can take ``key``: lone surrogates (undecodable input) cannot be encoded as UTF-8."""
    if key.isascii():
        return True
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class TagDB:
    """A stack of compiled tag sources, first source first (see :meth:`default` and :meth:`for_profile`)."""

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

    @classmethod
    def for_profile(cls, profile: "Profile | str", extra: Iterable[str | Path] = ()) -> "TagDB":
        """The stack of the sources a model was trained on (``Profile.tag_sources``), shared per process.

        ``extra`` adds users' own CSVs after the profile's sources.
        """
        if isinstance(profile, str):
            from ..profiles import load_profile

            profile = load_profile(profile)
        return stacked_db(tuple(profile.tag_sources) + tuple(str(p) for p in extra))

    @property
    def source_names(self) -> list[str]:
        return [s.name for s in self.sources]

    def close(self) -> None:
        for conn in self._conns:
            conn.close()

    # -- exact look-ups -----------------------------------------------------------------------------------
    def _rows(self, key: str) -> list[tuple[int, int, int]]:
        """(source index, category id, post count) of every source that lists ``key`` as a tag name."""
        rows = []
        for i, conn in enumerate(self._conns):
            row = conn.execute("SELECT category, post_count FROM tags WHERE name = ?", (key,)).fetchone()
            if row is not None:
                rows.append((i, row[0], row[1]))
        return rows

    def _info(self, key: str, matched: str, query: str, decided_by: int) -> TagInfo | None:
        """The entry of tag name ``key``; category and post count from the deciding source where it lists it,
        else from the first source that does."""
        rows = self._rows(key)
        if not rows:
            return None
        i, cat, count = next((r for r in rows if r[0] == decided_by), rows[0])
        category = self._schemes[i].get(cat, TagCategory.UNKNOWN)
        return TagInfo(key, category, count, self.sources[decided_by].name,
                       tuple(self.sources[r[0]].name for r in rows), matched, query)

    def _has_name(self, i: int, key: str) -> bool:
        return self._conns[i].execute("SELECT 1 FROM tags WHERE name = ?", (key,)).fetchone() is not None

    def _alias_in(self, i: int, key: str) -> str | None:
        row = self._conns[i].execute("SELECT name FROM aliases WHERE alias = ?", (key,)).fetchone()
        return row[0] if row is not None else None

    def _decide(self, keys: Sequence[str]) -> tuple[int, str, str] | None:
        """(source index, ``exact`` or ``alias``, tag name) from the first source that knows one of ``keys``;
        within a source a tag name wins over an alias."""
        for i in range(len(self._conns)):
            for key in keys:
                if self._has_name(i, key):
                    return i, "exact", key
            for key in keys:
                target = self._alias_in(i, key)
                if target is not None:
                    return i, "alias", target
        return None

    def _follow_alias(self, i: int, target: str, query: str) -> TagInfo:
        """The tag source ``i``'s alias leads to, resolved again through the stack: the first source that
        knows the target's spelling decides it too (e621 ``postapocalyptic`` -> ``post-apocalyptic``, which
        Danbooru renamed ``post-apocalypse``), so resolving twice gives what resolving once gives. A few hops,
        no cycles; a target no source lists comes back with post count 0."""
        seen = {target}
        for _ in range(4):
            step = self._decide((target,))
            if step is None:
                break
            j, how, name = step
            if how == "exact":
                info = self._info(name, "alias", query, decided_by=j)
                if info is not None:
                    return TagInfo(info.name, info.category, info.post_count, self.sources[i].name, info.sources,
                                   "alias", query)
                break
            if name in seen:
                break
            seen.add(name)
            target = name
        return TagInfo(target, TagCategory.UNKNOWN, 0, self.sources[i].name, (), "alias", query)

    def lookup(self, text: str) -> TagInfo | None:
        """The tag a spelling names, or None when no source knows it.

        Sources are asked in order; the first that knows the spelling decides: as one of its tag names
        (``exact``) or as one of its aliases (``alias``). Within a source a name wins over an alias.
        """
        cache = self._cache
        if text in cache:
            return cache[text]
        info = None
        keys = [k for k in query_keys(text) if k and storable(k)]
        step = self._decide(keys) if keys else None
        if step is not None:
            i, how, name = step
            info = self._info(name, "exact", text, decided_by=i) if how == "exact" else \
                self._follow_alias(i, name, text)
        if len(cache) > 200_000:  # bounded: a hostile caption can hold millions of distinct spellings
            cache.clear()
        cache[text] = info
        return info

    def __contains__(self, text: str) -> bool:
        return self.lookup(text) is not None

    def resolve(self, text: str) -> str:
        """The canonical name for a spelling (aliases followed); the normalized spelling when unknown."""
        info = self.lookup(text)
        return info.name if info is not None else query_keys(text)[0]

    def rename(self, text: str) -> TagInfo | None:
        """The canonical tag when ``text`` is an alias that only renames it (``hires`` -> ``highres``), else None.

        Safe to rewrite: a source of the stack lists the target as a real tag, and the two spellings name the
        same concept word for word (see :func:`promptkit.tags.aliases.is_rename`). Aliases to placeholders
        (``invalid_tag``, disambiguation pages), to a more general tag (``short blonde hair`` ->
        ``blonde_hair``), to a qualified tag (``orange`` -> ``orange_(fruit)``) or to another word (``man`` ->
        ``male_focus``) are not renames.
        """
        info = self.lookup(text)
        if info is None or info.matched != "alias" or not info.listed or info.post_count <= 0:
            return None
        key = query_keys(text)[0]
        return info if is_rename(key, info.name) else None

    def aliases_of(self, name: str, limit: int = 20) -> list[str]:
        """Spellings that this stack resolves to tag ``name`` (its aliases in every source), sorted.

        An alias another source decides differently is left out (the first source that knows a spelling
        decides). A scan of the alias tables: a few milliseconds, meant for one tag at a time (hover).
        """
        if not storable(name):
            return []
        found: set[str] = set()
        for conn in self._conns:
            for (alias,) in conn.execute("SELECT alias FROM aliases WHERE name = ?", (name,)):
                info = self.lookup(alias)
                if info is not None and info.name == name:
                    found.add(alias)
        return sorted(found)[:limit]

    def popularity(self, name: str) -> int:
        """Post count of a tag name in the first source that lists it (0 when none does)."""
        rows = self._rows(name) if storable(name) else []
        return rows[0][2] if rows else 0

    # -- implications -------------------------------------------------------------------------------------
    def implied(self, name: str) -> list[str]:
        """Every tag ``name`` implies, transitively, nearest first (``very_long_hair`` -> ``long_hair``...)."""
        start = self.resolve(name)
        if not storable(start):
            return []
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
    @property
    def fuzzy(self) -> "_FuzzyIndex":
        if self._fuzzy is None:
            self._fuzzy = _FuzzyIndex(self)
        return self._fuzzy

    def suggest(self, text: str, limit: int = 5, vocabulary: Iterable[str] = ()) -> list[TagInfo]:
        """Near matches for a misspelled tag, best first (``score``: similarity plus a popularity bonus).

        ``vocabulary`` adds names outside the databases (a profile's ladders and presets: ``masterpiece``,
        ``best quality``); they rank as popular tags. A run-together tag (``longhair``) is found
        as a one-edit match of the tag (``worstquality`` -> ``worst quality``).
        """
        key = query_keys(text)[0] if text else ""
        if not key or not storable(key):
            return []
        vocab = {normalize_tag(v) for v in vocabulary}
        out = []
        seen: set[str] = set()
        for name, score in self.fuzzy.search(key, limit, vocab):
            info = self.lookup(name)  # a profile's word that is a booru tag too (1girl) is shown as the tag
            if info is not None and info.name not in seen:
                seen.add(info.name)
                out.append(TagInfo(info.name, info.category, info.post_count, info.source, info.sources,
                                   "fuzzy", text, round(score, 1)))
            elif info is None and name in vocab and name not in seen:
                seen.add(name)
                out.append(TagInfo(name, TagCategory.UNKNOWN, 0, "profile", (), "fuzzy", text, round(score, 1)))
        return out

    def correction(self, text: str, vocabulary: Iterable[str] = (), min_posts: int = 500) -> TagInfo | None:
        """The tag ``text`` is a near-certain typo of, or None (see :meth:`_FuzzyIndex.correction`)."""
        key = query_keys(text)[0] if text else ""
        if not key or not storable(key):
            return None
        vocab = {normalize_tag(v) for v in vocabulary}
        found = self.fuzzy.correction(key, vocab, min_posts)
        if found is None:
            return None
        if found in vocab:
            return TagInfo(found, TagCategory.UNKNOWN, 0, "profile", (), "fuzzy", text, None)
        info = self.lookup(found)
        if info is None:
            return None
        return TagInfo(info.name, info.category, info.post_count, info.source, info.sources, "fuzzy", text, None)

    def close_names(self, text: str) -> dict[str, int]:
        """Tag names (not aliases) one edit from ``text`` (a transposition counts one), with their post counts."""
        key = query_keys(text)[0] if text else ""
        if not key or not storable(key):
            return {}
        fuzzy = self.fuzzy
        return {name: fuzzy.posts(name) or 0 for name in fuzzy._scored(key, set(), 1, names_only=True)}

    def complete(self, prefix: str, limit: int = 20) -> list[TagInfo]:
        """Tags starting with ``prefix``, most used first (as a1111-sd-webui-tagcomplete ranks them).

        An alias that starts with the prefix stands for its tag (``matched`` = ``alias``, ``query`` = the
        alias spelling), so ``hires`` completes to ``highres``; a tag appears once, under its own name when
        that starts with the prefix too.
        """
        key = query_keys(prefix)[0]
        if not key or not storable(key):
            return []
        upper = key + "\U0010ffff"
        spellings: list[str] = []
        for conn in self._conns:
            spellings.extend(name for name, _ in conn.execute(
                "SELECT name, post_count FROM tags WHERE name >= ? AND name < ? ORDER BY post_count DESC LIMIT ?",
                (key, upper, limit)))
        for conn in self._conns:
            spellings.extend(alias for (alias,) in conn.execute(
                "SELECT alias FROM aliases WHERE alias >= ? AND alias < ? LIMIT ?", (key, upper, limit * 20)))
        # the stack decides what each spelling means (e621's `pony` is Danbooru's alias of `pony_(animal)`):
        # one row per tag, under its own name when that starts with the prefix, ranked by the count shown
        best: dict[str, TagInfo] = {}
        for spelling in spellings:
            info = self.lookup(spelling)
            if info is None or not info.listed:
                continue
            own = info.name == spelling
            held = best.get(info.name)
            if held is None or (own and held.matched == "alias"):
                best[info.name] = TagInfo(info.name, info.category, info.post_count, info.source, info.sources,
                                          "exact" if own else "alias", prefix if own else spelling)
        return sorted(best.values(), key=lambda t: (-t.post_count, t.name))[:limit]


def _popularity_bonus(posts: int) -> float:
    return 2.5 * math.log10(1 + posts)


class _FuzzyIndex:
    """Candidates for ``suggest`` and ``correction`` among every spelling (names and aliases) of the stack.

    Comparing a query with all ~290k spellings costs tens of milliseconds, so candidates come from the stores'
    typo-search index (:mod:`.spellings`), read row by row as searches need them (the rows read are kept):

    - *one edit*: the spellings under the symmetric deletions (none or one character) of the query's first
      three characters, at its length and one either side: a few hundred candidates instead of tens of
      thousands, and every spelling within one edit among them.
    - *wider*: spellings by first character and length, for the rarer searches two or three edits wide (long
      queries with nothing one edit away). People rarely get the first letter wrong; a typo that also changes
      it is found only when it is one edit away.

    A spelling stands for the tag it names in the stack: a tag name of any source is itself, else an alias
    (of the first source that has one leading to a listed tag) stands for that tag; an alias of nothing listed
    is no candidate. Candidates are ranked by edit distance and popularity (the post count of the first source
    that lists the name).
    """

    def __init__(self, db: TagDB) -> None:
        self.db = db
        self._corrections: dict[tuple[str, int, frozenset[str]], str | None] = {}
        self._near: dict[tuple[int, str], tuple[str, ...]] = {}  # (length, key) -> spellings, as read
        self._first: dict[tuple[str, int], tuple[str, ...]] = {}  # (first character, length) -> spellings
        self._targets: dict[str, str | None] = {}
        self._popularity: dict[str, int | None] = {}

    def _bucket(self, n: int, key: str) -> tuple[str, ...]:
        return self._read(self._near, (n, key), "SELECT g.spellings FROM spelling_keys k JOIN spelling_groups g "
                          "ON g.len = k.len AND g.prefix = k.prefix WHERE k.len = ? AND k.key = ?", (n, key))

    def _by_first(self, first: str, n: int) -> tuple[str, ...]:
        return self._read(self._first, (first, n), "SELECT spellings FROM spelling_groups "
                          "WHERE len = ? AND prefix >= ? AND prefix < ?", (n, first, first + "\U0010ffff"))

    def _read(self, memo: dict, key: tuple, query: str, args: tuple) -> tuple[str, ...]:
        """The spellings of the groups ``query`` selects in every store, read once per ``key``."""
        found = memo.get(key)
        if found is None:
            out: list[str] = []
            for conn in self.db._conns:
                for (spellings,) in conn.execute(query, args):
                    out.extend(spellings.split(SEP))
            found = memo[key] = tuple(out)
        return found

    def posts(self, name: str) -> int | None:
        """The post count of tag name ``name`` in the first source that lists it, or None when none does."""
        if name in self._popularity:
            return self._popularity[name]
        count = None
        for conn in self.db._conns:
            row = conn.execute("SELECT post_count FROM tags WHERE name = ?", (name,)).fetchone()
            if row is not None:
                count = row[0]
                break
        self._popularity[name] = count
        return count

    def target(self, spelling: str) -> str | None:
        """The tag name a spelling stands for (see the class docstring), or None."""
        if spelling in self._targets:
            return self._targets[spelling]
        found = None
        if self.posts(spelling) is not None:
            found = spelling
        else:
            for conn in self.db._conns:
                row = conn.execute("SELECT name FROM aliases WHERE alias = ?", (spelling,)).fetchone()
                if row is not None and self.posts(row[0]) is not None:
                    found = row[0]
                    break
        self._targets[spelling] = found
        return found

    def _candidates(self, key: str, spread: int) -> list[str]:
        """Spellings that may lie within ``spread`` edits of ``key`` (see the class docstring)."""
        n = len(key)
        if spread <= 1:
            found: set[str] = set()
            keys = prefix_deletions(key)
            for length in (n - 1, n, n + 1):
                if length > 0:
                    for k in keys:
                        found.update(self._bucket(length, k))
            return list(found)
        out = self._candidates(key, 1)
        for length in range(max(1, n - spread), n + spread + 1):
            out.extend(self._by_first(key[0], length))
        return out

    def _scored(self, key: str, vocabulary: set[str], spread: int,
                names_only: bool = False) -> dict[str, tuple[int, float]]:
        """canonical name -> (edit distance, rank score) of every candidate within ``spread`` edits
        (``names_only``: compared with tag names only, not with the aliases that lead to them)."""
        from rapidfuzz import process
        from rapidfuzz.distance import OSA

        candidates = self._candidates(key, spread)  # duplicates are merged below, by name
        found = process.extract(key, candidates, scorer=OSA.distance, score_cutoff=spread, limit=None)
        found += [(v, OSA.distance(key, v), None) for v in vocabulary if abs(len(v) - len(key)) <= spread]
        out: dict[str, tuple[int, float]] = {}
        for spelling, distance, _ in found:
            if distance > spread:
                continue
            if spelling in vocabulary:
                name = spelling
            else:
                name = self.target(spelling)
                if name is None or (names_only and spelling != name):
                    continue  # an alias of no listed tag
            if spelling == key and name == key and name not in vocabulary:
                continue  # the query itself is a tag: suggest others
            posts = 10 ** 6 if name in vocabulary else (self.posts(name) or 0)
            # people rarely get the first letter wrong: such an edit counts a quarter more
            cost = distance + (0.25 if spelling[:1] != key[:1] else 0.0)
            similarity = 100.0 * (1 - cost / max(len(key), len(spelling)))
            score = similarity + _popularity_bonus(posts)
            if name not in out or score > out[name][1]:
                out[name] = (distance, score)
        return out

    def search(self, key: str, limit: int, vocabulary: set[str] = frozenset()) -> list[tuple[str, float]]:
        """The best ``limit`` names near ``key``: those one edit away when there are any worth showing, else
        those within two edits (three for long keys)."""
        if not key:
            return []
        scored = self._scored(key, vocabulary, 1)
        if not any(self._posts(name, vocabulary) >= _WORTH_SHOWING for name in scored):
            spread = 1 if len(key) <= 4 else (2 if len(key) <= 12 else 3)
            if spread > 1:
                for name, hit in self._scored(key, vocabulary, spread).items():
                    if name not in scored or hit[1] > scored[name][1]:
                        scored[name] = hit
        ranked = sorted(scored.items(), key=lambda kv: (-kv[1][1], kv[0]))
        return [(name, score) for name, (_, score) in ranked[:limit]]

    def _posts(self, name: str, vocabulary: set[str]) -> int:
        return 10 ** 6 if name in vocabulary else (self.posts(self.target(name) or name) or 0)

    def correction(self, key: str, vocabulary: set[str], min_posts: int) -> str | None:
        """The one tag ``key`` is a near-certain typo of: one edit away (two for long spellings) from its
        name, popular (``min_posts`` or more, or in ``vocabulary``; any tag with 50 posts when only a space
        is missing: ``blacktongue``), at least twenty times as popular as any other tag as close, and not a
        change of digits (``4k``/``8k``, ``2girls``/``3girls`` are different tags)."""
        if len(key) < 4:
            return None
        memo_key = (key, min_posts, frozenset(vocabulary))
        if memo_key in self._corrections:
            return self._corrections[memo_key]
        if len(self._corrections) > 50_000:
            self._corrections.clear()
        found = self._correction(key, vocabulary, min_posts)
        self._corrections[memo_key] = found
        return found

    def _correction(self, key: str, vocabulary: set[str], min_posts: int) -> str | None:
        scored = self._scored(key, vocabulary, 1, names_only=True)
        if not scored and len(key) >= 10:
            scored = self._scored(key, vocabulary, 2, names_only=True)
        if not scored:
            return None
        best_distance = min(d for d, _ in scored.values())
        closest = [(self._posts(n, vocabulary), n) for n, (d, _) in scored.items() if d == best_distance]
        closest.sort(reverse=True)
        posts, name = closest[0]
        needed = 50 if key.replace("_", "") == name.replace("_", "") else min_posts
        if posts < needed or (len(closest) > 1 and closest[1][0] * 20 > posts):
            return None
        if _digits(key) != _digits(name):
            return None
        return name


_WORTH_SHOWING = 100  # posts: a one-edit match this popular makes a wider search pointless


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


@functools.lru_cache(maxsize=16)
def stacked_db(names: tuple[str, ...]) -> TagDB:
    """A process-wide database for a stack of source names (or CSV paths), opened once."""
    return TagDB.from_names(names)


@functools.cache
def default_db() -> TagDB:
    """The process-wide default database (Danbooru + e621), opened once."""
    return stacked_db(("danbooru", "e621"))
