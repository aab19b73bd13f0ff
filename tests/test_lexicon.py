"""The linter's word lists compiled into the cache folder (promptkit/linter/lexicon.py) answer what the lists
loaded whole answer, and CLIP's tables kept there (``_resources.cached_data``) are those derived from the file;
a damaged file is rebuilt; an unusable cache folder only costs speed, never an answer."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from promptkit._resources import cached_data
from promptkit.linter import known, lexicon, words
from promptkit.tokens import clip

ROOT = Path(__file__).resolve().parents[1]
PROMPT = "masterpeice, 1girl, a beatiful girl standing in a feild, long hiar, glans, wiht, kazusa"


def test_the_compiled_word_list_answers_as_the_whole_list():
    whole = words.word_counts()
    compiled = words._counts()
    assert isinstance(compiled, lexicon.CompiledSet)  # the lint does not load the list whole
    sample = list(whole)[::97] + ["beatiful", "feild", "Smile", "", "naïve", "\udcff"]
    assert {w: compiled.get(w) for w in sample} == {w: whole.get(w) for w in sample}
    assert compiled.many(sample) == {w: whole[w] for w in sample if w in whole}
    assert words.longest_word() == max(map(len, whole))
    assert sorted(compiled.starting("zy")) == sorted(w for w in whole if w.startswith("zy"))


def test_the_compiled_sections_answer_as_the_shipped_ones():
    shipped = known.beyond_danbooru()
    for name in ("known", "flip"):
        section = known._section(name)
        assert isinstance(section, lexicon.CompiledSet) and len(section) == len(shipped[name])
        assert all(s in section for s in sorted(shipped[name])[::53])
    assert "long_hair" not in known._section("known") and "1girl" not in known._section("flip")


def _lint(cache: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PROMPTKIT_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "promptkit.cli.main", "lint", PROMPT, "-p", "illustrious-xl"],
                          capture_output=True, text=True, env=env, timeout=600)


def test_damaged_or_unusable_compiled_lists_change_no_finding(tmp_path):
    cache = tmp_path / "cache"
    first = _lint(cache)
    assert first.returncode == 1 and "'beautiful'" in first.stdout and "'long hair'" in first.stdout, first.stderr
    built = sorted((cache / "linter").glob("*.sqlite3"))
    assert [p.name.rsplit("-", 1)[0] for p in built] == ["english-words", "known-beyond-danbooru"]
    for path in built:  # truncated: rebuilt in place
        path.write_bytes(path.read_bytes()[:5000])
    again = _lint(cache)
    assert (again.stdout, again.stderr) == (first.stdout, first.stderr)
    assert all(lexicon._sound(p) for p in built)
    blocked = tmp_path / "blocked"
    (cache / "linter").rename(blocked)
    (cache / "linter").write_text("a file where the folder should be")  # nothing can be built: lists loaded whole
    whole = _lint(cache)
    assert (whole.stdout, whole.stderr) == (first.stdout, first.stderr)


def test_clips_tables_kept_in_the_cache_folder_are_those_derived_from_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMPTKIT_CACHE_DIR", str(tmp_path / "cache"))
    derived = clip._vocabulary()
    assert len(derived) == clip.VOCAB_SIZE and derived["smile</w>"] == 3490  # CLIP's own id for the word
    calls = []

    def build():
        calls.append(1)
        return clip._vocabulary()

    assert cached_data("clip-vocabulary", clip.VOCAB_FILE, build) == derived and len(calls) == 1
    assert cached_data("clip-vocabulary", clip.VOCAB_FILE, build) == derived and len(calls) == 1  # read back
    [kept] = (tmp_path / "cache" / "derived").glob("clip-vocabulary-*")
    kept.write_bytes(kept.read_bytes()[:1000])  # truncated: derived again and written over
    assert cached_data("clip-vocabulary", clip.VOCAB_FILE, build) == derived and len(calls) == 2
    assert cached_data("clip-vocabulary", clip.VOCAB_FILE, build) == derived and len(calls) == 2
    merges = cached_data("clip-merges", clip.VOCAB_FILE, clip._read_merges)
    assert merges == clip._read_merges() and all(type(m) is tuple for m in merges[:100])
    monkeypatch.setenv("PROMPTKIT_CACHE_DIR", str(kept))  # a file where the folder should be: derived each time
    assert cached_data("clip-vocabulary", clip.VOCAB_FILE, build) == derived and len(calls) == 3


def test_a_set_asked_many_keys_reads_its_table_once_and_answers_alike(monkeypatch):
    """A long run switches from queries to the whole table after lexicon._WHOLE_AFTER keys: same answers."""
    whole = words.word_counts()
    tables = words._compiled()
    assert tables is not None
    fresh = lexicon.CompiledSet(tables["words"]._conn, "words")
    monkeypatch.setattr(lexicon, "_WHOLE_AFTER", 50)
    asked = sorted(whole)[::997][:40] + ["zzqx", "beatiful", "splashs"]
    assert fresh.many(asked) == {w: whole[w] for w in asked if w in whole} and fresh._whole is None
    probe = sorted(whole)[5::1009][:30] + ["qqqq"]
    assert [fresh.get(w) for w in probe] == [whole.get(w) for w in probe]
    assert fresh._whole is not None and len(fresh._whole) == len(whole)
    assert fresh.many(asked) == {w: whole[w] for w in asked if w in whole} and ("villiage" in fresh) is False
