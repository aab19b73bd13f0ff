"""Project configuration: ``promptkit.toml`` or ``[tool.promptkit]`` in ``pyproject.toml``.

Looked up from the current folder upwards; command-line options win over the file. Keys: ``profile``,
``dialect``, ``select``, ``ignore``, ``fail-on``, ``backtrack``, ``tag-sources`` (a list of ``danbooru``,
``e621``, ``wd14`` or paths to CSV files, relative to the file; replaces the profile's own sources),
``embeddings`` (a folder of textual-inversion files whose names are not tags, relative to the file),
``lora-dirs`` (folders searched for ``<lora:name>`` by ``generate``, relative to the file), ``wildcard-dirs``
(dynamic-prompts wildcard folders, relative to the file: ``__name__`` in templates is looked up there, and files
under them are wildcard files), ``container`` (what
``lint`` and ``fmt`` read their inputs as, see :mod:`promptkit.contain`; ``--container`` wins).
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Any, Literal

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

KEYS = {"profile", "dialect", "select", "ignore", "fail-on", "backtrack", "tag-sources", "embeddings", "lora-dirs",
        "wildcard-dirs", "container"}
BUILTIN_SOURCES = ("danbooru", "e621", "wd14")


class ConfigError(Exception):
    pass


@functools.cache
def settings_model() -> type:
    """The pydantic model of the settings, defined on first use: a run without a config file never pays for
    building its validator."""
    from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, field_validator

    class _Tool(BaseModel):
        """A ``[tool]`` table in promptkit.toml: other tools' tables are left alone; ``[tool.promptkit]`` (the
        pyproject.toml spelling pasted in) must be a table; what it holds is read by whoever merges it."""

        model_config = ConfigDict(extra="allow")
        promptkit: dict[str, Any] | None = None

    class ProjectSettings(BaseModel):
        """The settings of promptkit.toml / ``[tool.promptkit]``, typed as the commands use them."""

        model_config = ConfigDict(extra="forbid", populate_by_name=True)
        profile: StrictStr | None = None
        dialect: StrictStr | None = None
        select: list[StrictStr] | None = None
        ignore: list[StrictStr] | None = None
        fail_on: Literal["info", "warning", "error"] | None = Field(None, alias="fail-on")
        backtrack: StrictInt | None = Field(None, ge=0)
        tag_sources: list[StrictStr] | None = Field(None, alias="tag-sources")
        embeddings: StrictStr | None = None
        lora_dirs: list[StrictStr] | None = Field(None, alias="lora-dirs")
        wildcard_dirs: list[StrictStr] | None = Field(None, alias="wildcard-dirs")
        container: StrictStr | None = None
        tool: _Tool | None = None

        @field_validator("dialect")
        @classmethod
        def _dialect(cls, value: str | None) -> str | None:
            from ..syntax.dialects import canonical_dialect

            return None if value is None else canonical_dialect(value)

    return ProjectSettings


# What each key holds, for the one-line error (the key is named as the file spells it).
EXPECTED = {
    "profile": "a profile id or path (a string)",
    "dialect": "one of a1111, forge, comfy, comfyui, novelai, nai, compel",
    "select": 'a list of rule codes, e.g. ["PK201"]',
    "ignore": 'a list of rule codes, e.g. ["PK303"]',
    "fail-on": 'one of "info", "warning", "error"',
    "backtrack": "a whole number of 0 or more",
    "tag-sources": 'a list of strings (danbooru, e621, wd14 or paths to CSV files), e.g. ["danbooru"]',
    "embeddings": 'a folder (a string), e.g. "embeddings"',
    "lora-dirs": 'a list of folders, e.g. ["models/Lora"]',
    "wildcard-dirs": 'a list of folders, e.g. ["wildcards"]',
    "tool": "a table ([tool])",
    "tool.promptkit": "a table ([tool.promptkit])",
}


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def validate_settings(path: Path, data: Any) -> dict[str, Any]:
    """Check an already-extracted settings mapping (promptkit.toml's top level, or pyproject.toml's
    ``[tool.promptkit]``) and resolve its paths against the file's folder. A wrong key or type is a
    :class:`ConfigError` of one line naming the file, the key and the type expected."""
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: tool.promptkit: expected {EXPECTED['tool.promptkit']}, got {_short(data)}")
    unknown = set(data) - KEYS - {"tool"}
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(KEYS))}")
    from pydantic import ValidationError

    try:
        settings_model().model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = [str(part) for part in error["loc"] if not isinstance(part, int)]
        key = ".".join(loc[:2]) if loc[:2] == ["tool", "promptkit"] else loc[0]
        value = data
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else value
        raise ConfigError(f"{path}: {key}: expected {EXPECTED.get(key, 'another type')}, got {_short(value)}") \
            from None
    out = dict(data)
    if "dialect" in out:
        from ..syntax.dialects import canonical_dialect

        out["dialect"] = canonical_dialect(out["dialect"])
    if "tag-sources" in out:
        out["tag-sources"] = [s if s in BUILTIN_SOURCES else str((path.parent / s).resolve()) for s in out["tag-sources"]]
    if "embeddings" in out:
        out["embeddings"] = str((path.parent / out["embeddings"]).resolve())
    if "lora-dirs" in out:
        out["lora-dirs"] = [str((path.parent / d).resolve()) for d in out["lora-dirs"]]
    if "wildcard-dirs" in out:
        out["wildcard-dirs"] = [str((path.parent / d).resolve()) for d in out["wildcard-dirs"]]
    return out


def find_config(start: Path | None = None) -> tuple[Path | None, dict[str, Any]]:
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        own = folder / "promptkit.toml"
        if own.is_file():
            data = _unwrap(_load(own))
            others = data.get("tool") if isinstance(data.get("tool"), dict) else {}
            if set(others) - {"promptkit"}:
                raise ConfigError(f"{own}: unknown setting(s) {', '.join('tool.' + k for k in sorted(others))}; "
                                  "promptkit.toml holds promptkit's settings only")
            return own, validate_settings(own, data)
        project = folder / "pyproject.toml"
        if project.is_file():
            tool = _load(project).get("tool", {})
            data = tool.get("promptkit") if isinstance(tool, dict) else None
            if data is not None:
                return project, validate_settings(project, data)
    return None, {}


def _unwrap(data: dict[str, Any]) -> dict[str, Any]:
    """``promptkit.toml`` holds the settings at its top level; a ``[tool.promptkit]`` table pasted from a
    ``pyproject.toml`` means the same, so both spellings are read (the top level wins where both say)."""
    tool = data.get("tool")
    if not isinstance(tool, dict) or not isinstance(tool.get("promptkit"), dict):
        return data
    rest = {k: v for k, v in tool.items() if k != "promptkit"}
    out = {**tool["promptkit"], **{k: v for k, v in data.items() if k != "tool"}}
    if rest:
        out["tool"] = rest  # tables of other tools are still unknown settings here
    return out


def _load(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
