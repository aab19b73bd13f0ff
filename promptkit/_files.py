"""Rewriting a user's text file the way careful editors do: the file keeps its identity, only its text changes.

Every rewrite (``lint --fix``, ``fmt``, ``dataset normalize``) goes through :func:`read_text_file` and
:func:`rewrite`:

- what identifies the file is recorded when it is read: the real file behind a symlink, its UTF-8 BOM, its
  line endings, and its stat (device, inode, size, modification and change times);
- the new text is written to a temporary file beside the *real* file, created with ``O_EXCL|O_NOFOLLOW``
  under an unpredictable name (a planted file or symlink is never followed or overwritten), given the
  file's mode, owner, group and extended attributes, and renamed over the real file: a symlink stays a
  symlink, and a run killed at any moment leaves the file either old or new;
- a file with several hard links, or whose owner or group cannot be given to a new file, is written in
  place instead (as vim and emacs do), with a copy of the old bytes beside it until the write is complete;
- a read-only file is refused unless the caller asks (``allow_read_only``); a file changed since it was
  read is refused, so an edit made meanwhile is never lost.

Every file a user names is opened with :func:`open_regular`: only a regular file is opened (a FIFO would
block forever, ``/dev/zero`` never ends), and the error says what the path is instead. Text is read whole
only after its size is checked against :data:`MAX_TEXT_FILE`, and binary data (NUL bytes, UTF-16) is
refused as it is read, not after.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import stat
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

TEMP_PREFIX = ".pk-"
_BOM = "\ufeff"
# The largest text file read whole (a caption, a prompt file, an infotext). Captions are a few KB and prompt
# files rarely reach 1 MB; linting costs about 100 bytes of memory per character, so 4 MiB is ~0.5 GB.
MAX_TEXT_FILE = 4 * 1024 * 1024
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_NUL_DATA = "binary data (NUL bytes), not text"


def what_is(mode: int) -> str:
    """What a non-regular file is, for an error message."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def not_regular(path: str | Path, mode: int) -> OSError:
    """The error for a path that exists but is no regular file (``strerror`` is the one-line reason)."""
    if stat.S_ISDIR(mode):
        return IsADirectoryError(errno.EISDIR, "is a folder, not a file", str(path))
    return OSError(errno.EINVAL, f"not a regular file: {what_is(mode)}", str(path))


def open_regular(path: str | Path, follow: bool = True) -> int:
    """A read-only descriptor of ``path``, which must be a regular file: a FIFO, device or socket is refused
    before it is opened (opening a FIFO blocks until a writer comes; a device may never end) and checked again
    on the descriptor (the path may be swapped in between). Raises ``OSError`` with a one-line ``strerror``."""
    st = os.stat(path) if follow else os.lstat(path)
    if not stat.S_ISREG(st.st_mode):
        raise not_regular(path, st.st_mode)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | (0 if follow else getattr(os, "O_NOFOLLOW", 0))
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise not_regular(path, st.st_mode)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def binary_reason(data: bytes) -> str | None:
    """Why ``data`` is not text (UTF-16, NUL bytes), or None."""
    if data.startswith(_UTF16_BOMS) and b"\0" in data:  # without NULs it is just not UTF-8 (byte 0)
        return "UTF-16 text (promptkit reads UTF-8: save the file as UTF-8)"
    if b"\0" in data:
        return _NUL_DATA
    return None


def too_large(size: int, limit: int = MAX_TEXT_FILE) -> str:
    return f"file too large ({size:,} bytes; a text file may have at most {limit >> 20} MiB)"


def read_limited(fd: int, limit: int = MAX_TEXT_FILE) -> bytes:
    """All bytes of an open regular file, refusing more than ``limit`` bytes and binary data as soon as they
    are seen (``OSError`` with a one-line ``strerror``): a sparse 2 GB file is refused by its size, unread."""
    size = os.fstat(fd).st_size
    if size > limit:
        raise OSError(errno.EFBIG, too_large(size, limit))
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = os.read(fd, min(1 << 20, limit + 1 - total))
        if not chunk:
            break
        reason = binary_reason(chunk) if not chunks else (_NUL_DATA if b"\0" in chunk else None)  # BOM: start only
        if reason:
            raise OSError(errno.EINVAL, reason)
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:  # it grew while being read
            raise OSError(errno.EFBIG, too_large(total, limit))
    return b"".join(chunks)


class FileRewriteError(Exception):
    """A rewrite that was refused or failed; the message is one line naming the file."""


class ReadOnlyFileError(FileRewriteError):
    pass


class FileChangedError(FileRewriteError):
    pass


@dataclass(frozen=True)
class TextFile:
    """A text file as read, with what identifies it.

    ``text`` has no BOM, and its line endings are ``\\n`` when the file uses one kind throughout
    (``newline`` says which; ``None`` for a file that mixes them, whose text is kept exactly).
    """

    path: Path
    real: Path
    text: str
    bom: bool
    newline: str | None
    stat: os.stat_result

    @property
    def body(self) -> str:
        """The text without its trailing line breaks."""
        return self.text.rstrip("\r\n")

    def with_body(self, body: str) -> str:
        """``body`` followed by the line breaks this file ended with."""
        return body + self.text[len(self.body):]

    def encode(self, text: str) -> bytes:
        """``text`` as bytes in this file's conventions (BOM, line endings)."""
        if self.newline not in (None, "\n"):
            text = text.replace("\n", self.newline)
        return ((_BOM if self.bom else "") + text).encode("utf-8")


def _identity(st: os.stat_result) -> tuple[int, ...]:
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def read_text_file(path: str | Path) -> TextFile:
    """Read a UTF-8 text file (raises ``UnicodeDecodeError`` for other bytes, ``OSError`` with a one-line
    ``strerror`` when it cannot be read, is no regular file, is larger than :data:`MAX_TEXT_FILE` or binary)."""
    path = Path(path)
    real = Path(os.path.realpath(path))
    fd = open_regular(real, follow=False)
    try:
        st = os.fstat(fd)
        data = read_limited(fd)
    finally:
        os.close(fd)
    text = data.decode("utf-8")
    bom = text.startswith(_BOM)
    if bom:
        text = text[1:]
    crlf = text.count("\r\n")
    cr = text.count("\r") - crlf
    lf = text.count("\n") - crlf
    newline: str | None = "\n"
    if crlf and not cr and not lf:
        newline, text = "\r\n", text.replace("\r\n", "\n")
    elif cr and not crlf and not lf:
        newline, text = "\r", text.replace("\r", "\n")
    elif (crlf and (cr or lf)) or (cr and lf):
        newline = None
    return TextFile(path, real, text, bom, newline, st)


_PLAIN_OPEN = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


def read_plain_text(path: str | Path) -> str | None:
    """``read_text_file(path).text`` of an ordinary file in five system calls, or None for anything else, which
    the caller then reads with :func:`read_text_file` (for its exact text or error). Ordinary: a regular file,
    not a symlink, within the size limit, the same size read as stat'ed, UTF-8 without NUL bytes or carriage
    returns (no line endings to normalize). For files that are only read (a million captions linted):
    ``read_text_file`` also resolves the real path and records what a rewrite needs, three times the cost."""
    try:
        st = os.lstat(path)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_TEXT_FILE:
            return None
        fd = os.open(path, _PLAIN_OPEN)  # a file swapped for a symlink meanwhile fails here (O_NOFOLLOW)
    except OSError:
        return None
    try:
        now = os.fstat(fd)  # ... and one swapped for a FIFO or another file is not the one stat'ed
        if not stat.S_ISREG(now.st_mode) or (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
            return None
        data = os.read(fd, now.st_size + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    if len(data) != now.st_size or b"\0" in data or b"\r" in data:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text[1:] if text.startswith(_BOM) else text


def is_read_only(st: os.stat_result, real: Path) -> bool:
    """No write bit at all (so even root is refused), or not writable by this user."""
    return not (st.st_mode & 0o222) or not os.access(real, os.W_OK)


@contextlib.contextmanager
def _whole_on_interrupt():
    """Ctrl-C waits until the write in progress is done: a KeyboardInterrupt between creating the temporary
    file and entering its cleanup would leave the temporary behind. Only the main thread gets signals."""
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield
        return
    caught: list[int] = []
    signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if caught:
        raise KeyboardInterrupt


def rewrite(file: TextFile, text: str, allow_read_only: bool = False, fsync: bool = False) -> None:
    """Replace the content of ``file`` with ``text`` (in its BOM and line endings), keeping its identity."""
    with _whole_on_interrupt():
        _rewrite(file, text, allow_read_only, fsync)


def _rewrite(file: TextFile, text: str, allow_read_only: bool, fsync: bool) -> None:
    real = file.real
    try:
        data = file.encode(text)
    except UnicodeEncodeError as exc:
        raise FileRewriteError(f"{file.path}: the new text cannot be written as UTF-8 ({exc.reason})") from None
    current = _current_stat(file)
    if is_read_only(current, real) and not allow_read_only:
        raise ReadOnlyFileError(f"{file.path}: read-only file, not rewritten")
    if current.st_nlink > 1:
        _write_in_place(file, data, fsync)
        return
    fd, tmp_name = _temp_beside(file, ".tmp")
    tmp = Path(tmp_name)
    try:
        try:
            _write_all(fd, data)
            os.fchmod(fd, stat.S_IMODE(current.st_mode))
            _copy_xattrs(real, fd)
            mine = os.fstat(fd)
            if (mine.st_uid, mine.st_gid) != (current.st_uid, current.st_gid):
                try:
                    os.fchown(fd, current.st_uid, current.st_gid)
                    os.fchmod(fd, stat.S_IMODE(current.st_mode))  # chown clears set-id bits
                except PermissionError:  # a new file cannot have that owner or group: write in place
                    os.close(fd)
                    fd = -1
                    tmp.unlink()
                    _write_in_place(file, data, fsync)
                    return
            if fsync:
                os.fsync(fd)
        finally:
            if fd >= 0:
                os.close(fd)
        _current_stat(file)  # once more, just before the rename: an edit made while we wrote is kept
        os.replace(tmp, real)
        if fsync:
            _fsync_folder(real.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _current_stat(file: TextFile) -> os.stat_result:
    try:
        current = os.stat(file.real)
    except FileNotFoundError:
        raise FileChangedError(f"{file.path}: removed since it was read, not rewritten") from None
    if Path(os.path.realpath(file.path)) != file.real or _identity(current) != _identity(file.stat):
        raise FileChangedError(f"{file.path}: changed since it was read, not rewritten (run again)")
    return current


def _write_in_place(file: TextFile, data: bytes, fsync: bool) -> None:
    """Overwrite the file's own inode (keeps hard links, owner, group); the old bytes wait beside it until the
    new ones are complete, so even a run killed mid-write loses nothing."""
    old = file.encode(file.text)
    fd, backup = _temp_beside(file, ".orig")
    try:
        _write_all(fd, old)
        os.fsync(fd)
    finally:
        os.close(fd)
    whole = True  # the file holds either its old or its new bytes
    try:
        target = os.open(file.real, os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0))
        try:
            _current_stat(file)
            whole = False
            try:
                os.lseek(target, 0, os.SEEK_SET)
                _write_all(target, data)
                os.ftruncate(target, len(data))
                if fsync:
                    os.fsync(target)
            except BaseException:
                os.lseek(target, 0, os.SEEK_SET)
                _write_all(target, old)
                os.ftruncate(target, len(old))
                raise
            whole = True
        finally:
            os.close(target)
    finally:
        if whole:
            os.unlink(backup)


def _temp_beside(file: TextFile, suffix: str) -> tuple[int, str]:
    """A new file (O_EXCL|O_NOFOLLOW, mode 0600, unpredictable name) in the real file's folder."""
    try:
        return tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{file.real.name[:80]}.", suffix=suffix, dir=file.real.parent)
    except OSError as exc:
        raise FileRewriteError(f"{file.path}: cannot create a file in {file.real.parent} "
                               f"({exc.strerror or exc}), not rewritten") from None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _copy_xattrs(source: Path, fd: int) -> None:
    if not hasattr(os, "listxattr"):
        return
    try:
        names = os.listxattr(source)
    except OSError:
        return
    for name in names:
        try:
            os.setxattr(fd, name, os.getxattr(source, name))
        except OSError:
            pass


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomic(path: str | Path, data: str | bytes, fsync: bool = False, mode: int | None = None) -> None:
    """Create or replace ``path`` (a new file: backups, reports) via a temporary file and a rename.

    Existing user files are rewritten with :func:`rewrite`, which keeps their identity; this one replaces a
    symlink at ``path`` instead of following it. ``mode`` defaults to what a new file gets (0666 less umask).
    """
    path = Path(path)
    if mode is None:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with _whole_on_interrupt():
        _write_new(path, payload, fsync, mode)


def _write_new(path: Path, payload: bytes, fsync: bool, mode: int) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{path.name[:80]}.", suffix=".tmp", dir=path.parent)
    try:
        try:
            _write_all(fd, payload)
            os.fchmod(fd, mode)
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
