"""Caption files on disk: finding, reading safely, writing atomically, in parallel.

- Unreadable or non-UTF-8 files are reported and skipped, never rewritten; so are read-only files (unless
  asked), files changed since they were read, and files in folders that cannot be written.
- Rewrites keep each file's identity (``promptkit._files``): symlinks, hard links, mode, owner, BOM and
  line endings.
- A write goes to a temporary file in the same folder and is renamed over the caption, so a run killed at
  any moment (kill -9) leaves every caption either old or new, never truncated; a re-run skips captions that
  are already normalized (normalizing is idempotent), so it resumes where it stopped.
- ``backup=True`` keeps the original as ``name.txt.orig`` (once: the first original is never overwritten).
- Work is split over a process pool; results come back in file order, identical to a single-process run.
- Memory stays bounded on any number of files: paths are walked lazily (folder by folder, in sorted order),
  sent to the workers in batches with only a few batches in flight, and results are yielded as they come.
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import os
import signal
import stat
import sys
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from .._files import (TEMP_PREFIX, FileRewriteError, TextFile, read_plain_text, read_text_file, rewrite,
                      write_atomic)

CAPTION_EXTENSIONS = (".txt", ".caption")


@dataclass
class FileResult:
    path: str
    old: str | None = None
    new: str | None = None
    error: str | None = None
    written: bool = False

    @property
    def changed(self) -> bool:
        return self.old is not None and self.new is not None and self.old != self.new


def find_captions(root: str | Path, extensions: Iterable[str] = CAPTION_EXTENSIONS) -> list[Path]:
    """Caption files under ``root`` (or ``root`` itself), sorted, skipping our temporary and backup files.

    Entries with a caption extension that are not regular files (named pipes, devices, broken symlinks) are
    listed too: reading them fails with a line saying what they are, so they are reported, not lost."""
    return [Path(p) for p in iter_captions(root, extensions)]


def iter_captions(root: str | Path, extensions: Iterable[str] = CAPTION_EXTENSIONS) -> Iterator[str]:
    """The paths :func:`find_captions` lists, in the same order, one at a time: a depth-first walk that sorts
    each folder's entries by name (the order of ``sorted(root.rglob("*"))``), so that a million captions are
    never all in memory. Symlinked folders are not followed and unreadable folders are skipped, as ``rglob``."""
    root = Path(root)
    exts = tuple(e.lower() if e.startswith(".") else f".{e.lower()}" for e in extensions)
    if not root.is_dir():
        if root.exists() or root.is_symlink():
            yield str(root)
        return
    yield from walk_sorted(str(root), lambda name, path: suffix(name).lower() in exts
                           and not name.startswith(TEMP_PREFIX))


def suffix(name: str) -> str:
    """``PurePath(name).suffix`` of a file name (no folder part), without building a path: once per file of a
    walk. The last dot starts it, unless it is the name's first or last character."""
    dot = name.rfind(".")
    return name[dot:] if 0 < dot < len(name) - 1 else ""


def walk_sorted(folder: str, keep: Callable[[str, str], bool]) -> Iterator[str]:
    """Paths under ``folder`` whose ``keep(name, path)`` is true, in ``sorted(Path(folder).rglob("*"))`` order,
    lazily (one folder's entries in memory at a time). Entries that are not folders are offered to ``keep``
    (named pipes and broken symlinks too); symlinked folders are not followed and unreadable ones skipped."""
    prefix = "" if folder == "." else os.path.join(folder, "")  # spelled as pathlib spells its children
    try:
        with os.scandir(folder or ".") as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        try:
            is_dir = entry.is_dir()
        except OSError:
            is_dir = False
        path = prefix + entry.name
        if is_dir:
            if not entry.is_symlink():
                yield from walk_sorted(path, keep)
        elif keep(entry.name, path):
            yield path


def count_captions(root: str | Path, extensions: Iterable[str] = CAPTION_EXTENSIONS) -> int:
    """How many paths :func:`iter_captions` yields (for a progress bar's total), holding none of them."""
    return sum(1 for _ in iter_captions(root, extensions))


def read_caption(path: str | Path) -> tuple[str | None, str | None]:
    """(text, error): text is None when the file cannot be read as UTF-8. A BOM is not part of the text."""
    text = read_plain_text(path)
    if text is not None:
        return text, None
    file, error = _read(Path(path))
    return (file.text if file is not None else None), error


def read_caption_body(path: str | Path) -> tuple[str | None, str | None]:
    """(body, error) as ``read_text_file(path).body`` gives it (the text without its last line breaks, as
    `promptkit lint FILE` reads a file), or (None, the error :func:`read_caption` reports)."""
    text = read_plain_text(path)
    if text is not None:
        return text.rstrip("\n"), None
    file, error = _read(Path(path))
    return (file.body if file is not None else None), error



def _read(path: Path) -> tuple[TextFile | None, str | None]:
    try:
        return read_text_file(path), None
    except UnicodeDecodeError as exc:
        return None, f"not UTF-8 (byte {exc.start}), not rewritten"
    except OSError as exc:
        return None, f"cannot read: {exc.strerror or exc}"


def _process_one(path: Path, transform: Callable[[str], str], write: bool, backup: bool, fsync: bool,
                 read_only: bool = False) -> FileResult:
    file, error = _read(path)
    if file is None:
        return FileResult(str(path), error=error)
    body = file.body
    new = transform(body)
    result = FileResult(str(path), body, new)
    if write and new != body:
        try:
            if backup:
                original = path.with_name(path.name + ".orig")
                if not original.exists():
                    write_atomic(original, file.encode(file.text), fsync, mode=stat.S_IMODE(file.stat.st_mode))
            with _writing():
                rewrite(file, file.with_body(new), allow_read_only=read_only, fsync=fsync)
        except FileRewriteError as exc:
            result.error = str(exc).removeprefix(f"{path}: ")
            return result
        except OSError as exc:
            result.error = f"not rewritten: {exc.strerror or exc}"
            return result
        result.written = True
    return result


class _RewriteJob:
    """Builds, inside a worker, the per-file function of :func:`process_files` (picklable)."""

    def __init__(self, factory: Callable[[], Callable[[str], str]], write: bool, backup: bool, fsync: bool,
                 read_only: bool = False) -> None:
        self.factory, self.write, self.backup, self.fsync, self.read_only = factory, write, backup, fsync, read_only

    def __call__(self) -> Callable[[Path], FileResult]:
        transform = self.factory()
        return lambda path: _process_one(path, transform, self.write, self.backup, self.fsync, self.read_only)


# Each worker process builds its per-file function once, from a picklable factory. A worker stops (between
# files, never inside a write) as soon as its parent is gone or asks it to: killing `promptkit` stops every
# write within one file.
_WORKER_FUNCTION: Callable[[Path], Any] | None = None
_PARENT_PID: int | None = None
_STOP_EVENT: Any = None
_IN_WRITE = False
_STOP_AFTER_WRITE = False


def _on_parent_death(signum, frame) -> None:  # SIGTERM, sent by the kernel when the parent dies (Linux)
    global _STOP_AFTER_WRITE
    if _IN_WRITE:
        _STOP_AFTER_WRITE = True
    else:
        os._exit(1)


def _init_worker(factory: Callable[[], Callable[[Path], Any]], stop: Any = None) -> None:
    global _WORKER_FUNCTION, _PARENT_PID, _STOP_EVENT
    _PARENT_PID, _STOP_EVENT = os.getppid(), stop
    signal.signal(signal.SIGTERM, _on_parent_death)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent stops us (stop event)
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    _check_parent()
    _WORKER_FUNCTION = factory()


def _check_parent() -> None:
    if _PARENT_PID is not None and (os.getppid() != _PARENT_PID or (_STOP_EVENT is not None and _STOP_EVENT.is_set())):
        os._exit(1)


@contextlib.contextmanager
def _writing() -> Iterator[None]:
    """Marks a rewrite in progress: a worker told to stop finishes it first, then exits."""
    global _IN_WRITE
    _IN_WRITE = True
    try:
        yield
    finally:
        _IN_WRITE = False
        if _STOP_AFTER_WRITE:
            os._exit(1)


def run_shard(function: Callable[[Path], Any], paths: Iterable[str | Path]) -> list[Any]:
    """The per-shard work of every path (one batch of files): the per-file function applied to each path,
    in order. The process pool's workers and the Ray Data actors (:mod:`.distributed`) both call this."""
    out = []
    for p in paths:
        _check_parent()
        out.append(function(Path(p)))
    return out


def _worker(batch: list[str]) -> list[Any]:
    assert _WORKER_FUNCTION is not None
    return run_shard(_WORKER_FUNCTION, batch)


def _batches(paths: Iterable[str | Path], size: int) -> Iterator[list[str]]:
    it = iter(paths)
    while batch := [str(p) for p in itertools.islice(it, size)]:
        yield batch


def map_files(paths: Iterable[str | Path], factory: Callable[[], Callable[[Path], Any]], workers: int | None = None,
              batch_size: int = 64) -> Iterator[Any]:
    """Apply the per-file function that ``factory()`` builds (once per process) to every path, on all cores;
    results come back in path order, exactly as a single-process run gives them.

    ``paths`` may be a lazy iterator: it is read batch by batch, with at most ``2 * workers`` batches in flight,
    so memory does not grow with the number of files. Fewer than two batches of files are done in-process."""
    workers = workers if workers is not None else (os.cpu_count() or 1)
    batches = _batches(paths, batch_size)
    first = list(itertools.islice(batches, 2))
    if workers <= 1 or len(first) < 2:
        function = factory()
        for batch in itertools.chain(first, batches):
            yield from run_shard(function, batch)
        return
    context = multiprocessing.get_context()
    stop = context.Event()
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_worker,
                               initargs=(factory, stop))
    pending: deque = deque()
    try:
        for batch in itertools.chain(first, batches):
            pending.append(pool.submit(_worker, batch))
            if len(pending) >= 2 * workers:
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()
    except BaseException:  # Ctrl-C, a closed pipe, an error: workers stop after the file they are writing
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def process_files(paths: Iterable[str | Path], factory: Callable[[], Callable[[str], str]], write: bool = False,
                  backup: bool = False, fsync: bool = False, workers: int | None = None,
                  batch_size: int = 64, read_only: bool = False) -> Iterator[FileResult]:
    """Apply the caption transform built by ``factory`` to every file; yields results in file order.

    A file that cannot be rewritten (read-only, changed since it was read, in a folder that cannot be
    written) comes back with its ``error`` set; ``read_only=True`` rewrites read-only files too.
    """
    return map_files(paths, _RewriteJob(factory, write, backup, fsync, read_only), workers, batch_size)
