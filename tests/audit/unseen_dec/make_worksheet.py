"""Worksheet for the December unseen set: the modern audit path pointed at records.jsonl.

Run from the repository root: python tests/audit/unseen_dec/make_worksheet.py dev|heldout OUT_PREFIX

The split is by repository: ``zlib.crc32(repo) % 2 == 0`` is held out (judged once, at the end, by judges who
never see the code), the rest is development data. A record of an unknown model is linted with the profile
``promptkit lint`` picks without ``--profile``.
"""
import sys
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
import modern  # noqa: E402


def split_of(record: dict) -> str:
    return "heldout" if zlib.crc32(modern.repo_of(record).encode()) % 2 == 0 else "dev"


modern.use_unseen_set(HERE / "records.jsonl", split_of)
import audit  # noqa: E402

if __name__ == "__main__":
    audit.main(["worksheet", "--corpus", "modern", "--split", sys.argv[1], "--all-prompts", "--out", sys.argv[2]])
