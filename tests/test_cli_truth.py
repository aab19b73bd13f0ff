"""What the command line says it did (issue 20): the profile it picked, the same findings from `lint` and
`dataset lint`, exit codes, counts, progress and output meant for people. Through click's runner, as
tests/test_cli.py."""

from __future__ import annotations

import json

from click.testing import CliRunner

from promptkit.cli.main import cli


def run(*args, input=None):
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


def test_readme_config_snippet_pasted_into_promptkit_toml(tmp_path, monkeypatch):
    # The README's [tool.promptkit] block, pasted as is into promptkit.toml, means the same as in pyproject.toml.
    (tmp_path / "promptkit.toml").write_text('[tool.promptkit]\nprofile = "pony-v6"\nignore = ["PK303"]\n')
    monkeypatch.chdir(tmp_path)
    out = run("lint", "1girl, score 9", "--format", "json")
    data = json.loads(out.stdout)
    assert data[0]["profile"] == "pony-v6"
    assert "PK208" in [d["code"] for d in data[0]["diagnostics"]]
    assert "PK303" not in [d["code"] for d in data[0]["diagnostics"]]
    # the plain spelling still works, and a misspelt key in either is still an error
    (tmp_path / "promptkit.toml").write_text('profile = "pony-v6"\n')
    assert json.loads(run("lint", "1girl", "--format", "json").stdout)[0]["profile"] == "pony-v6"
    (tmp_path / "promptkit.toml").write_text('[tool.promptkit]\nprofil = "pony-v6"\n')
    bad = run("lint", "1girl")
    assert bad.exit_code == 2 and "unknown setting(s) profil" in bad.output
