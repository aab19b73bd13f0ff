"""Dynamic-prompts templates: the lossless tree and expansion judged against the reference library.

The reference is ``dynamicprompts`` 0.31.0 (MIT, in the dev extra): its CombinatorialPromptGenerator runs at
test time on the same templates and wildcard folder as ``promptkit.expand``, so these tests fail when the
two differ. Templates come from the reference's own test suite (``tests/data/dynamicprompts/templates.json``,
extracted from its tests with their file names), from the wildcard files and templates of the shared corpus,
and from a grammar-aware hypothesis strategy run with fixed settings (derandomized). Where the reference
does not give an answer (it loops forever on a missing wildcard inside a variant, returns ``__name__`` for a
missing one, or crashes with StopIteration/NotImplementedError) promptkit raises ExpansionError or answers;
those cases are checked on their own.
"""

from __future__ import annotations

import json
import logging
import signal
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

import promptkit
from dynamic_strategies import templates
from promptkit.syntax.dynamic import Variants, option_spans, parse_template, reads_as_template
from promptkit.syntax.errors import PromptSyntaxError
from promptkit.templates import Expander

dp_generators = pytest.importorskip("dynamicprompts.generators")
dp_wildcards = pytest.importorskip("dynamicprompts.wildcards")

DATA = Path(__file__).parent / "data" / "dynamicprompts"
WILDCARDS = DATA / "wildcards"
CORPUS = Path(__file__).resolve().parents[1] / ".." / "shared" / "corpus" / "modern_prompts.jsonl"
LIMIT = 1000  # the reference generator's default max_prompts


class _Timeout(Exception):
    pass


def _reference(template: str, folder: Path | None, limit: int = LIMIT, seconds: int = 5):
    """The reference's prompts, or the name of the exception it raised (None: it did not finish)."""
    warnings.simplefilter("ignore")
    logging.getLogger("dynamicprompts").setLevel(logging.CRITICAL)
    manager = dp_wildcards.WildcardManager(folder) if folder else dp_wildcards.WildcardManager(None)
    gen = dp_generators.CombinatorialPromptGenerator(manager)

    def stop(*_):
        raise _Timeout

    old = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        return gen.generate(template, max_prompts=limit)
    except _Timeout:
        return None
    except Exception as exc:  # noqa: BLE001 - the reference's failure is the answer
        return type(exc).__name__
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _ours(template: str, folder, limit: int = LIMIT):
    try:
        return promptkit.expand(template, wildcards=folder, limit=limit)
    except promptkit.ExpansionError as exc:
        return exc


def _compare(template: str, folder) -> str:
    """'same', or why the case is not comparable; fails when both answer and differ."""
    ours = _ours(template, folder)
    if isinstance(ours, promptkit.ExpansionError) and "no wildcard" in str(ours):
        return "missing wildcard"  # the reference answers '__name__' forever (or hangs): we refuse
    ref = _reference(template, folder)
    if ref is None or ref in ("RuntimeError", "NotImplementedError", "RecursionError"):
        return f"reference failed: {ref}"
    if isinstance(ref, str):  # ParseException, KeyError (undefined variable): we refuse too
        assert isinstance(ours, promptkit.ExpansionError), (template, ref, ours)
        return "both refuse"
    assert ours == ref, template
    if len(ref) < LIMIT:
        assert promptkit.count_expansions(template, wildcards=folder) == len(ref), template
    return "same"


def _reference_templates() -> list[str]:
    return [r["template"] for r in json.loads((DATA / "templates.json").read_text())]


def test_reference_test_suite_templates_expand_identically():
    outcomes: dict[str, int] = {}
    for template in _reference_templates():
        if "~" in template or "@" in template:
            continue  # random and cyclical draws: checked by membership below
        outcome = _compare(template, WILDCARDS)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    assert outcomes["same"] >= 80, outcomes  # 82 in 0.31.0; the rest name wildcards their tests mock
    assert outcomes.get("both refuse", 0) >= 5, outcomes


def test_known_reference_answers():
    """A few answers written out, so a change in the reference shows up here too."""
    assert promptkit.expand("{2$$ and $$A|B|C}") == ["A and B", "A and C", "B and A", "B and C", "C and A",
                                                    "C and B"]
    assert promptkit.expand("{ a | b }") == ["a ", "b "]  # leading whitespace goes, trailing stays
    assert promptkit.expand("{a|a|b}") == ["a", "b"]
    assert promptkit.expand("x #c\ny") == ["x  \ny"]  # pieces around a comment joined by a space
    assert promptkit.expand("${x=!{a|b}} ${x} ${x}") == [" a a"]
    assert promptkit.expand("${x={a|b}} ${x} ${x}") == [" a a", " a b", " b a", " b b"]
    assert promptkit.expand("%{happy ... on a meadow$${fox|cow}}") == ["happy fox on a meadow",
                                                                       "happy cow on a meadow"]
    assert promptkit.expand("{2$$__colors-cold__}", wildcards=WILDCARDS) == _reference(
        "{2$$__colors-cold__}", WILDCARDS)


@settings(max_examples=150, deadline=None, database=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(templates(samplers=False))
def test_generated_templates_expand_identically(text):
    _compare(text, WILDCARDS)


@settings(max_examples=150, deadline=None, database=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(templates())
def test_tree_is_lossless(text):
    try:
        tree = parse_template(text)
    except PromptSyntaxError:
        return
    assert tree.render() == text
    for start, end in option_spans(tree):
        assert 0 <= start <= end <= len(text)


def _corpus_folder(tmp_path: Path) -> tuple[Path, list[str]]:
    """The corpus's wildcard files written as a folder, named as in their repositories."""
    names = []
    for line in CORPUS.read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        if rec.get("container") != "wildcard-file":
            continue
        repo_path = rec["source"].split(":", 1)[1].rsplit("@", 1)[0]
        rel = Path(repo_path.split("wildcards/", 1)[1] if "wildcards/" in repo_path else Path(repo_path).name)
        if rel.suffix not in (".txt", ".yaml", ".json", ".yml"):
            rel = rel.with_suffix(".yaml")  # YAML snippets quoted in docs
        target = tmp_path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            continue
        target.write_text(rec["prompt"], encoding="utf-8")
        names.append(str(rel.with_suffix("")))
    return tmp_path, names


def test_corpus_wildcard_files_expand_identically(tmp_path):
    folder, names = _corpus_folder(tmp_path)
    assert len(names) >= 30
    outcomes: dict[str, int] = {}
    for name in names:
        for template in (f"__{name}__", f"{{2$$ and $$__{name}__}}", f"a __{name}__, {{b|c}}"):
            outcome = _compare(template, folder)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
    for line in CORPUS.read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        if rec.get("container") == "dynamic-template":
            outcome = _compare(rec["prompt"], folder)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
    assert outcomes["same"] >= 90, outcomes  # 95; the rest name wildcard files the corpus does not hold


def test_random_and_cyclical_give_members_of_the_combinatorial_set():
    for template in ["{red|green|blue} {2$$ and $$cat|dog|bird}", "A {~red|green} {ball|car}",
                     "__animals/mammals/*__ {0.1::x|9::y}", "${x={a|b}} ${x}-${x}", "{1-2$$__colors*__|black}"]:
        everything = set(promptkit.expand(template, wildcards=WILDCARDS.as_posix(), seed=1)) if "~" not in \
            template else set(promptkit.expand(template.replace("~", ""), wildcards=WILDCARDS))
        drawn = promptkit.expand(template, wildcards=WILDCARDS, mode="random", limit=60, seed=7)
        assert set(drawn) <= everything, template
        assert len(set(drawn)) > 1
        assert drawn == promptkit.expand(template, wildcards=WILDCARDS, mode="random", limit=60, seed=7)
        cycled = promptkit.expand(template, wildcards=WILDCARDS, mode="cyclical", limit=12)
        assert set(cycled) <= everything, template
    weighted = promptkit.expand("{0.1::x|9::y}", mode="random", limit=400, seed=3)
    assert weighted.count("y") > 300  # weights count in random mode


def test_errors_say_where():
    with pytest.raises(promptkit.ExpansionError) as err:
        promptkit.expand("a __animl__ b", wildcards=WILDCARDS)
    assert "template:1:3" in str(err.value) and "animal" in str(err.value)
    with pytest.raises(promptkit.ExpansionError) as err:
        promptkit.expand("{a|b", wildcards=WILDCARDS)
    assert "template:1:1" in str(err.value)


def test_wildcard_cycle_is_an_error_with_file_and_line(tmp_path):
    (tmp_path / "a.txt").write_text("red\n__b__ cat\n")
    (tmp_path / "b.txt").write_text("# comment\n__a__\n")
    with pytest.raises(promptkit.ExpansionError) as err:
        promptkit.expand("__a__", wildcards=tmp_path)
    message = str(err.value)
    assert "cycle" in message and "a -> b -> a" in message and "b.txt:2" in message
    assert _reference("__a__", tmp_path, seconds=10) == "RecursionError"  # what the reference does


def test_too_big_to_enumerate_and_exact_count():
    template = "{a|b|c|d|e|f|g|h|i|j} " * 7  # 10**7 prompts
    assert promptkit.count_expansions(template) == 10 ** 7
    with pytest.raises(promptkit.ExpansionError, match="10,000,000 prompts"):
        promptkit.expand(template)
    assert promptkit.expand(template, limit=3) == _reference(template, None, limit=3)
    # a variant drops repeated results: counted exactly, not by formula
    assert promptkit.count_expansions("{a|{a|b}} {x|}") == len(promptkit.expand("{a|{a|b}} {x|}")) == 4


def test_mapping_wildcards():
    assert promptkit.expand("__hair__ eyes", wildcards={"hair": ["red", "blue", "red"]}) == ["blue eyes",
                                                                                              "red eyes"]


def test_tree_spans_and_options():
    text = "1girl, {long hiar|short hair}, {0.5::smile|frown}"
    tree = parse_template(text)
    spans = [text[s:e] for s, e in option_spans(tree)]
    assert spans == ["long hiar", "short hair", "smile", "frown"]
    variants = [n for n in tree.walk() if type(n) is Variants]
    assert [o.weight for o in variants[1].options] == [0.5, 1.0]


def test_dialect_settles_braces():
    assert reads_as_template("{red|blue} eyes", "a1111")
    assert not reads_as_template("{red|blue} eyes", "novelai")
    assert not reads_as_template("{masterpiece}, 1girl", "a1111")  # emphasis-like braces without |, $$, ::
    assert reads_as_template("{2$$a|b}", "comfy")
    assert reads_as_template("1girl, __hair__", "forge")


def test_expander_reuses_parsed_wildcards():
    ex = Expander(WILDCARDS)
    first = ex.expand("__animal__ {a|b}")
    assert ex.expand("__animal__ {a|b}") == first == _reference("__animal__ {a|b}", WILDCARDS)


def test_cli_expand():
    from click.testing import CliRunner

    from promptkit.cli.main import cli

    def run(*args):
        return CliRunner().invoke(cli, ["expand", *args], catch_exceptions=False)

    template = "1girl, {red|blue} eyes, {2$$ and $$smile|blush}"
    out = run(template)
    assert out.exit_code == 0 and out.output.splitlines() == _reference(template, None)
    out = run("__animal__ {x|y}", "--wildcards", str(WILDCARDS), "--json", "-n", "3")
    assert json.loads(out.output) == _reference("__animal__ {x|y}", WILDCARDS, limit=3)
    drawn = run("__animal__ {x|y}", "-w", str(WILDCARDS), "-m", "random", "-n", "5", "--seed", "4", "--json")
    assert json.loads(drawn.output) == promptkit.expand("__animal__ {x|y}", wildcards=WILDCARDS, mode="random",
                                                         limit=5, seed=4)
    assert run("{a|b} {c|d|e}", "--count").output.strip() == "6"
    for args in (["__animl__", "-w", str(WILDCARDS)], ["__animal__", "-w", "/nonexistent/folder"], ["{a|b"],
                 ["{a|b|c|d|e|f|g|h|i|j}" * 7]):
        out = run(*args)
        assert out.exit_code == 2 and len(out.output.strip().splitlines()) == 1, (args, out.output)
    assert "nearest: animal" in run("__animl__", "-w", str(WILDCARDS)).output


# --- lint ----------------------------------------------------------------------------------------------------

def _lint(text, **kw):
    from promptkit.linter.templates import lint_template

    return [(d.code, text[d.start:d.end]) for d in lint_template(text, **kw)]


def test_lint_template_findings_at_their_spans(tmp_path):
    from promptkit.linter.templates import lint_template

    (tmp_path / "hair_colors.txt").write_text("red\nblue\n")
    (tmp_path / "a.txt").write_text("red\n__b__ cat\n")
    (tmp_path / "b.txt").write_text("# comment\n__a__\n")
    text = "1girl, __hair_colours__ hair, {red|blue|red} eyes, {2$$smile||blush}, {|wink}, __a__"
    found = lint_template(text, wildcards=tmp_path)
    by_code = {d.code: d for d in found}
    assert sorted(by_code) == ["PK401", "PK402", "PK403", "PK404"]
    missing = by_code["PK401"]
    assert text[missing.start:missing.end] == "__hair_colours__" and missing.suggestions[0] == "hair_colors"
    assert (missing.line, missing.column) == (1, 8)
    # the expansion agrees that it is missing / a cycle
    with pytest.raises(promptkit.ExpansionError, match="no wildcard 'hair_colours'"):
        promptkit.expand("__hair_colours__", wildcards=tmp_path)
    assert "a -> b -> a" in by_code["PK403"].message and "b.txt:2" in by_code["PK403"].message
    assert text[by_code["PK404"].start:by_code["PK404"].end] == "red"
    assert by_code["PK404"].start == text.index("|red}") + 1
    # the reference merges the repeat: the option adds nothing
    assert promptkit.expand("{red|blue|red}") == promptkit.expand("{red|blue}") == _reference("{red|blue|red}", None)
    assert text[by_code["PK402"].start:by_code["PK402"].end] == ""  # between the two bars
    assert _lint("{|wink} {a|b}") == []  # one empty option: the 'sometimes nothing' idiom


def test_lint_template_count_limit_and_syntax():
    template = "{a|b|c|d|e|f|g|h|i|j} " * 3
    assert _lint(template, limit=999) == [("PK405", template)]
    assert _lint(template, limit=1000) == []
    (code, _), = _lint("1girl, {red|blue eyes")
    assert code == "PK400"
    assert _reference("1girl, {red|blue eyes", None) == "ParseException"


def test_option_text_is_linted_in_place():
    """A typo inside an option is found by the regular linter at the option's own span."""
    from promptkit.linter import lint_prompt
    from promptkit.linter.templates import template_fragments

    text = "1girl, {long hiar|short hair}, __hair__ eyes"
    spans = list(template_fragments(text))
    assert [text[s:e] for s, e in spans] == ["1girl, ", "long hiar", "short hair", ", ", " eyes"]
    found = []
    for start, end in spans:
        for d in lint_prompt(text[start:end], "kivotos-xl-2").diagnostics:
            found.append((d.code, start + d.start, start + d.end))
    typo = [f for f in found if text[f[1]:f[2]] == "long hiar"]
    assert typo, found


def test_readme_template_examples_are_true():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Dynamic-prompts templates", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("promptkit.") or line.startswith("# [")]
    results = {"expand1": promptkit.expand("{red|blue} eyes, {2$$ and $$smile|blush}")}
    assert f"# {results['expand1']!r}" in lines
    assert results["expand1"] == _reference("{red|blue} eyes, {2$$ and $$smile|blush}", None)
    hair = promptkit.expand("__hair__ hair", wildcards={"hair": ["black", "blonde"]})
    assert f"# {hair!r}" in section.split('wildcards={"hair": ["black", "blonde"]})')[1].splitlines()[0]
    assert promptkit.count_expansions("{a|b|c} " * 12) == 531441 and "# 531441" in section
    drawn = promptkit.expand("{red|blue} eyes", mode="random", limit=3, seed=1)
    assert len(drawn) == 3 and set(drawn) <= {"red eyes", "blue eyes"}


def test_lint_template_conflicts_only_in_some_expansions():
    from promptkit.linter import lint_prompt
    from promptkit.linter.templates import lint_template

    text = "solo, {1girl|2girls}, smile, {day|night}"
    found = lint_template(text)
    assert [(d.code, text[d.start:d.end]) for d in found] == [("PK406", "2girls")]
    assert "'solo' contradicts '2girls'" in found[0].message
    # the judgement is the regular rule's on the expansion that has the option, and on no other
    expansions = promptkit.expand(text)
    flagged = [e for e in expansions if any(d.code == "PK205" for d in lint_prompt(e, select=["PK205"]).diagnostics)]
    assert flagged and all("2girls" in e for e in flagged) and len(flagged) == len(expansions) // 2
    assert lint_template("1girl, {smile|frown}, {solo|}") == []
