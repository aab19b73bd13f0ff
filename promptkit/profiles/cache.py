"""Validated profile data, remembered in the user cache folder so that a start skips pydantic.

Importing pydantic and building the profile schema cost a lint's start-up ~70 ms, more than the lint itself.
A profile's data is validated by :mod:`.schema` the first time it is seen; the validated data is then kept in
``<cache folder>/profiles/<digest>.json``, named by a digest of the data exactly as read (the profile's file
merged over those it extends) and of the schema's source files. Data that differs in any way, or a changed
schema, has another digest and is validated again; invalid data is never remembered, so it fails with the same
error every time. A cache folder that cannot be written only costs speed. Data that JSON cannot carry (a TOML
date, a YAML set) is not remembered.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from .._resources import cache_dir

_PACKAGE = Path(__file__).resolve().parents[1]
# What validation depends on besides the data: the schema, and the dialect names its validator accepts.
SCHEMA_FILES = (_PACKAGE / "profiles" / "schema.py", _PACKAGE / "syntax" / "dialects" / "__init__.py")


def _plain(value: Any) -> bool:
    """Whether ``value`` is JSON data whose ``repr`` is the same in every process (no sets, no dates)."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return value is None or isinstance(value, (str, int, float, bool))


def digest(data: dict[str, Any]) -> str | None:
    """The cache key of a profile's raw data, or None when it is not to be remembered."""
    try:
        if not _plain(data):
            return None
        h = hashlib.sha1(repr(data).encode())
    except RecursionError:  # YAML anchors can nest a list in itself
        return None
    for path in SCHEMA_FILES:
        try:
            st = path.stat()
        except OSError:
            return None
        h.update(f"|{path}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:24]


def _path(key: str) -> Path:
    return cache_dir() / "profiles" / f"{key}.json"


def recall(key: str) -> dict[str, Any] | None:
    """The validated data remembered under ``key``, or None (not yet, unreadable, damaged)."""
    try:
        with open(_path(key), encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError, RuntimeError, KeyError):  # RuntimeError, KeyError: no home folder
        return None
    return data if isinstance(data, dict) else None


def remember(key: str, validated: dict[str, Any]) -> None:
    """Keep ``validated`` under ``key``, written atomically; quietly nothing when the folder is unusable."""
    from .._files import write_atomic

    try:
        path = _path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(validated, ensure_ascii=False))
    except (OSError, ValueError, TypeError, RuntimeError, KeyError):  # RuntimeError, KeyError: no home folder
        pass
