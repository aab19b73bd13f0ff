"""Wildcard collections: a folder of ``.txt`` / ``.yaml`` / ``.json`` files, or a mapping name -> options.

Names and look-ups follow ``dynamicprompts`` 0.31.0: a text file ``hair/colors.txt`` is ``hair/colors``
(one option a line, stripped; blank lines and lines starting with ``#`` skipped); a YAML or JSON file's
nested keys are folders under the file's own folder (``pantry.yaml`` with ``fruit: [...]`` is ``fruit``),
a top-level list is named after the file; ``"2::red"`` and ``{text: red, weight: 2}`` carry weights.
A pattern is a glob (``fnmatch``, where ``*`` crosses ``/``); one that matches nothing is retried as
``**/pattern``. The options of every match are deduplicated and sorted by text.

Every option remembers where it was written (``file:line``, or ``file:key`` in YAML/JSON) so errors and
findings can point there.
"""

from __future__ import annotations

import json
import os
import re
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Iterable, Mapping, Sequence, Union

WildcardsArg = Union[str, os.PathLike, Mapping[str, Sequence[str]], "Wildcards", None]


class WildcardError(ValueError):
    """A wildcard folder or file that cannot be read."""


class Item:
    """One option: its text, its weight (1.0 unless given) and where it was written."""

    __slots__ = ("text", "weight", "origin")

    def __init__(self, text: str, weight: float = 1.0, origin: str = "") -> None:
        self.text, self.weight, self.origin = text, weight, origin

    def key(self) -> tuple[str, float] | str:
        return self.text if self.weight == 1.0 else (self.text, self.weight)

    def __repr__(self) -> str:
        return f"Item({self.text!r}, {self.weight}, {self.origin!r})"


class Wildcards:
    """Named option lists, looked up the way dynamic prompts does."""

    def __init__(self, collections: dict[str, list[Item]] | None, root: Path | None = None,
                 more: Sequence[Path] = ()) -> None:
        self._collections = collections
        self.root = root
        self._more = tuple(more)  # further folders read with root (``wildcard-dirs`` in config)
        self._cache: dict[str, list[Item]] = {}

    @property
    def collections(self) -> dict[str, list[Item]]:
        """Name -> options; a folder is read on first use (a template without wildcards never reads it)."""
        if self._collections is None:
            merged: dict[str, list[Item]] = {}
            for root in reversed((self.root, *self._more)):  # the first folder wins a name they share
                merged.update(_read_folder(root))  # type: ignore[arg-type]
            self._collections = merged
        return self._collections

    @classmethod
    def load(cls, source: WildcardsArg) -> "Wildcards":
        if source is None:
            return cls({})
        if isinstance(source, Wildcards):
            return source
        if isinstance(source, Mapping):
            return cls({_clean(str(name)): [Item(str(v), 1.0, f"{name}[{i}]") for i, v in
                                           enumerate([values] if isinstance(values, str) else values)]
                        for name, values in source.items()})
        return cls.from_folder(Path(source))

    @classmethod
    def from_folder(cls, root: Path) -> "Wildcards":
        if not root.is_dir():
            raise WildcardError(f"wildcard folder {str(root)!r} is not a directory")
        return cls(None, root)

    @classmethod
    def from_folders(cls, roots: Sequence[Path]) -> "Wildcards":
        """Several folders read as one collection (read on first use); the first wins a name they share."""
        for root in roots:
            if not Path(root).is_dir():
                raise WildcardError(f"wildcard folder {str(root)!r} is not a directory")
        return cls(None, Path(roots[0]), [Path(r) for r in roots[1:]])


    def names(self) -> list[str]:
        return list(self.collections)

    def values(self, pattern: str) -> list[Item]:
        """The options of every collection matching ``pattern`` (deduplicated, sorted by text)."""
        hit = self._cache.get(pattern)
        if hit is not None:
            return hit
        try:
            clean = _clean(pattern)
        except ValueError:
            return []
        items = self._match(clean)
        if not items and not clean.startswith("**"):
            items = self._match(f"**/{clean}")
        unique: dict = {}
        for item in items:
            unique.setdefault(item.key(), item)
        result = sorted(unique.values(), key=lambda it: it.text)
        self._cache[pattern] = result
        return result

    def _match(self, pattern: str) -> list[Item]:
        if pattern in self.collections and not any(c in pattern for c in "*?["):
            return list(self.collections[pattern])
        out: list[Item] = []
        for name, items in self.collections.items():
            if fnmatchcase(name, pattern):
                out.extend(items)
        return out


def _read_folder(root: Path) -> dict[str, list[Item]]:
    found: dict[str, list[Item]] = {}
    for dirname, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for filename in sorted(filenames):
            path = Path(dirname) / filename
            if path.suffix == ".txt":
                found[_name(path, root)] = _read_text(path)
            elif path.suffix in (".yaml", ".json"):
                prefix = _name(path.parent, root)
                for name, items in _read_structured(path):
                    found[f"{prefix}/{name}" if prefix else name] = items
    return found


def _clean(name: str) -> str:
    if name.startswith("__"):
        name = name[2:]
    if name.endswith("__"):
        name = name[:-2]
    name = re.sub(r"[\\/]+", "/", name).strip("/")
    if ".." in name:
        raise ValueError(f"wildcard name can not contain '..': {name}")
    return name


def _name(path: Path, root: Path) -> str:
    if path == root:
        return ""
    return str(path.relative_to(root).with_suffix("")).replace(os.sep, "/")


def _read_text(path: Path) -> list[Item]:
    items = []
    with path.open(encoding="utf-8", errors="ignore") as f:
        for number, line in enumerate(f, 1):
            stripped = line.strip()
            if stripped and not stripped.startswith("#"):
                items.append(Item(stripped, 1.0, f"{path}:{number}"))
    return items


def _read_structured(path: Path) -> Iterable[tuple[str, list[Item]]]:
    content = path.read_text(encoding="utf-8")
    try:
        if path.suffix == ".yaml":
            import yaml

            data = yaml.load(content, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # same as safe_load
        else:
            data = json.loads(content)
    except Exception:  # the reference skips an unreadable structured file with a warning; so do we
        return []
    if isinstance(data, dict):
        return list(_structured_dict(data, path, ()))
    if isinstance(data, list):
        entries = [Item(e, 1.0, f"{path}[{i}]") for i, e in enumerate(data) if isinstance(e, str)]
        if entries:
            return [(path.with_suffix("").name, entries)]
    return []


def _structured_dict(data: dict, path: Path, prefix: tuple[str, ...]) -> Iterable[tuple[str, list[Item]]]:
    for name, value in data.items():
        if not isinstance(name, str) or not value:
            continue
        full = (*prefix, name)
        key = "/".join(full)
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list):
            yield key, list(_structured_list(value, f"{path}:{key}"))
        elif isinstance(value, dict):
            yield from _structured_dict(value, path, full)


def _structured_list(values: list, origin: str) -> Iterable[Item]:
    for i, item in enumerate(values):
        if not item:
            continue
        where = f"{origin}[{i}]"
        if isinstance(item, str):
            if item[0].isdigit() and "::" in item:
                weight_text, _, content = item.rpartition("::")
                try:
                    yield Item(content, float(weight_text), where)
                    continue
                except ValueError:
                    pass
            yield Item(item, 1.0, where)
        elif isinstance(item, dict):
            weight = float(item.get("weight", 1))
            content = item.get("text") or item.get("content") or ""
            if content:
                yield Item(content, weight, where)
