"""The editors' packaging: the README's set-up is what CI runs, the VS Code extension is valid and sends the
settings the server reads, and `import promptkit` / `promptkit lint` do not load the servers."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from promptkit.editing.documents import Settings

ROOT = Path(__file__).resolve().parents[1]


def test_ci_installs_exactly_what_the_readme_says():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"Set up everything and run the tests.*?```bash\n(.*?)```", readme, re.S).group(1)
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    for line in block.strip().splitlines():
        assert line in ci.splitlines(), line
    assert "apt-get install -y chromium" in block and ".[dev,diffusers,ray,lsp]" in block
    assert "playwright install" not in readme + ci


def test_vscode_extension_is_valid_and_sends_the_servers_settings():
    folder = ROOT / "editors" / "vscode"
    manifest = json.loads((folder / "package.json").read_text(encoding="utf-8"))
    assert manifest["main"] == "./extension.js" and "vscode-languageclient" in manifest["dependencies"]
    assert manifest["contributes"]["configuration"]["properties"]["promptkit.command"]["default"] == ["promptkit", "lsp"]
    source = (folder / "extension.js").read_text(encoding="utf-8")
    sent = re.search(r"promptkit: \{(.*?)\}", source, re.S).group(1)
    keys = set(re.findall(r"(\w+): c\.get", sent))
    assert keys and keys <= set(Settings.model_fields)  # every setting the client sends is one the server reads
    if shutil.which("node"):
        subprocess.run(["node", "--check", str(folder / "extension.js")], check=True)


def test_import_and_lint_do_not_load_the_servers():
    code = ("import sys, promptkit, promptkit.cli.main; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pygls', 'lsprotocol', 'playwright') "
            "or m.startswith(('promptkit.lsp.', 'promptkit.playground.', 'promptkit.editing.', 'http.server'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


def test_lsp_command_is_registered():
    from click.testing import CliRunner

    from promptkit.cli.main import cli

    result = CliRunner().invoke(cli, ["--help"])
    assert "lsp" in result.output and "playground" in result.output


@pytest.mark.parametrize("mode_path, mode", [("a/wildcards/hair.txt", "wildcard-file"),
                                             ("my_styles.csv", "a1111-styles-csv"),
                                             ("x.prompt", "prompt"), ("caption.txt", "prompt")])
def test_document_kinds(mode_path, mode):
    from promptkit.editing.documents import document_mode

    assert document_mode(mode_path, Settings()) == mode


def test_csv_cells_read_what_pythons_csv_writes():
    import csv
    import io
    import random

    from promptkit.contain.formats import csv_cell, csv_cells

    rng = random.Random(14)
    for _ in range(300):
        rows = [["".join(rng.choice('ab ,"\n(\\') for _ in range(rng.randint(0, 12))) for _ in range(3)]
                for _ in range(rng.randint(1, 4))]
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(rows)
        text = buffer.getvalue()
        read = [[csv_cell(text, s, e, quoted, "positive", "a1111-styles-csv").text for s, e, quoted in row]
                for row in csv_cells(text)]
        assert read[:len(rows)] == rows and all(r == [""] for r in read[len(rows):])


def test_line_index_counts_utf16_and_lsp_line_breaks():
    import random

    from promptkit.editing.positions import LineIndex, Utf16Offsets

    rng = random.Random(3)
    for _ in range(200):
        text = "".join(rng.choice(["a", "\r\n", "\r", "\n", "\U0001F600", "é", "\x0b", "\u2028"]) for _ in range(30))
        index = LineIndex(text)
        lines = re.split(r"\r\n|\r|\n", text)  # the LSP's line breaks only: \x0b and U+2028 are text
        assert len(index.starts) == len(lines)
        for line_no, line in enumerate(lines):
            start = index.starts[line_no]
            for col in range(len(line) + 1):
                units = len(line[:col].encode("utf-16-le")) // 2
                assert index.position(start + col) == (line_no, units)
                assert index.offset(line_no, units) == start + col
        units = Utf16Offsets(text)
        for i in range(len(text) + 1):
            assert units.from_units(units.to_units(i)) == i
            assert units.to_units(i) == len(text[:i].encode("utf-16-le")) // 2
