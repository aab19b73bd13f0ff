"""The linter's big word lists as compiled sets: a question reads an index page or two instead of a whole list.

A lint that met one unknown tag loaded the English word list (82,765 words), the spellings the other bundled
sources know beyond Danbooru (138k) and the words of every name (~100k): ~250 ms of its start, for a handful of
questions. Each list is compiled once into ``<cache folder>/linter/<name>-<digest>.sqlite3`` (the digest covers
what it is built from: the data files' paths, sizes and modification times, and :data:`SCHEMA_VERSION`), a
table of ``(key, value)`` rows read through a memory map like the tag stores; answers are kept per process.
A file that cannot be built (an unusable cache folder) leaves the list loaded whole, as before: slower, never
different.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import tempfile
from pathlib import Path
from typing import Callable, Iterable, Iterator

from .._resources import cache_dir
from ..tags.store import open_readonly

SCHEMA_VERSION = 1
_CHUNK = 500  # keys per batched look-up (SQLite allows 999 parameters at least)
_KEPT = 200_000  # answers kept per set: a dataset's stray words must not grow a run's memory without end
#: keys asked of the file after which a set reads its whole table once: a long run (a dataset, a corpus) asks
#: thousands of words, and one read of the table costs less than their queries; a single lint never gets there
_WHOLE_AFTER = 5_000


class CompiledSet:
    """One table of strings with an integer each: ``key in s``, ``s.get(key)``, ``s[key]``, :meth:`many`."""

    def __init__(self, conn: sqlite3.Connection, table: str) -> None:
        self._conn = conn
        self._table = table
        self._answers: dict[str, int | None] = {}
        self._asked = 0  # keys asked of the file so far
        self._whole: dict[str, int] | None = None  # the whole table, once _WHOLE_AFTER keys were asked

    def _count(self, n: int) -> None:
        self._asked += n
        if self._asked >= _WHOLE_AFTER and self._whole is None:
            self._whole = dict(self._conn.execute(f"SELECT key, value FROM {self._table}"))
            self._answers = {}

    def get(self, key: str, default: int | None = None) -> int | None:
        if self._whole is not None:
            return self._whole.get(key, default)
        answers = self._answers
        if key not in answers:
            self._count(1)
            if self._whole is not None:
                return self._whole.get(key, default)
            if len(answers) >= _KEPT:
                answers.clear()
            try:
                row = self._conn.execute(f"SELECT value FROM {self._table} WHERE key = ?", (key,)).fetchone()
            except UnicodeEncodeError:  # a lone surrogate (undecodable input) is no key of a UTF-8 table
                row = None
            answers[key] = row[0] if row is not None else None
        found = answers[key]
        return default if found is None else found

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def __getitem__(self, key: str) -> int:
        found = self.get(key)
        if found is None:
            raise KeyError(key)
        return found

    def __iter__(self) -> Iterator[str]:
        for (key,) in self._conn.execute(f"SELECT key FROM {self._table}"):
            yield key

    def __len__(self) -> int:
        return self._conn.execute(f"SELECT count(*) FROM {self._table}").fetchone()[0]

    def many(self, keys: Iterable[str]) -> dict[str, int]:
        """The keys that are in the set, with their values (one query per few hundred keys)."""
        if self._whole is not None:
            whole = self._whole
            return {k: v for k in keys if (v := whole.get(k)) is not None}
        keys = list(keys)
        answers = self._answers
        if len(answers) >= _KEPT:
            answers.clear()
        known = {k: answers[k] for k in keys if k in answers}
        asked = list({k for k in keys if k not in known})
        self._count(len(asked))
        if self._whole is not None:
            return self.many(keys)
        for i in range(0, len(asked), _CHUNK):
            part = asked[i:i + _CHUNK]
            try:
                found = dict(self._conn.execute(
                    f"SELECT key, value FROM {self._table} WHERE key IN ({','.join('?' * len(part))})", part))
            except UnicodeEncodeError:  # some key holds a lone surrogate: ask one by one
                found = {k: v for k in part if (v := self.get(k)) is not None}
            for key in part:
                known[key] = answers[key] = found.get(key)
        return {k: v for k in keys if (v := known[k]) is not None}

    def starting(self, prefix: str) -> Iterator[str]:
        """The keys that start with ``prefix``, in order."""
        upper = prefix + "\U0010ffff"
        for (key,) in self._conn.execute(f"SELECT key FROM {self._table} WHERE key >= ? AND key < ? ORDER BY key",
                                         (prefix, upper)):
            yield key


def compiled(name: str, sources: Iterable[str],
             build: Callable[[], dict[str, Iterable[tuple[str, int]]]]) -> dict[str, CompiledSet] | None:
    """The tables of the compiled file ``name`` (built from ``build()``: table -> rows, the first time or when
    ``sources``, strings that identify what it is built from, change), or None when it cannot be built."""
    h = hashlib.sha1(f"schema={SCHEMA_VERSION}".encode())
    for part in sources:
        h.update(f"|{part}".encode())
    try:
        folder = cache_dir() / "linter"
        target = folder / f"{name}-{h.hexdigest()[:16]}.sqlite3"
        if not _sound(target):  # missing, or damaged: built (again) in its place, atomically
            _build(build(), folder, target)
        conn = open_readonly(target)
        tables = [t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    except (OSError, sqlite3.Error, RuntimeError, KeyError):  # RuntimeError, KeyError: no home folder
        return None
    return {table: CompiledSet(conn, table) for table in tables}


def file_stamp(path: Path) -> str:
    """What identifies a data file's version for :func:`compiled`: its path, size and modification time."""
    st = path.stat()
    return f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"


def _sound(path: Path) -> bool:
    """A whole SQLite file: the header's page size times its page count is the file's size."""
    try:
        with open(path, "rb") as fh:
            header = fh.read(100)
        size = os.stat(path).st_size
    except OSError:
        return False
    if len(header) < 100 or not header.startswith(b"SQLite format 3\0"):
        return False
    page_size = int.from_bytes(header[16:18], "big")
    pages = int.from_bytes(header[28:32], "big")
    return pages > 0 and (65536 if page_size == 1 else page_size) * pages == size


def _build(tables: dict[str, Iterable[tuple[str, int]]], folder: Path, target: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", dir=folder)
    os.close(fd)
    try:
        conn = sqlite3.connect(tmp_name)
        try:
            conn.execute("PRAGMA journal_mode=OFF")
            for table, rows in tables.items():
                conn.execute(f"CREATE TABLE {table} (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID")
                conn.executemany(f"INSERT OR IGNORE INTO {table} VALUES (?, ?)", rows)
            conn.commit()
        finally:
            conn.close()
        os.replace(tmp_name, target)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except OSError:
            pass
        raise
