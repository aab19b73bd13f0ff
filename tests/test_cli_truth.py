"""What the command line says it did (issue 20): the profile it picked, the same findings from `lint` and
`dataset lint`, exit codes, counts, progress and output meant for people. Through click's runner, as
tests/test_cli.py."""

from __future__ import annotations

import json

from click.testing import CliRunner

from promptkit.cli.main import cli
from test_cli import tiny_png  # a 1x1 PNG without metadata


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


def infotext_png(tmp_path, name: str, prompt: str, model: str | None = None, model_hash: str | None = None):
    from promptkit.infotext import write_png_text

    extra = "".join(f", {k}: {v}" for k, v in (("Model hash", model_hash), ("Model", model)) if v)
    text = f"{prompt}\nNegative prompt: lowres\nSteps: 28, Sampler: Euler a, CFG scale: 6, Seed: 1{extra}"
    path = tmp_path / name
    path.write_bytes(write_png_text(tiny_png(), "parameters", text))
    return path


def test_lint_without_profile_still_checks_tags_and_says_which_profile(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no promptkit.toml above
    out = run("lint", "1grl, kazusa (blue archive), solo, 2girls")
    assert out.exit_code == 1
    assert "<prompt>:1:1: PK201 warning unknown tag '1grl'; did you mean '1girl'?" in out.stdout
    assert out.stderr.splitlines() == [
        "promptkit: profile illustrious-xl (no --profile, config or model name said which: the Danbooru-tag "
        "default; choose with --profile)"]
    data = json.loads(run("lint", "1grl, solo", "--format", "json").stdout)  # JSON: a field, no stderr line
    assert data[0]["profile"] == "illustrious-xl" and data[0]["profile_reason"].startswith("no --profile")
    assert [d["code"] for d in data[0]["diagnostics"]] == ["PK201"]
    # Pony's score ladder says Pony; the config's profile beats tags; --profile beats everything, silently
    pony = json.loads(run("lint", "score_9, score_8_up, 1girl", "--format", "json").stdout)[0]
    assert (pony["profile"], pony["profile_reason"]) == ("pony-v6", "from its tags score_9, score_8_up")
    (tmp_path / "promptkit.toml").write_text('profile = "kivotos-xl-2"\n')
    cfg = run("lint", "score_9, 1girl")
    assert f"promptkit: profile kivotos-xl-2 (from {tmp_path / 'promptkit.toml'})" in cfg.stderr
    given = run("lint", "score_9, 1girl", "--profile", "noobai-xl-vpred", "--select", "PK201")
    assert given.stderr == "" and given.exit_code == 0


def test_infotext_model_names_and_hashes_choose_the_profile(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    from promptkit.profiles.detect import profile_for_model

    # file names as downloaded (civitai's stems), with or without extension and folder
    expected = {
        "animagineXLV31_v31": "animagine-xl-3.1", "animagineXL40_v4Opt.safetensors": "animagine-xl-4.0",
        "ponyDiffusionV6XL_v6StartWithThisOne": "pony-v6", "noobaiXLNAIXL_vPred10Version": "noobai-xl-vpred",
        "noobaiXLNAIXL_epsilonPred10Version": "noobai-xl-eps", "illustriousXL_v01": "illustrious-xl",
        "illustriousXLV20_v20Stable": "illustrious-xl", "models/Stable-diffusion/kivotosXL_v20.safetensors":
        "kivotos-xl-2", "sd_xl_base_1.0": "sdxl-base", "v1-5-pruned-emaonly.safetensors": "sd15",
    }
    assert {name: profile_for_model(name) for name in expected} == expected
    assert profile_for_model("myMerge_v3") is None
    # A1111's Model hash (AutoV2) of Pony V6 XL as civitai lists it; a renamed file keeps its hash
    assert profile_for_model("renamed", "67ab2fd8ec") == "pony-v6"
    png = infotext_png(tmp_path, "a.png", "1grl, smile", model="noobaiXLNAIXL_vPred10Version")
    info = run("info", str(png))
    assert "linted with profile noobai-xl-vpred (from the metadata's Model: noobaiXLNAIXL_vPred10Version)" \
        in info.stdout
    assert json.loads(run("info", str(png), "--json").stdout)["profile"] == "noobai-xl-vpred"
    lint = run("lint", str(png))
    assert "promptkit: profile noobai-xl-vpred (from the metadata's Model: noobaiXLNAIXL_vPred10Version)" \
        in lint.stderr
    assert f"{png}[prompt]:1:1: PK201" in lint.stdout
    by_hash = infotext_png(tmp_path, "b.png", "1girl, smile", model="whatever", model_hash="67ab2fd8ec")
    assert json.loads(run("lint", str(by_hash), "--format", "json").stdout)[0]["profile"] == "pony-v6"
    unknown = infotext_png(tmp_path, "c.png", "1grl, smile", model="myMerge_v3")
    out = run("info", str(unknown))
    assert ("linted with profile illustrious-xl (the metadata's Model: myMerge_v3 is no model promptkit knows; "
            "no --profile") in out.stdout


def modern_prompts(step: int = 97, limit: int = 24) -> list[str]:
    """Real prompts from ../shared/corpus (every step-th record: deterministic on any machine)."""
    import pathlib

    import pytest

    path = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "modern_prompts.jsonl"
    if not path.exists():
        pytest.skip(f"the shared corpus is not at {path}")
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["prompt"] for line in lines[::step] if json.loads(line).get("prompt")][:limit]


def test_dataset_lint_gives_the_findings_lint_gives(tmp_path):

    folder = tmp_path / "captions"
    folder.mkdir()
    captions = ["masterpiece, best quality, 1girl, hiares, long hiar", "masterpiece, score_9, 1girl, solo, 2girls",
                *modern_prompts()]
    for i, caption in enumerate(captions):
        (folder / f"{i:03}.txt").write_text(caption + "\n", encoding="utf-8")
    for profile in ("illustrious-xl", "pony-v6", "kivotos-xl-2"):
        lint = json.loads(run("lint", str(folder), "--profile", profile, "--format", "json").stdout)
        by_lint = {item["source"]: [(d["code"], d["line"], d["column"], d["message"]) for d in item["diagnostics"]]
                   for item in lint}
        data = json.loads(run("dataset", "lint", str(folder), "--profile", profile, "--format", "json",
                              "-j", "1").stdout)
        by_dataset = {item["path"]: [(f["code"], f["line"], f["column"], f["message"]) for f in item["findings"]]
                      for item in data}
        assert by_dataset == by_lint, profile
        assert sum(map(len, by_lint.values())) > 0
        first = by_dataset[str(folder / "000.txt")]
        assert not any("mstrpiece" in message or "hiares" in message for *_, message in first), first
        assert ("PK201", 1, 43) in [(c, line, col) for c, line, col, _ in first]  # long hiar -> long hair


def test_tags_lookup_complete_and_suggest_agree_with_the_profile():
    # a profile's ladder tags are known to it, with or without --profile (suggest offers them either way)
    found = run("tags", "lookup", "masterpiece", "--profile", "kivotos-xl-2")
    assert found.exit_code == 0
    assert found.stdout == "masterpiece  [special tag of kivotos-xl-2]  not a booru tag\n"
    assert "masterpiece" in run("tags", "suggest", "mastrpiece", "--profile", "kivotos-xl-2").stdout
    anywhere = run("tags", "lookup", "masterpiece")
    assert anywhere.exit_code == 0 and "kivotos-xl-2" in anywhere.stdout and "illustrious-xl" in anywhere.stdout
    assert run("tags", "lookup", "score_9", "--profile", "kivotos-xl-2").exit_code == 1  # Pony's, not Kivotos's
    assert json.loads(run("tags", "lookup", "score_9", "-p", "pony-v6", "--json").stdout)[0]["sources"] == \
        ["profile:pony-v6"]
    # complete: one row per tag, ranked by the post count it shows
    rows = json.loads(run("tags", "complete", "pony", "--json").stdout)
    names = [r["name"] for r in rows]
    assert len(names) == len(set(names)) and "pony_(animal)" in names and "pony_play" in names
    counts = [r["post_count"] for r in rows]
    assert counts == sorted(counts, reverse=True)
    # suggest: a profile's count tag that is a Danbooru tag is shown as the tag, with its posts
    top = json.loads(run("tags", "suggest", "1grl", "--profile", "kivotos-xl-2", "--json").stdout)[0]
    assert (top["name"], top["category"], top["source"]) == ("1girl", "general", "danbooru")
    assert top["post_count"] > 1_000_000


def test_resolve_follows_the_active_danbooru_alias_table():
    # every 15th row (about 2,000) of the bundled active alias list (deterministic): resolve gives the table's target.
    from promptkit.tags import TagDB
    from promptkit.tags.sources import read_pairs, tag_db_path

    db = TagDB.from_names(["danbooru"])
    pairs = list(read_pairs(tag_db_path("danbooru_tag_aliases_active_2025-05-01.csv.gz")))
    table = dict(pairs)
    sample = pairs[::15]
    assert len(sample) > 1900
    checked = 0
    for alias, target in sample:
        if target in table or db._has_name(0, alias):
            continue  # a chain of aliases, or a spelling the tags list has as a tag of its own (a name wins)
        assert db.resolve(alias) == target, alias
        checked += 1
    assert checked > 0.9 * len(sample)
    # the two the tags list's alias column used to send elsewhere
    assert db.resolve("tails") == "multiple_tails" and db.resolve("cum_on_leg") == "cum_on_legs"


def test_output_for_people():
    # rules: no reStructuredText literals; PK303's severity is what lint reports on a fixed-order profile
    table = run("rules").stdout
    assert "``" not in table and "'(smile:1,2)'" in table
    assert "``" not in run("rules", "PK206").stdout
    pk303 = next(line for line in table.splitlines() if line.startswith("PK303"))
    found = json.loads(run("lint", "smile, 1girl", "-p", "kivotos-xl-2", "--select", "PK303",
                           "--format", "json").stdout)[0]
    assert [d["severity"] for d in found["diagnostics"] if d["code"] == "PK303"] == [pk303.split()[3]]
    # profiles ID: readable fields, no Python reprs
    shown = run("profiles", "kivotos-xl-2").stdout
    assert "{'" not in shown and "['" not in shown
    assert "steps:               25-30 (default 28)" in shown
    assert "  quality:           masterpiece, best quality" in shown
    # tokens: words apart, sub-word tokens marked, the header counts the prompt's tokens (no BREAK padding)
    tokens = run("tokens", "masterpiece, extremely detailed, kazusa BREAK smile", "-p", "kivotos-xl-2").stdout
    assert tokens.splitlines()[0] == "8 tokens in 2 chunk(s) of 75"  # 7 + 1, not 75 + 1
    assert "  masterpiece , extremely detailed , kaz·usa" in tokens
    # parse: the weighted fragments its help promises
    parsed = run("parse", "masterpiece, (kazusa:1.2)").stdout
    assert "weighted fragments" in parsed and "  1.2    'kazusa'" in parsed
    # a message names the tag as it is written
    out = run("lint", "smile, kazusa_(blue_archive), 1girl", "-p", "kivotos-xl-2", "--select", "ALL").stdout
    assert f"PK303 {pk303.split()[3]} 'kazusa_(blue_archive)' (character) should come before 'smile'" in out
    assert "PK206 warning the parentheses of 'kazusa_(blue_archive)' are read" in out
    assert "the parentheses of 'kazusa (blue archive)'" in run("lint", "kazusa (blue archive)", "-p",
                                                               "kivotos-xl-2").stdout


def test_first_run_prints_no_python_warning(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "PROMPTKIT_CACHE_DIR": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, "-m", "promptkit.cli.main", "lint", "1grl, smile", "-p", "kivotos-xl-2"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 1 and "PK201" in done.stdout
    assert done.stderr == ""  # no UserWarning with a file path: e621's nameless row is in the store's meta


def test_exit_codes_say_what_was_read(tmp_path):
    plain = tmp_path / "plain.png"
    plain.write_bytes(tiny_png())
    # a PNG without prompt metadata: nothing was read, exit 2, as `info` says for it
    for command in (("lint", str(plain)), ("info", str(plain))):
        out = run(*command)
        assert out.exit_code == 2, command
        assert out.stderr == f"promptkit: error: {plain}: no A1111 or ComfyUI prompt metadata\n"
    # in a folder it is one skipped file among the captions that were read
    (tmp_path / "a.txt").write_text("1girl, smile\n", encoding="utf-8")
    folder = run("lint", str(tmp_path), "-p", "kivotos-xl-2")
    assert folder.exit_code == 0 and f"skipped {plain}: no A1111 or ComfyUI prompt metadata" in folder.stderr
    assert folder.stdout == "All clean: 1 prompt(s) checked.\n"
    # dataset normalize: 0 when everything was written; what could be written was, the unreadable file is
    # reported and the exit code says so (2, as ruff format)
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfelong_hair")
    (tmp_path / "b.txt").write_text("long_hair, 1girl\n", encoding="utf-8")
    out = run("dataset", "normalize", str(tmp_path), "--underscores-to-spaces")
    assert out.exit_code == 2 and f"skipped {bad}: not UTF-8 (byte 0), not rewritten" in out.stderr
    assert "changed 1 of 3 caption file(s); 1 skipped (left untouched)." in out.stderr
    assert (tmp_path / "b.txt").read_text() == "long hair, 1girl\n"
    bad.unlink()
    again = run("dataset", "normalize", str(tmp_path), "--underscores-to-spaces", "--remove-duplicates")
    assert again.exit_code == 0 and "changed 0 of 2 caption file(s); 0 skipped" in again.stderr
    only_bad = tmp_path / "only_bad"
    only_bad.mkdir()
    (only_bad / "x.txt").write_bytes(b"\xff\xfe")
    assert run("dataset", "normalize", str(only_bad), "--underscores-to-spaces").exit_code == 2
    # dataset stats on one caption file; a file that is not a caption is refused in one line
    stats = json.loads(run("dataset", "stats", str(tmp_path / "b.txt"), "--json").stdout)
    assert stats["captions"] == 1 and dict(stats["top_tags"]) == {"long_hair": 1, "1girl": 1}
    refused = run("dataset", "stats", str(plain))
    assert refused.exit_code == 2 and "not a caption file (.txt, .caption)" in refused.stderr
    assert run("dataset", "stats", str(only_bad)).exit_code == 2


def test_lint_without_input_on_a_terminal_explains_instead_of_waiting():
    import os
    import pty
    import subprocess
    import sys

    leader, follower = pty.openpty()
    try:
        done = subprocess.run([sys.executable, "-m", "promptkit.cli.main", "lint", "-p", "kivotos-xl-2"],
                              stdin=follower, capture_output=True, text=True, timeout=120)
    finally:
        os.close(follower)
        os.close(leader)
    assert done.returncode == 2
    assert "give prompts, files or folders to lint (or `-` to read stdin)" in done.stderr
    piped = run("lint", "-p", "kivotos-xl-2", input="1grl\n")  # not a terminal: stdin is read
    assert piped.exit_code == 1 and "<stdin>:1:1: PK201" in piped.stdout


def test_progress_on_a_terminal_only(tmp_path):
    import io

    from rich.console import Console

    from promptkit.cli.progress import progress

    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=100)
    with progress(40, "linting", console=console) as advance:
        for _ in range(40):
            advance()
    shown = screen.getvalue()
    assert "linting" in shown and "/40" in shown and "/s" in shown and "eta" in shown  # counts, rate, time left
    # piped (click's runner is no terminal): the results and nothing else
    folder = tmp_path / "captions"
    folder.mkdir()
    for i in range(60):
        (folder / f"{i:02}.txt").write_text("1girl, smile\n", encoding="utf-8")
    out = run("lint", str(folder), "-p", "kivotos-xl-2")
    assert out.stdout == "All clean: 60 prompt(s) checked.\n" and out.stderr == ""
    lint = run("dataset", "lint", str(folder), "-p", "kivotos-xl-2", "-j", "1")
    assert lint.stdout == "0 finding(s) in 60 caption file(s).\n" and lint.stderr == ""
    norm = run("dataset", "normalize", str(folder), "--remove-duplicates", "-j", "1")
    assert norm.stdout == "" and norm.stderr == "changed 0 of 60 caption file(s); 0 skipped (left untouched).\n"
    stats = run("dataset", "stats", str(folder), "--json", "-j", "1")
    assert stats.stderr == "" and json.loads(stats.stdout)["captions"] == 60


def test_repeated_findings_are_capped_per_rule_and_counted():
    # 6,000 typos and 5,998 repeats in one caption (a number between the pairs: repeats, not one block pasted again)
    caption = ", ".join(f"1grl, long hiar, {i}" for i in range(3000))
    out = run("lint", "-", "-p", "kivotos-xl-2", input=caption)
    assert out.exit_code == 1
    lines = out.stdout.splitlines()
    assert len(lines) < 300  # not tens of thousands
    assert "<stdin>: ... and 5,980 more PK201 findings on this prompt (use --no-cap)" in lines
    assert "<stdin>: ... and 5,978 more PK204 findings on this prompt (use --no-cap)" in lines
    assert lines[-1].startswith("Found 11998 finding(s) in 1 prompt(s): 0 error(s), 11998 warning(s)")
    assert "40 shown (--no-cap shows all)." in lines[-1]
    data = json.loads(run("lint", "-", "-p", "kivotos-xl-2", "--format", "json", input=caption).stdout)[0]
    assert len(data["diagnostics"]) == 40
    assert data["omitted"] == [{"code": "PK201", "severity": "warning", "count": 5980},
                               {"code": "PK204", "severity": "warning", "count": 5978}]
    full = json.loads(run("lint", "-", "-p", "kivotos-xl-2", "--format", "json", "--no-cap", input=caption).stdout)[0]
    assert len(full["diagnostics"]) == 11998 and full["omitted"] == []


def test_a_comfyui_graph_names_its_checkpoint(tmp_path):
    from promptkit.infotext import write_png_text

    checkpoint = "ponyDiffusionV6XL_v6StartWithThisOne.safetensors"
    graph = {"4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": checkpoint}},
             "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "1girl, smile", "clip": ["4", 1]}}}
    png = tmp_path / "comfy.png"
    png.write_bytes(write_png_text(tiny_png(), "prompt", json.dumps(graph)))
    data = json.loads(run("lint", str(png), "--format", "json").stdout)[0]
    assert data["profile"] == "pony-v6"
    assert data["profile_reason"] == "from the metadata's Model: ponyDiffusionV6XL_v6StartWithThisOne.safetensors"
    assert "linted with profile pony-v6" in run("info", str(png)).stdout
