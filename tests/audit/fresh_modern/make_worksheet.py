"""Worksheet for the fresh set: the modern audit path pointed at records.jsonl, every record held out.

Run from the repository root: python tests/audit/fresh_modern/make_worksheet.py OUT_PREFIX
"""
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
import modern  # noqa: E402

modern.CORPUS = HERE / "records.jsonl"
modern.split_of = lambda record: "heldout"
import audit  # noqa: E402

audit.main(["worksheet", "--corpus", "modern", "--split", "heldout", "--all-prompts", "--out", sys.argv[1]])
