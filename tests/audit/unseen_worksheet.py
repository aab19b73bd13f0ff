"""Worksheet for a December unseen set whose records are all held out (unseen_dec2 ... unseen_dec5): the modern
audit path pointed at the set's records.jsonl.

Run from the repository root: python tests/audit/unseen_worksheet.py unseen_dec5 OUT_PREFIX

A record of an unknown model is linted with the profile ``promptkit lint`` picks without ``--profile``.
"""
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import modern  # noqa: E402

if __name__ == "__main__":
    modern.use_unseen_set(HERE / sys.argv[1] / "records.jsonl")
    import audit  # noqa: E402

    audit.main(["worksheet", "--corpus", "modern", "--split", "heldout", "--all-prompts", "--out", sys.argv[2]])
