"""Big and odd files from users (issue #23, items 8-10 and 12): bounded reads, one line per refused file.

Each command runs in a subprocess, measured by a wrapper that reports the child's peak memory; its timeout
is a generous bound that only a hang (a blocked FIFO, an endless device) would reach.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from test_hostile_inputs import _chunk as chunk  # the PNG builders of the earlier rounds
from test_hostile_inputs import png_with

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
    """promptkit's own lines on stderr, less the note of which profile it chose (not an error)."""
    return [line for line in err.splitlines() if line.startswith("promptkit:")
            and not line.startswith("promptkit: profile ")]


def infotext(prompt: str) -> str:
    return f"{prompt}\nNegative prompt: lowres\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 832x1216"


FIFTY_MB_OF_TAGS = ("1girl, solo, long hair, " * (50 * 2 ** 20 // 24 + 1))[:50 * 2 ** 20]


# -- item 8: PNG metadata -------------------------------------------------------------------------------------
# A refused chunk is an error (exit 2), not a warning with the rest of the file read: the chunk is the very
# data `info` and `lint` were asked about, and going on without it would print "no prompt metadata" or lint
# a different prompt than the image's, which is silently wrong.
@pytest.mark.parametrize("kind", ["tEXt", "zTXt", "iTXt", "iTXt compressed"])
def test_info_refuses_a_50_mb_parameters_chunk_in_bounded_memory(tmp_path, kind):
    text = infotext(FIFTY_MB_OF_TAGS).encode("latin-1")
    body = {"tEXt": b"parameters\0" + text, "zTXt": b"parameters\0\0" + zlib.compress(text),
            "iTXt": b"parameters\0\0\0\0\0" + text,
            "iTXt compressed": b"parameters\0\1\0\0\0" + zlib.compress(text)}[kind]
    path = tmp_path / "big.png"
    path.write_bytes(png_with(chunk(kind[:4].encode(), body)))
    code, out, err, peak = promptkit("info", str(path))
    assert code == 2 and out == ""
    reason = "decompresses to more than 4 MiB" if "z" in kind or "compressed" in kind else \
        f"{kind} chunk 'parameters' holds {len(body):,} bytes, more than 4 MiB"
    assert error_lines(err) == [f"promptkit: error: {path}: " + (
        f"text chunk 'parameters' {reason}: not read" if "decompresses" in reason else f"{reason}: not read")]
    assert peak < 400, peak  # 5.2 GB before


def test_an_oversized_graph_text_is_refused_and_a_folder_goes_on(tmp_path):
    graph = {"3": {"class_type": "CLIPTextEncode", "inputs": {"text": FIFTY_MB_OF_TAGS[:5 * 2 ** 20]}}}
    (tmp_path / "comfy.png").write_bytes(png_with(chunk(b"tEXt", b"prompt\0" + json.dumps(graph).encode())))
    (tmp_path / "ok.png").write_bytes(png_with(chunk(b"tEXt", b"parameters\0" + infotext("1girl, smiel").encode())))
    code, out, err, peak = promptkit("lint", str(tmp_path))
    assert error_lines(err) == [f"promptkit: skipped {tmp_path / 'comfy.png'}: ComfyUI prompt 3.text holds "
                                "5,242,880 characters, more than 4 MiB: not read"]
    assert "ok.png[prompt]:1:8: PK201 warning unknown tag 'smiel'" in out  # (exit codes with skipped files: issue 20)
    assert peak < 400, peak


def test_info_reads_a_normal_png_once_and_fully(tmp_path):
    path = tmp_path / "ok.png"
    path.write_bytes(png_with(chunk(b"tEXt", b"workflow\0" + b"{}" * 1000),
                              chunk(b"tEXt", b"parameters\0" + infotext("1girl, smile").encode())))
    code, out, err, _ = promptkit("info", str(path))
    assert code == 0, err
    assert out.splitlines()[:3] == ["prompt: 1girl, smile", "negative: lowres", "  Steps: 20"]


# -- item 12: text in other encodings --------------------------------------------------------------------------
@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_a_utf16_text_chunk_is_decoded_with_its_mark_and_refused_without(tmp_path, encoding):
    path = tmp_path / "utf16.png"
    data = infotext("1girl, smiel").encode(encoding)  # "utf-16" writes a byte-order mark, the others do not
    path.write_bytes(png_with(chunk(b"tEXt", b"parameters\0" + data)))
    code, out, err, _ = promptkit("lint", str(path))
    if encoding == "utf-16":
        assert code == 1 and error_lines(err) == [], err
        assert f"{path}[prompt]:1:8: PK201 warning unknown tag 'smiel'" in out
        assert "All clean" not in out
    else:
        assert code == 2 and out == ""
        assert error_lines(err) == [f"promptkit: error: {path}: tEXt chunk 'parameters' holds NUL characters "
                                    "(UTF-16 text without a byte-order mark, or binary data): not read"]


def test_utf8_in_a_latin1_chunk_is_read_as_utf8_and_latin1_stays_latin1(tmp_path):
    path = tmp_path / "mixed.png"
    path.write_bytes(png_with(chunk(b"tEXt", b"parameters\0" + infotext("1girl, caf\u00e9, \u732b").encode())))
    assert promptkit("info", str(path))[1].splitlines()[0] == "prompt: 1girl, caf\u00e9, \u732b"
    path.write_bytes(png_with(chunk(b"tEXt", b"parameters\0" + infotext("1girl, caf\u00e9").encode("latin-1"))))
    assert promptkit("info", str(path))[1].splitlines()[0] == "prompt: 1girl, caf\u00e9"


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
    assert sorted(error_lines(err)) == [
        f"promptkit: skipped {odd_folder / 'big.txt'}: cannot read: file too large (2,147,483,648 bytes; a text "
        "file may have at most 4 MiB)",
        f"promptkit: skipped {odd_folder / 'nul.txt'}: cannot read: binary data (NUL bytes), not text",
        f"promptkit: skipped {odd_folder / 'pipe.txt'}: cannot read: not a regular file: a named pipe (FIFO)"]
    for name in ("a.txt", "z.txt"):  # the captions before and after the refused files are linted
        assert any(line.startswith(f"{odd_folder / name}:1:8: PK201 warning unknown tag 'smiel'") for line in lines), out
    assert "3 unreadable, skipped" in out
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


@pytest.mark.parametrize("role", ["profile", "tag source"])
def test_a_fifo_named_as_profile_or_tag_source_is_refused_not_waited_on(tmp_path, role):
    fifo = tmp_path / ("mine.toml" if role == "profile" else "mine.csv")
    os.mkfifo(fifo)
    if role == "profile":
        code, out, err, _ = promptkit("lint", "1girl", "--profile", str(fifo), cwd=tmp_path)
        expected = f"promptkit: error: {fifo}: not a regular file: a named pipe (FIFO)"
    else:
        (tmp_path / "promptkit.toml").write_text('tag-sources = ["mine.csv"]\n', encoding="utf-8")
        code, out, err, _ = promptkit("lint", "1girl", cwd=tmp_path)
        expected = f"promptkit: error: {fifo}: cannot read: not a regular file: a named pipe (FIFO)"
    assert code == 2 and error_lines(err) == [expected]


def test_stdin_is_read_only_up_to_the_limit():
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "ignore"}
    with open("/dev/zero", "rb") as zero:
        done = subprocess.run([sys.executable, "-m", "promptkit.cli.main", "lint", "-"], stdin=zero,
                              capture_output=True, text=True, timeout=HANG, env=env)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert error_lines(done.stderr) == ["promptkit: error: <stdin>: input too large (more than 4 MiB)"]


# -- item 10: model files -------------------------------------------------------------------------------------
UNET_IN = "model.diffusion_model.input_blocks.0.0.weight"


def safetensors(entries: dict, data: bytes) -> bytes:
    """A safetensors file written by hand: 8-byte header length, JSON header, tensor bytes."""
    header = json.dumps(entries).encode()
    return struct.pack("<Q", len(header)) + header + data


def tensor(dtype: str, shape: list, begin: int, end: int) -> dict:
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


BAD_HEADERS = {
    "LDM tensor with 8 bytes": ({UNET_IN: tensor("F32", [2], 0, 8)}, 8,
                                f"damaged: tensor {UNET_IN} has shape [2], where a model has a 4-dimensional weight"),
    "overlapping offsets": ({"a": tensor("F32", [4], 0, 16), "b": tensor("F32", [4], 8, 24)}, 24,
                            "tensors 'a' and 'b' overlap at bytes 8-16"),
    "offsets past the end": ({"a": tensor("F32", [4], 0, 16)}, 8, "truncated: its header lists 16 bytes of tensors "
                             "but only 8 are there"),
    "dtype size does not match the shape": ({"a": tensor("F16", [4], 0, 16)}, 16,
                                            "F16 [4] takes 8 bytes but its byte range 0-16 holds 16"),
    "unknown dtype": ({"a": tensor("F12", [4], 0, 16)}, 16, "unknown dtype 'F12'"),
    "negative size": ({"a": tensor("U8", [-4], 0, 0)}, 0, "shape [-4] is not a list of sizes"),
    "float size": ({"a": tensor("U8", [2.0], 0, 2)}, 2, "shape [2.0] is not a list of sizes"),
    "reversed offsets": ({"a": tensor("U8", [0], 8, 0)}, 8, "data_offsets [8, 0] is not a byte range"),
    "entry not an object": ({"a": [1, 2]}, 0, "not an object with dtype, shape and data_offsets"),
}


@pytest.mark.parametrize("case", sorted(BAD_HEADERS))
def test_a_damaged_safetensors_header_is_one_model_file_error(tmp_path, case):
    pytest.importorskip("torch")  # promptkit.runners needs it; these files are built without it
    from promptkit.runners.errors import ModelFileError
    from promptkit.runners.single_file import inspect_checkpoint

    entries, size, message = BAD_HEADERS[case]
    path = tmp_path / "x.safetensors"
    path.write_bytes(safetensors(entries, bytes(size)))
    with pytest.raises(ModelFileError) as caught:
        inspect_checkpoint(path)  # read_tensor_file, then identify
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_a_well_formed_header_still_reads(tmp_path):
    pytest.importorskip("torch")
    from promptkit.runners.model_files import identify, read_tensor_file

    path = tmp_path / "lora.safetensors"
    entries = {"lora_unet_a.lora_down.weight": tensor("F16", [2, 3], 0, 12),
               "lora_unet_a.lora_up.weight": tensor("F16", [3, 2], 12, 24), "empty": tensor("F32", [0], 24, 24),
               "packed": tensor("F4", [3], 24, 26), "__metadata__": {"ss_base_model_version": "sdxl_base_v1-0"}}
    path.write_bytes(safetensors(entries, bytes(26)))
    tf = read_tensor_file(path)
    assert tf.shapes["lora_unet_a.lora_up.weight"] == (3, 2) and tf.offsets["packed"] == (24, 26)
    assert identify(tf).description == "a LoRA (kohya format)" and identify(tf).architecture == "sdxl"


def test_generate_with_a_fifo_checkpoint_says_what_it_is(tmp_path):
    pytest.importorskip("torch")
    fifo = tmp_path / "x.safetensors"
    os.mkfifo(fifo)
    code, out, err, _ = promptkit("generate", "1girl", "--checkpoint", str(fifo), "--profile", "sdxl-base")
    assert code == 2  # before: blocked forever in open()
    assert error_lines(err) == [f"promptkit: error: {fifo}: cannot read (not a regular file: a named pipe (FIFO))"]


# -- item 12: Ctrl-C during normalize -------------------------------------------------------------------------
@pytest.mark.parametrize("jobs", ["1", "2"])  # in-process, and a worker pool (20,000 files: several batches)
def test_ctrl_c_during_normalize_exits_130_and_leaves_every_file_old_or_new(tmp_path, jobs):
    import signal
    import time

    old = "long_hair, blue_eyes, looking_at_viewer, school_uniform, 1girl\n"
    new = old.replace("_", " ")
    for i in range(20000):
        (tmp_path / f"{i:05d}.txt").write_text(old, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "ignore"}
    run = subprocess.Popen([sys.executable, "-m", "promptkit.cli.main", "dataset", "normalize", str(tmp_path),
                            "--underscores-to-spaces", "-j", jobs], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, env=env, start_new_session=True)
    first = tmp_path / "00000.txt"
    deadline = time.monotonic() + HANG
    while first.read_text(encoding="utf-8") == old and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(0.1)
    os.killpg(run.pid, signal.SIGINT)  # as Ctrl-C does: the whole process group, workers included
    out, err = run.communicate(timeout=HANG)
    assert run.returncode == 130, err
    assert "Aborted!" not in err and "Traceback" not in err and err.rstrip().endswith("promptkit: interrupted")
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [f"{i:05d}.txt" for i in range(20000)]  # no temporary file left behind
    texts = [(tmp_path / name).read_text(encoding="utf-8") for name in names]
    assert set(texts) == {old, new}  # every file old or new, and the run was stopped midway


def test_the_fast_caption_read_gives_what_read_text_file_gives(tmp_path):
    """`dataset lint` and `lint DIR` read an ordinary caption with read_plain_text (no realpath, no rewrite
    bookkeeping) and leave every other file to read_text_file: the text, the body and the error stay the same."""
    from promptkit._files import read_plain_text, read_text_file
    from promptkit.cli.inputs import InputError, read_file
    from promptkit.dataset.files import _read, read_caption, read_caption_body

    files = {"plain.txt": b"1girl, smile\n", "bom.txt": "\ufeff1girl, solo\n".encode(), "empty.txt": b"",
             "lines.txt": b"1girl\n\nsolo\n\n\n", "crlf.txt": b"1girl,\r\nsolo\r\n", "cr.txt": b"1girl,\rsolo\r",
             "mixed.txt": b"a\r\nb\nc\r", "latin1.txt": "caf\xe9".encode("latin-1"), "nul.txt": b"1girl\0solo",
             "utf16.txt": "1girl".encode("utf-16"), "unicode.txt": "\u3042, caf\u00e9\u2028x\n".encode()}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    with open(tmp_path / "big.txt", "wb") as fh:
        fh.truncate(5 * 1024 ** 2)
    os.mkfifo(tmp_path / "pipe.txt")
    os.symlink("plain.txt", tmp_path / "link.txt")
    os.symlink("missing.txt", tmp_path / "broken.txt")
    os.symlink("loop.txt", tmp_path / "loop.txt")
    (tmp_path / "folder.txt").mkdir()
    ordinary = {"plain.txt", "bom.txt", "empty.txt", "lines.txt", "unicode.txt"}
    assert {p.name for p in tmp_path.iterdir() if read_plain_text(p) is not None} == ordinary
    for path in sorted(tmp_path.iterdir()):
        file, error = _read(path)
        assert read_caption(path) == ((file.text if file else None), error), path.name
        assert read_caption_body(path) == ((file.body if file else None), error), path.name
        if path.name in ordinary:
            assert read_plain_text(path) == read_text_file(path).text
        try:
            slow = [(i.label, i.text) for i in read_file(path)]
        except InputError as exc:
            slow = str(exc)
        try:
            fast = [(i.label, i.text) for i in read_file(path, rewritable=False)]
        except InputError as exc:
            fast = str(exc)
        assert fast == slow, path.name
    assert read_caption_body(tmp_path / "crlf.txt") == ("1girl,\nsolo", None)  # the slow path normalizes
    assert read_caption(tmp_path / "nul.txt")[1] == "cannot read: binary data (NUL bytes), not text"
