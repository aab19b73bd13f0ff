"""Writing files so that a crash never leaves one half-written (used by ``--fix`` and dataset rewrites)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

TEMP_PREFIX = ".pk-"


def write_atomic(path: Path, text: str, fsync: bool = False) -> None:
    """Replace ``path`` via a temporary file in the same folder and a rename: it is always either old or new.

    The rename is atomic against a killed process; ``fsync=True`` also makes the new content survive a power
    loss, at the cost of a disk flush per file. The file keeps its permission bits.
    """
    path = Path(path)
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        mode = 0o644
    tmp = path.with_name(f"{TEMP_PREFIX}{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        try:
            data = text.encode("utf-8")
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(tmp, mode)  # not narrowed by the umask
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
