"""A damaged tag cache, an unusable cache folder and bad user CSVs (issue #16): a rebuild or one clear line,
never an sqlite3 or csv traceback."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner

from promptkit.cli.main import cli
from promptkit.tags import TagDataError, TagDB
from promptkit.tags import store
from promptkit.tags.sources import TagSource, read_tags, user_source
from promptkit.tags.store import TagCacheWarning, cache_problem, compiled_path

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def source(tmp_path, monkeypatch) -> TagSource:
    monkeypatch.setenv("PROMPTKIT_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "mine.csv"
    path.write_text("smile,0\nkazusa_(blue_archive),4\n", encoding="utf-8")
    return user_source(path)


def damage(path: Path, kind: str) -> None:
    size = path.stat().st_size
    if kind == "truncated":
        os.truncate(path, size // 2)
    elif kind == "zeroed":
        path.write_bytes(bytes(size))
    elif kind == "random bytes":
        path.write_bytes(os.urandom(size))
    elif kind == "header only":
        data = path.read_bytes()
        path.write_bytes(data[:100] + os.urandom(size - 100))
    elif kind == "a folder in its place":
        path.unlink()
        path.mkdir()


KINDS = ["truncated", "zeroed", "random bytes", "header only", "a folder in its place"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_damaged_cache_is_rebuilt_with_one_warning(source, kind):
    target = compiled_path(source)
    assert cache_problem(target) is None
    damage(target, kind)
    assert cache_problem(target) is not None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        db = TagDB([source])
        assert db.lookup("kazusa (blue archive)").category.value == "character"
    assert [w.category for w in caught] == [TagCacheWarning]
    if kind != "a folder in its place":
        assert cache_problem(target) is None  # rebuilt in place, atomically (os.replace)
        assert not [p for p in target.parent.iterdir() if p.name.startswith(".")]


def test_a_damaged_default_cache_is_no_traceback_from_the_cli(tmp_path):
    """Separate runs, as in life: the first builds the cache, it is damaged, the next run rebuilds it."""
    env = dict(os.environ, PROMPTKIT_CACHE_DIR=str(tmp_path), PYTHONPATH=str(ROOT))
    command = [sys.executable, "-m", "promptkit.cli.main", "lint", "1girl, pony tail"]
    assert subprocess.run(command, env=env, capture_output=True, timeout=300).returncode == 1
    [danbooru] = tmp_path.glob("danbooru-*.sqlite3")
    damage(danbooru, "truncated")
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1 and "ponytail" in result.stdout
    assert "Traceback" not in result.stderr and result.stderr.count("TagCacheWarning") == 1
    assert all(cache_problem(p) is None for p in tmp_path.glob("*.sqlite3"))


def test_an_unusable_cache_folder_falls_back_to_a_temporary_build(source, tmp_path, monkeypatch):
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder should be")  # mkdir fails as in a read-only folder
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        target = compiled_path(source)
    assert [w.category for w in caught] == [TagCacheWarning] and "instead" in str(caught[0].message)
    assert cache_problem(target) is None and not str(target).startswith(str(blocker))
    with sqlite3.connect(target) as conn:
        assert conn.execute("SELECT count(*) FROM tags").fetchone() == (2,)


def test_no_home_and_no_password_entry_falls_back(source, monkeypatch):
    monkeypatch.delenv("PROMPTKIT_CACHE_DIR")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)

    def no_home():
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(store.Path, "home", staticmethod(no_home))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        db = TagDB([source])
    assert db.lookup("smile") is not None
    assert len(caught) == 1 and "no cache folder" in str(caught[0].message)


def test_no_home_and_no_password_entry_from_the_cli(tmp_path, monkeypatch):
    """No HOME and a uid without a password entry, as in a bare container: one warning, then the lint."""
    import pwd

    for name in ("HOME", "PROMPTKIT_CACHE_DIR", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)

    def no_entry(uid):
        raise KeyError(f"getpwuid(): uid not found: {uid}")

    monkeypatch.setattr(pwd, "getpwuid", no_entry)
    (tmp_path / "mine.csv").write_text("smile,0\n")
    (tmp_path / "pyproject.toml").write_text('[tool.promptkit]\ntag-sources = ["mine.csv"]\n')
    monkeypatch.chdir(tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = CliRunner().invoke(cli, ["lint", "--select", "PK210", "smile, frwn"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code == 0 and "PK210 info 'frwn' is not a tag" in result.output
    assert [w.category for w in caught] == [TagCacheWarning]


# -- user CSVs -------------------------------------------------------------------------------------------------
def test_a_bom_is_stripped(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_bytes(b"\xef\xbb\xbfsmile,0\nfrown,0\n")
    assert [row[0] for row in read_tags(user_source(path))] == ["smile", "frown"]


@pytest.mark.parametrize("content, line, problem", [
    (b"smile,0\ncaf\xe9,0\n", 2, "not UTF-8 (byte 4 of the line)"),
    (b"smile,0\n" + b"x" * 200_000 + b",0\n", 2, "a field longer than 131,072 characters"),
    (b'smile,0\nfrown,0\n"' + b"x" * 200_000 + b"\n", 3, "a field longer than 131,072 characters"),
    (b"smile,0\n" + b"y" * (2 << 20), 2, "line longer than 1,048,576 characters"),
    (b"smile,0\nfrown,sideways\n", 2, "category 'sideways' is neither a number nor a category name"),
], ids=["not UTF-8", "huge field", "huge quoted field", "huge line", "bad category"])
def test_bad_user_csvs_name_file_line_and_problem(tmp_path, content, line, problem):
    path = tmp_path / "mine.csv"
    path.write_bytes(content)
    with pytest.raises(TagDataError) as caught:
        list(read_tags(user_source(path)))
    assert (caught.value.path, caught.value.line) == (str(path), line) and problem in caught.value.problem


def test_a_folder_named_csv_is_one_line_from_the_cli(tmp_path, monkeypatch):
    (tmp_path / "tags.csv").mkdir()
    (tmp_path / "pyproject.toml").write_text('[tool.promptkit]\ntag-sources = ["tags.csv"]\n')
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["lint", "smile"])
    assert result.exit_code == 2
    assert result.output.startswith("promptkit: error: ") and result.output.count("\n") == 1
    assert result.output.endswith("tags.csv: is a folder, not a CSV file\n")
