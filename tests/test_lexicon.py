"""The linter's word lists compiled into the cache folder (promptkit/linter/lexicon.py) answer what the lists
loaded whole answer; a damaged file is rebuilt; an unusable cache folder only costs speed, never an answer."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from promptkit.linter import known, lexicon, words

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
