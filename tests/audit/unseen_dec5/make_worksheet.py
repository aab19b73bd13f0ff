"""Worksheet for the fifth December unseen set (every record held out): the modern audit path pointed at it.

Run from the repository root: python tests/audit/unseen_dec3/make_worksheet.py OUT_PREFIX

A record of an unknown model is linted with the profile ``promptkit lint`` picks without ``--profile``.
"""
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
import modern  # noqa: E402

modern.use_unseen_set(HERE / "records.jsonl")
import audit  # noqa: E402

if __name__ == "__main__":
    audit.main(["worksheet", "--corpus", "modern", "--split", "heldout", "--all-prompts", "--out", sys.argv[1]])
