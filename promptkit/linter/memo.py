"""What the rules work out about one spelling, kept for the next prompt: per-tag answers reused across a run.

Captions repeat the same few thousand tags millions of times, and a rule's per-tag work (the typo search, the
word checks, the database look-ups behind them) depends on far less than the prompt: on the spelling, the
profile (its vocabulary, ladders, series, whether it is a natural-language model), the stack of tag sources it
is judged against, and the textual-inversion names that are not tags. A :class:`RunMemo` holds those answers
for one such context; :func:`run_memo` hands the same one to every prompt linted in that context.

What a memo may hold: answers that depend only on the memo's key (profile, tag database, embedding names) and
on the key of the table entry. Anything that reads the prompt (its other tags, its dialect, whether it is a
negative) stays in the per-prompt :class:`~promptkit.linter.rule.LintContext`, or goes into the entry's key (or the
table's name: the shared tag pass keeps one table per dialect, negative flag and set of rules, see
:mod:`promptkit.linter.tag_pass`).

Memory stays bounded on any number of captions: a table that reaches :data:`TABLE_LIMIT` entries is emptied
(the answers come back as the run meets the spellings again), and at most :data:`MEMO_LIMIT` contexts are kept.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..profiles import Profile
    from ..tags import TagDB

TABLE_LIMIT = 20_000
"""Entries per table before it is emptied: a hostile caption can hold millions of distinct spellings. Both corpora
under one profile fill a table to 4,000-8,000 entries at about 90 bytes each (keys shared with the prompts), so a
memo stays within a few tens of MB."""
MEMO_LIMIT = 4
"""Contexts (profile, database, embeddings) kept at once; the oldest goes first."""


class RunMemo:
    """Per-tag answers for one (profile, tag database, embedding names): one dict per question."""

    __slots__ = ("profile", "db", "embeddings", "_tables")

    def __init__(self, profile: "Profile", db: "TagDB | None", embeddings: frozenset[str]) -> None:
        # held, not only keyed by id(): the ids in the key stay theirs while the memo lives
        self.profile = profile
        self.db = db
        self.embeddings = embeddings
        self._tables: dict[str, dict] = {}

    def table(self, name: str) -> dict:
        """The table of one question (``corrections``, ``windows``...), emptied when it has grown too big."""
        table = self._tables.get(name)
        if table is None or len(table) >= TABLE_LIMIT:
            table = self._tables[name] = {}
        return table


_MEMOS: dict[tuple, RunMemo] = {}
_LOCK = threading.Lock()  # lint can be called from several threads at once: one of them evicts at a time


def run_memo(profile: "Profile", db: "TagDB | None", embeddings: frozenset[str]) -> RunMemo:
    """The memo for linting under ``profile`` against ``db`` with ``embeddings`` (the same objects give the same
    memo: profiles and stacked databases are shared per process, see ``load_profile`` and ``stacked_db``)."""
    key = (id(profile), id(db), embeddings)
    memo = _MEMOS.get(key)
    if memo is None or memo.profile is not profile or memo.db is not db:
        with _LOCK:
            while len(_MEMOS) >= MEMO_LIMIT:
                _MEMOS.pop(next(iter(_MEMOS)))
            memo = _MEMOS[key] = RunMemo(profile, db, embeddings)
    return memo


def clear_memos() -> None:
    """Forget every per-tag answer (a benchmark's cold start; a test that changes a profile in place)."""
    with _LOCK:
        _MEMOS.clear()
