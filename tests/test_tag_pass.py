"""The shared tag pass (``promptkit.linter.tag_pass``) gives exactly the findings each rule gives on its own.

The engine judges the TagRules and the spelling facts once per spelling and reuses the record at every later
occurrence (issue 24). A rule run on its own (``max_per_rule``, ``fix``) goes through its own ``check`` instead:
the two must agree on real prompts, and a kept finding must land where its tag stands in the prompt that reuses it.
"""

import pytest
from lint_snapshot import corpus_texts

from promptkit import lint
from promptkit.linter.engine import _instances
from promptkit.linter.memo import clear_memos
from promptkit.linter.registry import select_rules


def _rows(report) -> list:
    return [d.to_dict() for d in report.diagnostics]


def test_the_tag_pass_covers_rules():
    """The equivalence test below is only worth something while the pass runs rules: it does."""
    _, _, tag_rules, fact_rules = _instances(tuple(select_rules()), True)
    assert {"PK202", "PK213", "PK221", "PK309"} <= {r.code for r in tag_rules}
    assert {"PK205", "PK208", "PK216", "PK218", "PK222", "PK304"} <= {r.code for r in fact_rules}


@pytest.mark.parametrize("profile", ["illustrious-xl", "pony-v6", "sd15"])
def test_tag_pass_equals_each_rule_on_its_own(profile):
    clear_memos()
    texts = corpus_texts()[::2]
    assert len(texts) > 400
    for key, text, negative, path in texts:
        fused = lint(text, profile=profile, negative=negative, path=path)
        alone = lint(text, profile=profile, negative=negative, path=path, max_per_rule=10**9)
        assert _rows(fused) == _rows(alone), key


def test_a_kept_finding_moves_with_its_tag():
    """Spellings met in one caption (an alias, a misspelt artist, an SD 1.5 embedding) keep their findings for the
    next caption, where they stand elsewhere: spans, fixes and columns follow the tag."""
    first = "pony tail, EasyNegative, greg rutkowsky, 1girl"
    second = "1girl, smile,\n  blue sky, pony tail, greg rutkowsky, EasyNegative"
    clear_memos()
    fresh = _rows(lint(second, profile="illustrious-xl"))
    clear_memos()
    lint(first, profile="illustrious-xl")
    reused = lint(second, profile="illustrious-xl")
    assert _rows(reused) == fresh
    codes = {d.code: d for d in reused.diagnostics}
    assert {"PK202", "PK216", "PK309"} <= set(codes)
    alias = codes["PK202"]
    assert second[alias.start:alias.end] == "pony tail" and alias.line == 2
    assert [(e.start, e.end, e.replacement) for e in alias.fix.edits] == [(alias.start, alias.end, "ponytail")]


@pytest.mark.parametrize("text", ["1girl, makima, chainsaw man", "makima (chainsaw man), smile"])
def test_a_kept_finding_stays_out_where_the_prompt_rules_it_out(text):
    """The record of ``makima`` holds PK213's finding; beside its series (Animagine's convention) or inside an
    unescaped ``name (series)`` (PK206 reports that), the prompt drops it, as PK213 on its own does."""
    clear_memos()
    primed = lint("1girl, makima, smile", profile="noobai-xl-vpred")
    assert primed.codes() == ["PK213"]
    report = lint(text, profile="noobai-xl-vpred")
    assert "PK213" not in report.codes()
    assert _rows(report) == _rows(lint(text, profile="noobai-xl-vpred", max_per_rule=10**9))
