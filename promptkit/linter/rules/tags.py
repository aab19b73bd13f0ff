"""Tag rules (PK2xx): checked against the model's own tag sources and the profile's vocabulary."""

from __future__ import annotations

import functools
import re
from collections import Counter
from bisect import bisect_left, bisect_right
from typing import Iterable

from ..._resources import known_namespaces
from ...syntax.ast import And, Break, ExtraNetwork, Group, Node, Text, render_source
from ...syntax.normalize import KAOMOJI, lookup_key, prompt_spelling, unescape
from ...tags.counts import people_in
from ...tags.sources import TagCategory
from ..diagnostics import Diagnostic, Edit, Severity
from ..known import known_anywhere  # some bundled source knows a spelling (e621 not opened for it)
from ..known import name_words as _name_words
from ..rule import LintContext, Rule, TagRule, quote


def spelled(ctx: LintContext, name: str, like: str = "") -> str:
    """A database name written the way the profile wants it, keeping the writer's own underscores where
    the profile does not mind (``looking_at_viewr`` -> ``looking_at_viewer``)."""
    profile = ctx.profile
    if profile.tag_style == "underscores" or name in profile.keep_underscores:
        keep = True
    elif profile.tag_style == "spaces":
        keep = False
    else:
        keep = "_" in like and " " not in like.strip()
    return prompt_spelling(name, escape=profile.escape_parentheses and ctx.prompt.dialect != "compel",
                           underscores=keep)


@functools.cache
def english_words() -> frozenset[str]:
    """Whole words of CLIP's vocabulary: the words every SD text encoder reads as one token."""
    from ...tokens.clip import vocabulary

    return frozenset(k[:-4] for k in vocabulary() if k.endswith("</w>") and k[:-4].isalpha())


def _is_english(name: str) -> bool:
    words = english_words()
    parts = [p for p in re.split(r"[_\s-]+", name) if p]
    return bool(parts) and all(p in words for p in parts)


def _without_accents(name: str) -> str:
    import unicodedata

    return "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))


_FILLERS = frozenset({"the", "a", "an", "too", "so"})


def tag_correction(ctx: LintContext, tag) -> str | None:
    """The known tag the whole of ``tag`` is a near-certain typo of (database name), or None.

    Near-certain: one edit away from a tag's name (two for long tags), popular, far more popular than any
    other tag as close (see :meth:`TagDB.correction`), or the same letters without accents
    (``Califórnia``), or a tag once a filler word inside it is dropped (``off-the-shoulder sweater``), or a
    run-together tag (``worstquality``, ``too longtongue``). Never a correction of a spelling that some bundled
    source knows as a tag (``glans`` is e621's, not a typo of ``glass``), and never of a phrase of real English
    words (``gleaming eye`` is not ``flaming eye``, ``lighting`` not ``lightning``) except into one of the
    profile's own quality or negative tags one edit away (``lowers`` -> ``lowres``, ``wort quality`` ->
    ``worst quality``): those are what everybody types, so the phrase is almost surely one of them. A filler
    at the edge of a phrase changes nothing (``the best quality``, ``an abstract``). Natural-language profiles
    only correct spellings of five letters or more, to general tags that are popular, since CLIP reads names
    and phrases in their own spelling.
    """
    if ctx.db is None:
        return None
    return corrected(ctx, tag.name)


def corrected(ctx: LintContext, name: str) -> str | None:
    """:func:`tag_correction` of a database spelling, memoized per prompt and bounded in number; the answer is
    kept for the run (it depends on the spelling, the profile and the database only)."""
    tried = ctx.__dict__.setdefault("_corrections", {})
    if name in tried:
        return tried[name]
    tried[name] = found = budgeted(ctx, "corrections", name, _correction)
    return found


MAX_CORRECTIONS = 1000  # distinct spellings and words searched for a typo, per prompt


def _spend(ctx: LintContext) -> bool:
    """Take one search from the prompt's budget: on a huge prompt of unknown words the first
    :data:`MAX_CORRECTIONS` spellings and words are searched, so the cost stays bounded."""
    spent = ctx.__dict__.get("_searches", 0)
    if spent >= MAX_CORRECTIONS:
        ctx.__dict__["_refused"] = ctx.__dict__.get("_refused", 0) + 1
        return False
    ctx.__dict__["_searches"] = spent + 1
    return True


def budgeted(ctx: LintContext, table: str, key: str, compute):
    """``compute(ctx, key)`` through the run memo's ``table``, for an answer that spends searches (:func:`_spend`).

    The memo keeps the answer with the searches it took. A prompt that has that many searches left gets the
    kept answer and pays for them, exactly as if it had searched; one that has fewer computes it (its budget
    may run out inside, and change the answer). An answer cut short by the budget is not kept.
    """
    memo = ctx.table(table)
    hit = memo.get(key)
    state = ctx.__dict__
    spent = state.get("_searches", 0)
    if hit is not None and spent + hit[1] <= MAX_CORRECTIONS:
        state["_searches"] = spent + hit[1]
        return hit[0]
    refused = state.get("_refused", 0)
    found = compute(ctx, key)
    if state.get("_refused", 0) == refused:
        memo[key] = (found, state.get("_searches", 0) - spent)
    return found


def _search(ctx: LintContext, name: str, min_posts: int):
    """``TagDB.correction`` within the prompt's budget (:func:`_spend`)."""
    return ctx.db.correction(name, ctx.vocabulary, min_posts=min_posts) if _spend(ctx) else None


def _vocabulary_typo(ctx: LintContext, name: str) -> str | None:
    """The one profile quality/negative tag (``worst quality``, ``lowres``) the real words ``name`` are one edit
    from, where the changed word is a rare word (``wort``) or has two letters swapped (``lowers``): ``worse
    quality`` and ``sole`` are meant as written."""
    from rapidfuzz.distance import OSA, Levenshtein

    from ..words import COMMON, frequency

    by_shape = _vocabulary_shapes(ctx)
    words, n = name.count("_"), len(name)
    if not any((words, m) in by_shape for m in (n - 1, n, n + 1)):
        return None
    close = [v for m in (n - 1, n, n + 1) for v in by_shape.get((words, m), ()) if OSA.distance(v, name) == 1]
    if len(close) != 1 or _digits(close[0]) != _digits(name) or close[0] in (name + "s", name + "es"):
        return None
    if name in (close[0] + "s", close[0] + "es"):  # a plural: a slip only of a ladder tag ("masterpieces")
        return close[0] if close[0] in ctx.profile.ladders_vocabulary else None
    changed = [(a, b) for a, b in zip(name.split("_"), close[0].split("_")) if a != b]
    if len(changed) != 1:
        return None
    old, new = changed[0]
    if Levenshtein.distance(old, new) == 2 or frequency(old) < COMMON:
        return close[0]
    return None


def _vocabulary_shapes(ctx: LintContext) -> dict[tuple[int, int], list[str]]:
    """The profile's vocabulary by (underscores, length): the few names a spelling can be one edit from."""
    shapes = ctx.__dict__.get("_shapes")
    if shapes is None:
        shapes = ctx.__dict__["_shapes"] = {}
        for v in ctx.vocabulary:
            shapes.setdefault((v.count("_"), len(v)), []).append(v)
    return shapes


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def real_words(name: str) -> bool:
    """Every part of ``name`` is an English word or a whole word of CLIP's vocabulary (``hanga``, ``ai``:
    names and foreign words the encoder knows)."""
    from ...tokens.clip import vocabulary
    from ..words import is_word

    parts = [p for p in re.split(r"[_-]+", name) if p]
    clip = vocabulary()
    return bool(parts) and all(is_word(p) or f"{p}</w>" in clip for p in parts)


#: everyday words for a few tags everybody means, that no one-edit search finds: a count in words for people
#: (Danbooru counts ``girl``/``boy``), the resolution meta tags spelled out, and ``looking at you``
EVERYDAY_SPELLINGS = {
    "1woman": "1girl", "1female": "1girl", "2women": "2girls", "3women": "3girls",
    "1man": "1boy", "1male": "1boy", "2men": "2boys", "3men": "3boys",
    "low_resolution": "lowres", "high_resolution": "highres", "absurd_resolution": "absurdres",
    "looking_at_you": "looking_at_viewer",  # not "from bottom": Animagine 3.1's own card example writes it
    "low-res": "lowres", "hi-res": "highres", "high-res": "highres",
}


def _everyday_spelling(ctx: LintContext, name: str) -> str | None:
    """The Danbooru tag an everyday spelling means (``1woman`` -> ``1girl``, ``low resolution`` -> ``lowres``), on
    the profiles trained on Danbooru's captions and where that tag is known."""
    meant = EVERYDAY_SPELLINGS.get(name)
    if meant is None or not danbooru_captions(ctx.profile):
        return None
    info = ctx.db.lookup(meant)
    return meant if meant in ctx.vocabulary or (info is not None and info.matched == "exact") else None


def _correction(ctx: LintContext, name: str) -> str | None:
    everyday = _everyday_spelling(ctx, name)
    if everyday is not None:
        return everyday
    if not name.isascii():
        plain = _without_accents(name)
        if plain != name and plain.isascii():
            info = ctx.db.lookup(plain)
            if plain in ctx.vocabulary or (info is not None and info.matched == "exact" and info.post_count >= 20):
                return plain
        return None
    natural = ctx.profile.natural_language
    if natural and len(name) < 5:
        return None
    found = _found_correction(ctx, name, natural)
    if found is None or (known_anywhere(name) and found != _without_fillers(name)):
        return None  # "glans" is e621's tag, not a typo of "glass"; "looking at the viewer" is still the tag
    if found in ("n" + name, "non_" + name) or name in ("n" + found, "non_" + found):
        return None  # "sfw" is the opposite of "nsfw", not a typo of it
    from ..words import DERIVING_SUFFIXES

    if name.startswith(found) and name[len(found):] in DERIVING_SUFFIXES:
        return None  # "beachy" (waves): a word made from the tag "beach", not a typo of it
    return found


def _without_fillers(name: str) -> str | None:
    """``name`` with its filler words dropped (``looking_at_the_viewer`` -> ``looking_at_viewer``), or None
    when it has none."""
    words = re.split(r"([_-])", name)
    if len(words) < 2 or not any(w in _FILLERS for w in words[::2]):
        return None
    kept = []
    for i in range(0, len(words), 2):
        if words[i] not in _FILLERS:
            kept.append(words[i])
            if i + 1 < len(words):
                kept.append(words[i + 1])
    return "".join(kept).strip("_-")


#: a phrase of real words that reads as a tag once a filler is dropped ("looking at the viewer") is worth a
#: finding only for the tags everybody means: "on a swing" says what "on swing" (2,645 posts) says. A filler
#: inside a hyphenated word ("off-the-shoulder sweater") is not a phrase: there 500 posts are enough
FILLER_PHRASE_POSTS = 100_000


def _found_correction(ctx: LintContext, name: str, natural: bool) -> str | None:
    words = re.split(r"([_-])", name)
    shorter = _without_fillers(name)
    if shorter is not None:  # "off-the-shoulder sweater", "too longtongue"
        info = ctx.db.lookup(shorter)
        least = FILLER_PHRASE_POSTS if real_words(name) and "-" not in name else 500  # "off-the-shoulder": a word
        known = shorter in ctx.vocabulary or (info is not None and info.matched == "exact" and info.post_count >= least)
        last = len(words) - 1
        at_edges = all(words[i] not in _FILLERS or (i == 0 and words[1] == "_") or (i == last and words[i - 1] == "_")
                       for i in range(0, len(words), 2))
        if known:
            return None if at_edges else shorter  # "the best quality" reads as "best quality" already
        if "_" not in shorter and len(shorter) >= 8 and not natural:
            found = _search(ctx, shorter, 500)
            if found is not None and found.name.replace("_", "") == shorter:
                return found.name  # only a missing space once the filler is gone
    if real_words(name):  # real words: only one of the tags everybody types, or one cut short
        return _vocabulary_typo(ctx, name) or (None if natural else _cut_short(ctx, name) or _letter_too_many(ctx, name))
    min_posts = 5000 if natural else 500
    found = _search(ctx, name, min_posts)
    if found is None:
        return None
    if found.name.replace("-", "_") == name.replace("-", "_"):
        return None  # "ai generated" / "ai-generated": the encoder reads both alike
    if found.name in (name + "s", name + "es") or name in (found.name + "s", found.name + "es"):
        return None  # "grassland" / "grasslands": the word is right, only the tag's number differs
    if natural and found.category not in (TagCategory.GENERAL, TagCategory.META, TagCategory.UNKNOWN):
        return None
    if "_" not in name and name in _name_words():
        return None  # "hanga" of "sosaku hanga": a word of a name some source knows
    if _another_word_meant(name, found.name):
        return None  # "detalied hair" is "detailed hair", not "detached hair"
    if _changes_a_known_word(ctx, name, found.name):
        return None  # "odango hair": odango is Danbooru's name for a double bun, not a typo of "orange"
    return found.name


#: a phrase with its last letter lost ("floating hai") is corrected only into a tag this popular
CUT_SHORT_POSTS = 100_000


def _cut_short(ctx: LintContext, name: str) -> str | None:
    """The one very popular tag ``name`` is with its last letter lost (``floating_hai`` -> ``floating_hair``): a
    phrase of two words or more whose last word is cut, never a plural (``cat_ear`` is not ``cat_ears``)."""
    if "_" not in name or not name[-1].isalpha():
        return None
    from ..words import is_word

    if is_word(name.rsplit("_", 1)[1]):
        return None  # the last word is a word ("on_swing"): nothing was cut (and no 25 look-ups per phrase)
    found = []
    for letter in "abcdefghijklmnopqrstuvwxyz":
        if letter == "s":
            continue
        info = ctx.db.lookup(name + letter)
        if info is not None and info.matched == "exact" and info.post_count >= CUT_SHORT_POSTS:
            found.append(info.name)
    return found[0] if len(found) == 1 else None


#: a phrase of real words with one letter too many ("cat hears") is corrected only into a tag this popular
LETTER_TOO_MANY_POSTS = 50_000


def _letter_too_many(ctx: LintContext, name: str) -> str | None:
    """The one very popular tag a phrase of two or three real words is with one letter dropped from one word
    (``cat_hears`` -> ``cat_ears``, ``two-toned_hair`` -> ``two-tone_hair``); never a plural's last ``s``
    (``cat_ear`` and ``cat_ears`` are PK202's number question)."""
    words = name.split("_")
    if not 2 <= len(words) <= 3:
        return None
    found = set()
    for k, word in enumerate(words):
        for i in range(len(word)):
            if word[i] == "s" and i == len(word) - 1 or len(word) < 4:
                continue
            shorter = "_".join(words[:k] + [word[:i] + word[i + 1:]] + words[k + 1:])
            info = ctx.db.lookup(shorter)
            if info is not None and info.matched == "exact" and info.post_count >= LETTER_TOO_MANY_POSTS:
                found.add(info.name)
    return found.pop() if len(found) == 1 else None


def _changes_a_known_word(ctx: LintContext, name: str, target: str) -> bool:
    """The correction replaces a word that is a tag of its own, or an alias of another word than the one the
    correction writes (three letters or more); a rare tag one edit away is a kept misspelling ("hiar")."""
    from rapidfuzz.distance import OSA

    old_words, new_words = name.split("_"), target.split("_")
    if len(old_words) < 2 or len(old_words) != len(new_words):
        return False
    for old, new in zip(old_words, new_words):
        if old != new and len(old) >= 3:
            info = ctx.db.lookup(old)
            if info is None:
                continue
            if info.post_count < 1000 and OSA.distance(old, new) < 2:
                continue  # e621 keeps misspellings as tags of their own ("hiar", 21 posts): still a typo
            meant = ctx.db.lookup(new)
            if info.name != (meant.name if meant is not None else new):  # "earings": an alias of "earrings"
                return True
    return False


def _another_word_meant(name: str, target: str) -> bool:
    """A word that the correction changes by two edits is one edit from another common word."""
    from rapidfuzz.distance import OSA

    from ..words import COMMON, frequency, one_edit

    for old, new in zip(name.split("_"), target.split("_")):
        if old != new and OSA.distance(old, new) >= 2 and \
                any(w != new and frequency(w) >= COMMON for w in one_edit(old)):
            return True
    return False


_WORD = re.compile(r"[^\s_]+")


def window_corrections(ctx: LintContext, tag) -> list[tuple[int, int, str]]:
    """Typos inside a phrase of tags and words: ``low quality lowres wort quality``, ``missing fngers``.

    (start, end, database name) of each run of one to three words of ``tag`` whose correction
    (:func:`tag_correction`'s rules) changes only one of its words: a word that is neither a word nor a tag, or
    a phrase of real words one edit from one of the profile's own tags. Longest runs first, none overlapping.
    """
    memo = ctx.__dict__.setdefault("_windows", {})
    found = memo.get(tag.raw)
    if found is None:
        found = memo[tag.raw] = _run_windows(ctx, tag.raw)
    return [(tag.start + s, tag.start + e, name) for s, e, name in found]


def _run_windows(ctx: LintContext, raw: str) -> list[tuple[int, int, str]]:
    """:func:`_windows` through the run memo. Its only input besides the spelling, the profile and the database
    is what :func:`corrected` answers (within the prompt's budget): the memo keeps those calls, and a prompt
    gets the kept windows when the same calls give it the same answers (then :func:`_windows` would take the
    same path), else computes them."""
    memo = ctx.table("windows")
    hit = memo.get(raw)
    if hit is not None:
        found, calls = hit
        if all(corrected(ctx, window) == name for window, name in calls):
            return found
    calls = []
    found = _windows(ctx, raw, calls)
    memo[raw] = (found, calls)
    return found


_NAME_WITH_NUMBER = re.compile(r"[_-][a-z]*\d")


def _windows(ctx: LintContext, raw: str, calls: list) -> list[tuple[int, int, str]]:
    """:func:`window_corrections` of one spelling, offsets relative to it (a caption repeats its pieces);
    ``calls`` gets each (window, answer) of :func:`corrected` in the order asked."""
    if "\\" in raw or "(" in raw or ":" in raw or not raw.isascii():
        return []
    spans = [(m.start(), m.end()) for m in _WORD.finditer(raw)]
    if len(spans) < 2 or len(spans) > 12:
        return []
    keys = [lookup_key(raw[s:e]) for s, e in spans]
    if any(k in _ATTRIBUTION for k in keys[:-1]) or _NAME_WITH_NUMBER.search(raw):
        return []  # "style by bkrs", "bkrs_t2": a name the sources do not know
    unknown = [not _word_known(ctx, k) for k in keys]
    if any(a and b for a, b in zip(unknown, unknown[1:])):
        return []  # two unknown words side by side: a name ("saturno butto"), not a typo
    taken = [False] * len(spans)
    found = []
    for size in (3, 2, 1):
        for i in range(len(spans) - size + 1):
            j = i + size
            if any(taken[i:j]) or (size == len(spans)):
                continue
            if sum(unknown[i:j]) > 1:
                continue
            window = "_".join(keys[i:j])
            if not any(unknown[i:j]):  # real words: only one of the profile's own tags (cheap: few shapes)
                name = _swapped_vocabulary_word(ctx, window) if size == 1 else _vocabulary_typo(ctx, window)
                if name is None or _phrase_known(ctx, window) or known_anywhere(window):
                    continue
            elif _phrase_known(ctx, window):
                continue
            else:
                name = corrected(ctx, window)
                calls.append((window, name))
            if _attributed(keys, i) or "and" in keys[max(0, i - 1):i] + keys[j:j + 1]:
                continue  # "by sparth", "wpol and sarasti": names
            if name is None or not _one_word_changed(keys[i:j], name):
                continue
            found.append((spans[i][0], spans[j - 1][1], name))
            taken[i:j] = [True] * size
    return sorted(found)


def _swapped_vocabulary_word(ctx: LintContext, word: str) -> str | None:
    """The profile tag a real word inside a phrase stands for (``lowers`` -> ``lowres``), first letter kept."""
    name = _vocabulary_typo(ctx, word) if len(word) >= 5 else None
    return name if name is not None and name[0] == word[0] else None


def _word_known(ctx: LintContext, key: str) -> bool:
    from ..words import is_word

    return is_word(key) or key in ctx.vocabulary or ctx.db.lookup(key) is not None or not key.isalpha()


def _phrase_known(ctx: LintContext, key: str) -> bool:
    return key in ctx.vocabulary or ctx.db.lookup(key) is not None


def _one_word_changed(words: list[str], name: str) -> bool:
    new = name.split("_")
    return len(new) == len(words) and sum(a != b for a, b in zip(words, new)) == 1


class UnknownTag(Rule):
    """A tag its model does not know that is a near-certain typo of one it does.

    Why: tag-trained models only know the tags of their training captions; a misspelled tag is read as
    loose words, if at all. Only near-certain typos are reported (one edit from a popular tag of the
    profile's own sources or vocabulary, far more popular than any rival); phrases, names and words that
    are simply not tags are left alone (``--select PK210`` lists those too). Run-together tags are typos too.

    Example: ``1grl, long hiar, worstquality`` -> ``1girl, long hair, worst quality``.
    Fix (unsafe: the text changes to what was meant): the corrected tag.
    """

    code = "PK201"
    name = "unknown-tag"
    category = "tags"
    severity = Severity.WARNING
    fix_safety = "unsafe"
    needs_db = True

    def check(self, ctx: LintContext) -> Iterable[Diagnostic]:
        severity = Severity.INFO if ctx.profile.natural_language else Severity.WARNING
        whole = None
        for start, end, name in typo_spans(ctx):
            raw = ctx.text[start:end]
            fixed = spelled(ctx, name, raw)
            if whole is None:
                whole = {t.trimmed: t for t in ctx.tags}
            tag = whole.get((start, end))
            if tag is not None and _said_elsewhere(ctx, tag, lookup_key(fixed)):
                # "detailed backgroud" beside "detailed background": the correction would only repeat the tag
                edit = ctx.removal(tag)
                yield self.diagnostic(f"unknown tag {quote(raw)}: a misspelled {fixed!r}, which this part of the "
                                      "prompt has already", start, end, severity=severity,
                                      fix=self.fix("remove the misspelled copy", edit) if edit else None)
                continue
            yield self.diagnostic(f"unknown tag {quote(raw)}; did you mean {fixed!r}?", start, end,
                                  severity=severity, suggestions=[fixed],
                                  fix=self.fix(f"replace with '{fixed}'", Edit(start, end, fixed)))


def typo_spans(ctx: LintContext) -> list[tuple[int, int, str]]:
    """(start, end, database name) of every near-certain tag typo: whole unknown tags, or runs of words
    inside one (:func:`window_corrections`)."""
    cached = ctx.__dict__.get("_typos")
    if cached is not None:
        return cached
    out = []
    for tag in unknown_tags(ctx):
        if "\\\\" in tag.raw:
            continue  # a doubled escape (PK114), not a misspelling
        raw = tag.raw.strip()
        if raw[-2:] in ("\\n", "\\t", "\\r"):
            continue  # a typed string escape (PK115), not a misspelling
        if raw[:1] in _CONTAINER_MARKS or raw[-1:] in _CONTAINER_MARKS or raw.endswith("."):
            continue  # a quote, a variant bar, a bracket its dialect reads as text: the file's syntax, not a typo
        name = tag_correction(ctx, tag)
        if name is not None and (_another_name(ctx, tag, name) or _said_both_ways(ctx, tag, name) or
                                 _named_by(ctx, tag)):
            continue
        if name is not None:
            out.append((tag.start, tag.end, name))
        else:
            out.extend(window_corrections(ctx, tag))
    ctx.__dict__["_typos"] = out
    return out


# characters at a tag's edge that come from the text around a prompt (JSON quotes, dynamic-prompts bars,
# semicolon lists, ComfyUI's literal square brackets), not from the tag's spelling
_CONTAINER_MARKS = frozenset('|"\';[]{}')


def _said_both_ways(ctx: LintContext, tag, name: str) -> bool:
    """An everyday spelling beside the tag it means (``lowres, low resolution``): said twice on purpose, and the
    correction would only repeat the tag."""
    return EVERYDAY_SPELLINGS.get(tag.name) == name and any(t.name == name for t in ctx.tags)


def _another_name(ctx: LintContext, tag, name: str) -> bool:
    """A one-word spelling "corrected" into an artist's name (``sakurakono`` -> ``sakuramon``): more likely an
    artist the sources do not know than a typo of one."""
    if " " in tag.raw.strip() or "_" in name:
        return False
    info = ctx.db.lookup(name)
    return info is not None and info.category is TagCategory.ARTIST


def _named_by(ctx: LintContext, tag) -> bool:
    """The word follows "by" elsewhere in the text (``style by sakurakono,\tsakurakono`` in a wildcard file of
    artist styles): the author's own word for an artist the sources do not know, not a typo of a tag."""
    word = tag.raw.strip().lower()
    if not word or " " in word:
        return False
    lowered = ctx.__dict__.get("_lowered")
    if lowered is None:
        lowered = ctx.__dict__["_lowered"] = ctx.text.lower()
    return re.search(rf"\bby[ _]{re.escape(word)}(?![\w-])", lowered) is not None


def unknown_tags(ctx: LintContext) -> list:
    """Tags that look like tags and that nothing knows: the profile, the tag sources, the embeddings list."""
    if ctx.db is None:
        return []
    cached = ctx.__dict__.get("_unknown")
    if cached is not None:
        return cached
    # spelling -> it is an unknown tag: the tests below read the spelling, the profile and the database only
    out = [tag for tag in unknown_pieces(ctx) if unknown_spelling(ctx, tag)]
    ctx.__dict__["_unknown"] = out
    return out


def unknown_spelling(ctx: LintContext, tag) -> bool:
    """:func:`unknown_tags`' verdict on one spelling (it reads the spelling, the profile and the database only:
    kept for the run); a tag with it is an unknown tag unless it is a piece of an unescaped ``name (series)``."""
    verdicts = ctx.table("unknown_tag")
    key = (tag.name, tag.text, tag.namespace)
    unknown = verdicts.get(key)
    if unknown is None:
        unknown = verdicts[key] = _unknown_spelling(ctx, tag)
    return unknown


def unknown_pieces(ctx: LintContext) -> list:
    """The tags without a namespace, outside an unescaped ``name (series)`` (PK206/PK207 report those), that nothing
    knows (:meth:`LintContext.known`): where PK201, PK215 and PK217 look for typos. Found once per prompt."""
    cached = ctx.__dict__.get("_unknown_pieces")
    if cached is None:
        pieces = construct_tags(ctx)
        known = ctx.known
        cached = ctx.__dict__["_unknown_pieces"] = [t for t in ctx.tags if not t.namespace and t.index not in pieces
                                                    and not known(t)]
    return cached


def _unknown_spelling(ctx: LintContext, tag) -> bool:
    """:func:`unknown_tags`' verdict on one spelling."""
    if tag.namespace or tag.name in KAOMOJI or ctx.known(tag):
        return False
    from .model import ladder_owners  # here, not at the top: model imports this module

    # other families' ladder tags are reported by PK301 instead
    return not (tag.name in ladder_owners() or ctx.is_prose(tag) or qualified_character(ctx, tag) is not None)


class NotInVocabulary(Rule):
    """Any tag-like piece that none of the profile's tag sources knows (opt-in).

    Why: for tag-trained models an unknown tag is at best loose words. Most such pieces in real prompts are
    phrases, names or styles the text encoder reads fine, so this rule is off by default; PK201 reports the
    near-certain typos among them.

    Example: ``1girl, sparkly vibes`` -> a finding for ``sparkly vibes``, with the closest tags.
    """

    code = "PK210"
    name = "not-in-vocabulary"
    category = "tags"
    severity = Severity.INFO
    needs_db = True
    default = False

    def check(self, ctx: LintContext) -> Iterable[Diagnostic]:
        typos = [start for start, _, _ in typo_spans(ctx)]
        for tag in unknown_tags(ctx):
            i = bisect_left(typos, tag.start)
            if i < len(typos) and typos[i] < tag.end:
                continue  # PK201
            names = [spelled(ctx, s.name, tag.raw) for s in ctx.db.suggest(tag.name, 3, ctx.vocabulary)]
            hint = f"; closest: {', '.join(repr(n) for n in names)}" if names else ""
            yield self.diagnostic(f"{quote(tag.text)} is not a tag of {ctx.profile.title}{hint}", tag.start, tag.end,
                                  suggestions=names)


class AliasTag(TagRule):
    """A tag written in a spelling its source has renamed: split, joined or hyphenated wrongly.

    Why: the sites keep the misspellings people type as aliases of the real tag; the model was trained on
    the real tag's tokens. ``pony tail`` is read as a pony's tail, ``ponytail`` is the hairstyle;
    ``2boy`` is not the count tag ``2boys``. On SDXL-era models trained on Danbooru's captions (Illustrious,
    NoobAI, Animagine, Kivotos) a general tag's other word forms are reported too (``blushing`` -> ``blush``,
    ``hair ornaments`` -> ``hair ornament``): those models learned the canonical tag. Other renames (elsewhere,
    or of meta tags: ``hires`` -> ``highres``) are PK214, off by default. A spelling that differs only by a
    hyphen (``double-blade``) is never reported: the encoder reads both alike. An alias that leads to
    another concept (``orange`` -> ``orange (fruit)``, ``man`` -> ``male focus``, ``cute`` -> ``invalid tag``)
    is never reported. An alias of a tag that the same part of the prompt has already (``high resolution`` beside
    ``highres``) is a repeat: its fix removes it (unsafe), as PK204's would.

    Example: ``pony tail, 2boy`` -> ``ponytail, 2boys``. Fix (safe): write the tag's own spelling.
    """

    code = "PK202"
    name = "alias-tag"
    category = "tags"
    severity = Severity.WARNING
    fix_safety = "safe"
    needs_db = True
    respellings = True

    def check_tag(self, ctx: LintContext, tag) -> Iterable[Diagnostic]:
        from ...tags.aliases import is_respelling

        if not _aliased(ctx, tag):  # a bare tag the database knows as an alias (most are not)
            return
        everyday = None
        renamed = ctx.db.rename(tag.name) or (everyday := _everyday_alias(ctx, tag)) or _ing_form(ctx, tag)
        if renamed is None or _only_hyphens(tag.name, renamed.name):
            return  # "double-blade" / "double blade": the encoder reads both alike, and captions had both
        reported = is_respelling(tag.name, renamed.name) or _learned_canonical(ctx, tag, renamed) or \
            (renamed is everyday and _sdxl_danbooru(ctx.profile))  # "high resolution": the meta tag is "highres"
        if reported is not self.respellings:
            return
        if ctx.profile.natural_language and (not self.respellings or not _encoder_word(renamed.name)):
            return  # natural-language models read words: "line art" reads fine, "pony tail" does not
        new = spelled(ctx, renamed.name, tag.raw)
        stray = tag.raw[len(tag.raw.rstrip(":")):] if not tag.name.endswith(":") else ""  # "(x::1.2)" keeps it
        yield self.diagnostic(f"{quote(tag.text)} is written {new!r} on {renamed.source}",
                              tag.start, tag.end, suggestions=[new],
                              fix=self.fix(f"write '{new}'", Edit(tag.start, tag.end, new + stray)))

    def keep(self, ctx: LintContext, tag) -> bool:
        return tag.index not in construct_tags(ctx)  # a piece of an unescaped "name (series)": PK206's

    def placed(self, ctx: LintContext, tag, found: list[Diagnostic]) -> list[Diagnostic]:
        """An alias of a tag the same part of the prompt has already (``high resolution`` beside ``highres``):
        the rewrite would only make a repeat, so the advice is to remove it (unsafe, as PK204's)."""
        if not self.keep(ctx, tag):
            return []
        d = found[0]
        written = lookup_key(d.suggestions[0]) if d.suggestions else None
        if written is None or not _said_elsewhere(ctx, tag, written):
            return found
        edit = ctx.removal(tag)
        return [self.diagnostic(f"{d.message}, which this part of the prompt has already", d.start, d.end,
                                fix=self.fix("remove the repetition", edit, safe=False) if edit else None)]


def _said_elsewhere(ctx: LintContext, tag, name: str) -> bool:
    """Another tag of ``tag``'s region (between the same ``BREAK``/``AND``s) is ``name``, with a weight above 0."""
    bounds = region_bounds(ctx)
    index = ctx.__dict__.get("_names_by_region")
    if index is None:  # name -> [(region, tag)], built once a prompt: one look-up per finding, whatever its size
        index = ctx.__dict__["_names_by_region"] = {}
        for t in ctx.tags:
            if t.weight > 0:
                index.setdefault(t.name, []).append((bisect_right(bounds, t.start) if bounds else 0, t))
    where = bisect_right(bounds, tag.start) if bounds else 0
    return any(region == where and t is not tag for region, t in index.get(name, ()))


def region_bounds(ctx: LintContext) -> list[int]:
    """Where the prompt's top-level ``AND``s and ``BREAK``s start: a tag's region is ``bisect_right`` of its
    start. Found once a prompt; a plain caption (no syntax) has none, and its tree need not be built to know it."""
    bounds = ctx.__dict__.get("_region_bounds")
    if bounds is None:
        bounds = ctx.__dict__["_region_bounds"] = [] if ctx.prompt.plain_caption else \
            [n.start for n in ctx.prompt.children if type(n) is And or type(n) is Break]
    return bounds


def _everyday_alias(ctx: LintContext, tag):
    """The tag an everyday spelling means, where a source keeps that spelling as its alias (e621's
    ``looking_at_you`` -> ``looking_at_viewer``): a rename in all but the words."""
    info = ctx.info(tag)
    return info if info is not None and EVERYDAY_SPELLINGS.get(tag.name) == info.name else None


def _ing_form(ctx: LintContext, tag):
    """The tag an alias in a word's -ing form stands for (``blushing`` -> ``blush``, ``smiling`` -> ``smile``): a
    rename of the word, though not a respelling :func:`~promptkit.tags.aliases.is_rename` counts (known_anywhere
    keeps such a site's alias a word of its own)."""
    info = ctx.info(tag)
    if info is None or info.matched != "alias" or not info.listed:
        return None
    changed = _changed_word(tag.name, info.name)
    if changed is None:
        return None
    short, long_ = sorted(changed, key=len)
    return info if len(short) >= 4 and long_ in (short + "ing", short[:-1] + "ing") else None


def _changed_word(alias: str, target: str) -> tuple[str, str] | None:
    """The one word two names of as many words differ in (``extra_digit`` / ``extra_digits``: ``digit``,
    ``digits``), or None."""
    a, b = alias.split("_"), target.split("_")
    if len(a) != len(b):
        return None
    changed = [(x, y) for x, y in zip(a, b) if x != y]
    return changed[0] if len(changed) == 1 else None


def _only_hyphens(alias: str, target: str) -> bool:
    return alias.replace("-", "_") == target.replace("-", "_")


def _learned_canonical(ctx: LintContext, tag, renamed) -> bool:
    """A rename PK202 reports beyond respellings: a general tag's other word form (``blushing`` -> ``blush``,
    ``hair ornaments`` -> ``hair ornament``) on an SDXL-era model trained on Danbooru's captions, which learned the
    canonical tag as one unit. SD 1.5 anime models read such word forms through CLIP's English just as well. In a
    negative prompt a plural alone is left as written (``extra digit`` of the common negative: the thing to
    avoid reads the same either way)."""
    if not _sdxl_danbooru(ctx.profile) or renamed.category is not TagCategory.GENERAL:
        return False
    return not (ctx.negative and _plural_only(tag.name, renamed.name))


def _sdxl_danbooru(profile) -> bool:
    """An SDXL-era model trained on Danbooru's captions: it learned each canonical tag as one unit."""
    return danbooru_captions(profile) and profile.architecture != "sd1"


def _plural_only(alias: str, target: str) -> bool:
    """The two names differ only in one word's number (``extra_digit`` / ``extra_digits``)."""
    from ...tags.aliases import plural_pair

    changed = _changed_word(alias, target)
    return changed is not None and plural_pair(*changed)


def _aliased(ctx: LintContext, tag) -> bool:
    """The tag has no namespace, is not in the profile's vocabulary nor a non-tag, and the database knows it as an
    alias: what PK202 and PK214 go on to check (it reads the spelling only)."""
    if tag.namespace or tag.name in ctx.vocabulary or ctx.not_a_tag(tag):
        return False
    info = ctx.info(tag)
    return info is not None and info.matched == "alias"


def _encoder_word(name: str) -> bool:
    """The tag is one word the text encoder knows (``ponytail``), or a count tag (``2boys``)."""
    from ...tags.counts import people_in

    return name in english_words() or people_in(name) > 0


class RenamedTag(AliasTag):
    """A tag written under an older or variant name its source renamed (opt-in).

    Why: the sites rename tags (``hires`` -> ``highres``, ``grey hair`` -> ``gray hair``, plurals to the
    singular); captions use the current name. Text encoders read most variants alike, so this is off by
    default; ``fmt`` applies it. Tag profiles only.

    Example: ``hires, grey hair`` -> ``highres, gray hair``. Fix (safe): write the current name.
    """

    code = "PK214"
    name = "renamed-tag"
    severity = Severity.INFO
    default = False
    respellings = False


def canonical(ctx: LintContext, tag) -> str:
    """The name two spellings of one tag share: the renamed name for a rename, else the tag's own name."""
    info = ctx.info(tag)
    if info is not None and info.matched == "alias" and ctx.db is not None:
        renamed = ctx.db.rename(tag.name)
        if renamed is not None:
            return renamed.name
    return tag.name


class ImpliedTag(Rule):
    """A tag made redundant by a more specific tag that implies it (opt-in).

    Why: ``very long hair`` implies ``long hair`` on Danbooru, so captions with the specific tag always
    carry the general one; writing both spends tokens. Often deliberate (to strengthen a concept), so off
    by default; never in negative prompts, natural-language profiles or prompt editing.

    Example: ``long hair, very long hair`` -> ``very long hair``. Fix (unsafe): remove the implied tag.
    """

    code = "PK203"
    name = "implied-tag"
    category = "tags"
    severity = Severity.INFO
    fix_safety = "unsafe"
    needs_db = True
    default = False

    def check(self, ctx: LintContext) -> Iterable[Diagnostic]:
        if ctx.negative or ctx.profile.natural_language:
            return
        heads = {id(group) for _, group, _ in unescaped_heads(ctx)}
        present = {}
        for tag in ctx.tags:
            info = ctx.info(tag)
            if info is not None and info.matched == "exact" and tag.branch is None:
                group = ctx.parents.container(tag)
                if group is not None and id(group) in heads:
                    continue  # 'vocaloid' of 'hatsune miku (vocaloid)' is a qualifier, not a tag
                present.setdefault(info.name, tag)
        for name, tag in present.items():
            for implied in ctx.db.implied(name):
                other = present.get(implied)
                if other is not None and other is not tag:
                    edit = ctx.removal(other)
                    yield self.diagnostic(f"{quote(other.text)} is implied by {quote(tag.text)}", other.start,
                                          other.end, fix=self.fix(f"remove {quote(other.text)}", edit) if edit else None)


class DuplicateTag(Rule):
    """The same tag twice in one part of the prompt (``long_hair`` and ``Long hair`` are the same tag).

    Why: a repeated tag is a hidden weight increase and wastes tokens. A hyphen reads as a space to the encoder:
    ``ultra-detailed`` and ``ultra detailed`` are one tag twice. Not reported: repeats in different
    ``BREAK`` regions or ``AND`` parts (regional prompts describe each region in full), in different
    prompt-editing branches, and different tags that one database alias links (``blurred`` / ``blurry``: the
    author covers both), and a positive prompt's closing tags that repeat its opening ones in order (four or more:
    the quality block written before and after the subject, as some model cards teach). Of the copies, the first
    with the most weight is kept; each other copy is reported once: a later one as a repeat, an earlier one with
    less weight (``poorly lit, ..., (poorly lit:1.1)``) as made redundant by the weighted copy, whose emphasis is
    what the author meant.

    Example: ``long hair, smile, long_hair`` -> ``long hair, smile``. Fix (unsafe): remove the other copy
    (with any brackets it alone fills).
    """

    code = "PK204"
    name = "duplicate-tag"
    category = "tags"
    severity = Severity.WARNING
    fix_safety = "unsafe"

    def check(self, ctx: LintContext) -> Iterable[Diagnostic]:
        repeated = _repeated(ctx.tags)
        if not repeated:
            return []
        bounds = region_bounds(ctx)
        # (region, branch, name) -> the first copy, or a list of the copies once there are two. A tag at top
        # level of the first region is keyed by its name alone: no tuple and no list for the many tags that
        # occur once in a big caption.
        copies: dict[str | tuple[int, str | None, str], list] = {}
        pieces = construct_tags(ctx)
        text = ctx.text
        lettered = ctx.table("lettered")  # name -> it has a letter (names repeat across a run)
        for tag in repeated:
            name = tag.name
            has_letter = lettered.get(name)
            if has_letter is None:
                has_letter = lettered[name] = any(ch.isalpha() for ch in name)
            if len(name) < 2 or not has_letter or tag.index in pieces:
                continue  # "0", "R": block weights and other data, not tags
            if name in _JOINING_WORDS:
                continue  # "..., and, ...": a word that joins a sentence cut by commas, not a tag
            if tag.weight <= 0:
                continue  # "(cleavage:-1)" beside "cleavage": a try at taking it away (PK103), not a second copy
            region = bisect_right(bounds, tag.start) if bounds else 0
            copy_of = _duplicate_key(tag)
            key = copy_of if region == 0 and tag.branch is None else (region, tag.branch, copy_of)
            seen = copies.get(key)
            if seen is None:
                copies[key] = tag
            elif type(seen) is list:
                seen.append(tag)
            else:
                copies[key] = [seen, tag]
        found = []
        group_of: dict[int, int] = {}  # tag index -> its group of copies (for the closing block's check)
        for same in copies.values():
            if type(same) is not list:
                continue
            # a fragment of a sentence that brackets cut ("(blue roofs:1.3) covered with snow") is no copy: asked
            # only of the spellings that repeat
            same = [t for t in same if _listed(text, t)]
            if len(same) < 2:
                continue
            if len(same) == 2 and _dual_spelling(same[0], same[1]):
                continue  # "french_colonial_influence,French Colonial influence": both forms on purpose
            if len({t.text for t in same}) > 1 and all(" " not in t.name and "_" not in t.name for t in same) and \
                    any(_CODE_CASE.search(t.text) for t in same):
                continue  # "BIIMOO,BiIMOO,BIiMOO": codes whose letter case is the meaning (block weights), not tags
            kept = max(same, key=lambda t: t.weight)  # the first of the heaviest copies
            for tag in same:
                group_of[tag.index] = id(same)
                if tag is not kept:
                    found.append((tag, kept))
        found.sort(key=lambda pair: pair[0].start)
        return self._report(ctx, found, group_of)

    def _report(self, ctx: LintContext, found: list, group_of: dict[int, int]) -> list[Diagnostic]:
        """A finding per copy, but none for a quality block written again at the end (:func:`_closing_block`)."""
        out = []
        closing = _closing_block(ctx, found, group_of)
        for i, (tag, kept) in enumerate(found):
            if i in closing:
                continue
            weights = "" if kept.weight == tag.weight else f" (weights {tag.weight:g} and {kept.weight:g})"
            if tag.start > kept.start:
                message = f"{_shown(tag)} repeats {_shown(kept)}{weights}"
            else:
                message = f"{_shown(tag)} is repeated later with more weight as {_shown(kept)}{weights}"
            edit = ctx.removal(tag)
            out.append(self.diagnostic(message, tag.start, tag.end,
                                       fix=self.fix("remove the repetition", edit) if edit is not None else None))
        return out


#: a positive prompt that ends with this many of its first tags again, in order, writes them twice on purpose
PASTED_BLOCK = 4


def _closing_block(ctx: LintContext, found: list, group_of: dict[int, int]) -> set[int]:
    """The positions in ``found`` (copy, kept; in order) of the copies that make a positive prompt's closing block:
    its last :data:`PASTED_BLOCK` or more tags copy, in the same order, the tags that open the prompt
    (``masterpiece, best quality, ..., subject ..., masterpiece, best quality, ...``). Some model cards teach this
    sandwich of the quality block around the subject (MDNT Illus's "Prompt Format"): the repeat is the author's,
    and removing it undoes what they meant. Repeats elsewhere, and in negatives (a preset pasted twice by
    accident), are reported one by one. ``group_of``: each repeated tag's group of copies."""
    tags = ctx.tags
    if ctx.negative or len(found) < PASTED_BLOCK or found[-1][0] is not tags[-1]:
        return set()
    run = []  # walk back from the last tag while the copies stay consecutive
    for i in range(len(found) - 1, -1, -1):
        tag = found[i][0]
        if run and found[run[-1]][0].index != tag.index + 1:
            break
        run.append(i)
    run.reverse()
    # tag k of the run is a copy of the prompt's opening tag k (the same group of copies), and a subject lies
    # between the two blocks (a prompt pasted twice whole is a slip)
    if len(run) < PASTED_BLOCK or found[run[0]][0].index <= len(run) or \
            any(group_of.get(k) != group_of[found[i][0].index] for k, i in enumerate(run)):
        return set()
    return set(run)


_JOINING_WORDS = frozenset({"and", "or", "with", "of", "the", "a", "an", "in", "on", "at", "to", "by", "for"})


def _duplicate_key(tag) -> str:
    """What makes two tags copies: the qualified name, a hyphen read as a space (``ultra-detailed`` and
    ``ultra detailed`` are the same words to the encoder and to the author)."""
    name = tag.qualified_name
    return name.replace("-", "_") if "-" in name else name


def _repeated(tags: list) -> list:
    """The tags whose qualified name another tag of the prompt has too, in order: the only ones that can be
    copies of each other (a copy's key holds its qualified name); most tags occur once."""
    names = [_duplicate_key(t) for t in tags]
    if len(set(names)) == len(names):
        return []
    count = Counter(names)
    return [t for t, name in zip(tags, names) if count[name] > 1]


_CODE_CASE = re.compile(r"[a-z][A-Z]|[A-Z]{2}[a-z]")  # "BiIMOO", "BIImOO": case inside a word, no Title Case


def _dual_spelling(a, b) -> bool:
    """Two neighbouring tags that are one tag in its underscore and its space spelling: written so on purpose,
    for the encoder to see both forms (a wildcard idiom); a slip repeats a tag elsewhere, not next to itself."""
    return b.index == a.index + 1 and ("_" in a.text) != ("_" in b.text) and a.weight == b.weight


_OPENERS = "([{ \t"
_ITEM_TAIL = ")]}:+-.0123456789 \t"  # closers and weights: (x:1.2), {x}, compel's x++ and (x)1.2


def _listed(text: str, tag) -> bool:
    """``tag`` is an item of a list: only whitespace, brackets and weights separate it from the commas, line
    ends, ``BREAK`` or prompt ends around it. In prose that brackets cut into pieces (``... and (covered with
    snow:1.6)``) the same words twice are the sentence's words, not a repeated tag."""
    i = tag.start - 1  # walk over the brackets and spaces next to the tag only: a search for the nearest
    while i >= 0 and text[i] in _OPENERS:  # comma costs the whole text in prose without commas
        i -= 1
    if i >= 0 and text[i] not in ",\n" and not text.endswith("BREAK", 0, i + 1):
        return False
    j = tag.end
    while j < len(text) and text[j] in _ITEM_TAIL:
        j += 1
    return j == len(text) or text[j] in ",\n" or text.startswith("BREAK", j)


def _shown(tag) -> str:
    """A tag quoted for a message, without the stray colon of ``(x::1.2)`` (its span keeps it)."""
    stray = tag.text.endswith(":") and not tag.name.endswith(":")
    return quote(tag.text[:-1].rstrip() if stray else tag.text)


class ConflictingCount(Rule):
    """Count tags that contradict each other: ``solo`` with ``2girls``, ``no humans`` with ``1girl``.

    Why: the model cannot satisfy both, and usually blends them into extra limbs or faces. Each distinct
    count tag counts once (``1girl, solo, 1girl`` is one girl).

    Example: ``solo, 2girls`` -> ``2girls``.
    """

    code = "PK205"
    name = "conflicting-count"
    category = "tags"
    severity = Severity.WARNING
    spelling_facts = True

    def spelling_fact(self, ctx: LintContext, tag) -> int | None:
        """The people a count tag counts, 0 for ``solo`` and ``no humans`` (the tags reported); None for the rest."""
        n = people_in(tag.name)
        return n if n or tag.name in ("solo", "no_humans") else None

    def check(self, ctx: LintContext) -> Iterable[Diagnostic]:
        if ctx.negative:
            return
        facts = ctx.facts(self)  # the count tags, solo and no humans: nothing else matters here
        if not any(t.name == "solo" or t.name == "no_humans" for t, _ in facts):
            return  # only these two are ever reported (most captions have neither)
        top = [(t, n) for t, n in facts if t.branch is None]
        per_kind: dict[str, int] = {}
        counted: dict[str, object] = {}
        for tag, n in top:
            if n and tag.name not in counted:
                counted[tag.name] = tag
                kind = re.sub(r"^\d+\+?|^multiple_", "", tag.name).rstrip("s")
                per_kind[kind] = max(per_kind.get(kind, 0), n)
        people = sum(per_kind.values())
        names = ", ".join(repr(t.text) for t in counted.values())  # type: ignore[attr-defined]
        reported = set()
        for tag, _ in top:
            if tag.name in reported:
                continue
            if tag.name == "solo" and people > 1:
                reported.add(tag.name)
                yield self.diagnostic(f"'solo' contradicts {names}", tag.start, tag.end)
            if tag.name == "no_humans" and counted:
                reported.add(tag.name)
                yield self.diagnostic(f"'no humans' contradicts {names}", tag.start, tag.end)


#: pairs of tags an image cannot have both of (Danbooru's names, underscore keys): a shot's framing (``portrait``
#: and ``upper body`` overlap, so they are no pair), inside or outside
CONFLICTING_PAIRS = frozenset(frozenset(pair) for pair in (
    *(("full_body", other) for other in ("upper_body", "lower_body", "cowboy_shot", "portrait", "close-up")),
    ("upper_body", "lower_body"), ("upper_body", "cowboy_shot"),
    ("cowboy_shot", "portrait"), ("cowboy_shot", "close-up"),
    ("indoors", "outdoors"),
))
_IN_PAIRS = frozenset(name for pair in CONFLICTING_PAIRS for name in pair)


class ConflictingTags(Rule):
    """Two tags an image cannot have both of: ``upper body`` with ``full body``, ``indoors`` with ``outdoors``.

    Why: the model cannot draw both; it picks one at random or blends them (a full body cut off at the waist).
    Only the pairs of :data:`CONFLICTING_PAIRS` (a shot's framing; inside or outside), in one prompt or region,
    outside any prompt editing or alternation, in a positive prompt, both at weight 1 (``(cowboy shot:0.7),
    close-up`` blends them on purpose). One finding per pair.

    Example: ``1girl, upper body, full body`` -> keep the one you mean.
    """

    code = "PK222"
    name = "conflicting-tags"
    category = "tags"
    severity = Severity.WARNING
    needs_db = True
    spelling_facts = True

    def spelling_fact(self, ctx: LintContext, tag) -> str | None:
        """The name of :data:`CONFLICTING_PAIRS` the tag is written for (most: none)."""
        if tag.namespace:
            return None
        info = ctx.info(tag)
        name = info.name if info is not None else tag.name
        return name if name in _IN_PAIRS else None

    def check(self, ctx: LintContext) -> Iterable[Diagnostic]:
        if ctx.negative:
            return
        seen: dict[str, object] = {}
        for tag, name in ctx.facts(self):
            if tag.branch is not None or tag.weight != 1.0 or name in seen:
                continue  # "(cowboy shot:0.7), close-up": a weighted one is a blend on purpose
            for other, earlier in seen.items():
                if frozenset((name, other)) in CONFLICTING_PAIRS:
                    yield self.diagnostic(f"{earlier.text.strip()!r} and {tag.text.strip()!r}: an image cannot "  # type: ignore[attr-defined]
                                          "have both; keep the one you mean", tag.start, tag.end)
            seen[name] = tag


_HEAD_WORD = re.compile(r"\S+")


def _heads(text: str) -> list[tuple[str, int]]:
    """Candidate heads of a ``name (series)`` tag: the last 1-5 words of the text before the bracket, longest
    first, with the offset where each starts."""
    words = list(_HEAD_WORD.finditer(text))[-5:]
    out = []
    for k in range(len(words), 0, -1):
        first = words[-k]
        out.append((" ".join(w.group() for w in words[-k:]).rstrip("_"), first.start()))
    return out


def _tag_in_group(ctx: LintContext, prev: Node, group: Group) -> tuple[str, int, bool] | None:
    """``name (series)`` written without escapes: (database name, where it starts, True when the combined
    name is a tag; False when it is not but ``name`` is a character of series ``series``). The answer reads the
    two spellings and the database only: kept for the run (memo table 'series_heads')."""
    if type(prev) is not Text or prev.kind != Text.PLAIN or not prev.value.strip() or ctx.db is None:
        return None
    key = (prev.value, render_source(group.children), group.kind, group.close)
    verdicts = ctx.table("series_heads")
    found = verdicts.get(key, _UNSEEN_HEAD)
    if found is _UNSEEN_HEAD:
        found = verdicts[key] = _series_head(ctx, *key)
    return None if found is None else (found[0], prev.start + found[1], found[2])


_UNSEEN_HEAD = object()


def _series_head(ctx: LintContext, before: str, inside: str, kind: str, close: str) -> tuple[str, int, bool] | None:
    """:func:`_tag_in_group`'s answer for the text ``before`` a group of ``kind`` whose children's source is
    ``inside``, the name's start relative to the text."""
    inner = unescape(inside)
    if kind == "weight":
        inner = inner + close[:-1]  # "(reverse:1999)" -> "reverse:1999"
    inner = inner.strip()
    if not inner or "," in inner or len(inner) > 60:
        return None
    heads = [(h, at) for h, at in _heads(before) if h]
    for head, start in heads:
        info = ctx.db.lookup(f"{head} ({inner})")
        if info is not None and info.listed:
            return info.name, start, True
    if kind == "round":
        series = ctx.db.lookup(inner)
        if series is None or series.category is not TagCategory.COPYRIGHT:
            return None
        for head, start in heads[-2:]:
            person = ctx.db.lookup(head)
            if person is not None and person.category is TagCategory.CHARACTER:
                return person.name, start, False
    return None


def _sibling_lists(ctx: LintContext):
    yield ctx.prompt.children
    for node in ctx.nodes:
        if type(node) is Group:
            yield node.children


def unescaped_heads(ctx: LintContext) -> list[tuple[int, Group, tuple[str, int, bool]]]:
    """(start, group, what) of every ``name (series)`` / ``name (x:1999)`` whose parentheses are a tag's."""
    cached = ctx.__dict__.get("_heads")
    if cached is not None:
        return cached
    found = []
    if ctx.prompt.dialect in ("a1111", "comfy") and "(" in ctx.text:
        for parent in _sibling_lists(ctx):
            for prev, node in zip(parent, parent[1:]):
                if type(node) is Group and node.kind in ("round", "weight") and node.closed:
                    hit = _tag_in_group(ctx, prev, node)
                    if hit is not None:
                        found.append((hit[1], node, hit))
    ctx.__dict__["_heads"] = found
    return found


def construct_tags(ctx: LintContext) -> set[int]:
    """Indices of the tags that are pieces of an unescaped ``name (series)`` tag (PK206/PK207 report those)."""
    cached = ctx.__dict__.get("_construct")
    if cached is not None:
        return cached
    found: set[int] = set()
    heads = unescaped_heads(ctx)
    if heads:
        starts = [t.start for t in ctx.tags]
        for start, group, _ in heads:
            for i in range(bisect_right(starts, start - 1), bisect_right(starts, group.end - 1)):
                found.add(i)
    ctx.__dict__["_construct"] = found
    return found


class UnescapedParentheses(Rule):
    """A tag with parentheses written unescaped, so A1111 reads them as emphasis.

    Why: ``kazusa (blue archive)`` (or ``kazusa_(blue_archive)``) is read as ``kazusa`` plus ``blue archive``
    at 1.1; the model never sees the character tag ``kazusa_(blue_archive)``. Escaped as ``\\( \\)`` the
    parentheses are text. Where ``name (series)`` is not a tag but ``name`` is a character of ``series``
    (``hatsune miku (vocaloid)``), the finding says to write them as two tags.

    Example: ``kazusa (blue archive)`` -> ``kazusa \\(blue archive\\)``. Fix (unsafe: weights change).
    """

    code = "PK206"
    name = "unescaped-parentheses"
    category = "tags"
    severity = Severity.WARNING
    fix_safety = "unsafe"
    needs_db = True

    def check(self, ctx: LintContext) -> Iterable[Diagnostic]:
        for start, node, (name, _, combined) in unescaped_heads(ctx):
            if node.kind != "round":
                continue
            if combined:
                fixed = spelled(ctx, name, ctx.text[start:node.end])
                yield self.diagnostic(
                    f"the parentheses of {quote(ctx.text[start:node.end])} are read as emphasis; escape them",
                    start, node.end,
                    suggestions=[fixed], fix=self.fix(f"write '{fixed}'", Edit(start, node.end, fixed)))
            else:
                series = render_source(node.children).strip()
                head = ctx.text[start:node.start].rstrip()
                fixed = f"{head}, {series}"
                yield self.diagnostic(
                    f"{quote(ctx.text[start:node.end])} is not a tag: A1111 reads {head!r} and {series!r} at 1.1; "
                    f"write the character and the series as two tags", start, node.end, severity=Severity.INFO,
                    suggestions=[fixed], fix=self.fix(f"write '{fixed}'", Edit(start, node.end, fixed)))


class WeightLikeTag(Rule):
    """A tag ending in ``:digits`` inside parentheses, which A1111 reads as a weight.

    Why: ``vertin (reverse:1999)`` unescaped gives ``reverse`` a weight of 1999, which destroys the image;
    tags like ``reverse:1999`` or ``16:9`` must have their parentheses escaped.

    Example: ``vertin (reverse:1999)`` -> ``vertin \\(reverse:1999\\)``. Fix (unsafe: weights change).
    """

    code = "PK207"
    name = "weight-like-tag"
    category = "tags"
    severity = Severity.ERROR
    fix_safety = "unsafe"
    needs_db = True

    def check(self, ctx: LintContext) -> Iterable[Diagnostic]:
        if ":" not in ctx.text:
            return
        heads = {id(group): (start, hit) for start, group, hit in unescaped_heads(ctx)}
        for parent in _sibling_lists(ctx):
            for node in parent:
                if type(node) is not Group or node.kind != "weight" or not node.closed:
                    continue
                if id(node) in heads and heads[id(node)][1][2]:
                    start, (name, _, _) = heads[id(node)]
                else:
                    inner = unescape(render_source(node.children)).strip() + node.close[:-1].replace(" ", "")
                    info = ctx.db.lookup(inner) if ctx.db is not None and len(inner) < 80 else None
                    if info is None or ":" not in info.name:
                        continue
                    name, start = info.name, node.start
                fixed = spelled(ctx, name, ctx.text[start:node.end])
                yield self.diagnostic(
                    f"A1111 reads {node.close[:-1]!r} of {name!r} as a weight of {node.multiplier:g}",
                    start, node.end, suggestions=[fixed], fix=self.fix(f"write '{fixed}'", Edit(start, node.end, fixed)))


class TagStyle(Rule):
    """Underscores or spaces against the profile's style.

    Why: most anime models were trained on captions with underscores replaced by spaces (kaomoji such as
    ``^_^`` excepted), while pseudo-tags like Pony's ``score_9`` must keep theirs. One finding per prompt
    for the spaces/underscores style; one per pseudo-tag written without its underscores. In a negative prompt
    only where it mixes the styles: ``ambiguous_form`` among spaced tags is not how the captions wrote it
    (judges of three unseen sets).

    Example (Kivotos): ``long_hair, blue_eyes`` -> ``long hair, blue eyes``. Fix (safe): the same tags in the
    profile's style.
    """

    code = "PK208"
    name = "tag-style"
    category = "tags"
    severity = Severity.INFO
    fix_safety = "safe"
    needs_db = True
    spelling_facts = True

    def spelling_fact(self, ctx: LintContext, tag) -> tuple[bool, str] | None:
        return _style_verdict(ctx, tag)

    def check(self, ctx: LintContext) -> Iterable[Diagnostic]:
        profile = ctx.profile
        if ctx.negative and not any(" " in tag.raw.strip() for tag in ctx.tags):
            return  # a negative in one style throughout is written so on purpose; a stray 'bar_censor' is a slip
        restyled = []
        pieces = construct_tags(ctx)
        for tag, (keeps, fixed) in ctx.facts(self):  # the tags written against the style (one look-up a tag)
            if tag.index in pieces:
                continue
            if keeps:
                yield self.diagnostic(f"{tag.name!r} keeps its underscores", tag.start, tag.end,
                                      fix=self.fix(f"write '{fixed}'", Edit(tag.start, tag.end, fixed)))
            else:
                restyled.append((tag, fixed))
        if restyled:
            first = restyled[0][0]
            style = "spaces" if profile.tag_style == "spaces" else "underscores"
            more = f" and {len(restyled) - 1} more tag(s)" if len(restyled) > 1 else ""
            yield self.diagnostic(f"{quote(first.text)}{more}: {profile.title} was trained with {style}",
                                  first.start, first.end,
                                  fix=self.fix(f"write {len(restyled)} tag(s) with {style}",
                                               *(Edit(t.start, t.end, new) for t, new in restyled)))


def _style_verdict(ctx: LintContext, tag) -> tuple[bool, str] | None:
    """PK208's verdict on one spelling: (True, fixed) for a pseudo-tag written without its underscores, (False,
    restyled) for a tag written against the profile's style (in a negative, a tag of any bundled source counts),
    None for nothing to say. It reads the spelling, the negative flag, the profile and the database only: a
    spelling fact (the tag pass keeps it per flag)."""
    profile = ctx.profile
    raw = tag.raw
    if tag.name in profile.keep_underscores:
        return (True, raw.replace(" ", "_")) if " " in raw else None
    if profile.tag_style == "spaces" and "_" in raw and tag.name not in KAOMOJI:
        if any(k in raw for k in KAOMOJI) or ctx.not_a_tag(tag):
            return None
        if tag.name in ctx.vocabulary or (ctx.db is not None and ctx.info(tag) is not None) or \
                (ctx.negative and known_anywhere(tag.name)):  # e621's 'ambiguous_form' of NoobAI's negative
            return False, raw.replace("_", " ")
    elif profile.tag_style == "underscores" and " " in raw.strip() and not ctx.is_prose(tag):
        return False, raw.replace(" ", "_")
    return None


_PREFIX = re.compile(r"^([a-z]{2,12}):(?!\s)")


class UnknownNamespace(Rule):
    """A ``word:tag`` whose prefix looks like a namespace but is not a known one.

    Why: namespaces (``species:seal``, ``artist:name``) only work when the model was trained with them;
    a misspelled prefix becomes part of the text. Profiles with namespaces only (Sygil).

    Example: ``specie:seal`` -> ``species:seal``.
    """

    code = "PK209"
    name = "unknown-namespace"
    category = "tags"
    severity = Severity.INFO
    needs_db = True

    def check(self, ctx: LintContext) -> Iterable[Diagnostic]:
        if not ctx.profile.namespaces:
            return
        known = sorted(known_namespaces() | set(ctx.profile.namespaces))
        for tag in ctx.tags:
            if tag.namespace:
                continue
            m = _PREFIX.match(tag.text.lower())
            if not m or ctx.info(tag) is not None:
                continue
            rest = lookup_key(tag.text[m.end():])
            if not rest or ctx.db.lookup(rest) is None:
                continue
            from rapidfuzz import process

            close = process.extractOne(m.group(1), known, score_cutoff=70)
            hint = [f"{close[0]}:{tag.text[m.end():]}"] if close else []
            yield self.diagnostic(f"{m.group(1)!r} is not a known namespace", tag.start, tag.start + len(m.group(1)),
                                  suggestions=hint)


class EmptyNamespace(Rule):
    """A namespace prefix with no name after it, followed by a comma: ``artist:,`` left in a template or a preset.

    Why: ``artist:`` names nobody; A1111 sends the word ``artist`` and a colon to the text encoder, a token
    that pulls the image towards nothing in particular. It is usually a placeholder that was never filled.

    Example: ``artist:, very awa, 1girl`` -> ``very awa, 1girl``. Fix (unsafe: the text changes): remove it.
    """

    code = "PK220"
    name = "empty-namespace"
    category = "tags"
    severity = Severity.WARNING
    fix_safety = "unsafe"

    def check(self, ctx: LintContext) -> Iterable[Diagnostic]:
        if ":" not in ctx.text:
            return
        for tag in ctx.tags:
            if not tag.namespace or tag.name.strip("_") or ctx.text[tag.end:tag.end + 8].lstrip(" ")[:1] != ",":
                continue  # a label ending a line ("Style:") heads what follows; "artist:," is a tag left empty
            written = tag.raw.strip()
            removal = ctx.removal(tag)
            yield self.diagnostic(f"{written!r} names no {tag.namespace}: the model reads only the word "
                                  f"{tag.namespace!r} and a colon", tag.start, tag.end,
                                  fix=self.fix(f"remove {written!r}", removal) if removal is not None else None)


_NEGATION = re.compile(r"(?:no|not|without|never)[ _]+([^\W\d_][\w ]*)", re.I)


class NegationInPositive(TagRule):
    """A negated phrase in a positive prompt that is no tag: ``not holding anything``, ``no pattern in eyes``.

    Why: CLIP does not read negation; ``no pattern in eyes`` puts *pattern in eyes* into the image. The tags that
    begin with ``no`` (``no humans``, ``no shoes``) were captioned as such and are left alone. What should not be
    in the image belongs in the negative prompt.

    Example: ``1girl, (not holding anything:1.2)`` -> ``holding`` in the negative prompt. No fix: the negative
    prompt is another text.
    """

    code = "PK221"
    name = "negation-in-positive"
    category = "tags"
    severity = Severity.WARNING
    needs_db = True

    def applies(self, ctx: LintContext) -> bool:
        return not ctx.negative and not ctx.profile.natural_language

    def check_tag(self, ctx: LintContext, tag) -> Iterable[Diagnostic]:
        m = _NEGATION.fullmatch(tag.text.strip())
        if m is None or tag.namespace or ctx.known(tag):
            return
        what = m.group(1).strip()
        yield self.diagnostic(f"{quote(tag.text.strip())}: the text encoder does not read the negation and "
                              f"draws {what!r}; put it in the negative prompt", tag.start, tag.end,
                              suggestions=[f"{what} (in the negative prompt)"])


class MissingComma(Rule):
    """Two tags written without the comma between them: ``twintails braids``.

    Why: without the comma the pair is one unknown phrase; tag-trained models know each tag alone. Reported
    only where the words split into exactly two popular tags and the first is not a word that describes
    the second (an English word, an adjective or participle such as ``deformed``, or a word that starts
    popular tags such as ``holding``: ``holding school bag`` is a phrase, not two tags). Not in negative
    prompts, which are often lists of deliberate phrases (``low quality lowres graffiti``).

    Example: ``1girl, twintails braids`` -> ``1girl, twintails, braids``. Fix (unsafe): insert the comma.
    """

    code = "PK212"
    name = "missing-comma"
    category = "tags"
    severity = Severity.WARNING
    fix_safety = "unsafe"
    needs_db = True

    def check(self, ctx: LintContext) -> Iterable[Diagnostic]:
        if ctx.profile.natural_language or ctx.negative:
            return  # negatives are lists of phrases ("lowres graffiti"); a lost comma there changes little
        for tag in unknown_tags(ctx):
            split = _two_tags(ctx, tag)
            if split is None or tag_correction(ctx, tag) is not None:
                continue
            left, right, at = split
            yield self.diagnostic(f"{quote(tag.text)} reads as one unknown tag; {left!r} and {right!r} are two "
                                  "tags: a comma is missing", tag.start, tag.end,
                                  suggestions=[f"{left}, {right}"],
                                  fix=self.fix("insert a comma", Edit(at, at, ",")))


def _two_tags(ctx: LintContext, tag) -> tuple[str, str, int] | None:
    """(left, right, where the comma goes) when ``tag`` is two popular tags without their comma, or None."""
    memo = ctx.table("two_tags")  # depends on the spelling, the profile and the database: kept for the run
    raw = tag.raw
    if raw in memo:
        split = memo[raw]
    else:
        split = memo[raw] = _split_in_two(ctx, raw)
    return None if split is None else (split[0], split[1], tag.start + split[2])


def _split_in_two(ctx: LintContext, raw: str) -> tuple[str, str, int] | None:
    """:func:`_two_tags` of one spelling, the comma's place relative to it."""
    from ..words import is_word

    spaces = [i for i, ch in enumerate(raw) if ch == " "]
    if not spaces or len(spaces) > 4 or "\\" in raw or "(" in raw:
        return None
    found = None
    for i in spaces:
        left, right = raw[:i].strip(), raw[i + 1:].strip()
        if not left or not right:
            continue
        a, b = _popular(ctx, left), _popular(ctx, right)
        if a and b:
            if found is not None:
                return None  # two ways to split: not near-certain
            found = (left, right, i)
    if found is None:
        return None
    left, right = lookup_key(found[0]), lookup_key(found[1])
    if "_" in left and "_" not in right:
        return None  # "no human thigh": a phrase and the word it describes
    if "_" not in left and (_is_english(left) or is_word(left) or left.endswith(_ADJECTIVE_ENDINGS) or
                            _starts_many(ctx, left)):
        return None  # "liquid tongue", "deformed legs", "plump lips", "holding bag": a word and what it describes
    if _overlapping_tag(ctx, left.split("_"), right.split("_")):
        return None  # "pink flower hair ornament": "flower hair ornament" is a tag too, so it is one compound
    return found


def _overlapping_tag(ctx: LintContext, left: list[str], right: list[str]) -> bool:
    """Words across the split make a tag of their own (the end of ``left`` with the start of ``right``): the text
    reads as a compound in more than one way, and a comma would cut the other reading apart."""
    for i in range(len(left)):
        for j in range(1, len(right) + 1):
            if (i, j) == (0, len(right)):
                continue  # the whole text, known to be no tag
            if ctx.db.lookup("_".join(left[i:] + right[:j])) is not None:
                return True
    return False


_ADJECTIVE_ENDINGS = ("ed", "ing", "ful", "ous", "less", "ive", "ic", "al", "ish", "y", "ly", "en", "ern")


def _popular(ctx: LintContext, text: str) -> bool:
    key = lookup_key(text)
    if key in ctx.vocabulary:
        return True
    info = ctx.db.lookup(key) if ctx.db is not None else None
    if info is not None and info.matched == "alias" and ctx.db.rename(key) is None:
        return False  # an alias to another concept
    return info is not None and info.post_count >= 1000 and info.category in (TagCategory.GENERAL, TagCategory.META)


def _starts_many(ctx: LintContext, key: str) -> bool:
    """A word that begins popular tags (``white``, ``holding``, ``long``) modifies what follows it."""
    if ctx.db is None:
        return True
    # a qualified spelling of the word itself (e621's `twintails_(hairstyle)`) is no phrase that it begins
    return sum(1 for t in ctx.db.complete(key + "_", limit=5)
               if t.post_count >= 500 and t.name != key and not t.name.startswith(key + "_(")) >= 2


def qualified_character(ctx: LintContext, tag) -> str | None:
    """``kazusa`` on a Blue Archive model: the character tag ``kazusa_(blue_archive)`` of the profile's series;
    ``makima`` on any Danbooru-tag model: the one character tag ``makima_(chainsaw_man)`` the name stands for."""
    if ctx.db is None or "(" in tag.name or tag.namespace:
        return None
    if not ctx.profile.series and not danbooru_captions(ctx.profile):
        return None
    cache = ctx.table("qualified")  # depends on the name, the profile's series and the database
    if tag.name not in cache:
        cache[tag.name] = _qualified(ctx, tag) if ctx.profile.series else _only_character(ctx, tag)
    return cache[tag.name]


def danbooru_captions(profile) -> bool:
    """The model was trained on Danbooru tag captions (Animagine, Illustrious, NoobAI, NovelAI-derived SD 1.5)."""
    return profile.tag_sources[0] == "danbooru" and not profile.natural_language


def _only_character(ctx: LintContext, tag) -> str | None:
    """The character tag a bare name stands for: a name no source knows, not English, that begins exactly one
    well-known ``name_(series)`` character tag (at least 1,000 posts, four times any other of that name)."""
    name = tag.name
    if len(name) < 3 or ctx.info(tag) is not None or ctx.not_a_tag(tag):
        return None
    words = english_words()
    if all(word in words for word in name.split("_")):
        return None
    prefix = name + "_("
    found = sorted((t for t in ctx.db.complete(prefix, limit=10)
                    if t.name.startswith(prefix) and t.listed and t.category is TagCategory.CHARACTER),
                   key=lambda t: -t.post_count)
    if not found or found[0].post_count < 1000 or (len(found) > 1 and found[0].post_count < 4 * found[1].post_count):
        return None
    return found[0].name


def _qualified(ctx: LintContext, tag) -> str | None:
    for series in ctx.profile.series:
        if tag.name == series:
            return None
        info = ctx.db.lookup(f"{tag.name}_({series})")
        if info is not None and info.listed and info.category is TagCategory.CHARACTER:
            own = ctx.info(tag)
            if own is not None and own.matched == "exact" and own.category is TagCategory.CHARACTER and \
                    own.post_count > info.post_count:
                return None  # a better-known character of another series has this name
            return info.name
    return None


def _trigger_word_place(ctx: LintContext, tag) -> bool:
    """The tag stands where a LoRA's trigger word goes: first in the prompt, before its count tag
    (``jingliu, 1girl, solo, ...``, the caption order kohya's ``keep_tokens`` keeps), or it names the LoRA the
    prompt loads (``<lora:jingliu_v2:0.8>``). A trigger word is the LoRA's own caption word: qualifying it would
    drop it."""
    tags = ctx.tags
    if tag.index == tags[0].index and len(tags) > 1 and people_in(tags[1].name) > 0:
        return True
    if "<" not in ctx.text:
        return False
    name = tag.name
    return any(type(node) is ExtraNetwork and name in node.name.lower().replace("-", "_").replace(" ", "_")
               for node in ctx.nodes)


class UnqualifiedCharacter(TagRule):
    """A character written without the series qualifier its Danbooru tag carries.

    Why: on Danbooru a character's tag carries its series (``kazusa_(blue_archive)``, ``makima_(chainsaw_man)``);
    a model trained on those captions (Illustrious, NoobAI, Animagine, Kivotos XL) knows the qualified tag, not
    the bare name. On a profile with series of its own (Kivotos XL: Blue Archive) a name of that series is
    reported; on any Danbooru-caption profile, a name no tag source knows that begins exactly one well-known
    character tag (at least 1,000 posts, four times any other character of that name). Never in a negative
    prompt (``text, ui, error`` names no character).

    Animagine's card convention, the bare name with its series beside it (``1girl, kazusa, blue archive``), is
    a character too and is not reported; so is a name in a LoRA trigger word's place (first, before the count
    tag: ``jingliu, 1girl, ...``; or the name of a ``<lora:...>`` the prompt loads).

    Example (Kivotos XL): ``1girl, kazusa`` -> ``1girl, kazusa \\(blue archive\\)``; (NoobAI) ``makima`` ->
    ``makima \\(chainsaw man\\)``. Fix (unsafe).
    """

    code = "PK213"
    name = "unqualified-character"
    category = "tags"
    severity = Severity.WARNING
    fix_safety = "unsafe"
    needs_db = True

    def applies(self, ctx: LintContext) -> bool:
        return not ctx.negative and (bool(ctx.profile.series) or danbooru_captions(ctx.profile))

    def check_tag(self, ctx: LintContext, tag) -> Iterable[Diagnostic]:
        name = qualified_character(ctx, tag)
        if name is None:
            return
        fixed = spelled(ctx, name, tag.raw)
        yield self.diagnostic(f"{quote(tag.text)} is the character {fixed!r} in {ctx.profile.title}'s captions",
                              tag.start, tag.end, suggestions=[fixed],
                              fix=self.fix(f"write '{fixed}'", Edit(tag.start, tag.end, fixed)))

    def keep(self, ctx: LintContext, tag) -> bool:
        # not a piece of an unescaped "name (series)" (PK206's), nor Animagine's convention: the bare name with
        # its series beside it (`kazusa, blue archive`), nor a LoRA trigger word's place
        return tag.index not in construct_tags(ctx) and ctx.bare_character(tag) is None and \
            not _trigger_word_place(ctx, tag)


class CharacterNameOrder(Rule):
    """A character's name in given-name-first order where its Danbooru tag writes the family name first.

    Why: Danbooru writes Japanese characters family name first (``ayanami_rei``, ``hyuuga_hinata``); a model
    trained on those captions learned that order, and ``rei ayanami`` is a phrase it never saw. Reported on
    Danbooru-caption profiles for a name of two or three words that no source knows (a whole tag, or
    capitalised words inside a phrase: ``Rei Ayanami in her plugsuit``), when one other order of its words is
    a well-known character tag (at least 1,000 posts) and no other order is a tag. Not in negative prompts.

    Example: ``1girl, rei ayanami`` -> ``1girl, ayanami rei``. Fix (unsafe: the text changes to the tag).
    """

    code = "PK218"
    name = "character-name-order"
    category = "tags"
    severity = Severity.WARNING
    fix_safety = "unsafe"
    needs_db = True
    spelling_facts = True

    def spelling_fact(self, ctx: LintContext, tag) -> tuple[bool, list] | None:
        """The reordered names in a tag this rule may look at (an unknown tag's spelling, or a phrase of
        capitalised words nothing knows), and whether it is such a phrase; None for the rest (most tags)."""
        phrase = not tag.namespace and not ctx.known(tag) and _CAPITALISED_RUN.search(tag.raw) is not None
        if not phrase and not unknown_spelling(ctx, tag):
            return None
        names = _names_in(ctx, tag)
        return (phrase, names) if names else None

    def check(self, ctx: LintContext) -> Iterable[Diagnostic]:
        if ctx.negative or not danbooru_captions(ctx.profile):
            return
        facts = ctx.facts(self)
        if not facts:
            return
        unknown = set(map(id, unknown_tags(ctx)))
        for tag, (phrase, names) in facts:
            # the unknown tags, and phrases ("Asuka Langley Soryu wearing her red plugsuit") wherever they stand
            if not phrase and id(tag) not in unknown:
                continue
            for s, e, name in names:
                written = tag.raw[s:e]
                fixed = spelled(ctx, name, written)
                yield self.diagnostic(f"{written!r} is the character {fixed!r}: Danbooru writes the family name "
                                      "first", tag.start + s, tag.start + e, suggestions=[fixed],
                                      fix=self.fix(f"write '{fixed}'", Edit(tag.start + s, tag.start + e, fixed)))


_CAPITALISED_RUN = re.compile(r"(?<![\w'])[A-Z][a-z]+(?:[ _][A-Z][a-z]+)+(?![\w'])")


def _names_in(ctx: LintContext, tag) -> list[tuple[int, int, str]]:
    """The reordered character names in a tag: the whole tag, or a run of capitalised words inside a phrase
    (``Rei Ayanami in her white plugsuit``), as (start, end, character) in the tag's raw text. Depends on the
    spelling, the profile and the database: kept for the run."""
    memo = ctx.table("reordered_names")
    key = (tag.raw, tag.name)
    found = memo.get(key)
    if found is None:
        found = memo[key] = _reordered_names(ctx, tag.raw, tag.name)
    return found


def _reordered_names(ctx: LintContext, raw: str, name: str) -> list[tuple[int, int, str]]:
    whole = _reordered_character(ctx, name)
    if whole is not None:
        return [(0, len(raw), whole)]
    out = []
    for run in _CAPITALISED_RUN.finditer(raw):
        words = list(re.finditer(r"[A-Za-z]+", run.group()))
        hit = _first_reordered_window(ctx, words)
        if hit is not None:
            out.append((run.start() + hit[0], run.start() + hit[1], hit[2]))
    return out


def _first_reordered_window(ctx: LintContext, words: list) -> tuple[int, int, str] | None:
    """The first window of three words, else of two, that is a reordered character name."""
    for size in (3, 2):
        for i in range(len(words) - size + 1):
            window = words[i:i + size]
            found = _reordered_character(ctx, "_".join(w.group().lower() for w in window))
            if found is not None:
                return window[0].start(), window[-1].end(), found
    return None


def _reordered_character(ctx: LintContext, name: str) -> str | None:
    from itertools import permutations

    words = name.split("_")
    if not 2 <= len(words) <= 3 or not all(w.isalpha() for w in words):
        return None
    found = set()
    for order in permutations(words):
        if list(order) == words:
            continue
        info = ctx.db.lookup("_".join(order))
        if info is None:
            continue
        if info.category is not TagCategory.CHARACTER or info.post_count < 1000:
            return None  # another order is some other tag: not near-certain
        found.add(info.name)
    return found.pop() if len(found) == 1 else None


@functools.cache
def hairstyles() -> frozenset[str]:
    """The hairstyle tags of ``data/hairstyles.txt`` (underscore keys)."""
    from ..vocabulary import data_lines

    return frozenset(line.replace(" ", "_") for line in data_lines("hairstyles.txt"))


class RedundantHair(Rule):
    """A hairstyle tag with a ``hair`` it does not have: ``twintails hair``, ``hime cut hair``.

    Why: Danbooru's hairstyle tags name the style alone (``twintails``, ``bob cut``); ``twintails hair`` is a
    phrase no caption has. Reported when ``X hair`` is no tag and ``X`` is one of the hairstyle tags of
    ``data/hairstyles.txt`` (``glitch hair`` or ``flower hair`` mean something else: not reported).

    Example: ``1girl, twintails hair`` -> ``1girl, twintails``. Fix (unsafe: the text changes to the tag).
    """

    code = "PK219"
    name = "redundant-hair"
    category = "tags"
    severity = Severity.WARNING
    fix_safety = "unsafe"
    needs_db = True

    def check(self, ctx: LintContext) -> Iterable[Diagnostic]:
        if ctx.profile.natural_language:
            return
        for tag in unknown_tags(ctx):
            if not tag.name.endswith("_hair") or tag.name.count("_") > 3:
                continue
            style = tag.name[:-len("_hair")]
            if style not in hairstyles():
                continue
            cut = tag.raw.rstrip()
            cut = cut[:len(cut) - len("hair")].rstrip(" _")
            if not cut or cut.lower().replace(" ", "_") != style:
                continue
            yield self.diagnostic(f"{quote(tag.text)}: {cut!r} is the hairstyle's tag; it has no 'hair'",
                                  tag.start, tag.end, suggestions=[cut],
                                  fix=self.fix(f"write '{cut}'", Edit(tag.start, tag.end, cut)))


_LOWER_WORD = re.compile(r"(?<![\w'])[a-z]+(?![\w'])")


class MisspelledWord(Rule):
    """A word that is not a word but one edit from a common one: a typo inside a phrase or a sentence.

    Why: the text encoder splits an unknown spelling into pieces (``villiage`` -> ``vill``, ``iage``), so the
    model never sees the word that was meant. Only near-certain typos are reported: lower case words of five
    letters or more that no dictionary, tag source, embedding list or the encoder's own vocabulary knows, one
    edit from exactly one common English word (twenty times as common as any other word as close; among
    forms of one word, the one that keeps the last letter: ``detaild`` -> ``detailed``) and from no popular
    tag (``boken`` may be ``broken`` or ``bokeh``: not reported); four-letter words only as two swapped letters
    of one of the most common words (``wiht`` -> ``with``). Well-known names (``wlop``) are never words. Names and capitalized words are left
    alone. Typos of whole tags are PK201.

    Example: ``a beatiful villiage`` -> ``a beautiful village``. Fix (unsafe: the text changes to what was meant).
    """

    code = "PK215"
    name = "misspelled-word"
    category = "tags"
    severity = Severity.WARNING
    fix_safety = "unsafe"
    needs_db = True

    def check(self, ctx: LintContext) -> Iterable[Diagnostic]:
        covered = [(s, e) for s, e, _ in typo_spans(ctx)]
        starts = [s for s, _ in covered]
        checked = ctx.__dict__.setdefault("_words", {})
        per_piece: dict[str, list[tuple[int, int, str]]] = {}  # a caption repeats its pieces
        piece_words = ctx.table("piece_words")  # raw -> its words, and those that may be typos (k, match, word)
        for tag in _pieces(ctx):
            typos = per_piece.get(tag.raw)
            if typos is None:
                typos = per_piece[tag.raw] = []
                entry = piece_words.get(tag.raw)
                if entry is None:
                    entry = piece_words[tag.raw] = _piece_words(tag.raw)
                words, candidates = entry
                for k, m, word in candidates:
                    if word not in checked:
                        if not _spend(ctx):
                            break
                        checked[word] = _word_typo(ctx, word)
                    if checked[word] is not None and not _among_names(ctx, words, k):
                        typos.append((m.start(), m.end(), checked[word]))
            for s, e, fixed in typos:
                start, end, word = tag.start + s, tag.start + e, tag.raw[s:e]
                i = bisect_right(starts, start) - 1
                if i >= 0 and covered[i][1] > start:
                    continue  # inside a PK201 typo
                whole = tag.raw[:s] + fixed + tag.raw[e:]
                if _said_elsewhere(ctx, tag, lookup_key(whole.strip())):  # "detailed backgroud, detailed background"
                    edit = ctx.removal(tag)
                    yield self.diagnostic(f"{word!r} is not a word: {quote(tag.raw.strip())} is a misspelled "
                                          f"{whole.strip()!r}, which this part of the prompt has already", start, end,
                                          fix=self.fix("remove the misspelled copy", edit) if edit else None)
                    continue
                yield self.diagnostic(f"{word!r} is not a word; did you mean {fixed!r}?", start, end,
                                      suggestions=[fixed], fix=self.fix(f"replace with '{fixed}'",
                                                                         Edit(start, end, fixed)))


def _piece_words(raw: str) -> tuple[list, list]:
    """The words of a piece, and (position, match, word) of those PK215 checks: lower case, four letters or more."""
    words = list(_ANY_WORD.finditer(raw))
    return words, [(k, m, m.group()) for k, m in enumerate(words)
                   if len(m.group()) >= 4 and _LOWER_WORD.fullmatch(m.group())]


def _pieces(ctx: LintContext) -> list:
    """Tags and phrases that nothing knows as a whole (prose included): where a word can be misspelled."""
    long_words = ctx.table("long_words")  # raw -> it holds a lower-case word of four letters or more
    out = []
    for t in unknown_pieces(ctx):
        found = long_words.get(t.raw)
        if found is None:
            found = long_words[t.raw] = any(len(w) >= 4 for w in _LOWER_WORD.findall(t.raw))
        if found:
            out.append(t)
    return out


_ANY_WORD = re.compile(r"[^\W_\d]+")


def _unknown_word(ctx: LintContext, word: str) -> bool:
    """Neither a word, nor a tag, nor a whole word of CLIP's vocabulary."""
    from ...tokens.clip import vocabulary
    from ..words import is_word

    key = word.lower()
    return not (is_word(key) or f"{key}</w>" in vocabulary() or ctx.db.lookup(key) is not None)


_ATTRIBUTION = frozenset({"by", "feat", "ft"})


def _attributed(words: list[str], k: int) -> bool:
    """Word ``k`` follows ``by`` (or ``style of``, ``art of``) somewhere before it in the piece: a list of names
    (``by lucian freud and jenny saville``)."""
    before = words[:k]
    return any(w in _ATTRIBUTION for w in before) or any(
        a in ("style", "art", "works") and b == "of" for a, b in zip(before, before[1:]))


def _among_names(ctx: LintContext, words: list, k: int) -> bool:
    """Word ``k`` of a piece is probably part of a name or of text in another language: it comes after ``by``
    or ``style of`` (``by sparth``), stands next to ``and`` or to another unknown word (``artgerm and josan
    gonzales``, ``saturno butto``), or the piece holds another unknown word that is no typo either
    (``motor de curvatura``)."""
    from ..words import is_word

    lower = [w.group().lower() for w in words]
    if _attributed(lower, k):
        return True
    if any(w != lower[k] and w in _name_words() and not is_word(w) for w in lower):
        return True  # the piece names someone ("artgerm julie bell beeple"): its unknown words are names
    neighbours = [lower[n] for n in (k - 1, k + 1) if 0 <= n < len(lower)]
    if "and" in neighbours or any(_unknown_word(ctx, w) for w in neighbours):
        return True
    checked = ctx.__dict__.setdefault("_words", {})
    for w in lower:
        if w != lower[k] and _unknown_word(ctx, w):
            if w not in checked:
                if not _spend(ctx):
                    return True
                checked[w] = _word_typo(ctx, w)
            if checked[w] is None:
                return True
    return False


def _word_typo(ctx: LintContext, word: str) -> str | None:
    """The common word ``word`` is a near-certain typo of, kept for the run (it depends on the word, the
    profile's vocabulary, the database and the embedding names: the memo's key)."""
    memo = ctx.table("word_typos")
    if word in memo:
        return memo[word]
    memo[word] = found = _find_word_typo(ctx, word)
    return found


def _find_word_typo(ctx: LintContext, word: str) -> str | None:
    from ...tokens.clip import vocabulary
    from ..words import word_typo

    fixed = word_typo(word)
    if fixed is None or word in ctx.vocabulary or f"{word}</w>" in vocabulary() or ctx.db.lookup(word) is not None:
        return None
    from .spelling import famous_words

    if known_anywhere(word) or ctx.not_a_tag_text(word) or word in _name_words() or word in famous_words():
        return None  # "amano" of "yoshitaka amano": a word of an artist's or a character's name
    if any(name != fixed and posts >= 500 for name, posts in ctx.db.close_names(word).items()):
        return None  # also one edit from a popular tag: "boken" may be "bokeh"
    return fixed
