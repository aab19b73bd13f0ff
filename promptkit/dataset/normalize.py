"""Caption normalization for training sets (kohya-ss style ``image.txt`` sidecars, WD-tagger captions).

Captions are comma-separated tags read literally (training does not parse A1111 syntax). Every option is named
after what it does; the defaults change nothing but spacing. Work per distinct tag is cached, so a dataset
of millions of captions costs little more than splitting and joining strings. Normalizing a normalized
caption changes nothing.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Iterable, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..syntax.normalize import KAOMOJI, lookup_key, unescape

if TYPE_CHECKING:
    from ..tags import TagDB

SPLIT_TAGS = re.compile(r"\s*[,\n]\s*")  # captions are read literally: tags end at commas and newlines
_ESCAPE = re.compile(r"(?<!\\)([()])")
_SERIES = re.compile(r"^(.+?)_\(([^()]+)\)$")


class NormalizeOptions(BaseModel):
    """What ``normalize`` does to each caption (all off by default except tidy separators)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    underscores_to_spaces: bool = Field(False, description="long_hair -> long hair (kaomoji such as ^_^ are kept)")
    escape_parentheses: bool | None = Field(None, description="True: \\( \\) for use as prompts; False: remove escapes")
    resolve_aliases: bool = Field(False, description="hires -> highres, using the tag database")
    remove_duplicates: bool = Field(False, description="drop repeated tags (also across spellings)")
    remove_implied: bool = Field(False, description="drop tags implied by another tag (long hair with very long hair)")
    character_first: bool = Field(False, description="character tags before the others")
    split_series: bool = Field(False, description="kazusa_(blue_archive) -> kazusa, blue archive")
    rating: Literal["keep", "first", "last", "remove"] = Field("keep", description="where rating tags go")
    always_first: tuple[str, ...] = Field((), description="tags moved to the front, in this order")
    undesired: tuple[str, ...] = Field((), description="tags removed")
    replacements: tuple[tuple[str, str], ...] = Field((), description="(old, new) tag pairs")
    separator: str = Field(", ", description="written between tags")
    profile: str | None = Field(None, description="reorder by this profile's template (e.g. sotediffusion-wuerstchen3)")
    keep_underscores: tuple[str, ...] = Field((), description="tags whose underscores always stay (score_9)")

    @property
    def needs_db(self) -> bool:
        return (self.resolve_aliases or self.remove_implied or self.character_first or self.split_series
                or self.rating != "keep" or self.profile is not None)


RATINGS = frozenset({"general", "sensitive", "questionable", "explicit", "safe", "nsfw", "rating_safe",
                     "rating_questionable", "rating_explicit"})


class CaptionNormalizer:
    """Normalizes captions with one set of options; caches per-tag work (create once, reuse)."""

    def __init__(self, options: NormalizeOptions | None = None, db: "TagDB | None" = None) -> None:
        self.options = options or NormalizeOptions()
        if db is None and self.options.needs_db:
            from ..tags import default_db

            db = default_db()
        self.db = db
        opts = self.options
        self._undesired = {lookup_key(t) for t in opts.undesired}
        self._replace = {lookup_key(a): b.strip() for a, b in opts.replacements}
        self._first = [lookup_key(t) for t in opts.always_first]
        self._keep = set(opts.keep_underscores) | {lookup_key(t) for t in opts.keep_underscores}
        self._tag_cache: dict[str, list[tuple[str, str, str]]] = {}
        self._profile = None
        if opts.profile:
            from ..profiles import load_profile

            self._profile = load_profile(opts.profile)
            self._keep |= set(self._profile.keep_underscores)

    # -- one tag ------------------------------------------------------------------------------------------
    def _tag(self, raw: str) -> list[tuple[str, str, str]]:
        """(written form, database key, kind) for one raw tag; several when a series is split off."""
        cached = self._tag_cache.get(raw)
        if cached is not None:
            return cached
        opts = self.options
        key = lookup_key(raw)
        if key in self._replace:
            raw = self._replace[key]
            key = lookup_key(raw)
        if key in self._undesired or not key:
            out: list[tuple[str, str, str]] = []
        else:
            key, kind = self._resolve(key)
            pieces = [(key, kind, raw if key == lookup_key(raw) else None)]
            if opts.split_series and kind == "character":
                m = _SERIES.match(key)
                series = self._resolve(m.group(2)) if m else None
                # Only a real series ("(female)" is no series), and only when the bare name is no tag of its
                # own ("manjuu" is an alias of steamed_bun): otherwise the character could not be told apart
                # again and a second run would change the caption.
                bare = self.db.lookup(m.group(1)) if m else None
                plain_name = bare is None or (bare.matched == "exact" and bare.category.value == "character")
                if series is not None and series[1] == "copyright" and series[0] == m.group(2) and plain_name:
                    pieces = [(m.group(1), "character", None), (series[0], "copyright", None)]
            out = [(self._write(k, original), k, kd) for k, kd, original in pieces]
        self._tag_cache[raw] = out
        return out

    def _resolve(self, key: str) -> tuple[str, str]:
        """(database key, kind) of a normalized tag, with aliases followed when asked."""
        info = self.db.lookup(key) if self.db is not None else None
        if info is not None and self.options.resolve_aliases and info.matched == "alias" and \
                self.db.rename(key) is not None:  # only renames: never orange -> orange_(fruit), cute -> invalid_tag
            key = info.name
        kind = info.category.value if info is not None else "unknown"
        if key in RATINGS:
            kind = "rating"
        return key, kind

    def _write(self, key: str, original: str | None) -> str:
        """The written form: the original spelling unless an option rewrites it."""
        opts = self.options
        text = original.strip() if original is not None else key
        if original is None and not opts.underscores_to_spaces:
            text = key
        if opts.underscores_to_spaces and key not in KAOMOJI and key not in self._keep and "_" in text:
            text = text.replace("_", " ")
        if opts.escape_parentheses is True:
            text = _ESCAPE.sub(r"\\\1", text)
        elif opts.escape_parentheses is False and "\\" in text:
            text = unescape(text)
        return text

    # -- one caption --------------------------------------------------------------------------------------
    def __call__(self, caption: str) -> str:
        opts = self.options
        tags: list[tuple[str, str, str]] = []
        for raw in SPLIT_TAGS.split(caption.strip()):
            if raw:
                tags.extend(self._tag(raw))
        if opts.remove_duplicates:
            seen: set[str] = set()
            unique = []
            for tag in tags:
                if tag[1] not in seen:
                    seen.add(tag[1])
                    unique.append(tag)
            tags = unique
        if opts.split_series and self.db is not None:
            tags = self._recognize_split(tags)
        if opts.remove_implied and self.db is not None:
            present = {t[1] for t in tags}
            implied = set()
            for name in present:
                implied.update(n for n in self.db.implied(name) if n in present and n != name)
            tags = [t for t in tags if t[1] not in implied]
        if self._profile is not None and self._profile.ordering:
            tags = self._order_by_profile(tags)
        if opts.character_first:
            tags = sorted(tags, key=lambda t: t[2] != "character")
        if opts.rating != "keep":
            ratings = [t for t in tags if t[2] == "rating"]
            rest = [t for t in tags if t[2] != "rating"]
            tags = {"first": ratings + rest, "last": rest + ratings, "remove": rest}[opts.rating]
        if self._first:
            rank = {k: i for i, k in enumerate(self._first)}
            tags = sorted(tags, key=lambda t: rank.get(t[1], len(rank)))
        return opts.separator.join(t[0] for t in tags)

    def _recognize_split(self, tags: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
        """A name split off by an earlier run (``kazusa`` with ``blue archive`` anywhere in the caption) is
        still a character, so a second run orders it the same way."""
        series = {key for _, key, kind in tags if kind == "copyright"}
        for _, key, _kind in tags:  # a series another tag implies may have been removed as implied
            series.update(self.db.implied(key))
        if not series:
            return tags
        out = list(tags)
        for i, (written, key, kind) in enumerate(out):
            if kind in ("character", "copyright"):
                continue
            for name in sorted(series):
                info = self.db.lookup(f"{key}_({name})")
                if info is not None and info.category.value == "character":
                    out[i] = (written, key, "character")
                    break
        return out

    def _order_by_profile(self, tags: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
        profile = self._profile
        count = profile.count_names

        def slot(tag: tuple[str, str, str]) -> int | None:
            kind = profile.ladder_of(tag[1]) or ("count" if tag[1] in count else tag[2])
            return None if kind == "unknown" else profile.slot_of(kind)

        # An unknown tag keeps the slot of the tag before it, so it stays with its neighbours and sorting
        # again changes nothing.
        keys = []
        previous = None
        for tag in tags:
            k = slot(tag)
            if k is None:
                k = previous if previous is not None else len(profile.ordering)
            keys.append(k)
            previous = k
        order = sorted(range(len(tags)), key=lambda i: keys[i])
        return [tags[i] for i in order]

    def many(self, captions: Iterable[str]) -> list[str]:
        return [self(c) for c in captions]


def normalize_captions(captions: Iterable[str], options: NormalizeOptions | None = None,
                       db: "TagDB | None" = None) -> list[str]:
    """Normalize a batch of captions: drops into ``datasets.map(..., batched=True)`` and Ray ``map_batches``."""
    return CaptionNormalizer(options, db).many(captions)
