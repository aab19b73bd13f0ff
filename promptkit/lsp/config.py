"""Settings for a document: the project's ``promptkit.toml`` / ``[tool.promptkit]`` over the editor's own.

The first-line directive, which wins over both, is read with the document (``editing.documents``).

A project configuration that cannot be used (not TOML, an unknown key, a value of the wrong type: anything
``cli.config`` raises, whatever the exception) never reaches the documents: they are linted with the editor's
settings, and the problem is a :class:`ConfigProblem` that the server shows as one diagnostic on the
configuration file (published whether or not the file is open: editors list it under problems), one
``window/showMessage`` per distinct problem, and a log line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..editing.documents import Settings


def client_settings(raw: Any) -> tuple[Settings, str | None]:
    """The editor's settings (``{"promptkit": {...}}`` or the inner table); defaults and a message when invalid."""
    if isinstance(raw, dict) and isinstance(raw.get("promptkit"), dict):
        raw = raw["promptkit"]
    if not isinstance(raw, dict) or not raw:
        return Settings(), None
    known = {k.replace("-", "_"): v for k, v in raw.items()}
    try:
        return Settings(**{k: v for k, v in known.items() if k in Settings.model_fields}), None
    except ValidationError as exc:
        return Settings(), f"promptkit: ignoring invalid settings: {exc.errors()[0]['msg']} " \
                          f"({'.'.join(str(x) for x in exc.errors()[0]['loc'])})"


@dataclass(frozen=True)
class ConfigProblem:
    """Why a project configuration was not used: the file (when known), the message, the 0-based line."""

    path: str | None
    message: str
    line: int = 0


def config_file(start: Path) -> Path | None:
    """The configuration file ``cli.config.find_config`` would read from ``start`` upwards, found without
    parsing it (it may be the file that cannot be parsed)."""
    for folder in (start, *start.parents):
        own = folder / "promptkit.toml"
        if own.is_file():
            return own
        project = folder / "pyproject.toml"
        try:
            if project.is_file() and re.search(rb"^\s*\[\s*tool\s*\.\s*promptkit\b|^\s*\[\s*tool\s*\]",
                                               project.read_bytes()[:1 << 20], re.M):
                return project
        except OSError:
            continue
    return None


def _problem(start: Path, exc: BaseException) -> ConfigProblem:
    try:
        path = config_file(start)
    except OSError:
        path = None
    text = str(exc).strip() or type(exc).__name__
    if not isinstance(exc, (OSError, ValueError)) and exc.__class__.__name__ != "ConfigError":
        text = f"{type(exc).__name__}: {text}"
    first = text.splitlines()[0]
    message = f"promptkit: the project configuration is not used ({first}); documents get the editor's settings"
    line = 0
    if path is not None:
        from ..cli.config import KEYS

        try:
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            lines = []
        named = [k for k in sorted(KEYS, key=len, reverse=True) if re.search(rf"(?<![\w-]){re.escape(k)}(?![\w-])", first)]
        for key in named:
            at = next((i for i, row in enumerate(lines) if re.match(rf"\s*{re.escape(key)}\s*=", row)), None)
            if at is not None:
                line = at
                break
    return ConfigProblem(str(path) if path is not None else None, message, line)


def project_settings(path: str | None) -> tuple[Settings, ConfigProblem | None]:
    """Settings from the project configuration found from the document's folder upwards; the editor's defaults
    and the problem when it cannot be used (any exception: the server keeps serving with defaults)."""
    if not path:
        return Settings(), None
    start = Path(path).parent
    try:
        return _project_settings(start), None
    except Exception as exc:  # noqa: BLE001 - whatever a bad file makes the loader raise
        return Settings(), _problem(start, exc)


def _project_settings(start: Path) -> Settings:
    from ..cli.config import find_config

    _, cfg = find_config(start)
    values: dict[str, Any] = {}
    for key in ("profile", "dialect", "select", "ignore"):
        if cfg.get(key):
            values[key] = cfg[key]
    if cfg.get("tag-sources"):
        values["tag_sources"] = list(cfg["tag-sources"])
    if cfg.get("embeddings"):
        folders = cfg["embeddings"]
        values["embeddings"] = list(folders) if isinstance(folders, (list, tuple)) else [folders]
    if cfg.get("lora-dirs"):
        values["loras"] = list(cfg["lora-dirs"])
    if cfg.get("wildcard-dirs"):
        values["wildcards"] = list(cfg["wildcard-dirs"])
    try:
        return Settings(**values)
    except ValidationError as exc:
        error = exc.errors()[0]
        raise ValueError(f"{'.'.join(str(x) for x in error['loc'])}: {error['msg']}") from None
