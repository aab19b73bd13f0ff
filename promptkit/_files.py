"""Writing files so that a crash never leaves one half-written (used by ``--fix`` and dataset rewrites)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

TEMP_PREFIX = ".pk-"


def write_atomic(path: Path, text: str, fsync: bool = False) -> None:
    """Replace ``path`` via a temporary file in the same folder and a rename: it is always either old or new.

    The rename is atomic against a killed process; ``fsync=True`` also makes the new content survive a power
    loss, at the cost of a disk flush per file.
    """
    fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
