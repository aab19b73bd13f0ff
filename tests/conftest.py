"""Shared fixtures: the real-prompt corpus, the bundled tag database and its tag list."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "real_prompts.jsonl"


def load_corpus() -> list[dict]:
    if not CORPUS.exists():
        pytest.skip(f"the shared corpus is not at {CORPUS}")
    return [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]


def corpus_texts() -> list[str]:
    texts = []
    for record in load_corpus():
        for key in ("prompt", "negative_prompt"):
            if record.get(key):
                texts.append(record[key])
    return texts


@pytest.fixture(scope="session")
def corpus() -> list[dict]:
    return load_corpus()


@pytest.fixture(scope="session")
def texts() -> list[str]:
    return corpus_texts()


@pytest.fixture(scope="session")
def danbooru_names() -> list[str]:
    """Every tag name of the bundled Danbooru list (read from tag_db/, the data we ship)."""
    path = ROOT / "tag_db" / "danbooru_tags_2025-05-01.csv.gz"
    with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
        return [row[0] for row in csv.reader(fh) if row and row[0]]


@pytest.fixture(scope="session")
def db():
    from promptkit.tags import TagDB

    return TagDB.default()
