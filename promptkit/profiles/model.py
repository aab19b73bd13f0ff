"""Model-family profiles as validated data.

A profile holds what a model card says about how to prompt and run a model: architecture, prediction type,
clip skip, samplers, steps, CFG, resolutions, the tag ordering template, the special tag ladders, positive
and negative presets, the dialect its users write and the namespaces it knows. Lint rules, the formatter and
the runners read these; no model fact lives in code.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Architecture = Literal["sd1", "sd2", "sdxl", "sdxl-vpred", "sdxl-flow", "cascade"]
Prediction = Literal["epsilon", "v_prediction", "flow"]

# What an ordering slot can match: tag database categories, the profile's ladders, or these sets.
# ``preset``: the other tags of the profile's positive preset (``absurdres`` in Animagine's
# ``masterpiece, best quality, very aesthetic, absurdres``), which go where the card puts the preset.
SLOT_KINDS = {"count", "general", "artist", "copyright", "character", "meta", "species", "lore", "rating",
              "quality", "aesthetic", "year", "custom", "preset", "rest"}


class Range(BaseModel):
    """A recommended range with a default (``min <= default <= max``)."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)
    min: float
    max: float
    default: float

    @model_validator(mode="after")
    def _ordered(self) -> "Range":
        if not self.min <= self.default <= self.max:
            raise ValueError(f"default {self.default} is outside {self.min}..{self.max}")
        return self


class Slot(BaseModel):
    """One position of the ordering template: tags of these kinds go here."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)
    name: str
    match: list[str]

    @field_validator("match")
    @classmethod
    def _known(cls, kinds: list[str]) -> list[str]:
        unknown = set(kinds) - SLOT_KINDS
        if unknown:
            raise ValueError(f"unknown slot kinds {sorted(unknown)}; use {sorted(SLOT_KINDS)}")
        return kinds


class Presets(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)
    positive: str = ""
    negative: str = ""


class Profile(BaseModel):
    """A model family (see the bundled ``promptkit/profiles/data/*.toml`` for examples)."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    id: str
    title: str
    description: str = ""
    extends: str | None = None
    family: str = ""
    architecture: Architecture
    prediction_type: Prediction = "epsilon"
    zero_terminal_snr: bool = False
    clip_skip: int = Field(1, ge=1, le=12, description="A1111 meaning: 1 = last layer, 2 = penultimate")
    samplers: list[str] = Field(default_factory=lambda: ["Euler a"])
    schedule_type: str | None = None
    steps: Range = Range(min=20, max=40, default=28)
    cfg: Range = Range(min=5, max=8, default=7)
    cfg_fried: float | None = Field(None, description="CFG at and above which images are known to fry")
    guidance_rescale: float = 0.0
    flow_shift: float | None = None
    pag_scale: float | None = None
    decoder_steps: int | None = None
    decoder_cfg: float | None = None
    resolutions: list[tuple[int, int]] = Field(default_factory=list)
    resolution_multiple: int = 8
    dialect: str = "a1111"
    tag_style: Literal["spaces", "underscores", "any"] = "spaces"
    escape_parentheses: bool = True
    natural_language: bool = Field(False, description="captions in plain sentences work too")
    max_chunks: int | None = Field(None, description="75-token chunks the encoder uses; None = unlimited")
    ordering: list[Slot] = Field(default_factory=list)
    ordering_strict: bool = Field(True, description="False when the model was trained on shuffled tags")
    ladders: dict[str, list[str]] = Field(default_factory=dict)
    count_tags: list[str] = Field(default_factory=list)
    special_tags: list[str] = Field(default_factory=list, description="pseudo-tags that are not in any tag DB")
    keep_underscores: list[str] = Field(default_factory=list)
    presets: Presets = Presets()
    namespaces: list[str] = Field(default_factory=list)
    tag_sources: list[str] = Field(
        default_factory=lambda: ["danbooru", "e621"],
        description="the tag vocabularies the model was trained on, in order of precedence: danbooru, e621, "
                    "wd14 or a CSV path; the first that knows a spelling decides what it means")
    series: list[str] = Field(
        default_factory=list,
        description="copyright tags the model specialises in: a character written without its qualifier "
                    "(kazusa for kazusa_(blue_archive)) gets the qualified tag suggested")
    checkpoints: list[str] = Field(
        default_factory=list,
        description="checkpoint file names this profile is for, as shell patterns on the name with case, "
                    "extension, spaces, dots, dashes and underscores dropped (animagineXLV31_v31 -> "
                    "animaginexlv31v31); not inherited through extends")
    model_hashes: list[str] = Field(
        default_factory=list,
        description="A1111 'Model hash' values (AutoV2: the first 10 hex digits of the file's SHA-256) of the "
                    "released files; not inherited through extends")
    weight_warn: float = 1.5
    weight_error: float = 2.0

    @field_validator("tag_sources")
    @classmethod
    def _sources(cls, names: list[str]) -> list[str]:
        if not names:
            raise ValueError("a profile needs at least one tag source")
        for name in names:
            if name not in ("danbooru", "e621", "wd14") and not name.endswith(".csv"):
                raise ValueError(f"unknown tag source {name!r}; use danbooru, e621, wd14 or a .csv path")
        return names

    @field_validator("dialect")
    @classmethod
    def _dialect(cls, value: str) -> str:
        from ..syntax.dialects import canonical_dialect

        return canonical_dialect(value)

    def slot_of(self, kind: str) -> int:
        """The ordering-template position for a tag kind (a ladder, ``count`` or a DB category).

        Kinds no slot names go to the slot that matches ``rest`` (or after every slot when none does)."""
        rest = len(self.ordering)
        for i, slot in enumerate(self.ordering):
            if kind in slot.match:
                return i
            if "rest" in slot.match:
                rest = i
        return rest

    def ladder_of(self, name: str) -> str | None:
        """The ladder (quality, aesthetic, rating, year, ...) a normalized tag belongs to, if any."""
        return self._ladder_index().get(name)

    def _ladder_index(self) -> dict[str, str]:
        index = self.__dict__.get("_ladder_cache")
        if index is None:
            index = {}
            for ladder, tags in self.ladders.items():
                for tag in tags:
                    index.setdefault(_key(tag), ladder)
            self.__dict__["_ladder_cache"] = index  # derived data, cached beside the frozen fields
        return index

    @property
    def preset_names(self) -> frozenset[str]:
        """The tags of the positive preset, in database spelling (when a slot places them: else empty)."""
        cached = self.__dict__.get("_preset_names")
        if cached is None:
            cached = frozenset()
            if any("preset" in slot.match for slot in self.ordering) and self.presets.positive:
                from ..syntax import parse

                cached = frozenset(t.name for t in parse(self.presets.positive, self.dialect).tags)
            self.__dict__["_preset_names"] = cached
        return cached

    @property
    def count_names(self) -> frozenset[str]:
        """The count tags (``1girl``, ``solo``...) in database spelling."""
        cached = self.__dict__.get("_count_names")
        if cached is None:
            cached = frozenset(_key(t) for t in self.count_tags)
            self.__dict__["_count_names"] = cached
        return cached

    @property
    def ladders_vocabulary(self) -> frozenset[str]:
        """The ladder tags (quality, aesthetic, rating, year...) in database spelling."""
        return frozenset(self._ladder_index())

    @property
    def vocabulary(self) -> frozenset[str]:
        """Tags this profile knows without the database: ladders, presets, count and special tags."""
        cached = self.__dict__.get("_vocabulary")
        if cached is None:
            from ..syntax import parse

            names = set(self._ladder_index())
            names.update(self.count_names)
            names.update(_key(t) for t in self.special_tags)
            for text in (self.presets.positive, self.presets.negative):
                names.update(t.name for t in parse(text, self.dialect).tags)
            cached = frozenset(names)
            self.__dict__["_vocabulary"] = cached
        return cached


def _key(tag: str) -> str:
    from ..syntax.normalize import lookup_key

    return lookup_key(tag)
