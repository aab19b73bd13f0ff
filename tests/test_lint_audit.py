"""The lint audit set (tests/audit): every default finding on real prompts has a hand judgement.

Lints all 199 audit prompts (the dev, heldout and fresh splits) with the profile, dialect and polarity their
authors used and
checks the findings against the judgements in tests/audit/judgements/ (see tests/audit/audit.py):
every finding is judged; none judged wrong, and no fix judged wrong, comes back; every finding judged
useful is still reported (same prompt, rule and span). Failure messages never show a held-out prompt or a
finding on one (``heldout``, ``fresh``): only counts.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "audit"))
import audit  # noqa: E402


class _Hidden(dict):
    """The findings per split, with a repr that shows nothing: pytest prints a failing test's arguments."""

    def __repr__(self) -> str:
        if all(isinstance(v, list) for v in self.values()):
            return f"<audit findings: {', '.join(f'{k} {len(v)}' for k, v in self.items())}>"
        return f"<{len(self)} judgements>"


@pytest.fixture(scope="module")
def findings():
    return _Hidden({split: audit.all_findings(split) for split in audit.SPLITS})


@pytest.fixture(scope="module")
def judged():
    return _Hidden(audit.load_judgements())


def _show(split, rows):
    if split in audit.HIDDEN:
        return f"{len(rows)} {split} finding(s) (details hidden: held-out prompts are judged once, at the end)"
    return "\n".join(f"{r['fid']} {r['id']} {r['code']} {r['span'][:60]!r}: {r['message'][:100]}" for r in rows)


@pytest.mark.parametrize("split", audit.SPLITS)
def test_every_finding_has_a_judgement(findings, judged, split):
    missing = [r for r in findings[split] if r["fid"] not in judged]
    if missing:  # pytest.fail, not assert: assertion rewriting would print the (held-out) findings themselves
        pytest.fail(f"unjudged ({split}); make a worksheet with tests/audit/audit.py:\n" + _show(split, missing))


@pytest.mark.parametrize("split", audit.SPLITS)
def test_no_finding_or_fix_judged_wrong_comes_back(findings, judged, split):
    wrong = [r for r in findings[split] if r["fid"] in judged and
             (judged[r["fid"]]["verdict"] == "wrong" or judged[r["fid"]].get("fix_verdict") == "wrong")]
    if wrong:
        pytest.fail(f"findings or fixes judged wrong came back ({split}):\n" + _show(split, wrong))


@pytest.mark.parametrize("split", audit.SPLITS)
def test_useful_findings_stay(findings, judged, split):
    ids = {p["id"] for p in audit.load_prompts(split)}
    now = {(r["id"], r["code"], r["start"], r["end"]) for r in findings[split]}
    lost = [j for j in judged.values() if j["verdict"] == "useful" and j["id"] in ids and
            (j["id"], j["code"], j["start"], j["end"]) not in now]
    if lost:
        pytest.fail(f"findings judged useful are gone ({split}):\n" + _show(split, lost))
