"""Big and odd files from users (issue #23, items 8-10 and 12): bounded reads, one line per refused file.

Each command runs in a subprocess, measured by a wrapper that reports the child's peak memory; its timeout
is a generous bound that only a hang (a blocked FIFO, an endless device) would reach.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HANG = 180  # seconds: far above any honest run on a loaded machine; a blocked read never ends

_MEASURE = """
import resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True)
sys.stdout.write(repr((done.returncode, done.stdout.decode("utf-8", "replace"), done.stderr.decode("utf-8", "replace"),
                       resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)))
"""


def promptkit(*args: str, cwd: Path | None = None) -> tuple[int, str, str, int]:
    """(exit code, stdout, stderr, peak memory in MB) of ``promptkit ARGS``."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "PYTHONWARNINGS": "ignore"}
    done = subprocess.run([sys.executable, "-c", _MEASURE, sys.executable, "-m", "promptkit.cli.main", *args],
                          capture_output=True, text=True, timeout=HANG, cwd=cwd, env=env)
    code, out, err, peak_kb = eval(done.stdout)  # noqa: S307 - our own repr
    assert "Traceback" not in out + err, err
    return code, out, err, peak_kb // 1024


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("promptkit:")]


# -- item 9: captions and prompt files ------------------------------------------------------------------------
@pytest.fixture
def odd_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "ds"
    folder.mkdir()
    (folder / "a.txt").write_text("1girl, smiel, long hair\n", encoding="utf-8")
    with open(folder / "big.txt", "wb") as fh:  # 2 GB, sparse: costs no disk
        fh.truncate(2 * 1024 ** 3)
    os.mkfifo(folder / "pipe.txt")
    (folder / "nul.txt").write_bytes(b"1girl\0solo")
    (folder / "z.txt").write_text("1girl, smiel\n", encoding="utf-8")
    return folder


def test_dataset_lint_reports_each_odd_file_in_one_line_and_lints_the_rest(odd_folder):
    code, out, err, peak = promptkit("dataset", "lint", str(odd_folder), "-j", "1")
    lines = out.splitlines()
    assert code == 1
    assert [line for line in lines if "big.txt" in line] == \
        [f"{odd_folder / 'big.txt'}: error: cannot read: file too large (2,147,483,648 bytes; a text file may "
         "have at most 4 MiB)"]
    assert [line for line in lines if "pipe.txt" in line] == \
        [f"{odd_folder / 'pipe.txt'}: error: cannot read: not a regular file: a named pipe (FIFO)"]
    assert [line for line in lines if "nul.txt" in line] == \
        [f"{odd_folder / 'nul.txt'}: error: cannot read: binary data (NUL bytes), not text"]
    for name in ("a.txt", "z.txt"):  # the captions before and after the refused files are linted
        assert any(line.startswith(f"{odd_folder / name}: PK201 unknown tag 'smiel'") for line in lines), out
    assert peak < 400, peak  # the 2 GB file is refused by its size, not read


def test_lint_refuses_a_huge_file_at_once(odd_folder):
    code, out, err, peak = promptkit("lint", str(odd_folder / "big.txt"))
    assert code == 2 and out == ""
    assert error_lines(err) == [f"promptkit: error: {odd_folder / 'big.txt'}: file too large (2,147,483,648 "
                                "bytes; a text file may have at most 4 MiB)"]
    assert peak < 300, peak


@pytest.mark.parametrize("target, what", [("pipe.txt", "a named pipe (FIFO)"), ("/dev/zero", "a character device")])
def test_lint_says_what_a_fifo_or_device_is(odd_folder, target, what):
    path = target if target.startswith("/") else str(odd_folder / target)
    code, out, err, _ = promptkit("lint", path)
    assert code == 2
    assert error_lines(err) == [f"promptkit: error: {path}: not a regular file: {what}"]


def test_lint_of_a_folder_reports_the_fifo_instead_of_skipping_it_silently(odd_folder):
    code, out, err, _ = promptkit("lint", str(odd_folder))
    assert f"promptkit: skipped {odd_folder / 'pipe.txt'}: not a regular file: a named pipe (FIFO)" in err
    assert f"promptkit: skipped {odd_folder / 'big.txt'}: file too large" in err
    assert out.count("unknown tag 'smiel'") == 2  # a.txt and z.txt


def test_stdin_is_read_only_up_to_the_limit():
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "ignore"}
    with open("/dev/zero", "rb") as zero:
        done = subprocess.run([sys.executable, "-m", "promptkit.cli.main", "lint", "-"], stdin=zero,
                              capture_output=True, text=True, timeout=HANG, env=env)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert error_lines(done.stderr) == ["promptkit: error: <stdin>: input too large (more than 4 MiB)"]
