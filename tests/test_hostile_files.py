"""Rewrites keep a file's identity, and lost updates and planted files are refused (issue #16, "Files").

Every case asserts the file's bytes and metadata after the run, and that no command ends in a traceback.
Root (as CI runs) ignores permission bits: there the read-only folder is simulated where files are created.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from promptkit._files import FileChangedError, ReadOnlyFileError, read_text_file, rewrite
from promptkit.cli.main import cli
from promptkit.dataset import NormalizeOptions, NormalizerFactory, process_files

ROOT = Path(__file__).resolve().parents[1]
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
NOBODY = 65534


def run(*args: str):
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    return result


def identity(path: Path) -> tuple:
    st = os.stat(path)
    return st.st_ino, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st.st_nlink


# -- the primitive --------------------------------------------------------------------------------------------
def test_bom_and_crlf_are_kept_and_not_part_of_the_text(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"\xef\xbb\xbflong_hair, smile\r\nsecond line\r\n")
    file = read_text_file(path)
    assert file.text == "long_hair, smile\nsecond line\n" and file.bom and file.newline == "\r\n"
    rewrite(file, file.with_body("long hair, smile\nsecond line"))
    assert path.read_bytes() == b"\xef\xbb\xbflong hair, smile\r\nsecond line\r\n"


def test_mixed_line_endings_are_left_exactly_as_they_are(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"a\r\nb\nc")
    file = read_text_file(path)
    assert file.newline is None and file.text == "a\r\nb\nc"
    rewrite(file, file.text.replace("c", "d"))
    assert path.read_bytes() == b"a\r\nb\nd"


def test_a_symlinked_file_is_rewritten_through_the_link(tmp_path):
    real = tmp_path / "real" / "caption.txt"
    real.parent.mkdir()
    real.write_text("long_hair\n")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    rewrite(read_text_file(link), "long hair\n")
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text() == "long hair\n"
    assert sorted(p.name for p in real.parent.iterdir()) == ["caption.txt"]  # the temporary went beside the target


def test_hard_links_stay_one_file(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("long_hair\n")
    other = tmp_path / "b.txt"
    os.link(path, other)
    before = identity(path)
    rewrite(read_text_file(path), "long hair, and a longer text than before\n")
    assert identity(path) == before and identity(other) == before
    assert other.read_text() == "long hair, and a longer text than before\n"
    rewrite(read_text_file(other), "x\n")  # shorter: the rest is cut off
    assert path.read_bytes() == b"x\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"]  # the backup is gone


def test_mode_is_kept_and_read_only_files_are_refused_unless_asked(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("long_hair\n")
    path.chmod(0o640)
    rewrite(read_text_file(path), "long hair\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    path.chmod(0o444)
    with pytest.raises(ReadOnlyFileError):
        rewrite(read_text_file(path), "changed\n")
    assert path.read_text() == "long hair\n"
    rewrite(read_text_file(path), "changed\n", allow_read_only=True)
    assert path.read_text() == "changed\n" and stat.S_IMODE(path.stat().st_mode) == 0o444


@pytest.mark.skipif(not IS_ROOT, reason="giving a file to another owner needs root")
def test_owner_and_group_are_kept_when_run_as_root(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("long_hair\n")
    os.chown(path, NOBODY, NOBODY)
    path.chmod(0o664)
    rewrite(read_text_file(path), "long hair\n")
    st = path.stat()
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (NOBODY, NOBODY, 0o664)


def test_an_edit_made_after_reading_is_never_overwritten(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("long_hair\n")
    file = read_text_file(path)
    path.write_text("the user's edit\n")
    with pytest.raises(FileChangedError):
        rewrite(file, "long hair\n")
    assert path.read_text() == "the user's edit\n"
    path.unlink()
    with pytest.raises(FileChangedError):
        rewrite(file, "long hair\n")
    assert not path.exists()


def test_a_planted_symlink_at_the_old_temporary_name_is_not_followed(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("do not touch\n")
    victim.chmod(0o600)
    path = tmp_path / "a.txt"
    path.write_text("long_hair\n")
    path.chmod(0o644)
    for pid in range(os.getpid() - 50, os.getpid() + 50):  # the names the old code used
        (tmp_path / f".pk-a.txt.{pid}.tmp").symlink_to(victim)
    rewrite(read_text_file(path), "long hair\n")
    assert victim.read_text() == "do not touch\n" and stat.S_IMODE(victim.stat().st_mode) == 0o600
    assert path.read_text() == "long hair\n" and not path.is_symlink()


# -- the commands ---------------------------------------------------------------------------------------------
def test_lint_fix_and_fmt_keep_identity(tmp_path):
    original = b"\xef\xbb\xbf1girl, pony tail, long_hair\r\n"  # "pony tail" -> "ponytail": a safe fix
    for command in (["lint", "--fix"], ["fmt"]):
        real = tmp_path / command[0] / "caption.txt"
        real.parent.mkdir()
        real.write_bytes(original)
        real.chmod(0o660)
        link = tmp_path / f"{command[0]}-link.txt"
        link.symlink_to(real)
        hard = tmp_path / f"{command[0]}-hard.txt"
        os.link(real, hard)
        before = identity(real)
        run(*command, str(link))
        data = real.read_bytes()
        assert data != original, command
        assert data.startswith(b"\xef\xbb\xbf1girl") and data.endswith(b"\r\n") and b"\n" not in data[:-1]
        assert link.is_symlink() and identity(real) == before and hard.read_bytes() == data


def test_lint_fix_refuses_read_only_and_changed_files(tmp_path, monkeypatch):
    path = tmp_path / "a.txt"
    path.write_bytes(b"1girl, pony tail\n")
    path.chmod(0o444)
    out = run("lint", "--fix", str(path))
    assert out.exit_code == 2 and "read-only file, not rewritten" in out.output
    assert path.read_bytes() == b"1girl, pony tail\n"
    out = run("lint", "--fix", "--write-read-only", str(path))
    assert path.read_bytes() == b"1girl, ponytail\n" and stat.S_IMODE(path.stat().st_mode) == 0o444

    import promptkit.linter

    path.chmod(0o644)
    path.write_bytes(b"1girl, pony tail\n")
    real_fix = promptkit.linter.fix_text

    def fix_while_the_user_edits(text, *args, **kwargs):
        path.write_bytes(b"the user's edit\n")
        return real_fix(text, *args, **kwargs)

    monkeypatch.setattr(promptkit.linter, "fix_text", fix_while_the_user_edits)
    out = run("lint", "--fix", str(path))
    assert out.exit_code == 2 and "changed since it was read" in out.output
    assert path.read_bytes() == b"the user's edit\n"


def test_normalize_keeps_identity_and_skips_read_only(tmp_path):
    caption = tmp_path / "a.txt"
    caption.write_bytes(b"\xef\xbb\xbflong_hair, smile\r\n")
    locked = tmp_path / "b.txt"
    locked.write_bytes(b"long_hair\n")
    locked.chmod(0o444)
    out = run("dataset", "normalize", str(tmp_path), "--underscores-to-spaces")
    assert out.exit_code == 2 and f"skipped {locked}: read-only file, not rewritten" in out.output
    assert caption.read_bytes() == b"\xef\xbb\xbflong hair, smile\r\n"  # not "\ufefflong hair" as a tag
    assert locked.read_bytes() == b"long_hair\n"
    out = run("dataset", "normalize", str(tmp_path), "--underscores-to-spaces", "--write-read-only")
    assert out.exit_code == 0 and locked.read_bytes() == b"long hair\n"
    assert stat.S_IMODE(locked.stat().st_mode) == 0o444


def test_normalize_never_loses_an_edit_made_while_it_runs(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("long_hair\n")
    normalize = NormalizerFactory(NormalizeOptions(underscores_to_spaces=True))()

    def transform(caption: str) -> str:  # runs between reading and writing the file
        path.write_text("the user's edit\n")
        return normalize(caption)

    [result] = process_files([path], lambda: transform, write=True, workers=1)
    assert not result.written and "changed since it was read" in result.error
    assert path.read_text() == "the user's edit\n"


def test_a_read_only_folder_is_reported_per_file_and_the_rest_is_done(tmp_path, monkeypatch):
    for folder in ("open", "locked"):
        (tmp_path / folder).mkdir()
        for i in range(3):
            (tmp_path / folder / f"{i}.txt").write_text("long_hair\n")
    locked = tmp_path / "locked"
    locked.chmod(0o555)
    if IS_ROOT:  # root writes into any folder: make creating a file there fail as it does for a user
        import promptkit._files

        real_mkstemp = tempfile.mkstemp

        def mkstemp(*args, dir=None, **kwargs):
            if Path(dir) == locked:
                raise PermissionError(13, "Permission denied")
            return real_mkstemp(*args, dir=dir, **kwargs)

        monkeypatch.setattr(promptkit._files.tempfile, "mkstemp", mkstemp)
    try:
        out = run("dataset", "normalize", str(tmp_path), "--underscores-to-spaces", "-j", "1")
    finally:
        locked.chmod(0o755)
    assert out.exit_code == 2  # some files could not be written (as ruff format); the rest were
    assert out.output.count("cannot create a file in") == 3 and "changed 3 of 6" in out.output
    assert all((tmp_path / "open" / f"{i}.txt").read_text() == "long hair\n" for i in range(3))
    assert all((locked / f"{i}.txt").read_text() == "long_hair\n" for i in range(3))


def _session_processes(sid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid and fields[0] != "Z":
                found.append(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_workers_stop_writing_when_the_parent_is_killed(tmp_path):
    """Kill -9 the parent in the middle of a parallel rewrite: its workers finish at most the file each is
    writing, then exit (they used to go on for 30 s)."""
    for i in range(600):
        (tmp_path / f"{i:04d}.txt").write_text("long_hair\n")
    script = textwrap.dedent(f"""
        import time
        from pathlib import Path
        from promptkit.dataset import find_captions, process_files

        def slow(caption):
            time.sleep(0.02)
            return caption.replace("_", " ")

        paths = find_captions({str(tmp_path)!r})
        for result in process_files(paths, lambda: slow, write=True, workers=2, batch_size=20):
            pass
    """)
    factory_module = tmp_path / "run_slow.py"
    factory_module.write_text(script)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, str(factory_module)], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def written() -> int:
        return sum(1 for p in tmp_path.glob("*.txt") if p.read_text() == "long hair\n")

    deadline = time.monotonic() + 60
    while written() < 20 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    at_kill = written()
    deadline = time.monotonic() + 30
    while _session_processes(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _session_processes(proc.pid), "workers outlived their parent"
    assert 20 <= at_kill and written() <= at_kill + 2  # at most the one file each worker was writing
    assert written() < 600
    assert not list(tmp_path.glob(".pk-*"))  # no temporary left behind
