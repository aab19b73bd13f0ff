"""Caption files on disk: finding, reading safely, writing atomically, in parallel.

- Unreadable or non-UTF-8 files are reported and skipped, never rewritten.
- A write goes to a temporary file in the same folder and is renamed over the caption, so a run killed at
  any moment (kill -9) leaves every caption either old or new, never truncated; a re-run skips captions that
  are already normalized (normalizing is idempotent), so it resumes where it stopped.
- ``backup=True`` keeps the original as ``name.txt.orig`` (once: the first original is never overwritten).
- Work is split over a process pool; results come back in file order, identical to a single-process run.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from .._files import TEMP_PREFIX, write_atomic

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
    """Caption files under ``root`` (or ``root`` itself), sorted, skipping our temporary and backup files."""
    root = Path(root)
    exts = tuple(e if e.startswith(".") else f".{e}" for e in extensions)
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in exts and p.is_file()
                  and not p.name.startswith(TEMP_PREFIX))


def read_caption(path: Path) -> tuple[str | None, str | None]:
    """(text, error): text is None when the file cannot be read as UTF-8."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, f"cannot read: {exc.strerror or exc}"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"not UTF-8 (byte {exc.start}): skipped, not rewritten"
    return text.removeprefix("\ufeff"), None


def _process_one(path: Path, transform: Callable[[str], str], write: bool, backup: bool, fsync: bool) -> FileResult:
    text, error = read_caption(path)
    if text is None:
        return FileResult(str(path), error=error)
    body = text.rstrip("\r\n")
    trailing = text[len(body):]
    new = transform(body)
    result = FileResult(str(path), body, new)
    if write and new != body:
        if backup:
            original = path.with_name(path.name + ".orig")
            if not original.exists():
                write_atomic(original, text, fsync)
        write_atomic(path, new + trailing, fsync)
        result.written = True
    return result


class _RewriteJob:
    """Builds, inside a worker, the per-file function of :func:`process_files` (picklable)."""

    def __init__(self, factory: Callable[[], Callable[[str], str]], write: bool, backup: bool, fsync: bool) -> None:
        self.factory, self.write, self.backup, self.fsync = factory, write, backup, fsync

    def __call__(self) -> Callable[[Path], FileResult]:
        transform = self.factory()
        return lambda path: _process_one(path, transform, self.write, self.backup, self.fsync)


# Each worker process builds its per-file function once, from a picklable factory.
_WORKER_FUNCTION: Callable[[Path], Any] | None = None


def _init_worker(factory: Callable[[], Callable[[Path], Any]]) -> None:
    global _WORKER_FUNCTION
    _WORKER_FUNCTION = factory()


def _worker(batch: list[str]) -> list[Any]:
    assert _WORKER_FUNCTION is not None
    return [_WORKER_FUNCTION(Path(p)) for p in batch]


def map_files(paths: list[Path], factory: Callable[[], Callable[[Path], Any]], workers: int | None = None,
              batch_size: int = 512) -> Iterator[Any]:
    """Apply the per-file function that ``factory()`` builds (once per process) to every path, on all cores;
    results come back in path order, exactly as a single-process run gives them."""
    workers = workers if workers is not None else (os.cpu_count() or 1)
    if workers <= 1 or len(paths) < 2 * batch_size:
        function = factory()
        for path in paths:
            yield function(path)
        return
    batches = [[str(p) for p in paths[i:i + batch_size]] for i in range(0, len(paths), batch_size)]
    with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=(factory,)) as pool:
        for results in pool.map(_worker, batches):
            yield from results


def process_files(paths: list[Path], factory: Callable[[], Callable[[str], str]], write: bool = False,
                  backup: bool = False, fsync: bool = False, workers: int | None = None,
                  batch_size: int = 512) -> Iterator[FileResult]:
    """Apply the caption transform built by ``factory`` to every file; yields results in file order."""
    return map_files(paths, _RewriteJob(factory, write, backup, fsync), workers, batch_size)
