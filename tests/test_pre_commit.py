"""The shipped pre-commit hooks (``.pre-commit-hooks.yaml``), run by the real ``pre-commit`` on real commits.

A repository that uses the hooks with ``language: python`` has pre-commit pip-install promptkit from PyPI into a
virtualenv (about 1.5 minutes, and only online). The test runs the same hooks offline instead: the local
config is built from the shipped file itself (id, entry, files, exclude copied), with ``language: system``,
which runs ``entry`` from PATH, where this environment's ``promptkit`` is.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

pytest.importorskip("pre_commit")
yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[1]
HOOKS = ROOT / ".pre-commit-hooks.yaml"
COPIED = ("id", "name", "entry", "files", "exclude", "types", "types_or", "args", "pass_filenames",
          "require_serial")


def shipped_hooks() -> list[dict]:
    return yaml.safe_load(HOOKS.read_text(encoding="utf-8"))


def test_the_manifest_is_valid_and_runs_lint_and_fmt_check():
    run = subprocess.run([sys.executable, "-m", "pre_commit", "validate-manifest", str(HOOKS)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    hooks = {hook["id"]: hook for hook in shipped_hooks()}
    assert hooks["promptkit-lint"]["entry"] == "promptkit lint"
    assert hooks["promptkit-fmt"]["entry"] == "promptkit fmt --check"
    assert all(hook["language"] == "python" for hook in hooks.values())  # installs promptkit for the user


@pytest.fixture
def repo(tmp_path):
    """An empty git repository whose pre-commit config is the shipped hooks as local system hooks."""
    folder = tmp_path / "captions"
    folder.mkdir()
    local = [{**{k: hook[k] for k in COPIED if k in hook}, "language": "system"} for hook in shipped_hooks()]
    (folder / ".pre-commit-config.yaml").write_text(yaml.safe_dump({"repos": [{"repo": "local", "hooks": local}]}),
                                                    encoding="utf-8")
    (folder / "promptkit.toml").write_text('profile = "kivotos-xl-2"\n', encoding="utf-8")
    scripts = {sysconfig.get_path("scripts"), str(Path(sys.executable).parent)}
    env = {**os.environ, "PATH": os.pathsep.join([*scripts, os.environ.get("PATH", "")]),
           "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"), "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t", "NO_COLOR": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    env.pop("GIT_DIR", None)
    env.pop("GIT_INDEX_FILE", None)

    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", *args], cwd=folder, env=env, capture_output=True, text=True, timeout=300)

    assert git("init", "-q").returncode == 0
    git("config", "commit.gpgsign", "false")
    install = subprocess.run([sys.executable, "-m", "pre_commit", "install"], cwd=folder, env=env,
                             capture_output=True, text=True, timeout=120)
    assert install.returncode == 0, install.stdout + install.stderr
    assert git("add", ".pre-commit-config.yaml", "promptkit.toml").returncode == 0
    first = git("commit", "-q", "-m", "config")  # no caption yet: the hooks are skipped
    assert first.returncode == 0, first.stdout + first.stderr
    return folder, git


def commit(repo, files: dict[str, str]) -> subprocess.CompletedProcess:
    folder, git = repo
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    assert git("add", *files).returncode == 0
    return git("commit", "-m", "captions")


def commits(repo) -> int:
    return int(repo[1]("rev-list", "--count", "HEAD").stdout)


def test_a_bad_caption_blocks_the_commit_and_shows_the_finding(repo):
    run = commit(repo, {"img_001.txt": "1girl, solo, long hiar\n"})
    out = run.stdout + run.stderr
    assert run.returncode != 0, out
    assert re.search(r"promptkit lint\.+Failed", out), out
    assert "img_001.txt:1:14: PK201" in out and "'long hiar'; did you mean 'long hair'?" in out
    assert commits(repo) == 1


def test_an_unformatted_caption_blocks_the_commit(repo):
    run = commit(repo, {"img_002.caption": "long hair, 1girl\n"})
    out = run.stdout + run.stderr
    assert run.returncode != 0 and "would reformat img_002.caption" in out, out
    assert re.search(r"promptkit fmt --check\.+Failed", out), out
    assert commits(repo) == 1


def test_clean_captions_pass_and_wildcard_files_are_not_captions(repo):
    # a wildcard file repeats a line to make it likelier: as a caption it would be a duplicate tag (PK204)
    run = commit(repo, {"img_003.txt": "1girl, solo, long hair, smile\n",
                        "wildcards/hair.txt": "long hair\nshort hair\nlong hair\n"})
    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    assert re.search(r"promptkit lint\.+Passed", out) and re.search(r"promptkit fmt --check\.+Passed", out), out
    assert commits(repo) == 2


def test_the_hooks_take_their_settings_from_the_repositorys_promptkit_toml(repo):
    folder, _ = repo
    (folder / "promptkit.toml").write_text('profile = "kivotos-xl-2"\nignore = ["PK201"]\n', encoding="utf-8")
    run = commit(repo, {"promptkit.toml": (folder / "promptkit.toml").read_text(encoding="utf-8"),
                        "img_001.txt": "1girl, solo, long hiar\n"})
    assert run.returncode == 0, run.stdout + run.stderr
    assert commits(repo) == 2
