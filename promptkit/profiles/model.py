"""Model-family profiles as plain, read-only records.

A profile holds what a model card says about how to prompt and run a model: architecture, prediction type,
clip skip, samplers, steps, CFG, resolutions, the tag ordering template, the special tag ladders, positive
and negative presets, the dialect its users write and the namespaces it knows. Lint rules, the formatter and
the runners read these; no model fact lives in code.

These classes hold data that :mod:`.schema` (pydantic) has already validated; they never validate again,
so reading a profile costs no pydantic import (a lint's start-up). Their fields are the schema's, in its order.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

Architecture = Literal["sd1", "sd2", "sdxl", "sdxl-vpred", "sdxl-flow", "cascade"]
Prediction = Literal["epsilon", "v_prediction", "flow"]


class _Record:
    """Read-only attributes named by the class's annotations, set from a validated mapping.

    ``model_dump`` and ``model_copy`` behave as pydantic's do for these records (the profile's JSON output and
    the runners' derived profiles use them)."""

    FIELDS: ClassVar[tuple[str, ...]] = ()
    _NESTED: ClassVar[dict[str, type[_Record]]] = {}

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        cls.FIELDS = tuple(cls.__annotations__)

    def __init__(self, **values: Any) -> None:
        if set(values) != set(self.FIELDS):
            wrong = sorted(set(values) ^ set(self.FIELDS))
            raise TypeError(f"{type(self).__name__} takes exactly its fields; wrong or missing: {wrong}")
        for name in self.FIELDS:
            object.__setattr__(self, name, values[name])

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Any:
        """The record for validated data (``ProfileSchema.model_validate(...).model_dump()``, or that read back
        from JSON: lists where the schema has tuples are made tuples again)."""
        return cls(**{name: cls._convert(name, data[name]) for name in cls.FIELDS})

    @classmethod
    def _convert(cls, name: str, value: Any) -> Any:
        nested = cls._NESTED.get(name)
        if nested is None or value is None:
            return value
        return [nested.from_data(v) for v in value] if isinstance(value, list) else nested.from_data(value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only; use model_copy(update=...)")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self.FIELDS)

    __hash__ = None  # type: ignore[assignment]  # lists inside: like pydantic's frozen models with lists

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{n}={getattr(self, n)!r}' for n in self.FIELDS)})"

    def model_dump(self, mode: Literal["python", "json"] = "python") -> dict[str, Any]:
        """The fields as plain data (nested records as dicts); ``mode="json"``: tuples as lists."""
        return {name: _dump(getattr(self, name), mode) for name in self.FIELDS}

    def model_copy(self, update: dict[str, Any] | None = None) -> Any:
        """A copy with some fields replaced (not validated, as with pydantic's ``model_copy``)."""
        values = {name: getattr(self, name) for name in self.FIELDS}
        if update:
            unknown = set(update) - set(self.FIELDS)
            if unknown:
                raise TypeError(f"{type(self).__name__} has no fields {sorted(unknown)}")
            values.update(update)
        return type(self)(**values)


def _dump(value: Any, mode: str) -> Any:
    if isinstance(value, _Record):
        return value.model_dump(mode)  # type: ignore[arg-type]
    if isinstance(value, list):
        return [_dump(v, mode) for v in value]
    if isinstance(value, tuple):
        return [_dump(v, mode) for v in value] if mode == "json" else tuple(_dump(v, mode) for v in value)
    if isinstance(value, dict):
        return {k: _dump(v, mode) for k, v in value.items()}
    return value


class Range(_Record):
    """A recommended range with a default (``min <= default <= max``)."""

    min: float
    max: float
    default: float


class Slot(_Record):
    """One position of the ordering template: tags of these kinds go here."""

    name: str
    match: list[str]


class Presets(_Record):
    positive: str
    negative: str


class Profile(_Record):
    """A model family (see the bundled ``promptkit/profiles/data/*.toml`` for examples, and :mod:`.schema` for
    what each field may hold). Load one with :func:`promptkit.profiles.load_profile`."""

    id: str
    title: str
    description: str
    extends: str | None
    family: str
    architecture: Architecture
    prediction_type: Prediction
    zero_terminal_snr: bool
    clip_skip: int
    samplers: list[str]
    schedule_type: str | None
    steps: Range
    cfg: Range
    cfg_fried: float | None
    guidance_rescale: float
    flow_shift: float | None
    pag_scale: float | None
    decoder_steps: int | None
    decoder_cfg: float | None
    resolutions: list[tuple[int, int]]
    resolution_multiple: int
    dialect: str
    tag_style: Literal["spaces", "underscores", "any"]
    escape_parentheses: bool
    natural_language: bool
    max_chunks: int | None
    ordering: list[Slot]
    ordering_strict: bool
    ladders: dict[str, list[str]]
    count_tags: list[str]
    special_tags: list[str]
    keep_underscores: list[str]
    renamed: dict[str, str]
    presets: Presets
    namespaces: list[str]
    tag_sources: list[str]
    series: list[str]
    checkpoints: list[str]
    model_hashes: list[str]
    weight_warn: float
    weight_error: float

    _NESTED = {"steps": Range, "cfg": Range, "ordering": Slot, "presets": Presets}

    @classmethod
    def _convert(cls, name: str, value: Any) -> Any:
        if name == "resolutions":
            return [tuple(pair) for pair in value]
        return super()._convert(name, value)

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
            self.__dict__["_ladder_cache"] = index  # derived data, cached beside the read-only fields
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
