"""Project configuration: ``promptkit.toml`` or ``[tool.promptkit]`` in ``pyproject.toml``.

Looked up from the current folder upwards; command-line options win over the file. Keys: ``profile``,
``dialect``, ``select``, ``ignore``, ``fail-on``, ``backtrack``, ``tag-sources`` (a list of ``danbooru``,
``e621``, ``wd14`` or paths to CSV files, relative to the file; replaces the profile's own sources),
``embeddings`` (a folder of textual-inversion files whose names are not tags, relative to the file),
``lora-dirs`` (folders searched for ``<lora:name>`` by ``generate``, relative to the file), ``container`` (what
``lint`` and ``fmt`` read their inputs as, see :mod:`promptkit.contain`; ``--container`` wins).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

KEYS = {"profile", "dialect", "select", "ignore", "fail-on", "backtrack", "tag-sources", "embeddings", "lora-dirs",
        "container"}


class ConfigError(Exception):
    pass


def find_config(start: Path | None = None) -> tuple[Path | None, dict[str, Any]]:
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        own = folder / "promptkit.toml"
        if own.is_file():
            return own, _validate(own, _load(own))
        project = folder / "pyproject.toml"
        if project.is_file():
            data = _load(project).get("tool", {}).get("promptkit")
            if data is not None:
                return project, _validate(project, data)
    return None, {}


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
