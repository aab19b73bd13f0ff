"""LoRA and embedding names from the user's folders (issue 23, item 12): completion sees every file of a
100,000-file folder (an index built once per folder change and looked up by prefix), not the first 20,000."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from promptkit.editing import analysis
from promptkit.editing.documents import Settings


@pytest.fixture(scope="module")
def big_folder(tmp_path_factory) -> Path:
    base = Path("/dev/shm") if os.access("/dev/shm", os.W_OK) else None
    folder = Path(tmp_path_factory.mktemp("loras")) if base is None else Path(
        __import__("tempfile").mkdtemp(prefix="promptkit-loras-", dir=base))
    (folder / "nested").mkdir()
    for i in range(100_000):
        os.close(os.open(folder / f"lora_{i:05d}.safetensors", os.O_CREAT | os.O_WRONLY, 0o644))
    (folder / "nested" / "Lora_99999_v2.safetensors").write_bytes(b"")
    (folder / "notes_lora_99.txt").write_bytes(b"")
    yield folder
    if base is not None:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)


def complete(folder: Path, text: str) -> list[str]:
    doc = analysis.resolve(text, None, Settings(profile="sdxl-base", loras=[str(folder)]))
    return [i["insert"] for i in analysis.complete(doc, len(text))["items"]]


def test_a_100000_file_folder_completes_every_prefix(big_folder):
    names = sorted([f"lora_{i:05d}" for i in range(100_000)] + ["Lora_99999_v2"], key=lambda n: (n.lower(), n))
    for typed in ("lora_99", "lora_9999", "LORA_99999", "lora_5", ""):
        expected = [n for n in names if n.lower().startswith(typed.lower())][:20]
        assert complete(big_folder, f"1girl, <lora:{typed}") == expected
    assert complete(big_folder, "<lora:lora_99999") == ["lora_99999", "Lora_99999_v2"]
    assert complete(big_folder, "<lora:notes") == []  # not a model file
    doc = analysis.resolve("<lora:lora_99999:0.5>", None, Settings(profile="sdxl-base", loras=[str(big_folder)]))
    assert analysis.hover(doc, 8)["files"] == [str(big_folder)]


def test_the_index_follows_the_folder(big_folder, monkeypatch):
    assert complete(big_folder, "<lora:zz") == []
    index = analysis.folder_index(str(big_folder), analysis.NETWORK_SUFFIXES)
    monkeypatch.setattr(analysis, "FOLDER_RECHECK_SECONDS", 0.0)
    assert analysis.folder_index(str(big_folder), analysis.NETWORK_SUFFIXES) is index  # unchanged: not rebuilt
    (big_folder / "nested" / "zz_new.pt").write_bytes(b"")
    try:
        assert complete(big_folder, "<lora:zz") == ["zz_new"]
    finally:
        (big_folder / "nested" / "zz_new.pt").unlink()
    assert complete(big_folder, "<lora:zz") == []
