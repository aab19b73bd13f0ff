"""`promptkit tags lookup|suggest|complete|implied`: the tag databases, offline."""

from __future__ import annotations

import json
import sys

import click

from .common import fail, load_profile_or_fail, open_db
from .config import ConfigError, find_config


@click.group()
def tags() -> None:
    """Look tags up in the bundled Danbooru and e621 databases (offline).

    With --profile the profile's own tag sources are used (a Danbooru model: Danbooru only), and
    suggestions include the profile's vocabulary (quality ladders, presets).
    """


def _tags_options(f):
    f = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")(f)
    f = click.option("--source", "sources", multiple=True,
                     help="Databases to stack, in order: danbooru, e621, wd14 or a CSV path. "
                          "Default: the profile's, else danbooru, e621.")(f)
    f = click.option("-p", "--profile", help="Use this profile's tag sources and vocabulary.")(f)
    return f


def _context(sources, profile):
    """(database, profile or None) for a tags command."""
    try:
        cfg = find_config()[1]
    except ConfigError as exc:
        fail(str(exc))
    prof = load_profile_or_fail(profile) if profile else None
    if sources:
        from ..tags import TagDataError
        from ..tags.db import stacked_db

        try:
            return stacked_db(tuple(sources)), prof
        except TagDataError as exc:
            fail(str(exc))
    return open_db(cfg, prof), prof


def _vocabulary(prof) -> frozenset[str]:
    """The names suggestions may offer beyond the databases: the profile's, or every bundled profile's ladders."""
    if prof is not None:
        return prof.vocabulary
    from ..profiles import all_profiles

    names: set[str] = set()
    for p in all_profiles():
        names.update(p.ladders_vocabulary)
    return frozenset(names)


def _profile_tag(text: str, prof):
    """A profile's own special tag (a quality/aesthetic/rating/year ladder, preset or count tag) that no tag
    database lists: ``masterpiece`` is known to Animagine's profile, not to Danbooru. Without a profile, the
    bundled profiles' ladders count, as they do for ``suggest``."""
    from ..profiles import all_profiles
    from ..syntax.normalize import lookup_key
    from ..tags.sources import TagCategory
    from ..tags.db import TagInfo

    key = lookup_key(text)
    owners = [p.id for p in ([prof] if prof is not None else all_profiles())
              if key in (p.vocabulary if prof is not None else p.ladders_vocabulary)]
    if not owners:
        return None
    return TagInfo(key, TagCategory.UNKNOWN, 0, "profile", tuple(f"profile:{o}" for o in owners), "exact", text)


def _print_infos(results, as_json) -> None:
    if as_json:
        click.echo(json.dumps([r.to_dict() if r is not None else None for r in results], ensure_ascii=False, indent=2))
        return
    for r in results:
        if r is None:
            click.echo("(not found)")
            continue
        score = f"  score {r.score:g}" if r.score is not None else ""
        if r.source == "profile":
            owners = ", ".join(o.removeprefix("profile:") for o in r.sources)
            click.echo(f"{r.name}  [special tag of {owners or 'the profile'}]  not a booru tag{score}")
            continue
        name = f"{r.query} -> {r.name}" if r.matched == "alias" and r.query != r.name else r.name
        sources = "+".join(r.sources) or r.source or "-"
        click.echo(f"{name}  [{r.category.value}]  {r.post_count:,} posts  {sources}{score}")


@tags.command("lookup")
@click.argument("texts", nargs=-1, required=True)
@_tags_options
def tags_lookup(texts, as_json, sources, profile) -> None:
    """Canonical name, category, post count and source of each TEXT (aliases followed). Exit 1 if one is unknown."""
    db, prof = _context(sources, profile)
    results = [db.lookup(t) or _profile_tag(t, prof) for t in texts]
    _print_infos(results, as_json)
    if any(r is None for r in results):
        sys.exit(1)


@tags.command("suggest")
@click.argument("texts", nargs=-1, required=True)
@click.option("-n", "--limit", default=5, show_default=True, help="Suggestions per text.")
@_tags_options
def tags_suggest(texts, limit, as_json, sources, profile) -> None:
    """Near matches for misspelled tags, best first: closest spelling, then the more popular tag."""
    db, prof = _context(sources, profile)
    vocabulary = _vocabulary(prof)
    for t in texts:
        if not as_json and len(texts) > 1:
            click.echo(f"{t}:")
        _print_infos(db.suggest(t, limit, vocabulary), as_json)


@tags.command("complete")
@click.argument("prefix")
@click.option("-n", "--limit", default=20, show_default=True, help="Completions to show.")
@_tags_options
def tags_complete(prefix, limit, as_json, sources, profile) -> None:
    """Tags starting with PREFIX, most used first; an alias that starts with it shows as `alias -> tag`."""
    db, _ = _context(sources, profile)
    _print_infos(db.complete(prefix, limit), as_json)


@tags.command("implied")
@click.argument("texts", nargs=-1, required=True)
@_tags_options
def tags_implied(texts, as_json, sources, profile) -> None:
    """Every tag each TEXT implies, transitively."""
    db, _ = _context(sources, profile)
    result = {t: db.implied(t) for t in texts}
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    for t, implied in result.items():
        click.echo(f"{t}: {', '.join(implied) if implied else '(nothing)'}")
