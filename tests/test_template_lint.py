"""Lint of templates and wildcard files end to end: the template rules (PK4xx) through ``lint_prompt`` and
``promptkit lint``, next to the regular rules that lint every option in place.

Real data: wildcard files of ../shared/corpus/modern_prompts.jsonl (records with container ``wildcard-file``),
written into a wildcard folder under tmp_path as their repositories hold them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from promptkit.cli.main import cli
from promptkit.linter import lint_prompt

CORPUS = Path(__file__).resolve().parents[1] / ".." / "shared" / "corpus" / "modern_prompts.jsonl"
if not CORPUS.exists():
    CORPUS = Path("/work/shared/corpus/modern_prompts.jsonl")

# source path in the corpus -> where it goes in the test's wildcard folder
FILES = {
    "collections/devilkkw/body-1/hair_styles_tied.txt": "hair_styles_tied.txt",
    "collections/devilkkw/body-1/face_emotions.txt": "face_emotions.txt",
    "collections/jumbo/creatures/adnd.txt": "creatures/adnd.txt",
}


def wildcard_texts() -> dict[str, str]:
    if not CORPUS.exists():
        pytest.skip(f"the shared corpus is not at {CORPUS}")
    out = {}
    for line in CORPUS.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record.get("container") != "wildcard-file":
            continue
        source = record["source"].split(":", 1)[1].rsplit("@", 1)[0]
        if source in FILES:
            out[FILES[source]] = record["prompt"]
    assert len(out) == len(FILES), "the corpus no longer holds these wildcard files"
    return out


@pytest.fixture()
def folder(tmp_path) -> Path:
    """A wildcard folder named ``wildcards`` holding real wildcard files, byte for byte."""
    root = tmp_path / "wildcards"
    for name, text in wildcard_texts().items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(text.encode("utf-8"))
    return root


def found(text: str, **kw) -> list[tuple[str, str]]:
    return [(d.code, text[d.start:d.end]) for d in lint_prompt(text, **kw).diagnostics]


def test_a_typo_inside_an_option_is_reported_once_at_its_own_span():
    text = "masterpiece, 1girl, {long hiar|short hair}, smile"
    report = lint_prompt(text)
    typos = [d for d in report.diagnostics if "hiar" in text[d.start:d.end]]
    assert len(typos) == 1
    d = typos[0]
    assert (d.code, text[d.start:d.end], d.line, d.column) == ("PK201", "long hiar", 1, 22)
    assert "long hair" in d.suggestions
    # the same typo on a line of a wildcard file: once, on its own line
    wild = "short hair\n{long hiar|twintails}\n"
    d, = [d for d in lint_prompt(wild, container="wildcard-file").diagnostics if d.code == "PK201"]
    assert (wild[d.start:d.end], d.line, d.column) == ("long hiar", 2, 2)


def test_repeated_and_empty_options_in_a_real_looking_template():
    text = "masterpiece, best quality, 1girl, {red|blue|red} eyes, {2$$smile||blush}, looking at viewer"
    report = lint_prompt(text)
    codes = [(d.code, d.column) for d in report.diagnostics if d.code.startswith("PK4")]
    assert codes == [("PK404", text.index("red}") + 1), ("PK402", text.index("||") + 2)]
    repeated = report.diagnostics[[d.code for d in report.diagnostics].index("PK404")]
    assert "repeats option 1" in repeated.message
    # the rule selection applies to them as to any rule
    assert not [c for c, _ in found(text, ignore=["PK404", "PK402"]) if c.startswith("PK4")]
    assert [c for c, _ in found(text, select=["PK404"])] == ["PK404"]


def test_a_missing_wildcard_names_the_nearest_and_stays_silent_without_a_folder(folder):
    text = "1girl, __hair_styles_tyed__, __face_emotions__, smile"
    d, = [d for d in lint_prompt(text, wildcards=folder).diagnostics if d.code == "PK401"]
    assert text[d.start:d.end] == "__hair_styles_tyed__"
    assert d.suggestions[0] == "hair_styles_tied"
    # no folder known: nobody can say a wildcard is missing, or that files make a cycle
    assert not [c for c, _ in found(text) if c in ("PK401", "PK403")]
    (folder / "loop.txt").write_text("__loop__ and white\n", encoding="utf-8")
    assert ("PK403", "__loop__") in found("1girl, __loop__", wildcards=folder)
    assert not [c for c, _ in found("1girl, __loop__") if c in ("PK401", "PK403")]


def line_of(text: str, needle: str) -> int:
    return text[:text.index(needle)].count("\n") + 1


def test_lint_a_wildcard_folder_gives_file_and_line(folder, monkeypatch):
    monkeypatch.chdir(folder.parent)
    texts = wildcard_texts()
    result = CliRunner().invoke(cli, ["lint", "--wildcards", "wildcards", "wildcards/"])
    assert result.exit_code == 1, result.output
    out = result.output
    # adnd.txt uses wildcards of a collection this folder does not have: each at its own line
    adnd = texts["creatures/adnd.txt"]
    missing = re.findall(r"__(creatures/adnd/\w+)__", adnd)
    assert missing
    for name in missing:
        assert (f"wildcards/creatures/adnd.txt:{line_of(adnd, '__' + name + '__')}:1: PK401 error "
                f"no wildcard '{name}'") in out
    # each line is a prompt fragment of its own: a typo-free list with a line written twice is no duplicate tag
    emotions = texts["face_emotions.txt"]
    assert emotions.replace("\r\n", "\n").split("\n").count("annoyed") == 2
    assert "face_emotions.txt" in out and "PK204" not in out
    assert f"wildcards/face_emotions.txt:{line_of(emotions, 'gloom (expression)')}:1: PK206" in out
    # without a folder known, the same run judges no wildcard
    result = CliRunner().invoke(cli, ["lint", "wildcards/"])
    assert "PK401" not in result.output and "PK206" in result.output


def test_wildcard_dirs_config_key(folder, monkeypatch):
    (folder.parent / "promptkit.toml").write_text('wildcard-dirs = ["wildcards"]\n', encoding="utf-8")
    (folder.parent / "work").mkdir()
    monkeypatch.chdir(folder.parent / "work")  # the folder resolves against the config file, not the cwd
    result = CliRunner().invoke(cli, ["lint", "1girl, __hair_styles_tyed__"])
    assert result.exit_code == 1
    assert "PK401 error no wildcard 'hair_styles_tyed'" in result.output
    assert "hair_styles_tied" in result.output
    result = CliRunner().invoke(cli, ["lint", "1girl, __hair_styles_tied__"])
    assert "PK401" not in result.output


def test_a_missing_wildcard_offers_only_names_that_are_close():
    from promptkit.linter.templates import lint_template

    folder = {"hair_colors": ["red", "blue"], "face_emotions": ["smile", "frown"], "hair_styles_tied": ["bun"]}
    found = {d.message.split("'")[1]: d.suggestions for d in
             lint_template("1girl, __hair_colours__, __plant__", wildcards=folder) if d.code == "PK401"}
    assert found == {"hair_colours": ["hair_colors"], "plant": []}


def test_a_broken_wildcard_file_is_skipped_and_the_folder_goes_on(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from promptkit.cli.main import cli

    monkeypatch.chdir(tmp_path)
    (tmp_path / "wildcards").mkdir()
    (tmp_path / "wildcards" / "hair.txt").write_text("red hair\nlong hiar\n", encoding="utf-8")
    (tmp_path / "wildcards" / "broken.json").write_text('{"a": [', encoding="utf-8")
    run = CliRunner().invoke(cli, ["lint", "-p", "illustrious-xl", "wildcards"])
    assert run.exit_code == 1, run.output
    assert "wildcards/hair.txt:2:1: PK201" in run.output
    assert "skipped wildcards/broken.json: " in run.output and "Traceback" not in run.output
    alone = CliRunner().invoke(cli, ["lint", "-p", "illustrious-xl", "wildcards/broken.json"])
    assert alone.exit_code == 2 and alone.output.count("wildcards/broken.json") == 1


def test_repeated_option_message_matches_dynamicprompts(tmp_path):
    """The oracle: sd-dynamic-prompts picks a repeated variant option twice as often in random mode, makes it
    once in combinatorial mode, and reads a repeated wildcard-file line once."""
    import collections

    from dynamicprompts.generators import CombinatorialPromptGenerator, RandomPromptGenerator
    from dynamicprompts.wildcards import WildcardManager

    (tmp_path / "colour.txt").write_text("red\nblue\ngreen\nred\n", encoding="utf-8")
    manager = WildcardManager(tmp_path)
    drawn = collections.Counter(RandomPromptGenerator(manager, seed=7).generate("{red|blue|green|red}", 3000))
    assert drawn["red"] > 1.6 * drawn["blue"]
    assert CombinatorialPromptGenerator(manager).generate("{red|blue|red}", 10) == ["red", "blue"]
    from_file = collections.Counter(RandomPromptGenerator(manager, seed=7).generate("__colour__", 3000))
    assert from_file["red"] < 1.3 * from_file["blue"]

    d, = [d for d in lint_prompt("{red|blue|green|red} eyes").diagnostics if d.code == "PK404"]
    assert "random mode picks it twice as often, combinatorial mode makes it once" in d.message
    text = (tmp_path / "colour.txt").read_text(encoding="utf-8")
    d, = [d for d in lint_prompt(text, path=str(tmp_path / "wildcards" / "colour.txt")).diagnostics
          if d.code == "PK404"]
    assert (d.line, text[d.start:d.end]) == (4, "red")
    assert "line 1 says the same: sd-dynamic-prompts reads the line once" in d.message


def test_a_repeated_line_of_a_real_wildcard_file():
    """The fresh set's wildcards/hair_style.txt (Mylakovich/SD-wildcards) has 'cone hair bun' twice; its judge
    listed it as missed. Nothing else in the file repeats."""
    import json
    from pathlib import Path

    fresh = Path(__file__).parent / "audit" / "fresh_modern" / "records.jsonl"
    text = next(json.loads(line) for line in fresh.read_text(encoding="utf-8").splitlines()
                if "wildcards/hair_style.txt" in line)["prompt"]
    found = [d for d in lint_prompt(text, "illustrious-xl", path="wildcards/hair_style.txt").diagnostics
             if d.code == "PK404"]
    assert [text[d.start:d.end] for d in found] == ["cone hair bun"]


def test_plain_lines_take_the_short_way_to_the_same_answer(texts):
    """lint_template answers a line without template syntax at once (nothing to find): the tree walks and the
    expander it skips find nothing on any such corpus line either, and with a limit below one prompt the line is
    still reported (the short way does not apply)."""
    from promptkit.linter import templates
    from promptkit.syntax.dynamic import _SPECIAL

    plain = 0
    for text in texts:
        for line in [text, *text.splitlines()]:
            if _SPECIAL.search(line):
                continue
            plain += 1
            tree = templates.parse_template(line)
            assert not list(templates._options(tree)) and not list(templates._conflicts(tree, None)), line
            assert templates.Expander(None).count(line) <= 1, line
            assert templates.lint_template(line) == []
    assert plain > 1000
    assert [d.code for d in templates.lint_template("1girl, smile", limit=0)] == ["PK405"]
