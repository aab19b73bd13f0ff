"""Speed work never changes output: the default findings on every corpus text and profile equal the snapshot.

The snapshot (``tests/data/lint_snapshot.json.gz``) is rewritten only by a commit that means to change findings
(``python tests/lint_snapshot.py --update``), and that commit says which findings it changed and why.
"""

from lint_snapshot import differences, load, take


def test_findings_equal_the_snapshot():
    diff = differences(load(), take())
    assert not diff, "findings differ from tests/data/lint_snapshot.json.gz:\n" + "\n".join(diff)
