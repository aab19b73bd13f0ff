"""What every command shares: the dialect choice, the one-line error exit, settings from options and config."""

from __future__ import annotations

import sys

import click

from .config import ConfigError, find_config

DIALECT = click.Choice(["a1111", "forge", "comfy", "comfyui", "novelai", "nai", "compel"], case_sensitive=False)


def fail(message: str) -> None:
    """Print one clear line and exit 2 (usage or input error)."""
    click.echo(f"promptkit: error: {message}", err=True)
    sys.exit(2)


def split_codes(values: tuple[str, ...]) -> list[str]:
    return [c.strip() for v in values for c in v.split(",") if c.strip()]


def load_settings(profile, dialect, select, ignore):
    """The profile, dialect and rule selection from the options, falling back to the config file."""
    try:
        cfg_path, cfg = find_config()
    except ConfigError as exc:
        fail(str(exc))
    profile = profile or cfg.get("profile") or "sdxl-base"
    dialect = dialect or cfg.get("dialect")
    select = split_codes(select) or cfg.get("select") or None
    ignore = split_codes(ignore) or cfg.get("ignore") or None
    try:
        from ..profiles import load_profile

        prof = load_profile(profile)
    except Exception as exc:  # ProfileError and validation errors are for people
        fail(str(exc))
    return prof, dialect, select, ignore, cfg


def open_db(cfg: dict):
    """The tag database stack named by the config's ``tag-sources`` (default: Danbooru + e621)."""
    from ..tags import TagDB, TagDataError, default_db

    try:
        sources = cfg.get("tag-sources")
        return TagDB.from_names(sources) if sources else default_db()
    except TagDataError as exc:
        fail(str(exc))
