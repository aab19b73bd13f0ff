"""Commands about the prompt's syntax itself: `convert`, `parse` and `tokens`."""

from __future__ import annotations

import json

import click

from .common import DIALECT, fail, load_settings


@click.command()
@click.argument("prompt")
@click.option("-r", "--read", "read", type=DIALECT, default="a1111", show_default=True, help="Dialect of PROMPT.")
@click.option("-w", "--write", "write", type=DIALECT, default="compel", show_default=True, help="Dialect to write.")
@click.option("--strict", is_flag=True, help="Refuse malformed input instead of reading it the way A1111 would.")
def convert(prompt, read, write, strict) -> None:
    """Rewrite PROMPT in another dialect with the same effective weights (to 1e-6).

    What the target cannot express (scheduling in ComfyUI, BREAK in NovelAI...) is an error, never dropped.
    """
    from ..syntax import ConversionError, PromptSyntaxError
    from ..syntax.render import convert as do_convert

    try:
        click.echo(do_convert(prompt, read=read, write=write, strict=strict))
    except (ConversionError, PromptSyntaxError) as exc:
        fail(str(exc))


@click.command("parse")
@click.argument("prompt")
@click.option("-d", "--dialect", type=DIALECT, default="a1111", show_default=True, help="Prompt syntax.")
@click.option("--strict", is_flag=True, help="Raise on malformed syntax (line, column, caret, hint).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def parse_command(prompt, dialect, strict, as_json) -> None:
    """Show the tree, the tags and the weighted fragments of PROMPT."""
    from ..syntax import PromptSyntaxError, parse
    from .show import tree_lines

    try:
        parsed = parse(prompt, dialect, strict=strict)
    except PromptSyntaxError as exc:
        fail(str(exc))
    if as_json:
        click.echo(json.dumps({
            "dialect": parsed.dialect, "tags": [t.to_dict() for t in parsed.tags],
            "weighted": parsed.weighted(), "loras": [{"kind": n.kind, "name": n.name, "args": n.args} for n in parsed.loras],
            "subprompts": [{"text": s.text, "weight": s.weight} for s in parsed.subprompts],
        }, ensure_ascii=False, indent=2))
        return
    click.echo("tree:")
    for line in tree_lines(parsed):
        click.echo("  " + line)
    click.echo("tags:")
    for t in parsed.tags:
        extra = f"  weight {t.weight:.4g}" if t.weight != 1.0 else ""
        ns = f"  namespace {t.namespace}" if t.namespace else ""
        br = f"  [{t.branch}]" if t.branch else ""
        click.echo(f"  {t.start}:{t.end}  {t.name}{extra}{ns}{br}")
    click.echo("weighted fragments (A1111's parse_prompt_attention):")
    for text, weight in parsed.weighted():
        click.echo(f"  {weight:<6.4g} {text!r}")


@click.command()
@click.argument("prompt")
@click.option("-p", "--profile", help="Model profile (its encoder's chunk limit is shown).")
@click.option("-d", "--dialect", type=DIALECT, default=None, help="Prompt syntax. Default: the profile's.")
@click.option("--backtrack", default=20, show_default=True, help="A1111's comma backtrack in tokens (0 disables).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output: token ids and text per chunk.")
def tokens(prompt, profile, dialect, backtrack, as_json) -> None:
    """Show how PROMPT is cut into 75-token CLIP chunks and which tag lands where.

    Tokens are shown word by word, the sub-word tokens of a word joined by a dot (kaz·usa); the header
    counts the prompt's own tokens (A1111's counter adds the padding of every chunk a BREAK ends)."""
    from ..syntax import parse
    from ..tokens.chunks import plan_chunks
    from ..tokens.clip import clip_bpe

    prof, dialect, _, _, _ = load_settings(profile, dialect, (), ())
    parsed = parse(prompt, dialect or prof.dialect)
    plan = plan_chunks(parsed, backtrack)
    bpe = clip_bpe()
    if as_json:
        click.echo(json.dumps({"token_count": plan.token_count, "chunks": [
            {"tokens": [t.id for t in c.tokens], "text": bpe.decode([t.id for t in c.tokens]), "break": c.forced}
            for c in plan.chunks]}, ensure_ascii=False, indent=2))
        return
    limit = prof.max_chunks
    used = sum(len(c.token_ids) for c in plan.chunks)  # what the prompt holds: no BREAK padding
    click.echo(f"{used} tokens in {len(plan.chunks)} chunk(s) of 75"
               + (f"; {prof.title} reads only {limit}" if limit else ""))
    for i, chunk in enumerate(plan.chunks):
        mark = "  (dropped by the encoder)" if limit is not None and i >= limit else ""
        ended = " BREAK" if chunk.forced else ""
        click.echo(f"chunk {i + 1}: {len(chunk.tokens)} tokens{ended}{mark}")
        click.echo("  " + " ".join(bpe.pieces(list(chunk.token_ids))))
    cut = [t for t in parsed.tags if len(plan.tag_chunks(t)) > 1]
    for tag in cut:
        click.echo(f"cut across chunks: {tag.raw!r}")
