"""Every example in README.md is a test: each `$ promptkit ...` line of a ```console block is run through
click's runner (in an empty folder, so no project config applies) and must print what the README shows,
stderr lines included where they are shown; the config block reads the same from promptkit.toml and
pyproject.toml; the prose claims about the lint rules hold on the Danbooru-tag profiles."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from promptkit.cli.main import cli

README = Path(__file__).resolve().parents[1] / "README.md"


def console_examples() -> list[tuple[str, str]]:
    """(command line, expected output) for every `$ promptkit` line of the README's console blocks."""
    text = README.read_text(encoding="utf-8")
    out = []
    for block in re.findall(r"```console\n(.*?)```", text, re.S):
        command, expected = None, []
        for line in block.splitlines(keepends=True):
            if line.startswith("$ "):
                if command is not None:
                    out.append((command, "".join(expected)))
                command, expected = line[2:].rstrip("\n"), []
            else:
                expected.append(line)
        if command is not None:
            out.append((command, "".join(expected)))
    return out


EXAMPLES = console_examples()


def test_the_readme_has_console_examples():
    assert len(EXAMPLES) >= 7 and all(command.startswith("promptkit ") for command, _ in EXAMPLES)


@pytest.mark.parametrize("command, expected", EXAMPLES, ids=[c[:60] for c, _ in EXAMPLES])
def test_console_example(command, expected, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, shlex.split(command)[1:], catch_exceptions=False)
    assert result.exit_code in (0, 1), result.output
    assert result.output == expected


def test_config_block_reads_the_same_from_either_file(tmp_path):
    from promptkit.cli.config import find_config

    block = re.search(r"```toml\n(.*?)```", README.read_text(encoding="utf-8"), re.S).group(1)
    assert block.startswith("[tool.promptkit]\n")
    found = []
    for name in ("pyproject.toml", "promptkit.toml"):
        folder = tmp_path / name.split(".")[0]
        folder.mkdir()
        (folder / name).write_text(block, encoding="utf-8")
        path, settings = find_config(folder)
        assert path == folder / name
        found.append({k: v for k, v in settings.items() if k in ("profile", "ignore")})
    from promptkit.cli.config import tomllib

    shown = tomllib.loads(block)["tool"]["promptkit"]
    assert found[0] == found[1] == {"profile": shown["profile"], "ignore": shown["ignore"]}


# The "Lint rules" paragraph: (prompt, negative?, the finding it promises or None for "left alone")
CLAIMS = [
    ("1girl, wort quality", False, ("PK201", "worst quality")),
    ("1girl, glans", False, None),
    ("1girl, gleaming eye", False, None),
    ("1girl, by sparth", False, None),
    ("1girl, yoshitaka amano", False, None),
    ("low quality lowres missing fngers", True, (None, "fingers")),  # PK215, or PK201 where e621 is a source
    ("a beatiful village", False, ("PK215", "beautiful")),
    ("a beatiful villiage", False, None),  # two unknown words side by side read as a name
    ("1girl, twintails braids", False, ("PK212", "twintails, braids")),
    ("twintails braids", True, None),  # no missing-comma findings in negative prompts
    ("long_hair, smile", True, None),  # no style findings in a negative written in one style
    ("bad hands, bar_censor", True, ("PK208", None)),  # but a negative that mixes them: the stray one
]


@pytest.mark.parametrize("profile", ["kivotos-xl-2", "illustrious-xl", "noobai-xl-vpred"])
def test_lint_rule_claims(profile):
    from promptkit.linter import lint_prompt

    for text, negative, promise in CLAIMS:
        found = [(d.code, d.suggestions[0] if d.suggestions else None)
                 for d in lint_prompt(text, profile, negative=negative).diagnostics
                 if d.code.startswith("PK2")]
        if promise is None:
            assert found == [], (text, found)
        else:
            code, suggestion = promise
            assert any((code is None or c == code) and s == suggestion for c, s in found), (text, found)
