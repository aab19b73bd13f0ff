"""The command line, through click's runner and (for the import check) a real subprocess."""

from __future__ import annotations

import json
import re
import struct
import subprocess
import sys
import zlib

import pytest
from click.testing import CliRunner

from promptkit.cli.main import cli
from promptkit.infotext import write_png_text


def run(*args, input=None):
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


def tiny_png() -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0\0")) + chunk(b"IEND", b"")


def test_lint_exit_codes_and_text_output():
    clean = run("lint", "1girl, solo, masterpiece", "--profile", "kivotos-xl-2")
    assert clean.exit_code == 0, clean.output
    found = run("lint", "1girl, kazusa (blue archive)", "--profile", "kivotos-xl-2")
    assert found.exit_code == 1
    assert "<prompt>:1:8: PK206" in found.output
    assert "kazusa (blue archive)\n  |        ^^^^" in found.output
    assert "suggestion: kazusa \\(blue archive\\)" in found.output
    assert run("lint", "x", "--profile", "no-such-profile").exit_code == 2
    assert run("lint", "--format", "yaml", "x").exit_code == 2
    assert run("lint", "-f", "/nonexistent/file.txt").exit_code == 2


def test_lint_json_and_sarif_and_github():
    out = run("lint", "1grl, hires", "--profile", "kivotos-xl-2", "--format", "json")
    data = json.loads(out.output)
    diag = data[0]["diagnostics"][0]
    for key in ("code", "name", "severity", "message", "start", "end", "line", "column", "suggestions", "fix"):
        assert key in diag
    sarif = json.loads(run("lint", "1grl", "--profile", "kivotos-xl-2", "--format", "sarif").output)
    assert sarif["version"] == "2.1.0"
    result = sarif["runs"][0]["results"][0]
    assert result["ruleId"] == "PK201" and result["locations"][0]["physicalLocation"]["region"]["startColumn"] == 1
    gh = run("lint", "1grl", "--profile", "kivotos-xl-2", "--format", "github").output
    assert gh.startswith("::warning title=PK201 unknown-tag::")


def test_lint_fix_rewrites_files_atomically_and_keeps_tags(tmp_path):
    folder = tmp_path / "captions"
    folder.mkdir()
    (folder / "a.txt").write_text("smile, long_hair, 1girl, pony tail\n", encoding="utf-8")
    (folder / "b.caption").write_text("1girl, solo\n", encoding="utf-8")
    (folder / "notes.md").write_text("not a caption", encoding="utf-8")
    diff = run("lint", str(folder), "--profile", "kivotos-xl-2", "--diff")
    # safe fixes only: spellings change, the order does not (a reorder is never a same-meaning fix)
    assert diff.exit_code == 1 and "+smile, long hair, 1girl, ponytail" in diff.output
    assert (folder / "a.txt").read_text() == "smile, long_hair, 1girl, pony tail\n"  # --diff changes nothing
    run("lint", str(folder), "--profile", "kivotos-xl-2", "--fix")
    assert (folder / "a.txt").read_text() == "smile, long hair, 1girl, ponytail\n"
    assert (folder / "notes.md").read_text() == "not a caption"
    assert not list(folder.glob(".*"))  # no temporary files left behind


def test_lint_reads_stdin_infotext_and_png(tmp_path):
    out = run("lint", "-", "--profile", "kivotos-xl-2", "--select", "PK201", input="1grl, smile\n")
    assert "<stdin>:1:1: PK201" in out.output
    info = "1grl, smile\nNegative prompt: lowres, bad anatomy\nSteps: 28, Sampler: Euler a, CFG scale: 6, Seed: 1"
    path = tmp_path / "gen.txt"
    path.write_text(info, encoding="utf-8")
    out = run("lint", str(path), "--profile", "kivotos-xl-2", "--select", "PK201", "--format", "json")
    data = json.loads(out.output)
    assert [d["source"] for d in data] == [f"{path}[prompt]", f"{path}[negative]"]
    assert data[1]["negative"] is True
    png = tmp_path / "gen.png"
    png.write_bytes(write_png_text(tiny_png(), "parameters", info))
    out = run("lint", str(png), "--profile", "kivotos-xl-2", "--select", "PK201")
    assert f"{png}[prompt]:1:1: PK201" in out.output


def test_config_from_pyproject(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text('[tool.promptkit]\nprofile = "pony-v6"\nignore = ["PK303"]\n')
    monkeypatch.chdir(tmp_path)
    out = run("lint", "1girl, score 9", "--format", "json")
    data = json.loads(out.output)
    assert data[0]["profile"] == "pony-v6"
    assert "PK208" in [d["code"] for d in data[0]["diagnostics"]]
    (tmp_path / "pyproject.toml").write_text('[tool.promptkit]\nprofil = "x"\n')
    assert run("lint", "1girl").exit_code == 2


def test_fmt_check_and_print():
    assert run("fmt", "smile, 1girl", "--profile", "kivotos-xl-2").output.strip() == "1girl, smile"
    assert run("fmt", "--check", "smile, 1girl", "--profile", "kivotos-xl-2").exit_code == 1
    assert run("fmt", "--check", "1girl, smile", "--profile", "kivotos-xl-2").exit_code == 0


def test_convert_parse_tokens_tags_profiles_rules():
    assert run("convert", "(best quality:1.2), [blurry]", "--write", "compel").output.strip() == \
        "(best quality)1.2, (blurry)0.909091"
    bad = run("convert", "a [b:c:5]", "--write", "comfy")
    assert bad.exit_code == 2 and "prompt editing" in bad.output
    parsed = json.loads(run("parse", "kazusa \\(blue archive\\), (smile:1.2)", "--json").output)
    assert [t["name"] for t in parsed["tags"]] == ["kazusa_(blue_archive)", "smile"]
    assert run("parse", "(a", "--strict").exit_code == 2
    tokens = run("tokens", ", ".join(["long hair"] * 40), "--profile", "sotediffusion-wuerstchen3").output
    assert "2 chunk(s)" in tokens and "reads only 1" in tokens
    assert run("tags", "lookup", "hires").output.startswith("hires -> highres  [meta]")
    assert run("tags", "lookup", "zzzz not a tag").exit_code == 1
    assert json.loads(run("tags", "suggest", "long hiar", "--json").output)[0]["name"] == "long_hair"
    assert "long_hair" in run("tags", "implied", "very long hair").output
    assert run("tags", "complete", "1gi", "-n", "1").output.startswith("1girl")
    assert "kivotos-xl-2" in run("profiles").output
    assert "v_prediction" in run("profiles", "spacediffusion-xl-vpred").output
    assert "PK206" in run("rules").output
    assert "Why:" in run("rules", "unescaped-parentheses").output


@pytest.mark.parametrize("command", ["lint", "fmt", "convert", "parse", "tokens", "tags", "profiles", "rules",
                                     "generate", "info"])
def test_help_is_complete(command):
    """Every command has a description and every option a help text."""
    out = run(command, "--help")
    assert out.exit_code == 0 and "Usage:" in out.output
    usage, _, rest = out.output.partition("\n\n")
    assert rest.strip() and not rest.startswith("Options:")  # a description comes first
    options = rest.split("Options:", 1)[1].split("Commands:")[0]
    entries: list[str] = []
    for line in options.splitlines():
        if line.startswith("  -"):
            entries.append(line.strip())
        elif entries and line.startswith("    "):
            entries[-1] += "  " + line.strip()  # help wrapped onto the next line
    assert entries
    for entry in entries:
        assert re.search(r"\S\s{2,}\S", entry), f"option without help: {entry!r}"


def test_cli_and_import_do_not_import_torch():
    code = ("import sys, promptkit; from promptkit.cli.main import cli; from click.testing import CliRunner; "
            "r = CliRunner().invoke(cli, ['lint', '1girl, solo']); "
            "print(r.exit_code, 'torch' in sys.modules, 'transformers' in sys.modules, 'diffusers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "False", "False", "False"]


def test_info_shows_and_lints_a_generated_png(tmp_path):
    text = "1girl, kazusa (blue archive)\nNegative prompt: lowres\nSteps: 28, Sampler: Euler a, CFG scale: 6, Seed: 1, " \
           "Size: 832x1216, Model: kivotos-xl-2"
    png = tmp_path / "gen.png"
    png.write_bytes(write_png_text(tiny_png(), "parameters", text))
    out = run("info", str(png))
    assert "prompt: 1girl, kazusa (blue archive)" in out.output and "Sampler: Euler a" in out.output
    assert "PK206" in out.output  # linted against the profile named in the metadata
    data = json.loads(run("info", str(png), "--json").output)
    assert data["parameters"]["Model"] == "kivotos-xl-2" and data["prompts"][1]["negative"] is True
    assert run("info", str(tmp_path / "missing.png")).exit_code == 2


def test_generate_refuses_pickles_and_missing_checkpoints(tmp_path):
    pytest.importorskip("diffusers")
    ckpt = tmp_path / "model.ckpt"
    ckpt.write_bytes(b"x")
    out = run("generate", "1girl", "--profile", "kivotos-xl-2", "--checkpoint", str(ckpt))
    assert out.exit_code == 2 and "allow_pickle" in out.output
    assert run("generate", "1girl", "--profile", "kivotos-xl-2").exit_code == 2
