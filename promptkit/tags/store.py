"""Compile a :class:`TagSource` into an indexed, read-only SQLite file, once, in the user cache folder.

The file name carries a digest of the source files (path, size, modification time) and of the schema, so a
changed source or a new promptkit version builds a fresh file; opening an up-to-date one is a few
milliseconds. Builds write to a temporary file and rename it into place, so a crash never leaves a half
database behind and concurrent builds do not corrupt each other.

A cache file is checked when it is opened (SQLite header, size, schema row); a damaged one (truncated,
zeroed, overwritten) is rebuilt in its place with a warning. When the cache folder cannot be used (read-only,
a folder where the file should be, no home folder at all) the database is built in a private temporary
folder instead, also with one warning, so no run ever ends in an sqlite3 traceback.
"""

from __future__ import annotations

import atexit
import hashlib
import itertools
import os
import shutil
import sqlite3
import stat
import tempfile
import warnings
from pathlib import Path

from .._resources import cache_dir
from ..syntax.normalize import normalize_tag
from .sources import TagDataError, TagSource, read_pairs, read_tags
from .spellings import SCHEMA as SPELLINGS_SCHEMA, index_rows

SCHEMA_VERSION = 5  # 3: the active alias table wins over the tags list's alias column; 4: meta skipped_rows;
# 5: the typo-search index (spellings.py)
_SQLITE_MAGIC = b"SQLite format 3\0"


class TagCacheWarning(UserWarning):
    """The tag cache could not be used as it was (rebuilt, or built in a temporary folder instead)."""

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;
CREATE TABLE tags (name TEXT PRIMARY KEY, category INTEGER NOT NULL, post_count INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE aliases (alias TEXT PRIMARY KEY, name TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE implications (antecedent TEXT NOT NULL, consequent TEXT NOT NULL,
                           PRIMARY KEY (antecedent, consequent)) WITHOUT ROWID;
"""


def source_digest(source: TagSource) -> str:
    h = hashlib.sha1(f"schema={SCHEMA_VERSION};format={source.format};cats={source.categories}".encode())
    for path in source.files():
        st = path.stat()
        h.update(f"|{path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def compiled_path(source: TagSource) -> Path:
    """The SQLite file for ``source``, building it first if it is missing, stale or damaged."""
    name = f"{source.name}-{source_digest(source)}.sqlite3"
    try:
        folder: Path | None = cache_dir()
    except (RuntimeError, KeyError) as exc:  # no $HOME and no password entry
        folder, why = None, f"no cache folder ({exc})"
    if folder is not None:
        target = folder / name
        problem = cache_problem(target)
        if problem is None:
            return target
        if problem == "missing" or target.is_file():
            if problem != "missing":
                warnings.warn(f"tag cache {target} is {problem}: rebuilding it", TagCacheWarning, stacklevel=3)
            try:
                build(source, target)
                return target
            except OSError as exc:
                why = f"cannot write {folder} ({exc.strerror or exc})"
        else:
            why = f"{target} is {problem}"
    try:
        fallback = _private_temp_dir()
        warnings.warn(f"tag cache: {why}; building it in {fallback} instead", TagCacheWarning, stacklevel=3)
        target = fallback / name
        if cache_problem(target) is not None:
            build(source, target)
    except OSError as exc:
        raise TagDataError(source.tags, 0, f"{why}, and no temporary folder can be written either "
                                           f"({exc.strerror or exc})") from None
    return target


def cache_problem(path: Path) -> str | None:
    """What is wrong with a compiled file (``missing``, ``truncated``...), or None when it is sound.

    Cheap enough for every start: the header's page size times page count must be the file size, and the
    meta table must name this schema.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "missing"
    except OSError as exc:
        return f"unreadable ({exc.strerror or exc})"
    if not stat.S_ISREG(st.st_mode):
        return "a folder, not a database file" if stat.S_ISDIR(st.st_mode) else "not a regular file"
    try:
        with open(path, "rb") as fh:
            header = fh.read(100)
    except OSError as exc:
        return f"unreadable ({exc.strerror or exc})"
    if len(header) < 100 or not header.startswith(_SQLITE_MAGIC):
        return "not an SQLite database (damaged)"
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    if pages == 0 or page_size * pages != st.st_size:
        return "truncated or damaged"
    try:
        conn = open_readonly(path)
        try:
            meta = dict(conn.execute("SELECT key, value FROM meta"))
        finally:
            conn.close()
    except sqlite3.Error:
        return "damaged"
    if meta.get("schema") != str(SCHEMA_VERSION) or "tags" not in meta:
        return "from another promptkit version"
    return None


def _private_temp_dir() -> Path:
    """``$TMPDIR/promptkit-UID`` when it is ours alone (mode 0700, our own, no symlink), else a fresh one."""
    uid = os.getuid() if hasattr(os, "getuid") else None
    base = Path(tempfile.gettempdir()) / f"promptkit-{uid if uid is not None else 'user'}"
    try:
        base.mkdir(mode=0o700, exist_ok=True)
        st = os.lstat(base)
        if stat.S_ISDIR(st.st_mode) and (uid is None or st.st_uid == uid) and not st.st_mode & 0o077:
            probe = tempfile.mkstemp(dir=base)
            os.close(probe[0])
            os.unlink(probe[1])
            return base
    except OSError:
        pass
    fresh = Path(tempfile.mkdtemp(prefix="promptkit-"))
    atexit.register(shutil.rmtree, fresh, True)
    return fresh


def build(source: TagSource, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        conn = sqlite3.connect(tmp)
        try:
            conn.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + _SCHEMA + SPELLINGS_SCHEMA)
            tags: dict[str, tuple[int, int]] = {}
            aliases: dict[str, str] = {}
            # the site's active alias table decides; the tags list's alias column (where one spelling can
            # stand under two tags: `tails` under `tail` and `multiple_tails`) only fills in what it omits
            if source.aliases is not None:
                for alias, name in read_pairs(source.aliases):
                    aliases.setdefault(alias, name)
            normalize = source.format == "simple"
            skipped: list[int] = []  # rows without a name: recorded in meta, not shown to every first run
            for name, category, count, spellings in read_tags(source, skipped):
                if normalize:
                    name = normalize_tag(name)
                if name not in tags:
                    tags[name] = (category, count)
                for alias in spellings:
                    aliases.setdefault(alias, name)
            conn.executemany("INSERT INTO tags VALUES (?, ?, ?)", ((n, c, p) for n, (c, p) in tags.items()))
            conn.executemany("INSERT INTO aliases VALUES (?, ?)", aliases.items())
            if source.implications is not None:
                conn.executemany("INSERT OR IGNORE INTO implications VALUES (?, ?)", read_pairs(source.implications))
            groups, keys = index_rows(itertools.chain(tags, aliases))
            conn.executemany("INSERT INTO spelling_groups VALUES (?, ?, ?)", groups)
            conn.executemany("INSERT INTO spelling_keys VALUES (?, ?, ?)", keys)
            conn.executemany("INSERT INTO meta VALUES (?, ?)", [
                ("source", source.name), ("schema", str(SCHEMA_VERSION)), ("tags", str(len(tags))),
                ("aliases", str(len(aliases))),
                ("skipped_rows", ",".join(map(str, skipped))),  # line numbers of rows with an empty name
            ])
            conn.commit()
            conn.execute("VACUUM")
        finally:
            conn.close()
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


MMAP_BYTES = 1 << 28
"""Stores are read through a memory map (SQLite maps at most the file: a few MB): look-ups read pages from the
OS page cache, shared by every process, instead of copying them through read() calls. Safe because a store is
never written in place: a rebuild writes a new file and renames it over the old one."""


def open_readonly(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=False)
    conn.execute("PRAGMA query_only=ON")
    conn.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
    return conn
