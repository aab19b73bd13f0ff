"""Project configuration: ``promptkit.toml`` or ``[tool.promptkit]`` in ``pyproject.toml``.

Looked up from the current folder upwards; command-line options win over the file. Keys: ``profile``,
``dialect``, ``select``, ``ignore``, ``fail-on``, ``backtrack``, ``tag-sources`` (a list of ``danbooru``,
``e621``, ``wd14`` or paths to CSV files, relative to the file; replaces the profile's own sources),
``embeddings`` (a folder of textual-inversion files whose names are not tags, relative to the file),
``lora-dirs`` (folders searched for ``<lora:name>`` by ``generate``, relative to the file).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

KEYS = {"profile", "dialect", "select", "ignore", "fail-on", "backtrack", "tag-sources", "embeddings", "lora-dirs"}


class ConfigError(Exception):
    pass


def find_config(start: Path | None = None) -> tuple[Path | None, dict[str, Any]]:
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        own = folder / "promptkit.toml"
        if own.is_file():
            return own, _validate(own, _unwrap(_load(own)))
        project = folder / "pyproject.toml"
        if project.is_file():
            data = _load(project).get("tool", {}).get("promptkit")
            if data is not None:
                return project, _validate(project, data)
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
    except (tomllib.TOMLDecodeError, OSError) as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _validate(path: Path, data: dict[str, Any]) -> dict[str, Any]:
    unknown = set(data) - KEYS
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(KEYS))}")
    if "tag-sources" in data:
        data["tag-sources"] = [s if s in ("danbooru", "e621", "wd14") else str((path.parent / s).resolve())
                               for s in data["tag-sources"]]
    if "embeddings" in data:
        data["embeddings"] = str((path.parent / data["embeddings"]).resolve())
    if "lora-dirs" in data:
        dirs = data["lora-dirs"]
        if isinstance(dirs, str) or not isinstance(dirs, list) or not all(isinstance(d, str) for d in dirs):
            raise ConfigError(f"{path}: lora-dirs is a list of folders, e.g. lora-dirs = [\"models/Lora\"]")
        data["lora-dirs"] = [str((path.parent / d).resolve()) for d in dirs]
    return data
