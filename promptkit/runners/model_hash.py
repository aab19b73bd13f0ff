"""A1111's checkpoint hash ("Model hash" in infotexts): AutoV2, the first 10 hex digits of the file's sha256."""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_file(path: str | Path, block: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(block), b""):
            digest.update(chunk)
    return digest.hexdigest()


def autov2_hash(path: str | Path) -> str:
    """What A1111 (>= 1.0) writes as ``Model hash`` and Civitai calls AutoV2."""
    return sha256_file(path)[:10]
