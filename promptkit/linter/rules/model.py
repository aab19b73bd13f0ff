"""Model rules (PK3xx): what the active profile says about its special tags, ordering and encoder."""

from __future__ import annotations

import functools
import re
from typing import Iterable

from bisect import bisect_right

from ...syntax.normalize import lookup_key
from ...tokens.chunks import cuts_only_at_separators, surely_one_chunk
from ..diagnostics import Diagnostic, Edit, Severity
from ..ordering import order_items, segments, slot_name
from ..rule import LintContext, Rule, TagRule, quote
from ..vocabulary import is_template_field


@functools.cache
def ladder_owners() -> dict[str, list[tuple[str, str, str]]]:
    """Every bundled profile's ladder tags: name -> [(family, ladder, the first such profile's title)]."""
    from ...profiles import all_profiles

    owners: dict[str, list[tuple[str, str, str]]] = {}
    for profile in all_profiles():
        for ladder, tags in profile.ladders.items():
            for tag in tags:
                entries = owners.setdefault(lookup_key(tag), [])
                if not any(e[:2] == (profile.family or profile.id, ladder) for e in entries):
                    entries.append((profile.family or profile.id, ladder, profile.title))
    return owners


@functools.cache
def model_lines() -> dict[str, frozenset[str]]:
    """Every bundled ladder tag: name -> the profiles that introduced it (a profile whose parent profile has the
    tag in the same ladder inherited it): ``worst aesthetic`` -> {noobai-xl-eps}; ``very aesthetic`` ->
    {animagine-xl-3.1, sotediffusion-wuerstchen3}, ``bad quality`` -> several."""
    from ...profiles import all_profiles

    profiles = {p.id: p for p in all_profiles()}
    lines: dict[str, set[str]] = {}
    for profile in profiles.values():
        for ladder, tags in profile.ladders.items():
            for tag in tags:
                root = profile
                while True:
                    parent = profiles.get(root.extends or "")
                    if parent is None or tag not in parent.ladders.get(ladder, ()):
                        break
                    root = parent
                lines.setdefault(lookup_key(tag), set()).add(root.id)
    return {name: frozenset(ids) for name, ids in lines.items()}


@functools.lru_cache(maxsize=1)
def underscored_pseudo_tags() -> frozenset[str]:
    """Ladder tags a family writes with underscores (``source_anime``, ``rating_safe``): pseudo-tags, however
    English their words are."""
    from ...profiles import all_profiles

    return frozenset(lookup_key(t) for p in all_profiles() for t in p.keep_underscores)


class ForeignLadderTag(Rule):
    """A quality, aesthetic, rating or year tag from another model family's ladder.

    Why: these pseudo-tags only mean something to the model trained with them. ``score_9`` is Pony's,
    ``very awa`` NoobAI's, ``year 2024`` Illustrious'; elsewhere they are noise. Only pseudo-tags are
    reported (not plain English such as ``bad quality`` or ``very aesthetic``, which any text encoder reads
    and several model lines use; English words that only one model line's ladder has, such as NoobAI's
    ``worst aesthetic`` or Animagine 4.0's ``high score``, are its pseudo-tags all the same), in prompts of tag
    profiles; in negative prompts not a one-word tag.

    A score-trained model (Pony V6) is told once when a prompt asks for quality only in other families' words
    (``masterpiece, best quality`` and no ``score_N`` tag).

    Example (Kivotos XL): ``score_9, 1girl`` -> ``masterpiece, 1girl``.
    """

    code = "PK301"
    name = "foreign-ladder-tag"
    category = "model"
    severity = Severity.WARNING

    def check(self, ctx: LintContext) -> Iterable[Diagnostic]:
        profile = ctx.profile
        if not profile.ladders:
            return
        if profile.natural_language:
            yield from self._quality_words_for_scores(ctx)
            return
        from ..words import all_words

        owners = None  # every bundled profile's ladders: loaded only once a tag is neither ours nor a known tag
        for tag in ctx.unresolved:  # neither ours nor an ordinary tag (e.g. "general")
            if owners is None:
                owners = ladder_owners()
            owner = owners.get(tag.name)
            if owner is None and _BARE_SCORE.fullmatch(tag.name):
                owner = owners.get(tag.name + "_up")  # "score_4": Pony's negative idiom, a Pony tag all the same
            if owner is None:
                continue
            if all_words(tag.name) and tag.name not in underscored_pseudo_tags() and \
                    not (_GRADED_WORDS.fullmatch(tag.name) and len(model_lines()[tag.name]) == 1):
                continue  # "bad quality", "very aesthetic": plain words many models read (not "worst aesthetic")
            if ctx.negative and "_" not in tag.name.strip("_"):
                continue  # a one-word tag in a negative
            family, ladder, title = next((o for o in owner if o[0] != profile.family), owner[0])
            whose = f"of the {family} family" if family != profile.family else f"of {title}"
            ours = profile.ladders.get(ladder)
            if ctx.negative:  # the profile's own words for what a negative pushes away, never its best tags
                wanted = {lookup_key(t) for t in ours or ()}
                ours = [t.strip() for t in (profile.presets.negative or "").split(",") if lookup_key(t) in wanted]
            hint = [", ".join(ours[:3])] if ours else []
            kind = "special" if ladder == "custom" else ladder  # Pony's source_* tags are its "custom" ladder
            article = "an" if kind[0] in "aeiou" else "a"
            yield self.diagnostic(f"{quote(tag.text)} is {article} {kind} tag {whose}; {profile.title} was not trained "
                                  "with it", tag.start, tag.end, suggestions=hint)

    def _quality_words_for_scores(self, ctx: LintContext) -> Iterable[Diagnostic]:
        """A score-trained model (Pony V6) prompted with another family's quality tags and none of its own
        scores: ``masterpiece, best quality`` are words to it; its quality is asked for with ``score_9, ...``.
        One finding, at the first such tag, in a positive prompt that has no score tag; not in a fragment of one
        or two tags (a line of a tag list, a preset's piece), which asks for nothing on its own."""
        ours = ctx.profile.ladders.get("quality", ())
        if ctx.negative or not ours or not all(t.startswith("score_") for t in ours) or "score" in ctx.text.lower() \
                or len(ctx.tags) < 3:
            return
        wanted = None
        for tag in ctx.tags:
            if tag.name in ctx.vocabulary:
                continue
            if wanted is None:
                wanted = _asked_quality()
            if tag.name in wanted:
                yield self.diagnostic(f"{quote(tag.text)} asks for quality in other models' words; {ctx.profile.title}"
                                      f" was trained with score tags ({', '.join(ours[:3])}, ...) and this prompt "
                                      "has none", tag.start, tag.end, suggestions=[", ".join(ours[:3])])
                return


@functools.lru_cache(maxsize=1)
def _asked_quality() -> frozenset[str]:
    """The quality-ladder tags some bundled profile's positive preset asks for (``masterpiece``, ``best quality``;
    not ``bad quality``, which a positive prompt does not ask for)."""
    from ...profiles import all_profiles

    out = set()
    for profile in all_profiles():
        quality = {lookup_key(t) for t in profile.ladders.get("quality", ())}
        preset = profile.presets.positive or ""
        out.update(k for k in (lookup_key(t) for t in preset.split(",")) if k in quality)
    return frozenset(out)


#: a grade of a score or an aesthetic (``worst aesthetic``, ``average score``): no description of an image in
#: English, a model line's pseudo-tag when only that line's ladder has it
_GRADED_WORDS = re.compile(r"[a-z]+_(?:aesthetic|score)")
_DIGITS = re.compile(r"\d")
_UNSEEN = object()  # a spelling not looked up yet
_BARE_SCORE = re.compile(r"score_[1-9]")


class LadderTypo(Rule):
    """A misspelled quality, score, source, rating, year or aesthetic tag of the profile's own family.

    Why: the model learned its pseudo-tags exactly as captioned; ``score_8up``, ``sorce_anime`` or a bare
    ``score_6`` on Pony V6 (whose tags are ``score_6_up`` ...; only ``score_9`` also works bare, as its card
    says) are other words to the text encoder. Reported when the tag is not in the profile's ladders or tag
    sources and is one edit from one of its ladder tags (two for long ones), or is a bare ``score_N`` whose
    ``score_N_up`` is in the ladder (not in a negative prompt, where ``score_6, score_5, score_4`` is the common
    Pony negative; nor in a fragment of one or two tags, an option of a tag list; nor beside its own
    ``score_N_up``), or a ``score_N_up`` whose ladder has only the bare ``score_N`` (Pony V6's ``score_9``). A tag
    that differs from a ladder tag only in its digits (``score_1``) is another tag.

    Also a ladder tag under the name an earlier version of the model used, as its card renamed it (the
    profile's ``renamed``: Animagine XL 3.0's ``high quality`` is 3.1's ``great quality``).

    Example (Pony V6): ``score_9, score_8up, score_6`` -> ``score_9, score_8_up, score_6_up``.
    Fix (unsafe: the text changes to what was meant).
    """

    code = "PK308"
    name = "ladder-typo"
    category = "model"
    severity = Severity.WARNING
    fix_safety = "unsafe"
    needs_db = True

    def check(self, ctx: LintContext) -> Iterable[Diagnostic]:
        from ..words import all_words
        from .tags import typo_spans

        profile = ctx.profile
        if profile.renamed:
            yield from self._renamed(ctx)
        keys = _ladder_keys(ctx)
        if not keys:
            return
        typos = None
        memo = ctx.table("ladder_targets")  # (raw, negative) -> the ladder tag it slips from, or None (most)
        negative = ctx.negative
        for tag in ctx.unresolved:  # most tags are known: no spelling to work out
            key = (tag.raw, negative)
            target = memo.get(key, _UNSEEN)
            if target is _UNSEEN:
                raw = tag.raw.strip()
                low = raw.lower().replace(" ", "_")
                target = memo[key] = None if not raw or low in keys or all_words(raw) else \
                    _ladder_target(keys, low, negative)
            if target is None:
                continue
            raw = tag.raw.strip()
            if target.lower() == raw.lower().replace(" ", "_") + "_up" and \
                    (len(ctx.tags) < 3 or target.lower() in _prompt_tags(ctx)):
                continue  # a bare "score_8" alone (an option of a tag list) or beside its own "score_8_up"
            if typos is None:  # a whole-tag typo is PK201's
                typos = {(s, e) for s, e, _ in typo_spans(ctx)}
            if (tag.start, tag.end) in typos:
                continue
            fixed = target
            yield self.diagnostic(f"{quote(raw)} is not one of {profile.title}'s tags; did you mean {fixed!r}?",
                                  tag.start, tag.end, suggestions=[fixed],
                                  fix=self.fix(f"replace with '{fixed}'", Edit(tag.start, tag.end, fixed)))

    def _renamed(self, ctx: LintContext) -> Iterable[Diagnostic]:
        """An earlier version's name of a ladder tag (Animagine XL 3.0's ``high quality``, ``rating: general``)."""
        renamed = ctx.table("profile").get("renamed")
        if renamed is None:
            ladders = {t for tags in ctx.profile.ladders.values() for t in tags}  # a child profile may lack one
            renamed = ctx.table("profile")["renamed"] = {_renamed_key(k): v for k, v in ctx.profile.renamed.items()
                                                         if v in ladders}
        memo = ctx.table("renamed_tags")  # raw -> its new name or None: one look-up a tag once a spelling is met
        for tag in ctx.tags:
            new = memo.get(tag.raw, _UNSEEN)
            if new is _UNSEEN:
                new = memo[tag.raw] = renamed.get(_renamed_key(tag.raw))
            if new is None:
                continue
            start, end = tag.trimmed
            yield self.diagnostic(f"{quote(tag.raw.strip())} is an earlier version's tag: {ctx.profile.title} was "
                                  f"trained with {new!r}", start, end, suggestions=[new],
                                  fix=self.fix(f"replace with '{new}'", Edit(start, end, new)))


def _renamed_key(text: str) -> str:
    """``Rating:General``, ``rating: general`` and ``high_quality`` as one key each."""
    return _COLON.sub(": ", " ".join(text.lower().replace("_", " ").split()))


_COLON = re.compile(r"\s*:\s*")


def _prompt_tags(ctx: LintContext) -> frozenset[str]:
    """The prompt's tags, lower-case with underscores (asked only when a ladder slip is found)."""
    return frozenset(t.raw.strip().lower().replace(" ", "_") for t in ctx.tags)


def _ladder_keys(ctx: LintContext) -> dict[str, str]:
    """The profile's ladder tags with an underscore or a digit (the pseudo-tags), by lower-case underscored key."""
    profile_memo = ctx.table("profile")
    keys = profile_memo.get("ladder_keys")
    if keys is None:
        ladder = [t for tags in ctx.profile.ladders.values() for t in tags if "_" in t or any(c.isdigit() for c in t)]
        keys = profile_memo["ladder_keys"] = {t.lower().replace(" ", "_"): t for t in ladder}
    return keys


def _ladder_target(keys: dict[str, str], low: str, negative: bool) -> str | None:
    """The ladder tag ``low`` (a spelling no source knows) is a slip of, or None."""
    from rapidfuzz.distance import OSA

    # a bare score_N in a negative is the common Pony negative (score_6, score_5, score_4), not a slip
    target = None if negative else keys.get(low + "_up")
    if target is None and low.endswith("_up"):
        target = keys.get(low[:-3])  # "score_9_up" where the ladder's top is the bare "score_9" (Pony V6's card)
    if target is None:
        close = sorted((OSA.distance(low, k, score_cutoff=2), k) for k in keys if len(low) >= 6)
        close = [(d, k) for d, k in close if d <= (2 if len(k) >= 10 else 1)
                 and _DIGITS.sub("", k) != _DIGITS.sub("", low)]  # score_1 is another score, not score_9
        if not close or (len(close) > 1 and close[1][0] == close[0][0]):
            return None  # nothing close, or two ladder tags as close: no certain correction
        target = keys[close[0][1]]
    return target


#: Textual inversions made for SD 1.5 (768-wide token vectors), among the most used (their model cards say so).
SD15_EMBEDDINGS = frozenset({
    "easynegative", "easynegativev2", "badhands5", "badhandv4", "badhandv5", "ngdeepnegativev175t",
    "verybadimagenegativev13", "badpromptversion2", "badprompt", "badartist", "badartistanime",
    "badimagev239000", "badpicturechill75v",
})


_NAME_WORD = re.compile(r"[^\s,()\[\]{}:]+")


class EmbeddingForAnotherModel(TagRule):
    """A textual inversion made for SD 1.5 (``EasyNegative``, ``badhandv4``) in a prompt for an SDXL-family
    model.

    Why: an embedding holds token vectors for one text encoder; SD 1.5's (768 wide) do not fit SDXL's two
    encoders, so A1111 skips it when it loads embeddings ("skipped" in its list) and the name reaches the
    model as ordinary words. Use the SDXL counterpart (``negativeXL``, ``unaestheticXL``) or the words it
    stood for. A1111 finds an embedding's name inside a phrase too (``painting by bad-artist``).

    Example (Illustrious XL): ``EasyNegative, lowres`` -> ``lowres``.
    """

    code = "PK309"
    name = "embedding-for-another-model"
    category = "model"
    severity = Severity.WARNING

    def applies(self, ctx: LintContext) -> bool:
        return ctx.profile.architecture.startswith("sdxl")

    def check_tag(self, ctx: LintContext, tag) -> Iterable[Diagnostic]:
        if tag.namespace and tag.namespace != "embedding":
            return
        from ..vocabulary import embedding_key

        name = tag.text.split(":", 1)[1] if tag.namespace == "embedding" else tag.text
        if embedding_key(name) in SD15_EMBEDDINGS:
            yield self.diagnostic(f"{quote(name.strip())} is a textual inversion for SD 1.5: A1111 cannot load it "
                                  f"on {ctx.profile.title} and the model reads the name as words",
                                  tag.start, tag.end)
        elif " " in name.strip():
            # A1111 finds an embedding's name anywhere in the text: "painting by bad-artist" holds one
            for m in _NAME_WORD.finditer(tag.text):
                if embedding_key(m.group()) in SD15_EMBEDDINGS:
                    yield self.diagnostic(f"{quote(m.group())} is a textual inversion for SD 1.5: A1111 cannot load "
                                          f"it on {ctx.profile.title} and the model reads the name as words",
                                          tag.start + m.start(), tag.start + m.end())


class MissingQualityTags(Rule):
    """None of the quality tags the model card recommends.

    Why: models trained with quality ladders produce their average output without them; the card's
    positive preset is what the examples were made with. Off by default: prompts are often fragments
    (styles, wildcards) that get the quality tags elsewhere.

    Example (Kivotos XL): ``1girl, solo`` -> ``1girl, solo, masterpiece, best quality, very aesthetic, absurdres``.
    Fix (unsafe: adds tags): add the preset where the ordering template puts it.
    """

    code = "PK302"
    name = "missing-quality-tags"
    category = "model"
    severity = Severity.INFO
    fix_safety = "unsafe"
    default = False

    def check(self, ctx: LintContext) -> Iterable[Diagnostic]:
        profile = ctx.profile
        preset = profile.presets.positive.strip()
        if ctx.negative or not preset or "quality" not in profile.ladders or not ctx.text.strip():
            return
        if any(profile.ladder_of(t.name) in ("quality", "aesthetic") for t in ctx.tags):
            return
        first_slot = profile.ordering[0].match if profile.ordering else []
        if "quality" in first_slot or "aesthetic" in first_slot:
            edit = Edit(0, 0, preset + ", ")
        else:
            end = len(ctx.text.rstrip())
            edit = Edit(end, end, (", " if not ctx.text.rstrip().endswith(",") else " ") + preset)
        yield self.diagnostic(f"no quality tags; {profile.title} recommends {preset!r}", 0, 0,
                              suggestions=[preset], fix=self.fix(f"add {preset!r}", edit))


class TagOrder(Rule):
    """Tags out of the order the model was trained with.

    Why: models trained on captions in a fixed order (Animagine, Kivotos, Pony) follow prompts in that
    order best: the card's order (Animagine: 1girl/1boy, character, series, artist, everything else, then
    the quality preset). Only for profiles whose model was trained in a fixed order, and never in negative
    prompts. Off by default: on the modern audit corpus it was judged useful too rarely (a different order is
    a choice more often than a mistake); turn it on with ``--select PK303``.

    Example (Kivotos XL): ``smile, kazusa \\(blue archive\\), 1girl`` -> ``1girl, kazusa \\(blue archive\\), smile``.
    Fix (unsafe: word order changes what the text encoder attends to): reorder by the profile template
    (``promptkit fmt``), never across BREAK, AND, lines, placeholders or ``###``, groups kept whole.
    """

    code = "PK303"
    name = "tag-order"
    category = "model"
    severity = Severity.INFO
    fix_safety = "unsafe"
    default = False
    needs_db = True  # slots by tag category: without the database only ladders and counts have a place

    def check(self, ctx: LintContext) -> Iterable[Diagnostic]:
        if ctx.negative or not ctx.profile.ordering or not ctx.profile.ordering_strict:
            return
        plan = order_items(ctx)
        if plan is None:
            return
        segments_changed, first_bad = plan
        if not segments_changed or first_bad is None:
            return
        bad_tag, expected_before = first_bad
        yield self.diagnostic(
            f"{quote(_written(ctx, bad_tag))} ({slot_name(ctx, bad_tag)}) should come before "
            f"{quote(_written(ctx, expected_before))} ({slot_name(ctx, expected_before)}) in {ctx.profile.title}'s "
            f"order: {', '.join(s.name for s in ctx.profile.ordering)}",
            bad_tag.start, bad_tag.end, fix=self.fix("reorder the tags", *segments_changed))


def _written(ctx: LintContext, tag) -> str:
    """The item a tag stands in, as the user wrote it (``kazusa_(blue_archive)``, not its first piece)."""
    for segment in segments(ctx):
        for start, end in segment:
            if start <= tag.start < end:
                return ctx.text[start:end].strip()
    return tag.text


class RatingConflict(Rule):
    """More than one rating tag (``safe`` and ``explicit``).

    Why: rating tags steer the whole image; two of them pull in opposite directions.

    Example: ``general, nsfw, 1girl`` -> ``general, 1girl``.
    """

    code = "PK304"
    name = "rating-conflict"
    category = "model"
    severity = Severity.WARNING
    spelling_facts = True

    def spelling_fact(self, ctx: LintContext, tag) -> bool | None:
        return True if ctx.profile.ladder_of(tag.name) == "rating" else None

    def check(self, ctx: LintContext) -> Iterable[Diagnostic]:
        if ctx.negative:
            return
        ratings = [t for t, _ in ctx.facts(self) if t.branch is None]
        names = {t.name for t in ratings}
        if len(names) > 1:
            later = ratings[-1]
            yield self.diagnostic(f"rating tags contradict each other: {', '.join(sorted(names))}",
                                  later.start, later.end)


class TooManyChunks(Rule):
    """Tokens past what the model's text encoder can see.

    Why: A1111 and ComfyUI split long prompts into 75-token chunks, but Stable Cascade (SoteDiffusion) and
    plain diffusers truncate at 77 tokens: everything after is silently dropped.

    The negative part of an AI Horde style (after ``###``) is a prompt of its own: the two are counted apart.

    Example (SoteDiffusion): a 110-token prompt loses its last 35 tokens; move important tags first.
    """

    code = "PK305"
    name = "too-many-chunks"
    category = "model"
    severity = Severity.ERROR

    def check(self, ctx: LintContext) -> Iterable[Diagnostic]:
        limit = ctx.profile.max_chunks
        if limit is None or surely_one_chunk(ctx.text):
            return
        if "###" in ctx.text and _parts_fit(ctx, limit):
            return  # an AI Horde style: prompt ### negative are two prompts, each counted on its own
        plan = ctx.chunk_plan
        if len(plan.chunks) <= limit:
            return
        dropped = sum(len(chunk.starts) for chunk in plan.chunks[limit:])
        if not dropped:
            return
        start = min(min(chunk.starts) for chunk in plan.chunks[limit:] if chunk.starts)
        lost = [t.text for t in ctx.tags if t.start >= start]
        yield self.diagnostic(
            f"{ctx.profile.title}'s encoder reads {75 * limit} tokens; {dropped} more are dropped "
            f"({len(lost)} tags: {', '.join(quote(t, 30)[1:-1] for t in lost[:5])}{'...' if len(lost) > 5 else ''})",
            start, len(ctx.text.rstrip()))


def _parts_fit(ctx: LintContext, limit: int) -> bool:
    """Every part of a ``prompt ### negative`` text fits the encoder on its own."""
    from ...syntax import parse
    from ...tokens.chunks import plan_chunks

    for part in ctx.text.split("###"):
        if not surely_one_chunk(part) and len(plan_chunks(parse(part, ctx.prompt.dialect), ctx.backtrack).chunks) > limit:
            return False
    return True


class TagCutByChunk(Rule):
    """A tag split across two 75-token chunks.

    Why: each chunk is encoded separately, so a tag cut in two is seen as two unrelated halves. A1111 moves
    text after a comma within 20 tokens of the boundary to the next chunk, but long tags or missing commas
    defeat it. Sentences are not reported: prose has no comma to move to.

    Example: put ``BREAK`` before the cut tag, or shorten the prompt before it.
    """

    code = "PK306"
    name = "tag-cut-by-chunk"
    category = "model"
    severity = Severity.WARNING

    def check(self, ctx: LintContext) -> Iterable[Diagnostic]:
        if surely_one_chunk(ctx.text) or ctx.profile.max_chunks == 1 or \
                cuts_only_at_separators(ctx.prompt, ctx.backtrack):
            return  # every boundary is a BREAK's or at a comma between two tags (the common case, found cheaply)
        plan = ctx.chunk_plan
        if len(plan.chunks) < 2:
            return
        tags = ctx.tags
        starts = [t.start for t in tags]
        reported = set()
        for i in range(len(plan.chunks) - 1):
            before, after = plan.chunks[i], plan.chunks[i + 1]
            if before.forced or not before.token_ids or not after.token_ids:
                continue  # BREAK ends a chunk between tags
            last_start, first_start = before.start_of(-1), after.start_of(0)  # two spans, not the columns
            # a tag is cut when the last token of one chunk and the first of the next both start inside it:
            # tags do not overlap, so only the last tag that starts at or before that token can. A CLIP word
            # that spans several tags (a run of symbols such as ",.,.") starts inside none of them.
            j = bisect_right(starts, last_start) - 1
            if j >= 0:
                tag = tags[j]
                if j in reported or not (tag.start <= last_start and first_start < tag.end):
                    continue
                if ctx.is_prose(tag) or not _mostly_ascii(tag.text) or is_template_field(tag.text.strip()):
                    continue  # a sentence is read as a whole either way; a translated label is not sent; a
                    # placeholder ({prompt}, {{MOOD_TAGS}}) is replaced before anything is cut
                reported.add(j)
                last_chunk = i + 1
                while last_chunk + 1 < len(plan.chunks) and plan.chunks[last_chunk + 1].token_ids and \
                        plan.chunks[last_chunk + 1].start_of(0) < tag.end:
                    last_chunk += 1
                yield self.diagnostic(f"{quote(tag.text)} is cut between chunks {i + 1} and {last_chunk + 1}",
                                      tag.start, tag.end, suggestions=[f"BREAK {tag.raw}"])


def _mostly_ascii(text: str) -> bool:
    """Latin-script text (CLIP's tokenizer reads CJK labels as byte soup; extensions translate them first)."""
    return sum(1 for ch in text if ch.isascii()) * 2 >= len(text)


class NegativePreset(Rule):
    """A negative prompt without the tags of the profile's recommended negative (opt-in).

    Why: model cards give the negative prompt their examples were made with; quality and aesthetic tags in
    it (``worst quality``, ``very displeasing``) steer the model only when present. Off by default: many
    users keep their own negative on purpose.

    Example (Kivotos XL): negative ``lowres`` -> add ``worst quality, low quality, very displeasing, ...``.
    """

    code = "PK307"
    name = "negative-preset"
    category = "model"
    severity = Severity.INFO
    default = False

    def check(self, ctx: LintContext) -> Iterable[Diagnostic]:
        preset = ctx.profile.presets.negative.strip()
        if not ctx.negative or not preset:
            return
        from ...syntax import parse

        have = {t.name for t in ctx.tags}
        wanted = [t for t in parse(preset, ctx.profile.dialect).tags if t.name not in have]
        if not wanted:
            return
        names = ", ".join(t.text for t in wanted)
        yield self.diagnostic(f"{ctx.profile.title}'s recommended negative also has: {quote(names, 120)[1:-1]}",
                              0, 0, suggestions=[names])
