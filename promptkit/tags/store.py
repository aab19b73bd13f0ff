"""Compile a :class:`TagSource` into an indexed, read-only SQLite file, once, in the user cache folder.

The file name carries a digest of the source files (path, size, modification time) and of the schema, so a
changed source or a new promptkit version builds a fresh file; opening an up-to-date one is a few
milliseconds. Builds write to a temporary file and rename it into place, so a crash never leaves a half
database behind and concurrent builds do not corrupt each other.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import tempfile
from pathlib import Path

from ..syntax.normalize import normalize_tag
from .sources import TagSource, read_pairs, read_tags

SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;
CREATE TABLE tags (name TEXT PRIMARY KEY, category INTEGER NOT NULL, post_count INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE aliases (alias TEXT PRIMARY KEY, name TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE implications (antecedent TEXT NOT NULL, consequent TEXT NOT NULL,
                           PRIMARY KEY (antecedent, consequent)) WITHOUT ROWID;
"""


def cache_dir() -> Path:
    """``$PROMPTKIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/promptkit``, else ``~/.cache/promptkit``."""
    env = os.environ.get("PROMPTKIT_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return Path(xdg) / "promptkit" if xdg else Path.home() / ".cache" / "promptkit"


def source_digest(source: TagSource) -> str:
    h = hashlib.sha1(f"schema={SCHEMA_VERSION};format={source.format};cats={source.categories}".encode())
    for path in source.files():
        st = path.stat()
        h.update(f"|{path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def compiled_path(source: TagSource) -> Path:
    """The SQLite file for ``source``, building it first if it is missing or stale."""
    target = cache_dir() / f"{source.name}-{source_digest(source)}.sqlite3"
    if not target.exists():
        build(source, target)
    return target


def build(source: TagSource, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        conn = sqlite3.connect(tmp)
        try:
            conn.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + _SCHEMA)
            tags: dict[str, tuple[int, int]] = {}
            aliases: dict[str, str] = {}
            normalize = source.format == "simple"
            for name, category, count, spellings in read_tags(source):
                if normalize:
                    name = normalize_tag(name)
                if name not in tags:
                    tags[name] = (category, count)
                for alias in spellings:
                    aliases.setdefault(alias, name)
            if source.aliases is not None:
                for alias, name in read_pairs(source.aliases):
                    aliases.setdefault(alias, name)
            conn.executemany("INSERT INTO tags VALUES (?, ?, ?)", ((n, c, p) for n, (c, p) in tags.items()))
            conn.executemany("INSERT INTO aliases VALUES (?, ?)", aliases.items())
            if source.implications is not None:
                conn.executemany("INSERT OR IGNORE INTO implications VALUES (?, ?)", read_pairs(source.implications))
            conn.executemany("INSERT INTO meta VALUES (?, ?)", [
                ("source", source.name), ("schema", str(SCHEMA_VERSION)), ("tags", str(len(tags))),
                ("aliases", str(len(aliases))),
            ])
            conn.commit()
            conn.execute("VACUUM")
        finally:
            conn.close()
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def open_readonly(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=False)
    conn.execute("PRAGMA query_only=ON")
    return conn
