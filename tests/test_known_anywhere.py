"""``known_anywhere`` answers as the whole bundled stack (Danbooru, e621, WD) would, without opening e621's store.

The shipped ``tag_db/known_beyond_danbooru.json.gz`` must be what ``tools/known_beyond_danbooru.py`` derives from
the bundled lists today; the answers must equal the whole stack's on every spelling of every source; and a lint
under a Danbooru-only profile that finds a typo (which asks ``known_anywhere``) builds no store but Danbooru's.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from promptkit.linter import known
from promptkit.tags.db import stacked_db

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def derived():
    return known.derive()


def test_the_shipped_sections_are_derived_from_the_bundled_lists(derived):
    shipped = known.beyond_danbooru()
    for name in known.SECTIONS:
        assert shipped[name] == frozenset(derived[name]), f"run tools/known_beyond_danbooru.py ({name} differs)"
    assert len(derived["known"]) > 100_000 and derived["flip"] and derived["name_words"]


def test_answers_equal_the_whole_stacks_on_every_spelling(derived):
    full = stacked_db(known.STACK)
    spellings: set[str] = set()
    for conn in full._conns:
        spellings.update(n for (n,) in conn.execute("SELECT name FROM tags"))
        spellings.update(a for (a,) in conn.execute("SELECT alias FROM aliases"))
    # every flip and a deterministic share of the rest, spelled as people write them too
    chosen = sorted(spellings)[::5] + derived["flip"]
    chosen += [s.replace("_", " ").upper() for s in chosen[::50]] + [s + "x" for s in chosen[::50]]
    chosen += ["glans", "high-res", "highres", "long_hiar", "kazusa_(blue_archive)", "", "  ", "a\\\\(b", "\ud800"]
    wrong = [s for s in chosen if known.known_anywhere(s) != known.known_in(full, s)]
    assert not wrong, wrong[:20]
    assert known.known_anywhere("glans") and not known.known_in(stacked_db(("danbooru",)), "glans")


def test_name_words_equal_the_whole_stacks():
    assert frozenset(known.name_words()) == frozenset(known.names_words_of(stacked_db(known.STACK)))


def test_a_typo_under_a_danbooru_profile_builds_no_e621_store(tmp_path):
    cache = tmp_path / "cache"
    env = {**os.environ, "PROMPTKIT_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "promptkit.cli.main", "lint", "1girl, long hiar, glans",
                           "-p", "illustrious-xl"], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 1, done.stderr
    assert "PK201" in done.stdout and "'long hair'" in done.stdout  # the typo was searched and corrected
    assert "Found 1 finding(s)" in done.stdout and "glass" not in done.stdout  # e621's glans is no typo of glass
    assert sorted(p.name.split("-")[0] for p in cache.glob("*.sqlite3")) == ["danbooru"]  # tag stores built
