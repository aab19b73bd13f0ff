"""The container stage (promptkit.contain) and the linter, formatter and CLI going through it.

Real data: ../shared/corpus/modern_prompts.jsonl (each record names its container) and the AI Horde styles
(tests/data/horde_styles.json, CC0). Lint findings are only looked at on the development part of the corpus:
records whose source repository hashes into the held-out split (crc32 % 5 == 0) are kept for an independent
judgement and only detected and split here.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import pytest
from click.testing import CliRunner

from promptkit.cli.main import cli
from promptkit.contain import ContainerError, detect_container, split_document
from promptkit.contain.document import Segment
from promptkit.linter import format_prompt, lint_prompt

CORPUS = Path(__file__).resolve().parents[1] / ".." / "shared" / "corpus" / "modern_prompts.jsonl"
if not CORPUS.exists():
    CORPUS = Path("/work/shared/corpus/modern_prompts.jsonl")
HORDE = Path(__file__).parent / "data" / "horde_styles.json"
PROFILE = "illustrious-xl"

# The corpus's container names, and the kinds of ours that are the same thing.
SUPPORTED = {"styles-csv": {"a1111-styles-csv", "horde-style"}, "wildcard-file": {"wildcard-file"},
             "dynamic-template": {"dynamic-template"}, "kohya-sample": {"kohya-sample"},
             "regional-prompter": {"regional-prompter"}, "ti-template": {"ti-template"}, "prompt": {"prompt"}}


def _records(held_out: bool | None = None) -> list[dict]:
    out = []
    for line in CORPUS.read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        repo = r["source"].split(":", 1)[0]
        held = zlib.crc32(repo.encode()) % 5 == 0
        if held_out is None or held == held_out:
            r["path"] = r["source"].split(":", 1)[1].rsplit("@", 1)[0]
            out.append(r)
    return out


def _texts(records):
    for r in records:
        for text, negative in ((r["prompt"], False), (r["negative_prompt"] or "", True)):
            if text:
                yield r, text, negative


def _file_chars(text: str, seg: Segment) -> str:
    """What the file says where the segment is, decoded the way the segment's quoting is written."""
    raw = text[seg.start:seg.end]
    if seg.quoting == "csv":
        return raw.replace('""', '"')
    if seg.quoting == "json":
        return json.loads(f'"{raw}"')
    return raw


def _placeholder_spans(doc) -> list[tuple[int, int]]:
    return [(s.to_file(p.start), s.to_file(p.end)) for s in doc.segments for p in s.placeholders]


def _between(doc) -> list[str]:
    """The file's bytes outside the top-level prompt segments, and every placeholder's text, in order."""
    tops = sorted((s for s in doc.segments if s.is_prompt and not s.nested), key=lambda s: s.start)
    out, pos = [], 0
    for s in tops:
        out.append(doc.text[pos:s.start])
        out.extend(doc.text[a:b] for a, b in ((s.to_file(p.start), s.to_file(p.end)) for p in s.placeholders))
        pos = s.end
    out.append(doc.text[pos:])
    return out


# -- detection and splitting on the whole corpus (no findings looked at) --------------------------------------------

def test_detection_agrees_with_the_corpus_containers():
    agree = total = 0
    for held_out in (False, True):
        for r in _records(held_out):
            if r["container"] in SUPPORTED:
                total += 1
                agree += detect_container(r["prompt"], r["path"]) in SUPPORTED[r["container"]]
    print(f"container detection agrees on {agree}/{total} records")
    assert total >= 200 and agree / total >= 0.9


def test_unambiguous_markers_alone_are_enough_and_ambiguous_text_stays_a_prompt():
    # no path: only markers decide
    for r in _records():
        kind = detect_container(r["prompt"])
        if "{prompt}" in r["prompt"]:
            assert kind == "a1111-styles-csv"
        if r["container"] == "kohya-sample" and " --n " in r["prompt"]:
            assert kind == "kohya-sample"
    # BREAK alone is A1111 chunking as much as regions, a tag per line is a caption as much as a wildcard file
    assert detect_container("1girl, smile BREAK red hair, blue eyes") == "prompt"
    assert detect_container("smiling\nserious\nlaughing") == "prompt"
    assert detect_container("fantasy ADDCOMM sky ADDROW castle") == "regional-prompter"
    assert detect_container("{masterpiece}, 1girl") == "prompt"  # NovelAI emphasis, not a variant


FRESH = Path(__file__).parent / "audit" / "fresh_modern" / "records.jsonl"


def test_a_preset_file_of_whole_prompts_is_read_one_line_at_a_time():
    """A wildcards/preset.txt of the fresh set (Mylakovich/SD-wildcards), linted without its path: every line
    repeats the same head, so the lines are alternatives and the head is no duplicate (25 findings before)."""
    preset = next(json.loads(line) for line in FRESH.read_text(encoding="utf-8").splitlines()
                  if "wildcards/preset.txt" in line)["prompt"]
    assert detect_container(preset) == "wildcard-file"
    assert "PK204" not in lint_prompt(preset, profile=PROFILE).codes()
    # one prompt over several lines (each line continued by a comma, or no shared head) is still one prompt
    assert detect_container("masterpiece, best quality, 1girl,\nsolo, smile,\nsolo, smile") == "prompt"
    several = "masterpiece, best quality, 1girl, solo\nred hair, blue eyes, smile\nmasterpiece, outdoors, sky, day"
    assert detect_container(several) == "prompt"
    # a long list of short items and no comma (a wildcard file given without its path) is a list of options
    hair = json.loads(next(line for line in FRESH.read_text(encoding="utf-8").splitlines()
                           if "wildcards/hair_style.txt" in line))["prompt"]
    assert detect_container(hair) == "wildcard-file"
    assert "PK306" not in lint_prompt(hair, profile=PROFILE).codes()
    repeated = "masterpiece, best quality, 1girl, solo\nmasterpiece, best quality, 1girl, smile\nforest"
    assert detect_container(repeated) == "wildcard-file"
    assert "PK204" in lint_prompt(repeated.replace("\n", ", "), profile=PROFILE).codes()


def test_every_segment_is_the_exact_characters_of_the_file():
    segments = 0
    for r, text, negative in _texts(_records()):
        doc = split_document(text, path=r["path"], negative=negative)
        for seg in doc.segments:
            segments += 1
            assert 0 <= seg.start <= seg.end <= len(text)
            assert _file_chars(text, seg) == seg.text, (r["source"], seg)
            for p in seg.placeholders:
                assert seg.text[p.start:p.end] == text[seg.to_file(p.start):seg.to_file(p.end)] or seg.quoting
    assert segments > 1000


def test_horde_styles_file_splits_at_the_negative_marker():
    text = HORDE.read_text(encoding="utf-8")
    doc = split_document(text, path="styles.json")
    assert doc.container == "horde-style"
    data = json.loads(text)
    prompts = [v["prompt"] for v in data.values() if isinstance(v, dict) and "prompt" in v]
    assert len([s for s in doc.segments if not s.nested and s.role == "negative"]) == \
        sum(1 for p in prompts if p.split("###", 1)[-1].strip() and "###" in p)
    for seg in doc.segments:
        assert _file_chars(text, seg) == seg.text
        assert "###" not in seg.text or seg.negative  # the first ### starts the negative; later ones are its text
        for p in seg.placeholders:
            assert seg.text[p.start:p.end] in ("{p}", "{np}") or p.kind in ("variant", "wildcard", "variable")


# -- linting through the container (development records only) --------------------------------------------------------

def test_no_finding_lands_on_a_placeholder_in_the_corpus():
    before = after = 0
    for r, text, negative in _texts(_records(held_out=False)):
        doc = split_document(text, path=r["path"], negative=negative)
        spans = _placeholder_spans(doc)
        if not spans:
            continue
        # an option of a variant is prompt text of its own (a nested segment): a finding inside it is on its text
        options = [(s.start, s.end) for s in doc.segments if s.nested]

        def hits(d):
            if any(s <= d.start and d.end <= e for s, e in options):
                return False
            return any(d.start < e and s < d.end or d.start == d.end and s <= d.start <= e for s, e in spans)

        before += sum(map(hits, lint_prompt(text, PROFILE, negative=negative, container="prompt").diagnostics))
        # the template rules (PK4xx) judge the template syntax itself: their findings are on it by design
        after += sum(hits(d) for d in lint_prompt(text, PROFILE, negative=negative, path=r["path"]).diagnostics
                     if not d.code.startswith("PK4"))
    print(f"findings on placeholders: {before} read as one prompt, {after} through the container")
    assert before > 20 and after == 0


def test_horde_placeholders_get_no_finding_and_no_fix():
    from promptkit.contain import split_document

    data = json.loads(HORDE.read_text(encoding="utf-8"))
    prompts = [v["prompt"] for v in data.values() if isinstance(v, dict) and "{p}" in v.get("prompt", "")]
    after = 0
    for p in prompts:
        marks = [(i, i + len(m)) for m in ("{p}", "{np}") for i in range(len(p)) if p.startswith(m, i)]

        def on_mark(d):
            return any(d.start < e and s < d.end for s, e in marks) or d.fix is not None and any(
                e.start < me and ms < e.end for e in d.fix.edits for ms, me in marks)

        assert split_document(p).container == "horde-style", p
        after += sum(map(on_mark, lint_prompt(p, "sdxl-base", select=["ALL"]).diagnostics))
    print(f"{len(prompts)} horde styles: {after} findings or fixes on {{p}}/{{np}} with every rule on")
    assert len(prompts) > 300 and after == 0


def test_fmt_keeps_every_placeholder_and_segment_boundary_byte_for_byte():
    checked = 0
    for r, text, negative in _texts(_records(held_out=False)):
        doc = split_document(text, path=r["path"], negative=negative)
        if doc.plain:
            continue
        new = format_prompt(text, PROFILE, negative=negative, path=r["path"])
        again = split_document(new, container=doc.container, path=r["path"], negative=negative)
        assert _between(again) == _between(doc), r["source"]
        assert format_prompt(new, PROFILE, negative=negative, path=r["path"]) == new  # idempotent
        checked += 1
    assert checked > 100


# -- hand-checked cases per format -------------------------------------------------------------------------------

def _found(text, **kw):
    report = lint_prompt(text, PROFILE, **kw)
    return [(d.code, text[d.start:d.end], d.line, d.column) for d in report.diagnostics]


def test_styles_csv_positions_go_through_the_quotes():
    text = ('name,prompt,negative_prompt\n'
            'Anime,"masterpiece, {prompt}, ""quoted"", 1girl, 1girl","blurry"\n'
            'Bare,{prompt} lineart,"lowres, lowres"\n')
    doc = split_document(text, path="styles.csv")
    assert [(s.role, s.label, s.text) for s in doc.segments] == [
        ("positive", "Anime", 'masterpiece, {prompt}, "quoted", 1girl, 1girl'), ("negative", "Anime", "blurry"),
        ("positive", "Bare", "{prompt} lineart"), ("negative", "Bare", "lowres, lowres")]
    found = _found(text, path="styles.csv")
    row2, row3 = text.split("\n")[1:3]
    assert ("PK204", "1girl", 2, row2.rindex("1girl") + 1) in found and ("PK204", "lowres", 3, 32) in found
    assert all(f[1] != "{prompt}" for f in found)


def test_horde_style_negative_part_is_a_negative_of_its_own():
    text = "{p}, anime, blurry###{np}, blurry, lowres"
    doc = split_document(text)
    assert doc.container == "horde-style"
    assert [(s.role, s.text) for s in doc.segments] == [("positive", "{p}, anime, blurry"),
                                                        ("negative", "{np}, blurry, lowres")]
    assert not any(code == "PK204" for code, *_ in _found(text))  # blurry once in each part: no duplicate
    assert format_prompt(text, PROFILE) .count("###") == 1


def test_regional_prompter_duplicates_are_per_region():
    text = "masterpiece, 1girl ADDCOMM red hair, red hair BREAK red hair, blue eyes"
    doc = split_document(text)
    assert [(s.role, s.text) for s in doc.segments] == [
        ("common", "masterpiece, 1girl"), ("region", "red hair, red hair"), ("region", "red hair, blue eyes")]
    dups = [f for f in _found(text) if f[0] == "PK204"]
    assert dups == [("PK204", "red hair", 1, 38)]


def test_forge_couple_definitions_and_uses():
    text = ("3girls, hatsune miku, {common:vocaloid, smile}, holding a sign\n"
            "3girls, kasane teto, {common}, holding a sign")
    doc = split_document(text, container="forge-couple")
    assert [s.role for s in doc.segments] == ["region", "region"]
    kinds = [(p.kind, doc.segments[0].text[p.start:p.end]) for p in doc.segments[0].placeholders]
    assert kinds == [("couple-define", "{common:"), ("couple-define-end", "}")]
    assert detect_container(text) == "forge-couple"
    assert not any("{" in f[1] or "}" in f[1] for f in _found(text))


def test_kohya_options_are_not_prompt_text():
    text = ("# prompt 1\n"
            "masterpiece, 1girl, 1girl --n lowres, lowres --w 768 --h 768 --d 1 --l 7.5 --s 28\n"
            "masterpiece, 1boy --n lowres")
    doc = split_document(text)
    assert doc.container == "kohya-sample"
    assert [(s.role, s.text) for s in doc.segments] == [
        ("positive", "masterpiece, 1girl, 1girl"), ("negative", "lowres, lowres"), ("settings", "--w 768"),
        ("settings", "--h 768"), ("settings", "--d 1"), ("settings", "--l 7.5"), ("settings", "--s 28"),
        ("positive", "masterpiece, 1boy"), ("negative", "lowres")]
    found = _found(text)
    assert sorted(f[:2] for f in found) == [("PK204", "1girl"), ("PK204", "lowres")]
    assert all(f[2] == 2 for f in found)  # line 2 of the file, not of a prompt


def test_ti_template_lines_with_placeholders():
    text = "a photo of [name], [filewords]\na painting of [name], [filewords]"
    doc = split_document(text, path="textual_inversion_templates/subject_filewords.txt")
    assert doc.container == "ti-template" and len(doc.segments) == 2
    assert _found(text) == []  # the repeats of [name] across lines are no duplicates
    assert format_prompt(text, PROFILE).count("[filewords]") == 2


def test_dynamic_template_variants_are_opaque_and_their_options_linted():
    text = "A {red|blue|{2$$dark|ligth} green} dog, __hair/colors__, ${s=x}, masterpeice"
    doc = split_document(text)
    assert doc.container == "dynamic-template"
    assert [(p.kind, text[p.start:p.end]) for p in doc.segments[0].placeholders] == [
        ("variant", "{red|blue|{2$$dark|ligth} green}"), ("wildcard", "__hair/colors__"), ("variable", "${s=x}")]
    assert [s.text for s in doc.segments if s.nested] == ["red", "blue", "{2$$dark|ligth} green", "dark", "ligth"]
    found = _found(text)
    assert ("PK201", "masterpeice", 1, text.index("masterpeice") + 1) in found
    assert not any(code in ("PK104", "PK106") for code, *_ in found)  # no variant read as NovelAI braces


def test_wildcard_files_txt_and_yaml():
    txt = "# hair colours\nred hair\nblonde hair\n\nred hair"
    doc = split_document(txt, path="wildcards/hair.txt")
    assert [(s.role, s.text) for s in doc.segments] == [("option", "red hair"), ("option", "blonde hair"),
                                                        ("option", "red hair")]
    # a tag repeats across lines freely (no PK204); only a whole line written twice is reported (PK404)
    assert [code for code, *_ in _found(txt, path="wildcards/hair.txt")] == ["PK404"]
    assert _found("red hair, smile\nred hair, blush\n", path="wildcards/hair.txt") == []
    yml = 'hair:\n  colors:\n    - red hair\n    - "blue hair, long hair"\n  style: [ponytail]\n'
    doc = split_document(yml, path="wildcards/hair.yaml")
    assert [(s.label, s.text) for s in doc.segments] == [
        ("hair/colors/0", "red hair"), ("hair/colors/1", "blue hair, long hair"), ("hair/style/0", "ponytail")]
    with pytest.raises(ContainerError):
        split_document("a: [b\n", path="wildcards/broken.yaml")


def test_yaml_collection_without_a_file_name_reads_as_with_one():
    """A collection recognised by its YAML head (no file name) is parsed once for the check and its leaves: the
    leaves are those of the text as written (a '<<' merge key's leaves under its own key), as a .yaml file reads,
    not those of the mapping PyYAML builds from it (building merges the keys into the tree in place)."""
    text = ("colors:\n  - red\nbase: &b\n  hair:\n    - long hair\n    - short hair\n"
            "child:\n  <<: *b\n  eyes:\n    - blue eyes\n")
    assert detect_container(text) == "wildcard-file"
    named = split_document(text, path="wildcards/look.yaml")
    for doc in (split_document(text), named):
        assert doc.container == "wildcard-file"
        assert [(s.label, s.start, s.text) for s in doc.segments] == \
            [(s.label, s.start, s.text) for s in named.segments]
    assert ("child/eyes/0", "blue eyes") in [(s.label, s.text) for s in named.segments]
    assert "child/<</hair/0" in [s.label for s in named.segments]
    # a mapping with a non-string leaf is not a collection, however often it is asked
    assert detect_container("sizes:\n  - 512\n") != "wildcard-file"


def test_infotext_parts():
    text = ("1girl, smile, smile\nNegative prompt: lowres, bad hands\n"
            "Steps: 28, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 832x1216")
    assert detect_container(text) == "prompt"  # pasted into a prompt, an infotext is a finding (PK110)
    doc = split_document(text, container="infotext")
    assert [(s.role, s.text) for s in doc.segments] == [
        ("positive", "1girl, smile, smile"), ("negative", "lowres, bad hands"),
        ("settings", "Steps: 28, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 832x1216")]


def test_fix_never_touches_a_placeholder():
    from promptkit.linter import fix_text

    text = "{p}, 1girl, 1girl###{np}, lowres, lowres"
    fixed, applied = fix_text(text, PROFILE, unsafe=True)
    assert fixed == "{p}, 1girl###{np}, lowres" and len(applied) == 2
    style = 'name,prompt,negative_prompt\nA,"{prompt}, ""x"", 1girl, 1girl",\n'
    fixed, _ = fix_text(style, PROFILE, unsafe=True, path="styles.csv")
    assert fixed == 'name,prompt,negative_prompt\nA,"{prompt}, ""x"", 1girl",\n'


# -- the command line ----------------------------------------------------------------------------------------------------

def test_cli_container_option_and_file_positions(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "styles.csv").write_text('name,prompt,negative_prompt\nA,"{prompt}, 1girl, 1girl","x"\n')
    run = CliRunner().invoke(cli, ["lint", "-p", PROFILE, "styles.csv"])
    assert run.exit_code == 1 and "styles.csv:2:21: PK204" in run.output and "{prompt}" in run.output
    run = CliRunner().invoke(cli, ["lint", "-p", PROFILE, "--container", "prompt", "{p}, {p}, 1girl"])
    assert "PK204" in run.output  # read as one prompt on request: {p} is then text, and it repeats
    assert "PK204" not in CliRunner().invoke(cli, ["lint", "-p", PROFILE, "{p}, {p}, 1girl"]).output
    run = CliRunner().invoke(cli, ["lint", "-p", PROFILE, "{p}, 1girl"])
    assert run.exit_code == 0, run.output
    run = CliRunner().invoke(cli, ["lint", "--container", "nope", "x"])
    assert run.exit_code == 2 and "unknown container 'nope'" in run.output
    run = CliRunner().invoke(cli, ["fmt", "-p", PROFILE, "--container", "horde", "{p},1girl,smile###{np},lowres,blurry"])
    assert run.output.strip() == "{p},1girl, smile###{np},lowres, blurry"  # the bytes around placeholders stay
    (tmp_path / "broken.yaml").write_text("a: [b\n")
    run = CliRunner().invoke(cli, ["lint", "-p", PROFILE, "broken.yaml"])
    assert run.exit_code == 2 and run.output.count("\n") == 1 and "wildcard" in run.output


def test_config_names_the_container(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "promptkit.toml").write_text('container = "horde-style"\nprofile = "illustrious-xl"\n')
    (tmp_path / "style.txt").write_text("{p}, 1girl, smile###{np}, lowres, lowres")
    run = CliRunner().invoke(cli, ["lint", "style.txt", "--format", "json"])
    found = json.loads(run.output)[0]["diagnostics"]
    assert [(d["code"], d["line"], d["column"]) for d in found] == [("PK204", 1, 35)]
    (tmp_path / "promptkit.toml").write_text('container = "nope"\n')
    run = CliRunner().invoke(cli, ["lint", "style.txt"])
    assert run.exit_code == 2 and "unknown container" in run.output


def test_editor_documents_go_through_the_container_stage():
    from promptkit.editing import analysis

    text = ('name,prompt,negative_prompt\n'
            'Anime,"masterpiece, {prompt}, ""quoted"", 1girl,1girl","blurry"\n')
    doc = analysis.resolve(text, "my_styles.csv")
    assert doc.mode == "a1111-styles-csv"
    findings = [f for f in analysis.lint(doc) if f["code"] == "PK204"]
    assert [text[f["start"]:f["end"]] for f in findings] == ["1girl"] and findings[0]["start"] == text.rindex("1girl")
    edits = analysis.format_document(doc)
    new = analysis.apply_edits(text, edits)
    assert new.count("{prompt}") == 1 and new.startswith('name,prompt,negative_prompt\nAnime,"masterpiece, {prompt},')
    # a first-line directive names a container kind
    text = "# promptkit: mode=kohya-sample profile=illustrious-xl\n1girl, 1girl --n lowres --w 768"
    doc = analysis.resolve(text)
    assert doc.mode == "kohya-sample"
    assert [(s.role, s.text) for s in doc.segments] == [("positive", "1girl, 1girl"), ("negative", "lowres"),
                                                        ("settings", "--w 768")]
    assert [text[f["start"]:f["end"]] for f in analysis.lint(doc)] == ["1girl"]


def test_fixes_inside_variant_options_and_json_strings():
    from promptkit.linter import fix_text

    text = "A {1girl, 1girl, smile|solo} dog, masterpiece"
    fixed, _ = fix_text(text, PROFILE, unsafe=True)
    assert fixed == "A {1girl, smile|solo} dog, masterpiece"  # the option fixed, the variant kept whole
    wild = '{"hair": ["red hair, red hair", "a \\"quoted\\" tag, a \\"quoted\\" tag"]}'
    doc = split_document(wild, path="wildcards/hair.json")
    assert [s.text for s in doc.segments] == ["red hair, red hair", 'a "quoted" tag, a "quoted" tag']
    found = lint_prompt(wild, PROFILE, path="wildcards/hair.json").diagnostics
    assert [wild[d.start:d.end] for d in found if d.code == "PK204"] == ["red hair", 'a \\"quoted\\" tag']
    fixed, _ = fix_text(wild, PROFILE, unsafe=True, path="wildcards/hair.json")
    assert json.loads(fixed) == {"hair": ["red hair", 'a "quoted" tag']}


def test_no_fix_moves_text_across_a_placeholder():
    from promptkit.contain.document import Placeholder
    from promptkit.linter.containers import _crosses
    from promptkit.linter.diagnostics import Edit

    seg = split_document("b, {prompt}, a").segments[0]
    assert seg.placeholders == [] or [(p.start, p.end) for p in seg.placeholders] == [(3, 11)]
    assert _crosses(seg, [Edit(0, 1, "a"), Edit(13, 14, "b")])  # a swap written as two replacements
    assert not _crosses(seg, [Edit(13, 14, "c")])
    assert _crosses(seg, [Edit(2, 3, "")]) and _crosses(seg, [Edit(11, 11, " x")])  # touching its edges
    assert isinstance(seg.placeholders[0], Placeholder)


def test_formatting_and_fixing_the_horde_styles_file_keeps_it_valid():
    from promptkit.linter import fix_text

    text = HORDE.read_text(encoding="utf-8")
    before = json.loads(text)
    for new in (format_prompt(text, "sdxl-base", path="styles.json"),
                fix_text(text, "sdxl-base", unsafe=True, path="styles.json")[0]):
        after = json.loads(new)  # still JSON
        assert after.keys() == before.keys()
        changed = 0
        for name, style in before.items():
            if not isinstance(style, dict):
                assert after[name] == style
                continue
            assert {k: v for k, v in after[name].items() if k != "prompt"} == \
                {k: v for k, v in style.items() if k != "prompt"}
            old, got = style.get("prompt", ""), after[name].get("prompt", "")
            for mark in ("{p}", "{np}", "###"):
                assert got.count(mark) == old.count(mark), (name, old, got)
            assert got.split("###")[0].index("{p}") >= 0 if "{p}" in old.split("###")[0] else True
            changed += got != old
        assert changed > 0
    assert format_prompt(format_prompt(text, "sdxl-base", path="styles.json"), "sdxl-base", path="styles.json") == \
        format_prompt(text, "sdxl-base", path="styles.json")


def test_regional_prompter_common_prompt_is_part_of_every_region():
    from promptkit.editing import analysis

    text = "masterpiece, 1girl ADDCOMM 1girl, red hair BREAK blue eyes, smile"
    found = [(d.code, text[d.start:d.end], d.start) for d in lint_prompt(text, PROFILE).diagnostics]
    assert found == [("PK204", "1girl", text.index("1girl, red"))]
    doc = analysis.resolve(text, None, analysis.Settings(profile=PROFILE))
    assert [(f["code"], f["start"]) for f in analysis.lint(doc)] == [("PK204", text.index("1girl, red"))]


def test_a_comfyui_workflow_is_its_text_encoders_prompts():
    """A workflow file (API or UI format) holds prompts only in its text-encode nodes: keys, numbers and the
    sampler's settings are not prompt text (an independent judge found PK204 on repeated JSON keys and PK215
    'denoise' -> 'denise' when a workflow was read as one prompt). The sampler's negative input says which
    encoder is the negative."""
    api = {"3": {"class_type": "KSampler", "inputs": {"denoise": 1.0, "sampler_name": "euler",
                                                      "positive": ["6", 0], "negative": ["7", 0]}},
           "6": {"class_type": "CLIPTextEncode", "inputs": {"text": 'masterpiece, 1girl, long hiar, "smile"',
                                                            "clip": ["4", 1]}},
           "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "lowres, worst quality, lowres", "clip": ["4", 1]}},
           "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "model.safetensors"}}}
    text = json.dumps(api, indent=2)
    doc = split_document(text, path="workflow.json")
    assert doc.container == "comfy-graph" == detect_container(text)
    assert [(s.role, s.text) for s in doc.segments] == [
        ("positive", 'masterpiece, 1girl, long hiar, "smile"'), ("negative", "lowres, worst quality, lowres")]
    report = lint_prompt(text, PROFILE, path="workflow.json")
    found = {(d.code, text[d.start:d.end]) for d in report.diagnostics}
    assert found == {("PK201", "long hiar"), ("PK204", "lowres")}
    (typo,) = [d for d in report.diagnostics if d.code == "PK201"]
    assert text.splitlines()[typo.line - 1][typo.column - 1:].startswith("long hiar")
    ui = {"nodes": [{"id": 6, "type": "CLIPTextEncode", "title": "Positive", "widgets_values": ["1girl, smiel"]},
                    {"id": 7, "type": "CLIPTextEncode", "title": "Negative Prompt", "widgets_values": ["lowres"]},
                    {"id": 3, "type": "KSampler", "widgets_values": [1, "fixed", 20, 7, "euler", "normal", 1]}]}
    doc = split_document(json.dumps(ui))
    assert [(s.role, s.text) for s in doc.segments] == [("positive", "1girl, smiel"), ("negative", "lowres")]


def test_a_wildcard_file_named_for_negatives_holds_negatives():
    # unseen_dec2 m19: finasu's negative_quality_tags.txt, lines of negative prompts
    from promptkit.contain import split_document
    from pathlib import Path as _Path
    import json as _json

    rec = next(_json.loads(line) for line in (_Path(__file__).parent / "audit" / "unseen_dec2" / "records.jsonl")
               .read_text(encoding="utf-8").splitlines() if "negative_quality_tags.txt" in line)
    path = rec["source"].split(":", 1)[1].rsplit("@", 1)[0]
    doc = split_document(rec["prompt"], container="wildcard-file", path=path)
    assert doc.segments and all(s.role == "negative" for s in doc.segments)
    assert {s.role for s in split_document("long hair\n", container="wildcard-file", path="negligee.txt").segments} \
        == {"option"}
    yaml = split_document("hair:\n  - long hair\nneg:\n  - lowres\n", container="wildcard-file", path="w.yaml")
    assert [(s.label, s.role) for s in yaml.segments] == [("hair/0", "option"), ("neg/0", "negative")]
