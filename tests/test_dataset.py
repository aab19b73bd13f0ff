"""Caption-dataset tooling: options, idempotence, safety of writes, parallel runs, reports."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from promptkit.cli.main import cli
from promptkit.dataset import (CaptionNormalizer, NormalizeOptions, NormalizerFactory, analyze_captions,
                               find_captions, lint_captions, normalize_captions, process_files)

ALL_OPTIONS = NormalizeOptions(
    underscores_to_spaces=True, escape_parentheses=True, resolve_aliases=True, remove_duplicates=True,
    remove_implied=True, character_first=True, split_series=True, rating="first", always_first=("masterpiece",),
    undesired=("watermark",), replacements=(("1girl", "1woman"),), profile="sotediffusion-wuerstchen3")


def make_captions(danbooru_names, n=400, seed=0):
    rng = random.Random(seed)
    pool = danbooru_names[:3000] + ["hires", "1grl", "long hiar", "watermark", "^_^", "general", "explicit"]
    return [", ".join(rng.choice(pool) for _ in range(rng.randint(20, 40))) for _ in range(n)]


def test_each_option_does_what_it_says(db):
    def norm(caption, **kw):
        return CaptionNormalizer(NormalizeOptions(**kw), db)(caption)

    assert norm("long_hair, ^_^") == "long_hair, ^_^"
    assert norm("long_hair, ^_^", underscores_to_spaces=True) == "long hair, ^_^"
    assert norm("kazusa_(blue_archive)", underscores_to_spaces=True, escape_parentheses=True) == \
        "kazusa \\(blue archive\\)"
    assert norm("kazusa \\(blue archive\\)", escape_parentheses=False) == "kazusa (blue archive)"
    assert norm("hires, 1girl", resolve_aliases=True) == "highres, 1girl"
    assert norm("long hair, smile, long_hair", remove_duplicates=True) == "long hair, smile"
    assert norm("long_hair, very_long_hair", remove_implied=True) == "very_long_hair"
    assert norm("smile, kazusa_(blue_archive)", character_first=True) == "kazusa_(blue_archive), smile"
    assert norm("kazusa_(blue_archive), smile", split_series=True) == "kazusa, blue_archive, smile"
    assert norm("smile, general", rating="first") == "general, smile"
    assert norm("general, smile", rating="remove") == "smile"
    assert norm("a, b, masterpiece", always_first=("masterpiece",)) == "masterpiece, a, b"
    assert norm("a, watermark, b", undesired=("watermark",)) == "a, b"
    assert norm("a, 1girl", replacements=(("1girl", "1woman"),)) == "a, 1woman"
    assert norm("a,b\nc", separator=" | ") == "a | b | c"
    assert norm("1girl, kazusa_(blue_archive), best quality, newest", profile="sotediffusion-wuerstchen3") == \
        "best quality, newest, kazusa_(blue_archive), 1girl"


def test_normalizing_twice_changes_nothing(danbooru_names, db):
    normalizer = CaptionNormalizer(ALL_OPTIONS, db)
    for caption in make_captions(danbooru_names):
        once = normalizer(caption)
        assert normalizer(once) == once, caption


def test_batch_api_for_datasets_map(danbooru_names, db):
    captions = make_captions(danbooru_names, 50)
    assert normalize_captions(captions, ALL_OPTIONS, db) == [CaptionNormalizer(ALL_OPTIONS, db)(c) for c in captions]
    findings = lint_captions(["1grl, hires, solo, 2girls"], db, "kivotos-xl-2")[0]
    assert {"PK201", "PK205"} <= {f.code for f in findings}  # 1grl, solo with 2girls: the prompt linter's findings
    from promptkit.linter import lint_prompt

    report = lint_prompt("1grl, hires, solo, 2girls", "kivotos-xl-2", None, db)
    expected = [(d.code, d.column, d.message) for d in report.diagnostics]
    assert [(f.code, f.column, f.message) for f in findings] == expected
    stats = analyze_captions(["1girl, solo", "1girl, 1grl"], db)
    assert stats.captions == 2 and stats.tags["1girl"] == 2 and stats.unknown["1grl"] == 1
    html = stats.to_html()
    assert html.startswith("<!doctype html>") and "<svg" in html and "<script" not in html


def write_dataset(root: Path, captions: list[str]) -> list[Path]:
    paths = []
    for i, caption in enumerate(captions):
        folder = root / f"part{i % 3}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"img{i:05d}.txt"
        path.write_text(caption + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def test_parallel_run_equals_single_process(tmp_path, danbooru_names):
    captions = make_captions(danbooru_names, 1200)
    write_dataset(tmp_path, captions)
    paths = find_captions(tmp_path)
    factory = NormalizerFactory(ALL_OPTIONS)
    single = [(r.path, r.new) for r in process_files(paths, factory, workers=1)]
    parallel = [(r.path, r.new) for r in process_files(paths, factory, workers=2, batch_size=100)]
    assert single == parallel and len(single) == 1200


def test_parallel_lint_and_stats_equal_single_process(tmp_path, danbooru_names):
    from promptkit.dataset.analyze import AnalyzeJob
    from promptkit.dataset.files import map_files

    write_dataset(tmp_path, make_captions(danbooru_names, 1100, seed=3))
    paths = find_captions(tmp_path)
    for mode in ("lint", "stats"):
        job = AnalyzeJob(mode, suggest=False)
        single = list(map_files(paths, job, workers=1))
        parallel = list(map_files(paths, job, workers=2, batch_size=100))
        assert single == parallel and len(single) == 1100
        with_rows = sum(1 for _, _, rows in single if rows)
        assert with_rows == 1100 if mode == "stats" else with_rows > 100  # tag rows for all; findings for some


def test_unreadable_files_are_reported_and_never_rewritten(tmp_path):
    (tmp_path / "good.txt").write_text("long_hair\n", encoding="utf-8")
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfelong_hair")
    out = CliRunner().invoke(cli, ["dataset", "normalize", str(tmp_path), "--underscores-to-spaces", "--backup"])
    assert out.exit_code == 2 and f"skipped {bad}: not UTF-8" in out.output  # the good file was written
    assert bad.read_bytes() == b"\xff\xfelong_hair"
    assert (tmp_path / "good.txt").read_text() == "long hair\n"
    assert (tmp_path / "good.txt.orig").read_text() == "long_hair\n"
    out = CliRunner().invoke(cli, ["dataset", "normalize", str(tmp_path), "--underscores-to-spaces", "--dry-run"])
    assert "changed 0" in out.output or "would change 0" in out.output


def test_kill_9_leaves_every_caption_old_or_new_and_a_rerun_resumes(tmp_path, danbooru_names):
    captions = make_captions(danbooru_names, 3000, seed=1)
    paths = write_dataset(tmp_path, captions)
    normalizer = CaptionNormalizer(NormalizeOptions(underscores_to_spaces=True, resolve_aliases=True))
    expected_new = {str(p): normalizer(c) + "\n" for p, c in zip(paths, captions)}
    old = {str(p): c + "\n" for p, c in zip(paths, captions)}
    args = [sys.executable, "-m", "promptkit.cli.main", "dataset", "normalize", str(tmp_path),
            "--underscores-to-spaces", "--resolve-aliases", "-j", "1"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        done = sum(1 for p in paths[:300] if p.read_text(encoding="utf-8") == expected_new[str(p)])
        if done > 20:
            break
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    states = {"old": 0, "new": 0}
    for path in paths:
        text = path.read_text(encoding="utf-8")
        assert text in (old[str(path)], expected_new[str(path)]), f"{path} is neither old nor new"
        states["old" if text == old[str(path)] and text != expected_new[str(path)] else "new"] += 1
    assert states["new"] > 0
    rerun = subprocess.run(args, capture_output=True, text=True)
    assert rerun.returncode == 0
    assert all(p.read_text(encoding="utf-8") == expected_new[str(p)] for p in paths)
    # a write killed half-way leaves only a hidden temporary file, which is never taken for a caption
    assert find_captions(tmp_path) == sorted(paths)


def test_dataset_lint_and_stats_cli(tmp_path):
    (tmp_path / "a.txt").write_text("1grl, hires, long_hair, very_long_hair\n", encoding="utf-8")
    out = CliRunner().invoke(cli, ["dataset", "lint", str(tmp_path)])
    assert out.exit_code == 1 and "a.txt:1:1: PK201 warning unknown tag '1grl'; did you mean '1girl'?" in out.output
    report = tmp_path / "report.html"
    out = CliRunner().invoke(cli, ["dataset", "stats", str(tmp_path), "--html", str(report), "--json"])
    assert out.exit_code == 0 and report.read_text().count("<svg") >= 2
    assert '"captions": 1' in out.output


def test_rewrites_keep_file_permissions(tmp_path):
    caption = tmp_path / "a.txt"
    caption.write_text("long_hair\n", encoding="utf-8")
    caption.chmod(0o664)
    CliRunner().invoke(cli, ["dataset", "normalize", str(tmp_path), "--underscores-to-spaces"])
    assert caption.read_text() == "long hair\n"
    assert caption.stat().st_mode & 0o777 == 0o664


def corpus_folder(root: Path, texts: list[str], n: int = 80) -> Path:
    """A folder of real prompts as caption files (two levels, as kohya datasets are laid out)."""
    for i, text in enumerate(texts[:n]):
        folder = root / ("set_b" if i % 4 == 0 else "set_a")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i:04d}.txt").write_text(text + "\n", encoding="utf-8")
    return root


def run_cli(*args: str):
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.stdout, result.stderr


def test_every_folder_command_gives_the_same_bytes_on_two_processes_as_on_one(tmp_path, texts):
    """-j 2 splits the folder into batches over a process pool (80 files: batches of 64 and 16); the output,
    streamed as results arrive, must be exactly the in-process run's, file by file in sorted order."""
    root = corpus_folder(tmp_path / "captions", texts)
    runs = [("lint", str(root)), ("lint", str(root), "--format", "json"),
            ("lint", str(root), "--profile", "illustrious-xl", "--format", "github"),
            ("dataset", "lint", str(root)), ("dataset", "lint", str(root), "--format", "json"),
            ("dataset", "normalize", str(root), "--diff", "--underscores-to-spaces", "--resolve-aliases",
             "--remove-duplicates"),
            ("dataset", "stats", str(root), "-p", "illustrious-xl", "--json")]
    for args in runs:
        single = run_cli(*args, "-j", "1")
        assert run_cli(*args, "-j", "2") == single, args
        assert single[0] in (0, 1) and single[1], args  # findings / changes / counts, not an error
    import json

    linted = json.loads(run_cli("lint", str(root), "--format", "json", "-j", "2")[1])
    assert [r["source"] for r in linted] == [str(p) for p in sorted(root.rglob("*.txt"))]
    assert sum(len(r["diagnostics"]) for r in linted) > 100  # real prompts: real findings, in file order


def test_an_unreadable_file_is_reported_and_the_others_are_still_linted(tmp_path, texts):
    root = corpus_folder(tmp_path / "captions", texts)
    bad = root / "set_a" / "0050.txt"
    original = bad.read_bytes()
    bad.write_bytes(b"1girl, \xff\xfe smile\n")  # not UTF-8, in the middle of the run
    with_bad = {args: run_cli(*args, "-j", "2") for args in
                [("lint", str(root), "-p", "illustrious-xl"), ("dataset", "lint", str(root), "--format", "json")]}
    code, out, err = with_bad[("lint", str(root), "-p", "illustrious-xl")]
    assert code == 1 and f"skipped {bad}: not UTF-8 text (byte 0xff at offset 7)" in err
    bad.unlink()
    assert run_cli("lint", str(root), "-p", "illustrious-xl", "-j", "2")[1] == out  # every other file's findings
    import json

    rows = json.loads(with_bad[("dataset", "lint", str(root), "--format", "json")][1])
    [row] = [r for r in rows if r["path"] == str(bad)]
    assert row["error"].startswith("not UTF-8") and row["findings"] == []
    bad.write_bytes(original)
    rest = json.loads(run_cli("dataset", "lint", str(root), "--format", "json", "-j", "1")[1])
    assert [r for r in rows if r["path"] != str(bad)] == [r for r in rest if r["path"] != str(bad)]


def test_folders_are_walked_in_sorted_order_lazily(tmp_path):
    from promptkit.dataset.files import iter_captions

    for name in ["b/2.txt", "b/10.txt", "a-b.txt", "a/z.caption", "A.TXT", "c/.pk-tmp.txt", "c/d/e.txt", "x.md"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("smile\n", encoding="utf-8")
    (tmp_path / "link").symlink_to(tmp_path / "c", target_is_directory=True)  # not followed, as rglob
    walked = iter_captions(tmp_path)
    assert not isinstance(walked, list)
    expected = sorted(p for p in tmp_path.rglob("*") if p.suffix.lower() in (".txt", ".caption")
                      and not p.name.startswith(".pk-") and not p.is_dir())
    assert [Path(p) for p in walked] == expected == find_captions(tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in expected] == \
        ["A.TXT", "a/z.caption", "a-b.txt", "b/10.txt", "b/2.txt", "c/d/e.txt"]
