"""Where the bundled data lives, and the user cache folder where data compiled from it is kept.

In a source checkout (and an editable install) the data folders sit at the repository root next to the
package: ``grammars/`` and ``tag_db/``. In a built wheel they are copied into ``promptkit/_data/``.
Every module that needs bundled data asks here, so there is one place that knows both layouts.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Callable, TypeVar

T = TypeVar("T")

_PACKAGE_DIR = Path(__file__).resolve().parent


@functools.cache
def data_dir(name: str) -> Path:
    """Return the folder of bundled data called ``name`` (``"grammars"`` or ``"tag_db"``)."""
    for candidate in (_PACKAGE_DIR / "_data" / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"promptkit's bundled data folder {name!r} is missing from the installation")


def grammar_path(dialect: str) -> Path:
    return data_dir("grammars") / f"{dialect}.lark"


def tag_db_path(*parts: str) -> Path:
    return data_dir("tag_db").joinpath(*parts)


@functools.cache
def known_namespaces() -> frozenset[str]:
    """The namespace prefixes recognised in tags (``species:seal``), from ``tag_db/namespaces.txt``."""
    text = tag_db_path("namespaces.txt").read_text(encoding="utf-8")
    names = set()
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.add(line.lower())
    return frozenset(names)


def cache_dir() -> Path:
    """``$PROMPTKIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/promptkit``, else ``~/.cache/promptkit``."""
    env = os.environ.get("PROMPTKIT_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return Path(xdg) / "promptkit" if xdg else Path.home() / ".cache" / "promptkit"


def cached_data(name: str, source: Path, build: Callable[[], T]) -> T:
    """``build()``: plain data (str, int, tuple, list, dict...) derived from the bundled file ``source``, kept in
    the cache folder in Python's own ``marshal`` format (that of ``.pyc`` files), which loads several times
    faster than the derivation runs. The file is named by ``source``'s path, size and modification time and by
    the Python version, so a changed source or interpreter derives afresh; a damaged or unwritable file only
    costs the derivation."""
    import gc
    import hashlib
    import marshal
    import sys

    try:
        st = source.stat()
        stamp = f"{source.resolve()}|{st.st_size}|{st.st_mtime_ns}|{sys.version_info[:2]}|{marshal.version}"
        path: Path | None = cache_dir() / "derived" / f"{name}-{hashlib.sha1(stamp.encode()).hexdigest()[:16]}.marshal"
    except (OSError, RuntimeError, KeyError):  # no such source, or no cache folder (no home: RuntimeError, KeyError)
        path = None
    if path is not None:
        try:
            with open(path, "rb") as fh:
                blob = fh.read()
            collecting = gc.isenabled()
            gc.disable()  # tens of thousands of new containers would set off full collections for nothing
            try:
                return marshal.loads(blob)
            finally:
                if collecting:
                    gc.enable()
        except OSError:  # not derived yet
            pass
        except (EOFError, ValueError, TypeError):  # damaged: derived again and written over
            pass
    data = build()
    if path is not None:
        from ._files import write_atomic

        try:
            blob = marshal.dumps(data)
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, blob)
        except (OSError, ValueError):  # an unwritable folder; ValueError: not plain data
            pass
    return data
