"""The linter and formatter on real data: each rule on its case, spans, and the safe-fix guarantees."""

from __future__ import annotations

import pytest

import promptkit
from promptkit import parse
from promptkit.linter import all_rules, fix_text, format_prompt, lint_prompt

PROFILES = ("kivotos-xl-2", "sotediffusion-wuerstchen3", "pony-v6", "sdxl-base")


def codes(text, profile="kivotos-xl-2", **kw):
    return lint_prompt(text, profile, **kw).codes()


@pytest.mark.parametrize("code, text, profile", [
    ("PK101", "1girl, (smile, looking at viewer", "kivotos-xl-2"),
    ("PK101", "1girl, smile)", "kivotos-xl-2"),
    ("PK102", "(smile:1,2), 1girl", "kivotos-xl-2"),
    ("PK103", "(masterpiece:2.5)", "kivotos-xl-2"),
    ("PK103", "(((((smile:1.5)))))", "kivotos-xl-2"),
    ("PK104", "1girl, (), smile", "kivotos-xl-2"),
    ("PK105", "(smile: 1.3)", "kivotos-xl-2"),
    ("PK106", "{{masterpiece}}, 1girl", "kivotos-xl-2"),
    ("PK107", "cat | dog, [day:night:0.5]", "kivotos-xl-2"),
    ("PK108", "(((detailed eyes)))", "kivotos-xl-2"),
    ("PK201", "1grl, smile", "kivotos-xl-2"),
    ("PK202", "pony tail, 1girl", "kivotos-xl-2"),
    ("PK214", "hires, 1girl", "kivotos-xl-2"),
    ("PK203", "long hair, very long hair", "kivotos-xl-2"),
    ("PK204", "long hair, smile, long_hair", "kivotos-xl-2"),
    ("PK204", "(long hair:1.2), smile, blue eyes, ((long_hair))", "kivotos-xl-2"),
    ("PK215", "a beatiful girl in a small villiage, sunset", "sdxl-base"),
    ("PK205", "solo, 2girls", "kivotos-xl-2"),
    ("PK206", "1girl, kazusa (blue archive)", "kivotos-xl-2"),
    ("PK207", "1girl, vertin (reverse:1999)", "kivotos-xl-2"),
    ("PK208", "1girl, long_hair", "kivotos-xl-2"),
    ("PK208", "score 9, 1girl", "pony-v6"),
    ("PK209", "specie:seal", "sygil-diffusion"),
    ("PK301", "score_9, 1girl", "kivotos-xl-2"),
    ("PK302", "1girl, solo", "kivotos-xl-2"),
    ("PK303", "smile, kazusa \\(blue archive\\), 1girl", "kivotos-xl-2"),
    ("PK304", "safe, explicit, 1girl", "kivotos-xl-2"),
    ("PK305", ", ".join(["long hair", "blue eyes", "smile", "sky"] * 15), "sotediffusion-wuerstchen3"),
    ("PK306", ", ".join(["1girl"] * 18) + ", qwertyuiopasdfghjklzxcvbnm qwertyuiopasdfghjklzxcvbnm", "sdxl-base"),
])
def test_each_rule_finds_its_case(code, text, profile):
    assert code in codes(text, profile, select=[code])


@pytest.mark.parametrize("code, text, profile", [
    ("PK101", "1girl, \\(smile\\)", "kivotos-xl-2"),
    ("PK102", "re:zero kara hajimeru isekai seikatsu, (nier:automata)", "kivotos-xl-2"),
    ("PK201", "1girl, kazusa \\(blue archive\\), very awa, masterpiece", "noobai-xl-eps"),
    ("PK201", "a photo of a cat sitting on a wooden table in the sun", "sdxl-base"),
    ("PK204", "a house with (red roofs:1.2) covered with snow, a field (covered with snow:1.3)", "sdxl-base"),
    ("PK205", "1girl, 1boy", "kivotos-xl-2"),
    ("PK215", "portrait, cinematic, greg rutkowski artgerm beeple, 8k", "sd15"),
    ("PK206", "1girl, kazusa \\(blue archive\\)", "kivotos-xl-2"),
    ("PK208", "1girl, ^_^, >_<", "kivotos-xl-2"),
    ("PK208", "score_9, 1girl", "pony-v6"),
    ("PK301", "masterpiece, best quality, 1girl", "kivotos-xl-2"),
    ("PK303", "1girl, kazusa \\(blue archive\\), blue archive, smile, masterpiece", "kivotos-xl-2"),
    ("PK305", "long hair, blue eyes", "sotediffusion-wuerstchen3"),
    ("PK306", "1girl, solo", "sdxl-base"),
    ("PK306", "1girl, " + ",." * 3000 + ", smile", "kivotos-xl-2"),  # one CLIP word over 6,000 empty tags
])
def test_rules_stay_quiet_on_correct_prompts(code, text, profile):
    assert code not in codes(text, profile)


def test_every_rule_is_documented():
    rules = all_rules()
    assert len(rules) >= 20
    for rule in rules:
        doc = rule.docs()
        assert rule.summary() and "Why:" in doc and "Example" in doc, rule.code
        assert rule.category in ("syntax", "tags", "model", "template")
        if rule.fix_safety:
            assert "Fix" in doc, rule.code


def test_diagnostic_fields_and_positions():
    text = "1girl,\nkazusa (blue archive)"
    report = lint_prompt(text, "kivotos-xl-2", select=["PK206"])
    (d,) = report.diagnostics
    assert (d.line, d.column, d.start, d.end) == (2, 1, 7, len(text))
    data = d.to_dict()
    assert {"code", "name", "severity", "message", "start", "end", "line", "column", "suggestions", "fix"} <= set(data)
    assert data["suggestions"] == ["kazusa \\(blue archive\\)"]
    assert data["fix"]["safe"] is False


def test_select_and_ignore():
    text = "1grl, pony tail"
    assert set(codes(text, select=["PK2"])) <= {f"PK2{i:02d}" for i in range(1, 15)}
    assert "PK201" not in codes(text, ignore=["PK201"])
    assert codes(text, select=["alias-tag"]) == ["PK202"]


def test_unsafe_fix_of_unknown_tag_uses_the_suggestion():
    fixed, applied = fix_text("1grl, long hiar", "kivotos-xl-2", select=["PK201"], unsafe=True)
    assert fixed == "1girl, long hair"
    assert {d.code for d in applied} == {"PK201"}


def test_escape_fix_makes_one_character_tag():
    fixed, _ = fix_text("1girl, kazusa (blue archive)", "kivotos-xl-2", select=["PK206"], unsafe=True)
    assert fixed == "1girl, kazusa \\(blue archive\\)"
    assert [t.name for t in parse(fixed).tags] == ["1girl", "kazusa_(blue_archive)"]


def _tag_signature(text, db):
    return sorted((db.resolve(t.qualified_name) if not t.namespace else t.qualified_name, round(t.weight, 6), t.branch)
                  for t in parse(text).tags)


# Safe fixes on every corpus prompt with every profile: tests/test_lint_properties.py.


def test_format_is_idempotent_and_keeps_tags(texts):
    from promptkit.tags import TagDB

    db = TagDB.for_profile("kivotos-xl-2")
    bad = []
    for i, text in enumerate(texts[:300]):
        once = format_prompt(text, "kivotos-xl-2", db=db)
        if format_prompt(once, "kivotos-xl-2", db=db) != once or _tag_signature(once, db) != _tag_signature(text, db):
            bad.append(i)
    if bad:  # corpus positions only: some corpus texts are held-out audit prompts, never printed
        pytest.fail(f"fmt is not idempotent or changed tags on corpus texts {bad[:20]}")


def test_format_example():
    text = "smile,long_hair ,  kazusa \\(blue archive\\), 1girl, (masterpiece:1.2), blue archive,hires"
    assert promptkit.format(text, profile="kivotos-xl-2") == (
        "1girl, kazusa \\(blue archive\\), blue archive, smile, long hair, highres, (masterpiece:1.2)")


def test_python_api_entry_points():
    report = promptkit.lint("1girl, kazusa (blue archive)", profile="kivotos-xl-2")
    assert "PK206" in report.codes()
    assert report.profile == "kivotos-xl-2" and not report.ok


README = __import__("pathlib").Path(__file__).resolve().parents[1] / "README.md"


def test_readme_rules_table_is_the_registry():
    rows = [line.split("|")[1:5] for line in README.read_text(encoding="utf-8").splitlines()
            if line.startswith("| PK")]
    table = [tuple(c.strip() for c in row) for row in rows]
    assert table == [(r.code, r.name, "on" if r.default else "off", r.fix_safety or "-") for r in all_rules()]


def test_readme_lint_example_output_is_true():
    import shlex

    from click.testing import CliRunner

    from promptkit.cli.main import cli

    text = README.read_text(encoding="utf-8")
    block = text.split("```console\n", 1)[1].split("```", 1)[0]
    command, expected = block.split("\n", 1)
    args = shlex.split(command.removeprefix("$ promptkit "))
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1 and result.output == expected
