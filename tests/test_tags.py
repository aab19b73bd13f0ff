"""The tag database on the bundled data: loading, look-ups, aliases, implications, suggestions, completion."""

from __future__ import annotations

import csv
import gzip
import os
import warnings
from pathlib import Path

import pytest

from promptkit import parse
from promptkit.syntax.normalize import prompt_spelling
from promptkit.tags import TagCategory, TagDataError, TagDB
from promptkit.tags.sources import bundled_sources, read_tags

ROOT = Path(__file__).resolve().parents[1]


def csv_rows(name: str) -> list[list[str]]:
    with gzip.open(ROOT / "tag_db" / name, "rt", encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


@pytest.mark.parametrize("source", ["danbooru", "e621", "wd14"])
def test_every_row_of_the_shipped_lists_is_loaded(db, source):
    src = bundled_sources()[source]
    rows = csv_rows(src.tags.name)
    if source == "wd14":
        rows = rows[1:]
    expected = {r[1] if source == "wd14" else r[0] for r in rows if (r[1] if source == "wd14" else r[0]).strip()}
    full = TagDB([src])
    stored = {n for (n,) in full._conns[0].execute("SELECT name FROM tags")}
    assert stored == expected
    assert len(stored) > 10_000


def test_the_empty_e621_row_is_skipped_with_a_warning():
    src = bundled_sources()["e621"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        names = [row[0] for row in read_tags(src)]
    assert "" not in names
    assert any("empty tag name" in str(w.message) and ":4802:" in str(w.message) for w in caught)
    # the store is built without a warning and records the row in its provenance
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        skipped: list[int] = []
        assert len([row for row in read_tags(src, skipped)]) == len(names)
    assert skipped == [4802] and not caught
    meta = dict(TagDB([src])._conns[0].execute("SELECT key, value FROM meta"))
    assert meta["skipped_rows"] == "4802"


def test_every_danbooru_tag_is_found_by_its_prompt_spelling(db, danbooru_names):
    missing = [n for n in danbooru_names if (info := db.lookup(prompt_spelling(n))) is None or info.name != n]
    assert not missing, missing[:20]


def test_lookup_normalizes_and_reports_category_and_source(db):
    info = db.lookup("  Kazusa \\(Blue Archive\\) ")
    assert info is not None
    assert (info.name, info.category, info.source, info.matched) == (
        "kazusa_(blue_archive)", TagCategory.CHARACTER, "danbooru", "exact")
    assert info.post_count > 1000
    assert db.lookup("long_hair").sources == ("danbooru", "e621")
    assert db.lookup("species:seal") is None
    assert db.lookup("mammal").category is TagCategory.SPECIES
    assert db.lookup("\\m/").name == "\\m/"
    assert db.lookup("definitely not a tag zzz") is None


def test_aliases_resolve_but_canonical_names_win(db):
    assert db.resolve("hires") == "highres"
    assert db.lookup("hires").matched == "alias"
    # names that are both canonical and an alias elsewhere resolve to themselves (shared/tag-data/README.md)
    rows = csv_rows("danbooru_tags_2025-05-01.csv.gz")
    canon = {r[0] for r in rows}
    both = sorted({a for r in rows for a in r[3].split(",") if a in canon})  # listed as another tag's alias
    assert len(both) > 100
    for name in both:
        assert db.resolve(name) == name


def test_implications_are_transitive(db):
    implied = db.implied("very long hair")
    assert implied[0] == "long_hair"
    assert db.implies("very_long_hair", "long hair")
    assert not db.implies("long_hair", "very_long_hair")
    rows = csv_rows("danbooru_tag_implications_active_2025-05-01.csv.gz")[1:]
    a, b = rows[len(rows) // 2]
    assert db.implies(a, b)


@pytest.mark.parametrize("typo, expected", [
    ("1grl", "1girl"),
    ("long hiar", "long_hair"),
    ("kazusa blue archive", "kazusa_(blue_archive)"),
    ("blonde hiar", "blonde_hair"),
    ("sitting on chiar", "sitting_on_chair"),
])
def test_suggest_finds_the_intended_tag_first(db, typo, expected):
    results = db.suggest(typo)
    assert results and results[0].name == expected
    assert results[0].score is not None and results[0].matched == "fuzzy"
    assert len(db.suggest(typo, limit=3)) <= 3


def _one_edit_typos(names: list[str]) -> list[str]:
    """One typo of each name, the edit chosen by its position in the list (within the first three characters
    for a third of them, where the typo index keys its buckets)."""
    out = []
    for i, name in enumerate(names):
        at = i % 3 if i % 3 == 0 else min(len(name) - 1, 3 + i % 5)
        kind = i % 4
        if kind == 0:
            out.append(name[:at] + name[at + 1:])  # a deletion
        elif kind == 1:
            out.append(name[:at] + "e" + name[at:])  # an insertion
        elif kind == 2 and at + 1 < len(name):
            out.append(name[:at] + name[at + 1] + name[at] + name[at + 2:])  # a transposition
        else:
            out.append(name[:at] + ("a" if name[at] != "a" else "o") + name[at + 1:])  # a substitution
    return out


def test_the_stores_typo_index_finds_every_spelling_one_edit_away(db):
    """The compiled index replaces a search over every spelling: for typos of popular tags (and their first
    characters), every name or alias one edit away that a brute-force search over all spellings finds is among
    the index's candidates, and the tags the index suggests are those a search over all spellings ranks."""
    from rapidfuzz import process
    from rapidfuzz.distance import OSA

    spellings = sorted({n for c in db._conns for (n,) in c.execute("SELECT name FROM tags")}
                       | {a for c in db._conns for (a,) in c.execute("SELECT alias FROM aliases")})
    popular = [n for (n,) in db._conns[0].execute("SELECT name FROM tags ORDER BY post_count DESC LIMIT 60")]
    fuzzy = db.fuzzy
    for query in _one_edit_typos(popular) + ["longhair", "worstquality", "ab", "x"]:
        near = {s for s, _, _ in process.extract(query, spellings, scorer=OSA.distance, score_cutoff=1, limit=None)}
        assert near <= set(fuzzy._candidates(query, 1)), query
        listed = {fuzzy.target(s) for s in near if s != query or fuzzy.target(s) != query} - {None}  # not itself
        assert set(fuzzy._scored(query, set(), 1)) == listed, query


def test_complete_by_popularity_with_aliases(db):
    results = db.complete("long h")
    assert results[0].name == "long_hair"
    counts = [r.post_count for r in results]
    assert counts == sorted(counts, reverse=True)
    assert all(r.name.startswith("long_h") or r.matched == "alias" for r in results)
    assert "highres" in [r.name for r in db.complete("hires")]


def test_prompt_resolve_attaches_info(db):
    prompt = parse("1girl, kazusa \\(blue archive\\), hires, species:seal, nonexistent tag qq").resolve(db)
    infos = [(t.info.name if t.info else None) for t in prompt.tags]
    assert infos == ["1girl", "kazusa_(blue_archive)", "highres", None, None]


def test_user_csv_sources_stack_and_rebuild_on_change(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMPTKIT_CACHE_DIR", str(tmp_path / "cache"))
    mine = tmp_path / "mine.csv"
    mine.write_text("my_oc,character\nmy style,general\n", encoding="utf-8")
    db = TagDB.from_names(["danbooru", str(mine)])
    assert db.lookup("my oc").category is TagCategory.CHARACTER
    assert db.lookup("my_oc").source == "mine"
    assert db.lookup("My Style").name == "my_style"
    mine.write_text("my_oc,character\nanother_one\n", encoding="utf-8")
    os.utime(mine, ns=(1, 2))
    db2 = TagDB.from_names([str(mine)])
    assert db2.lookup("another one") is not None
    assert db2.lookup("my style") is None


@pytest.mark.parametrize("content, line, problem", [
    ("ok_tag,0,10\nbad_tag,zero,10\n", 2, "category"),
    ("ok_tag,0,10\nbad,0,many\n", 2, "post count"),
])
def test_malformed_user_csv_names_file_line_and_problem(tmp_path, monkeypatch, content, line, problem):
    monkeypatch.setenv("PROMPTKIT_CACHE_DIR", str(tmp_path / "cache"))
    bad = tmp_path / "bad.csv"
    bad.write_text(content, encoding="utf-8")
    with pytest.raises(TagDataError) as info:
        TagDB.from_names([str(bad)])
    assert info.value.path == str(bad) and info.value.line == line and problem in info.value.problem
    assert f"bad.csv:{line}:" in str(info.value)
