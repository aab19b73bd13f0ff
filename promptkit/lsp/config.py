"""Settings for a document: the project's ``promptkit.toml`` / ``[tool.promptkit]`` over the editor's own.

The first-line directive, which wins over both, is read with the document (``editing.documents``).
"""

from __future__ import annotations

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


def project_settings(path: str | None) -> tuple[Settings, str | None]:
    """Settings from the project configuration found from the document's folder upwards."""
    if not path:
        return Settings(), None
    from ..cli.config import ConfigError, find_config

    try:
        _, cfg = find_config(Path(path).parent)
    except (ConfigError, OSError) as exc:
        return Settings(), str(exc)
    values: dict[str, Any] = {}
    for key in ("profile", "dialect", "select", "ignore"):
        if cfg.get(key):
            values[key] = cfg[key]
    if cfg.get("tag-sources"):
        values["tag_sources"] = list(cfg["tag-sources"])
    if cfg.get("embeddings"):
        values["embeddings"] = [cfg["embeddings"]]
    if cfg.get("lora-dirs"):
        values["loras"] = list(cfg["lora-dirs"])
    try:
        return Settings(**values), None
    except ValidationError as exc:
        return Settings(), f"promptkit configuration: {exc.errors()[0]['msg']}"
