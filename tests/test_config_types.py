"""promptkit.toml with wrong types (issue #23, item 11): one line naming the file, the key and the type
expected, exit 2, no traceback; the same for ``[tool.promptkit]`` in pyproject.toml."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from promptkit.cli.config import ConfigError, tomllib, validate_settings  # tomllib: tomli before 3.11
from promptkit.cli.main import cli

CASES = [  # (the TOML, the key the error names, words of the type it expects)
    ("tag-sources = [1]", "tag-sources", "a list of strings"),
    ("embeddings = 5", "embeddings", "a folder (a string)"),
    ('embeddings = ["a"]', "embeddings", "a folder (a string)"),
    ("select = [1]", "select", "a list of rule codes"),
    ('select = "PK201"', "select", "a list of rule codes"),
    ("dialect = 7", "dialect", "one of a1111, forge, comfy"),
    ('dialect = "klingon"', "dialect", "one of a1111, forge, comfy"),
    ("ignore = 5", "ignore", "a list of rule codes"),
    ('backtrack = "x"', "backtrack", "a whole number"),
    ("backtrack = -1", "backtrack", "a whole number of 0 or more"),
    ("fail-on = 3", "fail-on", 'one of "info", "warning", "error"'),
    ('fail-on = "never"', "fail-on", 'one of "info", "warning", "error"'),
    ("lora-dirs = [[1]]", "lora-dirs", "a list of folders"),
    ('wildcard-dirs = "wildcards"', "wildcard-dirs", "a list of folders"),
    ("profile = 1.5", "profile", "a profile id or path"),
    ("[tool]\npromptkit = 5", "tool.promptkit", "a table ([tool.promptkit])"),
    ("tool = 5", "tool", "a table ([tool])"),
]


def lint_in(folder, monkeypatch):
    monkeypatch.chdir(folder)
    result = CliRunner().invoke(cli, ["lint", "1girl, smile"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result


@pytest.mark.parametrize("toml, key, expected", CASES, ids=[c[0] for c in CASES])
def test_a_wrong_type_is_one_line_naming_file_key_and_type(tmp_path, monkeypatch, toml, key, expected):
    (tmp_path / "promptkit.toml").write_text(toml + "\n", encoding="utf-8")
    result = lint_in(tmp_path, monkeypatch)
    assert result.exit_code == 2
    lines = result.output.splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith(f"promptkit: error: {tmp_path / 'promptkit.toml'}: {key}: expected {expected}")


@pytest.mark.parametrize("toml, key, expected", [c for c in CASES if not c[1].startswith("tool")],
                         ids=[c[0] for c in CASES if not c[1].startswith("tool")])
def test_the_same_in_pyproject(tmp_path, monkeypatch, toml, key, expected):
    (tmp_path / "pyproject.toml").write_text("[tool.promptkit]\n" + toml + "\n", encoding="utf-8")
    result = lint_in(tmp_path, monkeypatch)
    assert result.exit_code == 2
    assert result.output.startswith(f"promptkit: error: {tmp_path / 'pyproject.toml'}: {key}: expected {expected}")
    assert result.output.count("\n") == 1


def test_pyproject_tool_promptkit_must_be_a_table(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text("[tool]\npromptkit = 5\n", encoding="utf-8")
    result = lint_in(tmp_path, monkeypatch)
    assert result.exit_code == 2
    assert result.output == (f"promptkit: error: {tmp_path / 'pyproject.toml'}: tool.promptkit: expected a table "
                             "([tool.promptkit]), got 5\n")


def test_right_types_still_work_and_paths_resolve(tmp_path, monkeypatch):
    (tmp_path / "promptkit.toml").write_text(
        'profile = "pony-v6"\ndialect = "Forge"\nselect = ["PK201"]\nignore = []\nfail-on = "info"\nbacktrack = 0\n'
        'tag-sources = ["danbooru", "mine.csv"]\nembeddings = "emb"\nlora-dirs = ["loras"]\n'
        'wildcard-dirs = ["wildcards", "../shared/wc"]\n', encoding="utf-8")
    settings = validate_settings(tmp_path / "promptkit.toml", tomllib.loads((tmp_path / "promptkit.toml").read_text()))
    assert settings == {"profile": "pony-v6", "dialect": "a1111", "select": ["PK201"], "ignore": [],
                        "fail-on": "info", "backtrack": 0, "tag-sources": ["danbooru", str(tmp_path / "mine.csv")],
                        "embeddings": str(tmp_path / "emb"), "lora-dirs": [str(tmp_path / "loras")],
                        "wildcard-dirs": [str(tmp_path / "wildcards"), str((tmp_path.parent / "shared" / "wc").resolve())]}


def test_a_tool_table_holding_a_promptkit_table_is_not_refused(tmp_path):
    """Pasting pyproject's [tool.promptkit] into promptkit.toml is read by the config loader (issue #20); the
    validator lets such a table through, and still refuses other unknown keys."""
    data = {"tool": {"promptkit": {"profile": "pony-v6"}, "ruff": {"line-length": 100}}}
    assert validate_settings(tmp_path / "promptkit.toml", data)["tool"] == data["tool"]
    with pytest.raises(ConfigError, match="unknown setting"):
        validate_settings(tmp_path / "promptkit.toml", {"profil": "x"})
