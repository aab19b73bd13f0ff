"""Finding and loading profiles: the bundled ones by id, users' own from a TOML or YAML file.

A profile may ``extends`` another: its tables are merged over the parent's (a child's list replaces the
parent's list; nested tables merge key by key).
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Any

from .._files import read_text_file
from . import cache
from .model import Profile

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DATA_DIR = Path(__file__).resolve().parent / "data"


class ProfileError(ValueError):
    """A profile that does not exist or does not validate."""


def _read(path: Path) -> dict[str, Any]:
    try:  # a regular file of at most MAX_TEXT_FILE: a FIFO named x.toml would block, /dev/zero never end
        text = read_text_file(path).text
    except UnicodeDecodeError as exc:
        raise ProfileError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ProfileError(f"{path}: {exc.strerror or exc}") from None
    if path.suffix in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:  # pragma: no cover
            raise ProfileError(f"{path}: reading YAML profiles needs PyYAML (pip install pyyaml)") from None
        data = yaml.safe_load(text)
    else:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ProfileError(f"{path}: {exc}") from None
    if not isinstance(data, dict):
        raise ProfileError(f"{path}: a profile is a table of settings")
    data.setdefault("id", path.stem)
    return data


def _merge(parent: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    out = dict(parent)
    for key, value in child.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


@functools.cache
def bundled_ids() -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in DATA_DIR.glob("*.toml")))


@functools.cache
def _bundled(ref: str) -> dict[str, Any]:
    """A bundled profile file's own table, read once per process: the profiles that extend it and every
    profile that `all_profiles` loads share one parse (callers copy what they change)."""
    return _read(DATA_DIR / f"{ref}.toml")


def _raw(ref: str, seen: tuple[str, ...] = ()) -> dict[str, Any]:
    path = Path(ref)
    if path.suffix in (".toml", ".yaml", ".yml") and path.exists():
        data = _read(path)
    elif ref in bundled_ids():
        data = dict(_bundled(ref))
    else:
        raise ProfileError(f"unknown profile {ref!r}; bundled profiles: {', '.join(bundled_ids())}")
    parent = data.get("extends")
    if parent:
        if parent in seen:
            raise ProfileError(f"profile {ref!r} extends itself through {' -> '.join(seen)}")
        base = dict(_raw(parent, seen + (ref,)))
        for key in ("description", "checkpoints", "model_hashes"):  # facts about one model, not its family
            base.pop(key, None)
        data = _merge(base, data)
    return data


@functools.lru_cache(maxsize=64)
def load_profile(ref: str) -> Profile:
    """A bundled profile by id (``kivotos-xl-2``) or a user's profile file (``my-model.toml``).

    Every profile is validated by the pydantic schema; data already validated in an earlier run is read back
    from the cache instead (see :mod:`.cache`), so a start usually costs no pydantic import."""
    data = _raw(ref)
    key = cache.digest(data)
    known = cache.recall(key) if key else None
    if known is not None:
        try:
            return Profile.from_data(known)
        except (KeyError, TypeError, ValueError):  # a damaged or foreign cache file: validate afresh
            pass
    validated = _validate(ref, data)
    if key:
        cache.remember(key, validated)
    return Profile.from_data(validated)


def _validate(ref: str, data: dict[str, Any]) -> dict[str, Any]:
    """The schema's validated data for a profile, or a :class:`ProfileError` of one line naming every problem."""
    from pydantic import ValidationError

    from .schema import ProfileSchema

    try:
        return ProfileSchema.model_validate(data).model_dump()
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"])
            kind, message = error["type"], error["msg"]
            if kind == "extra_forbidden":
                text = "not a profile setting"
            elif kind == "value_error":
                text = message.removeprefix("Value error, ")
            elif kind == "missing":
                text = "missing (required)"
            else:
                text = f"{message[:1].lower()}{message[1:]}, got {_short(error.get('input'))}"
            problems.append(f"{where}: {text}" if where else text)
        raise ProfileError(f"profile {ref!r} is invalid: {'; '.join(problems)}") from None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def all_profiles() -> list[Profile]:
    return [load_profile(i) for i in bundled_ids()]
