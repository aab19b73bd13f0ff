"""Which profile a prompt is for when the user did not say: from the model an infotext names (its checkpoint
file name or A1111 ``Model hash``), else from the special tags only one family's ladders hold (``score_9`` is
Pony's). The map lives in the profiles' data (``checkpoints``, ``model_hashes``), not here.

A caller that finds nothing falls back to :data:`FALLBACK`, a Danbooru-vocabulary profile, so tag checks
always run, and says so: a guess is never silent.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from pathlib import PurePosixPath, PureWindowsPath

from .registry import all_profiles, bundled_ids

FALLBACK = "illustrious-xl"
"""Without any hint: Illustrious XL, the Danbooru-tag base most current anime SDXL models derive from."""

_LADDER_KINDS = ("quality", "aesthetic", "custom")  # rating and year words ("general", "recent") are too common
_DROP = re.compile(r"[\s._\-]+")
_EXTENSIONS = (".safetensors", ".ckpt", ".pt", ".pth", ".bin", ".gguf", ".sft")


def model_key(name: str) -> str:
    """A checkpoint name as the profiles' patterns see it: no folder, no extension, lower case, and no
    spaces, dots, dashes or underscores (``models/animagineXLV31_v31.safetensors`` -> ``animaginexlv31v31``)."""
    name = name.strip()
    name = PureWindowsPath(PurePosixPath(name).name).name
    lower = name.lower()
    for ext in _EXTENSIONS:
        if lower.endswith(ext):
            lower = lower[: -len(ext)]
            break
    return _DROP.sub("", lower)


@functools.cache
def _patterns() -> tuple[tuple[str, str], ...]:
    """(pattern, profile id), the most specific (longest) pattern first."""
    found = []
    for profile in all_profiles():
        found.append((_DROP.sub("", profile.id.lower()), profile.id))
        found.extend((p.lower(), profile.id) for p in profile.checkpoints)
    return tuple(sorted(found, key=lambda pair: -len(pair[0].replace("*", ""))))


@functools.cache
def _hashes() -> dict[str, str]:
    return {h.lower(): p.id for p in all_profiles() for h in p.model_hashes}


def profile_for_model(name: str | None = None, model_hash: str | None = None) -> str | None:
    """The bundled profile for a checkpoint file name (``ponyDiffusionV6XL_v6StartWithThisOne``) or an A1111
    short hash, or None when neither is known. The hash wins: a renamed file keeps its hash."""
    if model_hash:
        found = _hashes().get(model_hash.strip().lower()[:10])
        if found:
            return found
    if name:
        if name in bundled_ids():
            return name
        key = model_key(name)
        for pattern, profile_id in _patterns():
            if key and fnmatch.fnmatchcase(key, pattern):
                return profile_id
    return None


@functools.cache
def _signature_tags() -> dict[str, str]:
    """Ladder tags that only one family uses (a child profile shares its parent's: the family's root counts)."""
    profiles = {p.id: p for p in all_profiles()}
    owners: dict[str, set[str]] = {}
    for p in profiles.values():
        for kind in _LADDER_KINDS:
            for tag in p.ladders.get(kind, ()):
                owners.setdefault(_DROP.sub("_", tag.lower()), set()).add(p.id)

    def chain(pid: str) -> list[str]:
        out = [pid]
        while profiles[out[-1]].extends in profiles:
            out.append(profiles[out[-1]].extends)
        return out

    out = {}
    for tag, ids in owners.items():
        roots = [pid for pid in ids if all(pid in chain(other) for other in ids)]
        if roots:
            out[tag] = roots[0]
    return out


def profile_for_tags(names) -> tuple[str, list[str]] | None:
    """(profile id, the tags that decided) when the prompt's ladder tags belong to one family only."""
    signature = _signature_tags()
    votes: dict[str, list[str]] = {}
    for name in names:
        owner = signature.get(_DROP.sub("_", name.lower()))
        if owner is not None:
            votes.setdefault(owner, []).append(name)
    if len(votes) > 1:
        votes.pop(FALLBACK, None)  # the fallback's ladder (absurdres, highres) is what a plain prompt gets anyway
    if not votes:
        return None
    ranked = sorted(votes.items(), key=lambda kv: -len(kv[1]))
    if len(ranked) > 1 and len(ranked[1][1]) == len(ranked[0][1]):
        return None  # as many tags of two families: no guess
    return ranked[0]
