"""The modern corpus (../shared/corpus/modern_prompts.jsonl) as audit prompts: one per prompt or negative.

Each corpus record gives up to two audit prompts, ``m<line>:prompt`` and ``m<line>:negative_prompt`` (line is
the record's 1-based line in the file), linted with the profile of its ``model_hint`` and the dialect of its
``syntax_hint``. The split is by source repository (the text of ``source`` before ``:``): a record whose
``zlib.crc32(repo) % 5 == 0`` is HELD OUT (``heldout``), the rest is ``dev``. Held-out prompts and findings are
only ever counted, never printed.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus" / "modern_prompts.jsonl"
SPLITS = ("dev", "heldout")
HIDDEN = ("heldout",)

#: model_hint -> the profile a user of that model would lint with (unknown families: the SDXL base)
PROFILE_OF_HINT = {
    "illustrious-xl": "illustrious-xl", "noobai-xl": "noobai-xl-eps", "noobai-xl-eps": "noobai-xl-eps",
    "noobai-xl-vpred": "noobai-xl-vpred", "pony-v6": "pony-v6", "animagine-xl-3.1": "animagine-xl-3.1",
    "animagine-xl-3.0": "animagine-xl-3.1", "animagine-xl-4.0": "animagine-xl-4.0", "kivotos-xl-2": "kivotos-xl-2",
    "sd15": "sd15", "stable-cascade": "stable-cascade", "bigasp": "bigasp-v2.5",
}
#: syntax_hint -> dialect (``plain``: the profile's own dialect)
DIALECT_OF_HINT = {"a1111": "a1111", "comfy": "comfy", "novelai": "novelai", "compel": "compel"}


UNKNOWN = "sdxl-base"
"""The profile of a record whose model is not known: the SDXL base, or ``"auto"``: the one ``promptkit lint``
picks without ``--profile`` (the tags' family, else the Danbooru-tag default), as a user running it would get."""


def unknown_profile(record: dict) -> str:
    if UNKNOWN != "auto":
        return UNKNOWN
    from promptkit.cli.common import tag_words
    from promptkit.profiles.detect import FALLBACK, profile_for_tags

    found = profile_for_tags(tag_words(record["prompt"]))
    return found[0] if found else FALLBACK


def use_unseen_set(records: Path, split=None) -> None:
    """Point this module at one of the December unseen sets (``unseen_dec*/records.jsonl``): a record of an
    unknown model gets the profile ``promptkit lint`` picks without ``--profile``, ``sdxl`` the SDXL base, and
    ``split`` (default: every record held out) decides each record's split."""
    global CORPUS, UNKNOWN, PROFILE_OF_HINT, split_of
    CORPUS = records
    UNKNOWN = "auto"
    PROFILE_OF_HINT = {**PROFILE_OF_HINT, "sdxl": "sdxl-base"}
    split_of = split or (lambda record: "heldout")


def corpus_path() -> Path:
    return CORPUS.resolve()


def repo_of(record: dict) -> str:
    return record["source"].split(":", 1)[0]


def split_of(record: dict) -> str:
    return "heldout" if zlib.crc32(repo_of(record).encode()) % 5 == 0 else "dev"


WHOLE_FILES = ("wildcard-file", "kohya-sample", "ti-template")
"""Containers the corpus stores as whole files (its README): linted under their file's name, as `promptkit lint
FILE` reads them. Other records are excerpts (a styles row, a code block) and have no file of their own."""


def file_path(record: dict) -> str | None:
    """The path in its repository of a record that is a whole file (a ComfyUI workflow too), else None."""
    whole = record["container"] in WHOLE_FILES or (record["container"] == "comfy-graph"
                                                   and record["prompt"].lstrip().startswith("{"))
    return record["source"].split(":", 1)[1].rsplit("@", 1)[0] if whole and ":" in record["source"] else None


def load_records() -> list[dict]:
    lines = corpus_path().read_text(encoding="utf-8").splitlines()
    out = []
    for n, line in enumerate(lines, 1):
        if line.strip():
            rec = json.loads(line)
            rec["line"] = n
            out.append(rec)
    return out


def load_prompts(split: str | None = None) -> list[dict]:
    """Audit prompts (the fields of tests/audit/prompts.jsonl plus model_hint and container)."""
    from promptkit.profiles import load_profile

    rows = []
    for rec in load_records():
        sp = split_of(rec)
        if split not in (None, "all") and sp != split:
            continue
        profile = PROFILE_OF_HINT.get(rec["model_hint"]) or unknown_profile(rec)
        dialect = DIALECT_OF_HINT.get(rec["syntax_hint"]) or load_profile(profile).dialect
        for field in ("prompt", "negative_prompt"):
            text = rec.get(field)
            if not text:
                continue
            rows.append({"id": f"m{rec['line']}:{field}", "text": text, "profile": profile, "dialect": dialect,
                         "negative": field == "negative_prompt", "split": sp, "source": rec["source"],
                         "model_hint": rec["model_hint"], "container": rec["container"],
                         "path": file_path(rec) if field == "prompt" else None})
    return rows
