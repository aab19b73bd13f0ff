"""`promptkit tags lookup|suggest|complete|implied`: the tag databases, offline."""

from __future__ import annotations

import json
import sys

import click

from .common import fail, open_db
from .config import find_config


@click.group()
def tags() -> None:
    """Look tags up in the bundled Danbooru and e621 databases (offline)."""


def _tags_options(f):
    f = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")(f)
    f = click.option("--source", "sources", multiple=True,
                     help="Databases to stack, in order: danbooru, e621, wd14 or a CSV path. Default: danbooru, e621.")(f)
    return f


def _open_db(sources):
    if sources:
        from ..tags import TagDB, TagDataError

        try:
            return TagDB.from_names(sources)
        except TagDataError as exc:
            fail(str(exc))
    return open_db(find_config()[1])


def _print_infos(results, as_json) -> None:
    if as_json:
        click.echo(json.dumps([r.to_dict() if r is not None else None for r in results], ensure_ascii=False, indent=2))
        return
    for r in results:
        if r is None:
            click.echo("(not found)")
            continue
        score = f"  score {r.score:g}" if r.score is not None else ""
        how = f"  ({r.matched} of {r.query!r})" if r.matched == "alias" else ""
        click.echo(f"{r.name}  [{r.category.value}]  {r.post_count:,} posts  {'+'.join(r.sources) or '-'}{score}{how}")


@tags.command("lookup")
@click.argument("texts", nargs=-1, required=True)
@_tags_options
def tags_lookup(texts, as_json, sources) -> None:
    """Canonical name, category, post count and source of each TEXT (aliases followed). Exit 1 if one is unknown."""
    db = _open_db(sources)
    results = [db.lookup(t) for t in texts]
    _print_infos(results, as_json)
    if any(r is None for r in results):
        sys.exit(1)


@tags.command("suggest")
@click.argument("texts", nargs=-1, required=True)
@click.option("-n", "--limit", default=5, show_default=True)
@_tags_options
def tags_suggest(texts, limit, as_json, sources) -> None:
    """Near matches for misspelled tags, by similarity then popularity."""
    db = _open_db(sources)
    for t in texts:
        if not as_json and len(texts) > 1:
            click.echo(f"{t}:")
        _print_infos(db.suggest(t, limit), as_json)


@tags.command("complete")
@click.argument("prefix")
@click.option("-n", "--limit", default=20, show_default=True)
@_tags_options
def tags_complete(prefix, limit, as_json, sources) -> None:
    """Tags starting with PREFIX (aliases included), most used first."""
    _print_infos(_open_db(sources).complete(prefix, limit), as_json)


@tags.command("implied")
@click.argument("texts", nargs=-1, required=True)
@_tags_options
def tags_implied(texts, as_json, sources) -> None:
    """Every tag each TEXT implies, transitively."""
    db = _open_db(sources)
    result = {t: db.implied(t) for t in texts}
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    for t, implied in result.items():
        click.echo(f"{t}: {', '.join(implied) if implied else '(nothing)'}")
