"""What every command shares: the dialect choice, the one-line error exit, settings from options and config."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from .config import ConfigError, find_config
from .inputs import CAPTION_SUFFIXES, Collected, InputError, collect

DIALECT = click.Choice(["a1111", "forge", "comfy", "comfyui", "novelai", "nai", "compel"], case_sensitive=False)
CONTAINER_HELP = ("What the inputs are: auto (default: known from the file name and unambiguous markers), prompt, "
                  "a1111-styles-csv, horde-style, regional-prompter, forge-couple, kohya-sample, ti-template, "
                  "dynamic-template, wildcard-file, infotext, lines. Each prompt or region inside is handled on its own.")


def container_option(value: str | None, cfg: dict | None = None) -> str | None:
    """The container kind from ``--container`` or the config's ``container`` (None: detect); exit 2 when unknown."""
    from ..contain import ContainerError, canonical_container

    try:
        return canonical_container(value or (cfg or {}).get("container"))
    except ContainerError as exc:
        fail(str(exc))


def fail(message: str) -> None:
    """Print one clear line and exit 2 (usage or input error)."""
    click.echo(f"promptkit: error: {message}", err=True)
    sys.exit(2)


def warn(message: str) -> None:
    click.echo(f"promptkit: {message}", err=True)


def split_codes(values: tuple[str, ...]) -> list[str]:
    return [c.strip() for v in values for c in v.split(",") if c.strip()]


@dataclass
class Settings:
    """A command's settings: options first, then the config file, then the defaults."""

    profile: Any
    dialect: str | None
    select: list[str] | None
    ignore: list[str] | None
    config: dict = field(default_factory=dict)
    embeddings: frozenset[str] = frozenset()
    given: bool = True  # --profile named the profile
    config_path: Any = None

    def __iter__(self):  # profile, dialect, select, ignore, cfg = load_settings(...)
        return iter((self.profile, self.dialect, self.select, self.ignore, self.config))

    def choose(self, text: str = "", model: str | None = None, model_hash: str | None = None) -> tuple[Any, str]:
        """The profile for one input and why: ``--profile``; else the model its infotext names (file name or
        A1111 hash); else the config's ``profile``; else the family whose special tags it uses (``score_9``:
        Pony); else a Danbooru-vocabulary profile, so that tag checks always run."""
        from ..profiles.detect import FALLBACK, profile_for_model, profile_for_tags

        if self.given:
            return self.profile, "given with --profile"
        unknown = ""
        if model or model_hash:
            found = profile_for_model(model, model_hash)
            said = " and ".join(f"{k} {v}" for k, v in (("Model:", model), ("Model hash:", model_hash)) if v)
            if found:
                return load_profile_or_fail(found), f"from the metadata's {said}"
            unknown = f"the metadata's {said} is no model promptkit knows; "
        if self.config.get("profile"):
            return self.profile, f"{unknown}from {self.config_path}"
        by_tags = profile_for_tags(tag_words(text)) if text else None
        if by_tags:
            found, tags = by_tags
            return load_profile_or_fail(found), f"{unknown}from its tags {', '.join(tags[:3])}"
        return load_profile_or_fail(FALLBACK), (f"{unknown}no --profile, config or model name said which: the "
                                                f"Danbooru-tag default; choose with --profile")


def tag_words(text: str) -> list[str]:
    """The tag-like pieces of a prompt, cheaply (no parse): what profile detection looks at."""
    import re

    out = []
    for piece in re.split(r"[,\n|]|\bBREAK\b", text):
        piece = re.sub(r":\s*[-+]?[\d.]+\s*[)\]]*$", "", piece.strip(" \t()[]{}")).strip(" \t()[]{}")
        if piece and len(piece) < 40:
            out.append(piece)
    return out


def load_profile_or_fail(ref: str):
    from ..profiles import load_profile

    try:
        return load_profile(ref)
    except Exception as exc:  # ProfileError and validation errors are for people
        fail(str(exc))


def check_codes(select, ignore, extend=None) -> None:
    """Unknown rule codes are usage errors (exit 2), not silently ignored."""
    from ..linter.registry import UnknownRuleError, select_rules

    try:
        select_rules(select, ignore, extend)
    except UnknownRuleError as exc:
        fail(str(exc))


def load_settings(profile, dialect, select, ignore, embeddings: tuple[str, ...] = ()) -> Settings:
    """The profile, dialect, rule selection and embedding names from the options, falling back to the config."""
    try:
        cfg_path, cfg = find_config()
    except ConfigError as exc:
        fail(str(exc))
    given = bool(profile)
    profile = profile or cfg.get("profile") or "sdxl-base"
    dialect = dialect or cfg.get("dialect")
    select = split_codes(select) or cfg.get("select") or None
    ignore = split_codes(ignore) or cfg.get("ignore") or None
    check_codes(select, ignore)
    prof = load_profile_or_fail(profile)
    names: frozenset[str] = frozenset()
    folders = list(embeddings) + ([cfg["embeddings"]] if cfg.get("embeddings") else [])
    if folders:
        from ..linter.vocabulary import embeddings_in

        for folder in folders:
            try:
                names |= embeddings_in(folder)
            except FileNotFoundError as exc:
                fail(str(exc))
    return Settings(prof, dialect, select, ignore, cfg, names, given, cfg_path)


def wildcard_folders(given: tuple[str, ...], cfg: dict) -> list[Path]:
    """The wildcard folders: ``--wildcards`` if given, else the config's ``wildcard-dirs``; each must exist."""
    folders = [Path(d) for d in given] or [Path(d) for d in cfg.get("wildcard-dirs") or []]
    for folder in folders:
        if not folder.is_dir():
            fail(f"{folder}: wildcard folder not found")
    return folders


def open_db(cfg: dict, profile=None):
    """The tag database stack: the config's ``tag-sources`` if set, else the profile's own sources
    (Danbooru + e621 without a profile)."""
    from ..tags import TagDataError, TagDB, default_db
    from ..tags.db import stacked_db

    try:
        sources = cfg.get("tag-sources")
        if sources:
            return stacked_db(tuple(sources))
        return TagDB.for_profile(profile) if profile is not None else default_db()
    except TagDataError as exc:
        fail(str(exc))


def read_inputs(prompts: tuple[str, ...], files: tuple[str, ...], suffixes: tuple[str, ...] | None = None,
                negative: bool = False, lines: bool = False, container: str | None = None,
                wildcard_dirs: tuple | None = None) -> Collected:
    """Every input of a lint or fmt run (rules in :mod:`promptkit.cli.inputs`): a bad argument or ``-f`` file
    is the command's one-line error; a bad file inside a folder is a warning and is skipped, and the run
    fails only when nothing could be read."""
    try:
        found = collect(prompts, files, CAPTION_SUFFIXES if suffixes is None else suffixes, negative, lines,
                        container, wildcard_dirs)
    except InputError as exc:
        fail(str(exc))
    for error in found.errors:
        warn(f"skipped {error}")
    if not found.items and found.errors:
        fail("nothing could be read")
    return found

