"""`promptkit expand`: the prompts a dynamic-prompts template makes, as sd-dynamic-prompts makes them."""

from __future__ import annotations

import json
import sys

import click

from .common import fail


@click.command("expand")
@click.argument("template")
@click.option("-w", "--wildcards", "wildcards", metavar="DIR", help="Wildcard folder (.txt, .yaml, .json files).")
@click.option("-m", "--mode", type=click.Choice(["combinatorial", "random", "cyclical"]), default="combinatorial",
              show_default=True, help="Every prompt in order, random draws, or each variant stepping in turn.")
@click.option("-n", "count", type=click.IntRange(min=0), default=None,
              help="How many prompts (combinatorial: the first N; random/cyclical: N, default 1).")
@click.option("--seed", type=int, default=None, help="Seed for random mode (and ~ variants): same seed, same prompts.")
@click.option("--count", "count_only", is_flag=True, help="Print only how many prompts the template makes.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of one prompt per line.")
def expand_command(template, wildcards, mode, count, seed, count_only, as_json) -> None:
    """Expand TEMPLATE (`-` reads it from stdin): `{a|b}` variants, `{2$$a|b|c}` counts, `__wildcards__`,
    `${variables}`, exactly as the dynamicprompts library (0.31.0) does.

    \b
    Examples:
      promptkit expand "1girl, {red|blue} eyes, {2$$ and $$smile|blush|wink}"
      promptkit expand "__hair/colors__ hair" --wildcards wildcards/ -m random -n 4 --seed 1
    """
    from ..templates import ExpansionError, Expander
    from ..templates.wildcards import WildcardError

    if template == "-":
        template = sys.stdin.read()
    try:
        expander = Expander(wildcards, seed=seed)
        if count_only:
            total = expander.count(template)
            try:
                click.echo(str(total))
            except ValueError:  # more digits than Python prints (4,300)
                from ..templates.expand import big_number

                click.echo(big_number(total))
            return
        prompts = expander.expand(template, mode=mode, limit=count)
    except (ExpansionError, WildcardError) as exc:
        fail(" ".join(str(exc).split("\n", 1)[0].split()))
        return
    if as_json:
        click.echo(json.dumps(prompts, ensure_ascii=False))
    else:
        for prompt in prompts:
            click.echo(prompt.replace("\n", "\\n") if "\n" in prompt else prompt)
