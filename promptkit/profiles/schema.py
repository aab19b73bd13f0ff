"""What a profile file may say: the pydantic schema that validates it, field by field.

Profile files cross a boundary (bundled TOML, a user's TOML or YAML), so they are checked here, and only here:
the objects the rest of promptkit reads are the plain :class:`~promptkit.profiles.model.Profile` records built
from the validated data (pydantic costs a lint's start-up ~70 ms; see ``registry.load_profile`` for how a
validated profile is remembered so that later starts skip it). A field added here is added to ``model.py`` too
(``tests/test_profiles.py`` checks that they agree).
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


class RangeSchema(BaseModel):
    """A recommended range with a default (``min <= default <= max``)."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)
    min: float
    max: float
    default: float

    @model_validator(mode="after")
    def _ordered(self) -> "RangeSchema":
        if not self.min <= self.default <= self.max:
            raise ValueError(f"default {self.default} is outside {self.min}..{self.max}")
        return self


class SlotSchema(BaseModel):
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


class PresetsSchema(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)
    positive: str = ""
    negative: str = ""


class ProfileSchema(BaseModel):
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
    steps: RangeSchema = RangeSchema(min=20, max=40, default=28)
    cfg: RangeSchema = RangeSchema(min=5, max=8, default=7)
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
    ordering: list[SlotSchema] = Field(default_factory=list)
    ordering_strict: bool = Field(True, description="False when the model was trained on shuffled tags")
    ladders: dict[str, list[str]] = Field(default_factory=dict)
    count_tags: list[str] = Field(default_factory=list)
    special_tags: list[str] = Field(default_factory=list, description="pseudo-tags that are not in any tag DB")
    keep_underscores: list[str] = Field(default_factory=list)
    renamed: dict[str, str] = Field(default_factory=dict,
                                    description="an earlier version's tag -> the one this version's card writes")
    presets: PresetsSchema = PresetsSchema()
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
