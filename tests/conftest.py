"""Shared fixtures: the real-prompt corpus, the bundled tag database and its tag list."""

from __future__ import annotations

import csv
import gzip
import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Hypothesis draws from a new random seed on every run unless told otherwise, so a failing example found on one
# machine may never be drawn on the next (issue 20). By default every run, on every machine, draws the same
# examples (seeded from each test's own code, as hypothesis's "ci" profile does but without needing CI=true),
# with no example database to make one checkout differ from another and no deadline for a loaded machine to
# miss. HYPOTHESIS_PROFILE=explore searches new examples instead and keeps failures in .hypothesis/ to replay.
settings.register_profile("deterministic", derandomize=True, database=None, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("explore", derandomize=False, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))

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
