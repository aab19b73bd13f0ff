"""Worksheet for the fresh set: the modern audit path, pointed at /work/audit-work/fresh_modern.jsonl, every record held out."""
import sys
from pathlib import Path
sys.path.insert(0, "tests/audit")
import modern
modern.CORPUS = Path("/work/audit-work/fresh_modern.jsonl")
modern.split_of = lambda record: "heldout"
import audit
sys.argv = ["audit.py", "worksheet", "--corpus", "modern", "--split", "heldout", "--all-prompts", "--out", "/work/audit-work/fresh"]
audit.main()
