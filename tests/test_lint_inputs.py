"""`promptkit lint`/`fmt` on real-world and hostile input: issue 11 item 7 and the lint items of issue 16."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from promptkit.cli.main import cli
from promptkit.linter import fix_text, format_prompt, lint_prompt
from promptkit import ConversionError, convert

from a1111_reference import parse_prompt_attention


def run(*args, input=None):
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


# -- issue 16 ---------------------------------------------------------------------------------------------------

def test_deep_novelai_braces_do_not_overflow():
    """'{'*14560 + 'a' + '}'*14560 raised OverflowError (1.05 ** depth) in the dialect rule."""
    text = "{" * 14560 + "a" + "}" * 14560
    report = lint_prompt(text, "kivotos-xl-2")
    found = [d for d in report.diagnostics if d.code == "PK106"]
    assert len(found) == 1 and "14560 levels" in found[0].message and found[0].fix is None
    assert format_prompt(text, "kivotos-xl-2") == text  # nothing to rewrite safely


def _a1111_weights(text: str) -> list[float]:
    return [w for _, w in parse_prompt_attention(text)]


def _same_weights(got: list[float], want: list[float]) -> bool:
    """Equal to the formatter's precision (a weight is written exact to 1e-6), infinities equal."""
    return len(got) == len(want) and all(g == w or math.isclose(g, w, rel_tol=1e-6, abs_tol=1e-6)
                                         for g, w in zip(got, want))


DEEP_SHAPES = {  # body, bracket pair: each built at every depth the same way
    "a phrase in round brackets": ("pony tail, long_hair", "()"),
    "one tag in round brackets": ("pony tail", "()"),
    "one tag in square brackets": ("pony tail", "[]"),
}


@pytest.mark.parametrize("shape", list(DEEP_SHAPES))
def test_formatting_deep_brackets_keeps_the_meaning_at_any_depth(shape: str):
    """100,000 nested brackets raised OverflowError in fmt (1.1 ** depth in PK108's fix). Now the text formatted
    at depth 100,000 is the shallow one's formatting with the same brackets, or the one weight that says the
    same, and every weight A1111 reads (the independent re-implementation in a1111_reference) is unchanged:
    where A1111's weight overflows to infinity or underflows to 0 the formatter writes that, or keeps the stack."""
    body, (open_, close) = DEEP_SHAPES[shape]
    build = lambda depth: open_ * depth + body + close * depth + ", smile"  # noqa: E731
    inner = format_prompt(body, "kivotos-xl-2")
    for depth in (1, 3, 50, 100_000):
        text = build(depth)
        formatted = format_prompt(text, "kivotos-xl-2")
        assert _same_weights(_a1111_weights(formatted), _a1111_weights(text)), (shape, depth)
        if depth == 1 or "," in body:  # nothing to collapse: the shallow formatting, the same brackets
            assert formatted == open_ * depth + inner + close * depth + ", smile", (shape, depth)
        elif open_ == "(" and depth == 100_000:  # the weight is infinite: no number says it, the stack stays
            assert formatted == open_ * depth + inner + close * depth + ", smile"
        else:
            weight = formatted.removeprefix(f"({inner}:").split(")")[0]
            assert formatted == f"({inner}:{weight}), smile", (shape, depth)
        if depth < 100_000:  # (a second pass at 100,000 costs seconds and proves nothing more)
            assert format_prompt(formatted, "kivotos-xl-2") == formatted


def test_deep_round_brackets_say_the_weight_overflows_and_convert_refuses():
    text = "(" * 10_000 + "smile" + ")" * 10_000
    report = lint_prompt(text, "kivotos-xl-2", extend_select=["PK108"])
    (stack,) = [d for d in report.diagnostics if d.code == "PK108"]
    assert "infinity" in stack.message and stack.fix is None  # no fix can write an infinite weight
    (heavy,) = [d for d in report.diagnostics if d.code == "PK103"]
    assert "weight inf" in heavy.message
    for dialect in ("comfy", "novelai", "compel"):  # "(smile:inf)", "inf::smile::" are not weights there
        with pytest.raises(ConversionError, match="overflows"):
            convert(text, "a1111", dialect)
    assert convert("(((smile)))", "a1111", "comfy") == "(smile:1.331)"


def test_fmt_on_100000_nested_brackets_prints_the_prompt():
    text = "(" * 100_000 + "smile" + ")" * 100_000
    result = CliRunner().invoke(cli, ["fmt", "-p", "kivotos-xl-2", "-"], input=text + "\n")
    assert result.exit_code == 0 and result.output == text + "\n", result.output[-300:]


@pytest.mark.parametrize("profile", ["kivotos-xl-2", "sdxl-base"])
def test_one_long_word_lints_in_memory_proportional_to_it(profile):
    """The typo checks once made every string one edit from a word: for 8,000 letters that was 400,000
    strings of 8,000 characters (3.4 GB). No English word is that long, so none is one edit away."""
    import tracemalloc

    text = "a" * 32_000
    lint_prompt("a" * 100, profile)  # databases and word list loaded outside the measurement
    tracemalloc.start()
    try:
        lint_prompt(text, profile)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 300 * len(text)


def test_empty_group_fix_never_merges_tags():
    """The safe fix for `smile()frown` made `smilefrown`: removing the brackets would join two tags."""
    (d,) = [d for d in lint_prompt("smile()frown", "kivotos-xl-2").diagnostics if d.code == "PK104"]
    assert not d.fix.safe
    assert fix_text("smile()frown", "kivotos-xl-2")[0] == "smile()frown"  # safe fixes leave it alone
    assert fix_text("smile()frown", "kivotos-xl-2", select=["PK104"], unsafe=True)[0] == "smile, frown"
    assert fix_text("1girl, (), smile", "kivotos-xl-2", select=["PK104"])[0] == "1girl, , smile"  # safe here


@pytest.mark.parametrize("text", ["smile, caf\udce9", "\ud800", "long hair, \udcff\udcfe, smile"])
def test_lone_surrogates_through_the_api(text):
    """Invalid UTF-8 decoded with surrogateescape, or a lone surrogate, ended in UnicodeEncodeError (tags/db.py)."""
    report = lint_prompt(text, "kivotos-xl-2")
    assert all(0 <= d.start <= d.end <= len(text) for d in report.diagnostics)
    assert format_prompt(text, "kivotos-xl-2")
    from promptkit.tags import TagDB

    db = TagDB.for_profile("kivotos-xl-2")
    assert db.lookup(text) is None and db.suggest(text) == [] and db.complete(text) == []
    assert db.implied(text) == []


@pytest.mark.parametrize("command", ["lint", "fmt"])
def test_invalid_utf8_on_stdin_is_an_input_error(command):
    out = subprocess.run([sys.executable, "-m", "promptkit.cli.main", command, "-", "--profile", "kivotos-xl-2"],
                         input=b"smile, caf\xe9\n", capture_output=True)
    assert out.returncode == 2, out.stderr
    assert b"not UTF-8" in out.stderr and b"Traceback" not in out.stderr


def test_many_fixes_in_one_long_caption_are_applied_together():
    """Fix application is one pass over the text (it was a string splice per edit, quadratic)."""
    text = ", ".join(["pony tail", "smile", "long_hair"] * 3000)
    fixed, applied = fix_text(text, "kivotos-xl-2", select=["PK202", "PK208"])
    assert fixed == ", ".join(["ponytail", "smile", "long hair"] * 3000)
    assert len(applied) == 3001  # one respelling per 'pony tail', one style finding for the whole prompt


# -- issue 11: the crash and the inputs -------------------------------------------------------------------------

def test_lora_in_the_middle_of_reordered_tags():
    text = "(masterpiece, best quality:1.2), <lora:x:0.7>, solo, 1girl"
    report = lint_prompt(text, "kivotos-xl-2", extend_select=["PK303"])  # TypeError in the tag-order rule before
    (order,) = [d for d in report.diagnostics if d.code == "PK303"]
    assert "'solo'" in order.message
    # the card's order: 1girl first, solo with everything else, the quality preset last (the LoRA moves with it)
    assert format_prompt(text, "kivotos-xl-2") == "1girl, solo, (masterpiece, best quality:1.2), <lora:x:0.7>"
    assert run("fmt", text, "--profile", "kivotos-xl-2").exit_code == 0


def test_long_prompt_argument_is_a_prompt():
    text = ", ".join(["long hair", "smile"] * 40)  # over 255 bytes: "File name too long" before
    out = run("lint", text, "--profile", "kivotos-xl-2", "--format", "json")
    assert out.exit_code == 1
    assert json.loads(out.output)[0]["text"] == text


def test_missing_path_and_empty_prompt(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.txt").write_text("1grl\n", encoding="utf-8")
    missing = run("lint", "nonexistent.txt")
    assert missing.exit_code == 2 and "no such file" in missing.output
    assert run("lint", "./gone/x").exit_code == 2
    (tmp_path / "sub").mkdir()
    assert run("lint", "sub/missing").exit_code == 2  # inside an existing folder
    empty = run("lint", "", "--format", "json")  # linted every .txt in the folder before
    assert empty.exit_code == 0 and [d["source"] for d in json.loads(empty.output)] == ["<prompt>"]
    assert run("lint", "male/female", "--format", "json").exit_code in (0, 1)  # a tag, not a path


def test_bom_binary_and_negative_files(tmp_path):
    bom = tmp_path / "bom.txt"
    bom.write_bytes("\ufeffsmile, 1girl\n".encode("utf-8"))
    data = json.loads(run("lint", str(bom), "--profile", "kivotos-xl-2", "--format", "json").output)
    assert data[0]["text"] == "smile, 1girl"
    binary = tmp_path / "bin.txt"
    binary.write_bytes(b"\x89PNG\0\0\x01\x02smile")
    out = run("lint", str(binary))
    assert out.exit_code == 2 and "binary" in out.output
    neg = tmp_path / "neg.txt"
    neg.write_text("lowres, 1girl, worst quality\n", encoding="utf-8")
    run("lint", str(neg), "--profile", "kivotos-xl-2", "--negative", "--fix")
    assert neg.read_text(encoding="utf-8") == "lowres, 1girl, worst quality\n"  # a negative is never reordered
    data = json.loads(run("lint", str(neg), "--negative", "--format", "json").output)
    assert data[0]["negative"] is True


def test_lines_mode_names_the_line(tmp_path):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("1girl, smile\nlong hair, solo\n\nsolo, 1grl\n", encoding="utf-8")
    out = run("lint", "-f", str(prompts), "--lines", "--profile", "kivotos-xl-2", "--select", "PK201")
    assert f"{prompts}:4:7: PK201" in out.output
    whole = run("lint", "-f", str(prompts), "--profile", "kivotos-xl-2", "--select", "PK204", "--format", "json")
    assert [d["code"] for d in json.loads(whole.output)[0]["diagnostics"]] == ["PK204"]  # one caption: solo twice
    lines = run("lint", "-f", str(prompts), "--lines", "--profile", "kivotos-xl-2", "--select", "PK204")
    assert "PK204" not in lines.output


def test_folder_run_skips_bad_files(tmp_path):
    folder = tmp_path / "captions"
    folder.mkdir()
    (folder / "good.txt").write_text("1grl, smile\n", encoding="utf-8")
    (folder / "latin1.txt").write_bytes("caf\xe9, smile\n".encode("latin-1"))
    out = run("lint", str(folder), "--profile", "kivotos-xl-2", "--select", "PK201")
    assert out.exit_code == 1 and "good.txt:1:1: PK201" in out.output
    assert "latin1.txt: not UTF-8" in out.output
    only_bad = tmp_path / "bad"
    only_bad.mkdir()
    (only_bad / "x.txt").write_bytes(b"\xff\xfe\x00")
    assert run("lint", str(only_bad)).exit_code == 2


def test_unknown_codes_and_profiles_are_usage_errors(tmp_path):
    assert run("lint", "1girl", "--select", "PK999").exit_code == 2
    assert run("lint", "1girl", "--ignore", "nope").exit_code == 2
    (tmp_path / "a.txt").write_text("1girl\n", encoding="utf-8")
    for command in (["dataset", "lint", str(tmp_path)], ["dataset", "stats", str(tmp_path)],
                    ["dataset", "normalize", str(tmp_path), "--order-by", "nope", "--dry-run"]):
        if "--order-by" not in command:
            command += ["--profile", "nope"]
        out = run(*command)
        assert out.exit_code == 2 and "unknown profile" in out.output, command


def test_long_lines_are_shown_as_a_window():
    """A 200 KB prompt printed 2 GB: every finding repeated its whole source line."""
    text = ", ".join(["smile"] * 20000) + ", 1grl, " + ", ".join(["smile"] * 20000)
    out = run("lint", text, "--profile", "kivotos-xl-2", "--select", "PK201")
    assert "PK201" in out.output and len(out.output) < 1000
    excerpt = [line for line in out.output.splitlines() if line.startswith("  | ")]
    assert excerpt[0].startswith("  | ...") and excerpt[0].endswith("...") and "1grl" in excerpt[0]
    assert excerpt[1].index("^") == excerpt[0].index("1grl")


def test_embeddings_folder_option(tmp_path):
    (tmp_path / "myNegEmbed.safetensors").write_bytes(b"x")
    text = "lowres, mynegembedd"
    assert "PK201" not in run("lint", text, "--profile", "sd15-anime", "--negative", "--select", "PK201").output
    assert "PK201" not in run("lint", "lowres, myNegEmbed", "--profile", "sd15-anime", "--select", "PK210",
                              "--embeddings", str(tmp_path)).output
    assert "PK210" in run("lint", "lowres, myNegEmbed", "--profile", "sd15-anime", "--select", "PK210").output
    assert run("lint", "x", "--embeddings", str(tmp_path / "nope")).exit_code == 2


def test_wildcard_files_of_a_walk_are_the_ones_is_wildcard_file_finds(tmp_path):
    """`lint DIR` resolves each folder once (WildcardFiles) instead of every file's path: the same files are
    wildcard files, through symlinked files and folders, named `wildcards` folders and --wildcards folders."""
    from promptkit.cli.inputs import WildcardFiles, is_wildcard_file

    for folder in ("wildcards/sub", "x", "y/Wildcards", "z"):
        (tmp_path / folder).mkdir(parents=True)
    for name in ("wildcards/a.txt", "wildcards/sub/b.yaml", "x/c.txt", "y/Wildcards/d.json", "y/e.txt", "x/n.md"):
        (tmp_path / name).write_text("1girl\n")
    os.symlink("../wildcards/a.txt", tmp_path / "x/f.txt")  # a file linked into a wildcard folder is one
    os.symlink("../y/e.txt", tmp_path / "wildcards/g.txt")  # a link in a wildcard folder to a caption is not
    os.symlink("../wildcards", tmp_path / "x/wl")
    os.symlink("../x", tmp_path / "z/xl")
    os.symlink("nowhere.txt", tmp_path / "x/broken.txt")
    paths = [Path(root, name) for root, dirs, files in os.walk(tmp_path, followlinks=True) for name in files + dirs]
    paths += [tmp_path / "missing/q.txt", Path("relative/r.txt")]
    for dirs in [(), ((tmp_path / "x").resolve(),), ((tmp_path / "y").resolve(),)]:
        walk = WildcardFiles(dirs)
        found = [p for p in paths if walk(p)]
        assert found == [p for p in paths if is_wildcard_file(p, dirs)]
        if not dirs:
            assert tmp_path / "x/f.txt" in found and tmp_path / "x/c.txt" not in found
        assert (tmp_path / "wildcards/g.txt" in found) == (dirs == ((tmp_path / "y").resolve(),))
