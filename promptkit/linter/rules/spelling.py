"""Spelling rules that the tag database alone cannot see: well-known names (PK216) and word boundaries
(PK217: tags glued together, a word split or glued, a stray space in an underscore tag)."""

from __future__ import annotations

import functools
import re
from bisect import bisect_right
from typing import Iterable

from ...syntax.normalize import lookup_key
from ..diagnostics import Diagnostic, Edit, Severity
from ..rule import LintContext, Rule, quote
from .tags import _spend, _split_in_two, budgeted, construct_tags, typo_spans, unknown_pieces


@functools.cache
def famous_names() -> dict[str, tuple[str, ...]]:
    """The bundled well-known names (linter/data/famous_names.txt), by first letter."""
    from ..vocabulary import data_lines

    out: dict[str, list[str]] = {}
    for line in data_lines("famous_names.txt"):
        name = line.lower()
        out.setdefault(name[0], []).append(name)
    return {k: tuple(v) for k, v in out.items()}


@functools.cache
def famous_words() -> frozenset[str]:
    """Every word of a well-known name: never a typo of a common word (``wlop`` is not ``wolf``)."""
    return frozenset(w for names in famous_names().values() for n in names for w in n.split())


_WORD = re.compile(r"[a-z]+")


def _covered(ctx: LintContext):
    spans = [(s, e) for s, e, _ in typo_spans(ctx)]
    starts = [s for s, _ in spans]

    def inside(start: int, end: int) -> bool:
        i = bisect_right(starts, end) - 1
        while i >= 0:
            s, e = spans[i]
            if s < end and start < e:
                return True
            if e <= start:
                return False
            i -= 1
        return False
    return inside


class MisspelledName(Rule):
    """A well-known artist's or studio's name, misspelled.

    Why: ``greg rutkowsky`` is not the name the text encoder learned; the style word is lost. Only the
    bundled list of names prompts use as style words (``promptkit/linter/data/famous_names.txt``), one edit
    away (two for names of twelve letters or more), the changed word not itself an English word.

    Example: ``by greg rutkowsky`` -> ``by greg rutkowski``. Fix (unsafe: the text changes to what was meant).
    """

    code = "PK216"
    name = "misspelled-name"
    category = "tags"
    severity = Severity.WARNING
    fix_safety = "unsafe"
    needs_db = True
    spelling_facts = True

    def spelling_fact(self, ctx: LintContext, tag) -> list[list[tuple[int, int, str]]] | None:
        return _candidates(ctx, tag) or None

    def check(self, ctx: LintContext) -> Iterable[Diagnostic]:
        facts = ctx.facts(self)  # the tags that may misspell a name (most captions: none)
        if not facts:
            return
        inside = _covered(ctx)
        for tag, per_word in facts:
            for candidates in per_word:
                for s, e, name in candidates:  # the first one outside a PK201 typo
                    start, end = tag.start + s, tag.start + e
                    if inside(start, end):
                        continue
                    fixed = _same_case(ctx.text[start:end], name)
                    yield self.diagnostic(f"{quote(ctx.text[start:end])} looks like a misspelling of the artist "
                                          f"{name!r}", start, end, suggestions=[fixed],
                                          fix=self.fix(f"replace with '{fixed}'", Edit(start, end, fixed)))
                    break


def _candidates(ctx: LintContext, tag) -> list[list[tuple[int, int, str]]]:
    """:func:`_name_typos` of a tag that may misspell a name: not under another namespace than ``artist:`` or
    ``by:``, not a famous name's word, not a tag. Reads the spelling, the profile and the database only."""
    if tag.namespace and tag.namespace not in ("artist", "by"):
        return []
    if tag.raw.lower().strip() in famous_words() or ctx.info(tag) is not None:
        return []
    return _name_typos(tag.raw)


def _name_typos(raw: str) -> list[list[tuple[int, int, str]]]:
    """Per word of ``raw`` (lower-cased), the famous names a run of words starting there misspells, in the list's
    order, as (start, end, name) in ``raw``: depends on the spelling alone (kept for the run)."""
    from rapidfuzz.distance import OSA

    from ..words import is_word

    names = famous_names()
    words = list(_WORD.finditer(raw.lower()))
    out = []
    for k, m in enumerate(words):
        candidates = []
        for name in names.get(m.group()[0], ()):
            n = name.count(" ") + 1
            window = words[k:k + n]
            if len(window) < n:
                continue
            written = " ".join(w.group() for w in window)
            if written == name:
                continue
            limit = 2 if len(name) >= 12 else 1
            if len(name) < 6 or OSA.distance(written, name, score_cutoff=limit) > limit:
                continue
            changed = [w.group() for w, good in zip(window, name.split()) if w.group() != good]
            if any(is_word(w) or w in famous_words() for w in changed):
                continue  # "greg rutkowski" and "james" are fine; a real word is meant as written
            candidates.append((window[0].start(), window[-1].end(), name))
        if candidates:
            out.append(candidates)
    return out


def _same_case(written: str, name: str) -> str:
    if written[:1].isupper():
        return " ".join(w[:1].upper() + w[1:] for w in name.split())
    return name


_STRAY_SPACE = re.compile(r"(?<=[^\W_]) (?=_[^\W_])|(?<=[^\W_]_) (?=[^\W_])")
_SPACE = re.compile(r"(?<=\d) (?=[a-z])|(?<=\b[a-z]) (?=[a-z])")  # "1 girl", "t shirt": a number or letter apart
_WORD_SPACE = re.compile(r"(?<=[a-z]{2}) (?=[a-z]{2})")  # two words of two letters or more
_GLUE_WORD = re.compile(r"[a-z]{6,40}")


class WordBoundary(Rule):
    """Tags glued together, or a tag's words glued or split where its spelling has none.

    Why: ``best qualitymasterpiece`` is one unknown word to the text encoder, not two tags; ``lookingat viewer``
    and ``1 girl`` are not ``looking at viewer`` and ``1girl``; ``cat _ears`` is not ``cat_ears``; on a tag model
    ``space suit`` is not the one word ``spacesuit`` its captions wrote (a popular tag, known as written). Reported only
    when the tag as written is known to none of the profile's sources and the repaired spelling is a known tag
    (or two known tags).

    Example: ``best qualitymasterpiece, lookingat viewer, 1 girl, 1boy 1girl`` -> ``best quality, masterpiece,
    looking at viewer, 1girl, 1boy, 1girl``. Fix (unsafe: the text changes to what was meant).
    """

    code = "PK217"
    name = "word-boundary"
    category = "tags"
    severity = Severity.WARNING
    fix_safety = "unsafe"
    needs_db = True

    def check(self, ctx: LintContext) -> Iterable[Diagnostic]:
        pieces = construct_tags(ctx)
        inside = _covered(ctx)
        for tag in unknown_pieces(ctx):  # no namespace, no construct piece, known to nothing
            if not tag.raw.strip():
                continue
            if inside(tag.start, tag.end):
                continue
            found = budgeted(ctx, "repairs", tag.raw, _repair)
            if found is None:
                continue
            s, e, replacement, what = found
            start, end = tag.start + s, tag.start + e
            after = tag.raw[:s] + replacement + tag.raw[e:]
            yield self.diagnostic(f"{quote(tag.raw)}: {what}; did you mean {after!r}?", tag.start, tag.end,
                                  suggestions=[after], fix=self.fix(f"write {after!r}", Edit(start, end, replacement)))
        yield from self._spaced_counts(ctx, inside)
        yield from self._split_by_comma(ctx, pieces, inside)

    def _spaced_counts(self, ctx: LintContext, inside) -> Iterable[Diagnostic]:
        """``1 girl`` where a source knows it as an alias (e621's of ``female``, on Pony): the count tag the
        captions wrote is one word all the same (unknown spellings are the loop above's)."""
        for tag in ctx.tags:
            name = tag.name
            if not name[:1].isdigit() or "_" not in name or not _SPACED_COUNT.fullmatch(name):
                continue
            if tag.namespace or not ctx.known(tag) or inside(tag.start, tag.end):
                continue
            raw = tag.raw.strip()
            joined = re.sub(r"[ _]+", "", raw)
            if not _known(ctx, joined) or _known(ctx, raw) and lookup_key(raw) in ctx.vocabulary:
                continue
            at = tag.start + tag.raw.index(raw)
            yield self.diagnostic(f"{quote(raw)}: a space the count tag does not have; did you mean {joined!r}?",
                                  at, at + len(raw), suggestions=[joined],
                                  fix=self.fix(f"write {joined!r}", Edit(at, at + len(raw), joined)))

    def _split_by_comma(self, ctx: LintContext, pieces, inside) -> Iterable[Diagnostic]:
        """``jpeg,artifacts``: a bare comma inside one tag, where neither half is a tag and the whole is."""
        tags = ctx.tags
        for left, right in zip(tags, tags[1:]):
            if ctx.text[left.end:right.start] != "," or left.index in pieces or right.index in pieces:
                continue
            if left.namespace or right.namespace or ctx.known(left) or ctx.known(right):
                continue
            if inside(left.start, right.end) or not _known(ctx, f"{left.raw} {right.raw}", min_posts=1000):
                continue
            whole = f"{left.raw} {right.raw}"
            yield self.diagnostic(f"{quote(ctx.text[left.start:right.end])}: a comma splits the tag {whole!r}",
                                  left.start, right.end, suggestions=[whole],
                                  fix=self.fix(f"write {whole!r}", Edit(left.end, right.start, " ")))


def _repair(ctx: LintContext, raw: str) -> tuple[int, int, str, str] | None:
    """(start, end, replacement, what) of the one boundary repair of ``raw``, or None. Depends on the spelling,
    the profile and the database only (kept for the run), and spends searches (:func:`budgeted`)."""
    counts = _glued_counts(ctx, raw)
    if counts is not None:  # "1boy 1girl", "1 girl 1 boy": count tags with no comma between them
        inner = raw.strip()
        at = raw.index(inner)
        return at, at + len(inner), counts, "count tags without a comma between them"
    for m in _STRAY_SPACE.finditer(raw):
        if _known(ctx, raw[:m.start()] + raw[m.end():]):
            return m.start(), m.end(), "", "a stray space inside the tag"
    if raw.count(" ") == 1 and lookup_key(raw.replace(" ", "")) in ctx.vocabulary:
        at = raw.index(" ")
        return at, at + 1, "", "a space the tag does not have"  # "master piece": the profile's own quality tag
    if raw.count(" ") <= 3:
        for m in _SPACE.finditer(raw):  # "1 girl" even where "girl" is a tag (e621's alias of "female")
            joined = raw[:m.start()] + raw[m.end():]
            if _known(ctx, joined, min_posts=1000) and (_COUNT.fullmatch(lookup_key(joined)) or
                                                        not _known(ctx, raw[m.end():])):
                return m.start(), m.end(), "", "a space the tag does not have"
        if not ctx.profile.natural_language:
            for m in _WORD_SPACE.finditer(raw):  # "space suit", "low res": one word of a tag written as two
                info = ctx.db.lookup(lookup_key(raw[:m.start()] + raw[m.end():]))
                if info is not None and info.matched == "exact" and info.post_count >= 5000:
                    return m.start(), m.end(), "", "a space the tag does not have"
    from ...tokens.clip import vocabulary
    from ..words import is_word

    lower = raw.lower()
    for m in _GLUE_WORD.finditer(lower):
        word = m.group()
        if is_word(word) or word in famous_words() or f"{word}</w>" in vocabulary() or _known(ctx, word):
            continue  # a word, a name, a whole word of the encoder ("webtoon"), a tag
        if not _spend(ctx):
            return None
        splits = [(min(_weight(ctx, word[:i]), _weight(ctx, word[i:])), i) for i in range(2, len(word) - 1)]
        splits = [(w, i) for w, i in splits if w > 0]
        if not splits:
            continue
        _, i = max(splits)
        left, right = word[:i], word[i:]
        at = m.start() + i
        head, tail = raw[:at].strip(), raw[at:].strip()
        if _known(ctx, raw[:at] + " " + raw[at:], min_posts=100):
            return at, at, " ", "two words glued together"
        if " " in head and _known(ctx, head, min_posts=100) and _known(ctx, tail, min_posts=100):
            return at, at, ", ", "two tags without a comma between them"
    return None


def _glued_counts(ctx: LintContext, raw: str) -> str | None:
    """``1girl, 1boy`` for a tag that is two people counts or more with spaces only between them, when each
    is a known tag."""
    if not _COUNTS.fullmatch(raw.strip().lower()):
        return None
    names = [f"{n}{who}{'s' if n != '1' and not s else s}" for n, who, s in _COUNT.findall(raw.lower())]
    if len(names) < 2 or not all(_known(ctx, n) for n in names):
        return None
    return None if not ctx.negative and _split_in_two(ctx, raw) is not None else ", ".join(names)  # PK212's


_COUNT_WORD = r"(\d\+?) ?(girl|boy|other)(s?)"
_COUNT = re.compile(_COUNT_WORD)
_SPACED_COUNT = re.compile(r"\d\+?_+(girl|boy|other)s?")
_COUNTS = re.compile(rf"{_COUNT_WORD}(?: +{_COUNT_WORD})+")


def _weight(ctx: LintContext, part: str) -> int:
    """How plausible a part of a glued word is on its own: its English frequency, or a tag's posts."""
    from ..words import frequency

    if len(part) < 2:
        return 0
    count = frequency(part)
    if count >= 100_000:
        return count
    info = ctx.db.lookup(lookup_key(part))
    return info.post_count * 100 if info is not None and info.post_count >= 100 else 0


def _known(ctx: LintContext, text: str, min_posts: int = 0) -> bool:
    """The text (one tag) is a tag of the profile's sources or vocabulary (with at least ``min_posts``)."""
    key = lookup_key(text.strip())
    if not key:
        return False
    if key in ctx.vocabulary:
        return True
    info = ctx.db.lookup(key)
    return info is not None and (min_posts == 0 or info.post_count >= min_posts)
