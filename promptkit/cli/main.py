"""The ``promptkit`` command line.

Exit codes: 0 clean, 1 findings (or changes with ``--check``/``--diff``), 2 usage or input errors.
Everything here runs offline on the bundled data; nothing imports torch.
"""

from __future__ import annotations

import difflib
import json
import os
import sys
from pathlib import Path

import click

from .. import __version__
from .config import ConfigError, find_config
from .._files import write_atomic
from .inputs import InputError, PromptInput, collect

DIALECT = click.Choice(["a1111", "forge", "comfy", "comfyui", "novelai", "nai", "compel"], case_sensitive=False)


def fail(message: str) -> None:
    click.echo(f"promptkit: error: {message}", err=True)
    sys.exit(2)


def _split_codes(values: tuple[str, ...]) -> list[str]:
    return [c.strip() for v in values for c in v.split(",") if c.strip()]


def _settings(profile, dialect, select, ignore):
    try:
        cfg_path, cfg = find_config()
    except ConfigError as exc:
        fail(str(exc))
    profile = profile or cfg.get("profile") or "sdxl-base"
    dialect = dialect or cfg.get("dialect")
    select = _split_codes(select) or cfg.get("select") or None
    ignore = _split_codes(ignore) or cfg.get("ignore") or None
    try:
        from ..profiles import load_profile

        prof = load_profile(profile)
    except Exception as exc:  # ProfileError and validation errors are for people
        fail(str(exc))
    return prof, dialect, select, ignore, cfg


def _db(cfg: dict):
    from ..tags import TagDB, TagDataError, default_db

    try:
        sources = cfg.get("tag-sources")
        return TagDB.from_names(sources) if sources else default_db()
    except TagDataError as exc:
        fail(str(exc))


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="promptkit")
def cli() -> None:
    """Parse, lint, format and convert prompts for tag-trained text-to-image models.

    \b
    Examples:
      promptkit lint "1girl, kazusa (blue archive), long hiar" --profile kivotos-xl-2
      promptkit fmt --profile kivotos-xl-2 captions/
      promptkit convert "(best quality:1.2), [blurry]" --write compel
      promptkit tags suggest "long hiar"
    """


# -- lint ----------------------------------------------------------------------------------------------------
@cli.command()
@click.argument("prompts", nargs=-1)
@click.option("-f", "--file", "files", multiple=True, metavar="FILE",
              help="Read a prompt file: caption .txt, A1111 infotext, or PNG with A1111/ComfyUI metadata.")
@click.option("-p", "--profile", help="Model profile id or profile file (see `promptkit profiles`). Default: sdxl-base.")
@click.option("-d", "--dialect", type=DIALECT, help="Prompt syntax. Default: the profile's.")
@click.option("--select", multiple=True, metavar="CODES", help="Only these rule codes or prefixes (PK2, PK201,...).")
@click.option("--ignore", multiple=True, metavar="CODES", help="Skip these rule codes or prefixes.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif", "github"]), default="text",
              show_default=True, help="Output format.")
@click.option("--fix", is_flag=True, help="Apply safe fixes: rewrite files in place (atomically), print fixed prompts.")
@click.option("--unsafe-fixes", is_flag=True, help="With --fix or --diff, also apply unsafe fixes.")
@click.option("--diff", is_flag=True, help="Show the fixes as a unified diff; change nothing.")
@click.option("--negative", is_flag=True, help="The prompts given are negative prompts.")
@click.option("--fail-on", type=click.Choice(["info", "warning", "error"]), default=None,
              help="Lowest severity that makes the exit code 1. Default: warning.")
@click.option("--ext", "extensions", multiple=True, default=(".txt", ".caption"), show_default=True,
              help="Caption file extensions to read in folders.")
def lint(prompts, files, profile, dialect, select, ignore, fmt, fix, unsafe_fixes, diff, negative, fail_on,
         extensions) -> None:
    """Lint prompts: arguments, `-` for stdin, caption files, folders, infotext files and PNGs.

    Findings show file, line:column, rule code, message, the source with a caret under the span, and
    suggestions. Exit code 0 when clean, 1 with findings at or above --fail-on, 2 on usage or input errors.
    """
    from ..linter import Severity, fix_text, lint_prompt
    from . import output

    prof, dialect, select, ignore, cfg = _settings(profile, dialect, select, ignore)
    fail_on = fail_on or cfg.get("fail-on", "warning")
    if not prompts and not files:
        if sys.stdin.isatty():
            fail("give prompts, files or folders to lint (or `-` to read stdin); see `promptkit lint --help`")
        prompts = ("-",)
    try:
        items = collect(tuple(prompts), tuple(files), tuple(e if e.startswith(".") else f".{e}" for e in extensions),
                        negative)
    except InputError as exc:
        fail(str(exc))
    db = _db(cfg)
    backtrack = int(cfg.get("backtrack", 20))
    pairs = []
    fixed_total = 0
    changed = False
    for item in items:
        if fix or diff:
            new_text, applied = fix_text(item.text, prof, dialect, db, select, ignore, unsafe=unsafe_fixes,
                                         negative=item.negative)
            if new_text != item.text:
                changed = True
                fixed_total += len(applied)
                if diff:
                    click.echo("".join(difflib.unified_diff(
                        (item.text + "\n").splitlines(True), (new_text + "\n").splitlines(True),
                        fromfile=item.label, tofile=item.label)), nl=False)
                elif item.fixable:
                    write_atomic(item.path, new_text + "\n")  # type: ignore[arg-type]
                elif item.path is None and item.label.startswith("<"):
                    click.echo(new_text)
                else:
                    click.echo(f"promptkit: {item.label}: metadata inside a file is not rewritten; fixed text:\n"
                               f"{new_text}", err=True)
            if fix:
                item = PromptInput(item.label, new_text, item.negative, item.path, item.whole_file)
        report = lint_prompt(item.text, prof, dialect, db, select, ignore, item.negative, backtrack)
        pairs.append((item, report))
    if fmt == "json":
        click.echo(output.json_report(pairs))
    elif fmt == "sarif":
        click.echo(output.sarif_report(pairs))
    elif fmt == "github":
        text = output.github_report(pairs)
        if text:
            click.echo(text)
    elif not diff:
        color = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
        text = output.text_report(pairs, color)
        if text:
            click.echo(text)
        click.echo(output.summary(pairs, fixed_total))
    threshold = Severity(fail_on).rank
    if diff and changed:
        sys.exit(1)
    if any(d.severity.rank >= threshold for _, r in pairs for d in r.diagnostics):
        sys.exit(1)


# -- fmt -----------------------------------------------------------------------------------------------------
@cli.command("fmt")
@click.argument("prompts", nargs=-1)
@click.option("-f", "--file", "files", multiple=True, metavar="FILE", help="Caption or prompt file to format in place.")
@click.option("-p", "--profile", help="Model profile id or file. Default: sdxl-base.")
@click.option("-d", "--dialect", type=DIALECT, help="Prompt syntax. Default: the profile's.")
@click.option("--check", is_flag=True, help="Change nothing; exit 1 if anything would be reformatted.")
@click.option("--diff", is_flag=True, help="Show what would change as a unified diff; change nothing.")
@click.option("--negative", is_flag=True, help="The prompts are negative prompts (no ordering).")
def fmt_command(prompts, files, profile, dialect, check, diff, negative) -> None:
    """Format prompts: order tags by the profile template, normalize spacing, underscores and escapes.

    Files are rewritten in place (atomically); prompts given as arguments are printed. Every tag is kept
    with its weight.
    """
    from ..linter import format_prompt

    prof, dialect, _, _, cfg = _settings(profile, dialect, (), ())
    if not prompts and not files:
        prompts = ("-",)
    try:
        items = collect(tuple(prompts), tuple(files), negative=negative)
    except InputError as exc:
        fail(str(exc))
    db = _db(cfg)
    changed = 0
    for item in items:
        new = format_prompt(item.text, prof, dialect, db, negative=item.negative or negative)
        if new == item.text:
            if not (check or diff) and not item.fixable:
                click.echo(new)
            continue
        changed += 1
        if diff:
            click.echo("".join(difflib.unified_diff((item.text + "\n").splitlines(True), (new + "\n").splitlines(True),
                                                    fromfile=item.label, tofile=item.label)), nl=False)
        elif check:
            click.echo(f"would reformat {item.label}")
        elif item.fixable:
            write_atomic(item.path, new + "\n")  # type: ignore[arg-type]
            click.echo(f"reformatted {item.label}", err=True)
        else:
            click.echo(new)
    if (check or diff) and changed:
        sys.exit(1)


# -- convert -------------------------------------------------------------------------------------------------
@cli.command()
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


# -- parse ---------------------------------------------------------------------------------------------------
@cli.command("parse")
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


# -- tokens --------------------------------------------------------------------------------------------------
@cli.command()
@click.argument("prompt")
@click.option("-p", "--profile", help="Model profile (its encoder's chunk limit is shown).")
@click.option("-d", "--dialect", type=DIALECT, default=None, help="Prompt syntax. Default: the profile's.")
@click.option("--backtrack", default=20, show_default=True, help="A1111's comma backtrack in tokens (0 disables).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output: token ids and text per chunk.")
def tokens(prompt, profile, dialect, backtrack, as_json) -> None:
    """Show how PROMPT is cut into 75-token CLIP chunks and which tag lands where."""
    from ..syntax import parse
    from ..tokens.chunks import plan_chunks
    from ..tokens.clip import clip_bpe

    prof, dialect, _, _, _ = _settings(profile, dialect, (), ())
    parsed = parse(prompt, dialect or prof.dialect)
    plan = plan_chunks(parsed, backtrack)
    bpe = clip_bpe()
    if as_json:
        click.echo(json.dumps({"token_count": plan.token_count, "chunks": [
            {"tokens": [t.id for t in c.tokens], "text": bpe.decode([t.id for t in c.tokens]), "break": c.forced}
            for c in plan.chunks]}, ensure_ascii=False, indent=2))
        return
    limit = prof.max_chunks
    click.echo(f"{plan.token_count} tokens in {len(plan.chunks)} chunk(s) of 75"
               + (f"; {prof.title} reads only {limit}" if limit else ""))
    for i, chunk in enumerate(plan.chunks):
        mark = "  (dropped by the encoder)" if limit is not None and i >= limit else ""
        ended = " BREAK" if chunk.forced else ""
        click.echo(f"chunk {i + 1}: {len(chunk.tokens)} tokens{ended}{mark}")
        click.echo("  " + bpe.decode([t.id for t in chunk.tokens]))
    cut = [t for t in parsed.tags if len(plan.tag_chunks(t)) > 1]
    for tag in cut:
        click.echo(f"cut across chunks: {tag.raw!r}")


# -- tags ----------------------------------------------------------------------------------------------------
@cli.group()
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
    return _db(find_config()[1])


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


# -- profiles & rules ----------------------------------------------------------------------------------------
@cli.command()
@click.argument("profile", required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (all fields).")
def profiles(profile, as_json) -> None:
    """List the bundled model profiles, or show one (an id or a profile file)."""
    from ..profiles import ProfileError, all_profiles, load_profile

    if profile:
        try:
            prof = load_profile(profile)
        except ProfileError as exc:
            fail(str(exc))
        data = prof.model_dump(mode="json")
        if as_json:
            click.echo(json.dumps(data, indent=2, ensure_ascii=False))
            return
        for key, value in data.items():
            if value in (None, [], {}, ""):
                continue
            click.echo(f"{key}: {value}")
        return
    items = all_profiles()
    if as_json:
        click.echo(json.dumps([p.model_dump(mode="json") for p in items], indent=2, ensure_ascii=False))
        return
    width = max(len(p.id) for p in items)
    for p in items:
        click.echo(f"{p.id:<{width}}  {p.architecture:<10} {p.prediction_type:<12} {p.title}")


@cli.command()
@click.argument("code", required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output with each rule's docs.")
def rules(code, as_json) -> None:
    """List the lint rules, or explain one (by code or name)."""
    from ..linter import all_rules

    found = all_rules()
    if code:
        found = [r for r in found if r.code == code.upper() or r.name == code]
        if not found:
            fail(f"no rule {code!r}; see `promptkit rules`")
    if as_json:
        click.echo(json.dumps([{"code": r.code, "name": r.name, "category": r.category, "severity": r.severity.value,
                                "fix": r.fix_safety, "docs": r.docs()} for r in found], indent=2))
        return
    if code:
        r = found[0]
        click.echo(f"{r.code} {r.name}  [{r.category}, {r.severity.value}, fix: {r.fix_safety or 'none'}]\n")
        click.echo(r.docs())
        return
    for r in found:
        click.echo(f"{r.code}  {r.name:<24} {r.severity.value:<8} {('fix:' + r.fix_safety) if r.fix_safety else '':<11} "
                   f"{r.summary()}")


# -- generate & info -----------------------------------------------------------------------------------------
def _size(value: str | None) -> tuple[int, int] | None:
    if not value:
        return None
    try:
        w, h = value.lower().split("x")
        return int(w), int(h)
    except ValueError:
        fail(f"--size takes WIDTHxHEIGHT, e.g. 832x1216, not {value!r}")
        raise


@cli.command()
@click.argument("prompt")
@click.option("-p", "--profile", required=True, help="Model profile (see `promptkit profiles`).")
@click.option("-c", "--checkpoint", type=click.Path(dir_okay=True, exists=True),
              help="Local .safetensors checkpoint, or a local diffusers folder.")
@click.option("--config", "config_dir", type=click.Path(file_okay=False, exists=True),
              help="Local diffusers config folder for a single-file checkpoint (nothing is downloaded).")
@click.option("--allow-pickle", is_flag=True, help="Allow pickled .ckpt files (they can run code when loaded).")
@click.option("-n", "--negative", default=None, help="Negative prompt. Default: the profile's preset.")
@click.option("--seed", default=0, show_default=True, help="Seed of the first image; the batch counts up from it.")
@click.option("--steps", type=int, help="Sampling steps. Default: the profile's.")
@click.option("--cfg", type=float, help="CFG scale. Default: the profile's.")
@click.option("--size", help="WIDTHxHEIGHT. Default: the profile's first resolution.")
@click.option("--sampler", help="A1111 sampler name (Euler a, DPM++ 2M Karras, ...). Default: the profile's.")
@click.option("--schedule-type", help="A1111 schedule type (Karras, Exponential, Beta, SGM Uniform).")
@click.option("--batch", default=1, show_default=True, help="Images to generate.")
@click.option("--device", default=None, help="torch device (cuda, cpu). Default: cuda when available.")
@click.option("--fp16", is_flag=True, help="Run the model in float16 (GPU).")
@click.option("--force", is_flag=True, help="Run settings the profile calls fried (e.g. CFG far too high).")
@click.option("-o", "--output", default="out.png", show_default=True, help="PNG to write (A1111 metadata inside).")
def generate(prompt, profile, checkpoint, config_dir, allow_pickle, negative, seed, steps, cfg, size, sampler,
             schedule_type, batch, device, fp16, force, output) -> None:
    """Generate images from a local checkpoint with the profile's settings; PNGs carry A1111 metadata."""
    try:
        import torch

        from ..runners import GenerationError, Runner
    except ImportError as exc:  # pragma: no cover - the extra is missing
        fail(f"generating needs the diffusers extra: pip install 'promptkit[diffusers]' ({exc})")
    if not checkpoint:
        fail("give a checkpoint: --checkpoint model.safetensors (or a local diffusers folder)")
    dtype = torch.float16 if fp16 else None
    try:
        path = Path(checkpoint)
        runner = (Runner.from_pretrained(path, profile) if path.is_dir() else
                  Runner.from_single_file(path, profile, config=config_dir, allow_pickle=allow_pickle,
                                          torch_dtype=dtype))
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        runner.pipeline.to(device)
        runner.pipeline.set_progress_bar_config(disable=False)
        gen = runner.generate(prompt, negative, seed=seed, steps=steps, cfg=cfg, size=_size(size), sampler=sampler,
                              schedule_type=schedule_type, batch=batch, force=force)
    except (GenerationError, ValueError, OSError) as exc:
        fail(str(exc))
    for saved in gen.save(output):
        click.echo(f"wrote {saved}")


@cli.command()
@click.argument("image", type=click.Path(exists=True, dir_okay=False))
@click.option("-p", "--profile", help="Profile to lint against. Default: the Model named in the metadata, if known.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output: prompts, parameters and findings.")
def info(image, profile, as_json) -> None:
    """Show a generated image's prompt and settings (A1111 or ComfyUI metadata), and lint its prompts."""
    from ..infotext import parse_infotext, png_text_chunks, read_png_prompts
    from ..linter import lint_prompt
    from ..profiles import bundled_ids

    try:
        chunks = png_text_chunks(image)
        prompts = read_png_prompts(image)
    except (OSError, ValueError) as exc:
        fail(str(exc))
    params = parse_infotext(chunks["parameters"]).params if "parameters" in chunks else {}
    if not prompts:
        fail(f"{image}: no A1111 or ComfyUI prompt metadata")
    profile = profile or (params.get("Model") if params.get("Model") in bundled_ids() else None) or "sdxl-base"
    prof, dialect, _, _, cfg = _settings(profile, None, (), ())
    db = _db(cfg)
    reports = [(label, text, lint_prompt(text, prof, dialect, db, negative=neg)) for label, text, neg in prompts]
    if as_json:
        click.echo(json.dumps({"parameters": params, "prompts": [
            {"label": label, "text": text, **report.to_dict()} for label, text, report in reports]},
            ensure_ascii=False, indent=2))
        return
    for label, text, report in reports:
        click.echo(f"{label}: {text}")
    for key, value in params.items():
        click.echo(f"  {key}: {value}")
    from . import output
    from .inputs import PromptInput

    pairs = [(PromptInput(f"{image}[{label}]", text), report) for label, text, report in reports]
    text = output.text_report(pairs, sys.stdout.isatty() and not os.environ.get("NO_COLOR"))
    if text:
        click.echo(text)
    click.echo(output.summary(pairs))


# -- dataset -------------------------------------------------------------------------------------------------
@cli.group()
def dataset() -> None:
    """Lint, normalize and report caption datasets (folders of .txt/.caption sidecars)."""


def _dataset_paths(root: str, extensions: tuple[str, ...]):
    from ..dataset import find_captions

    paths = find_captions(root, extensions)
    if not paths:
        fail(f"{root}: no caption files ({', '.join(extensions)})")
    return paths


_EXT = click.option("--ext", "extensions", multiple=True, default=(".txt", ".caption"), show_default=True,
                    help="Caption file extensions (searched recursively).")
_PROFILE = click.option("-p", "--profile", help="Profile whose special tags (quality, rating...) count as known.")


@dataset.command("lint")
@click.argument("root", type=click.Path(exists=True))
@_EXT
@_PROFILE
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Output format.")
@click.option("--no-suggest", is_flag=True, help="Skip spelling suggestions for unknown tags (faster).")
@click.option("-j", "--jobs", type=int, default=None, help="Worker processes. Default: all cores.")
def dataset_lint(root, extensions, profile, fmt, no_suggest, jobs) -> None:
    """Unknown, alias, duplicate and implied tags and count conflicts, per caption file. Exit 1 on findings."""
    from ..dataset.analyze import AnalyzeJob
    from ..dataset.files import map_files

    paths = _dataset_paths(root, extensions)
    job = AnalyzeJob("lint", profile, suggest=not no_suggest, sources=find_config()[1].get("tag-sources"))
    results = []
    found = 0
    with click.progressbar(map_files(paths, job, jobs), length=len(paths), label="linting", file=sys.stderr) as bar:
        for path, error, findings in bar:
            found += len(findings) + (error is not None)
            results.append((path, error, findings))
    if fmt == "json":
        click.echo(json.dumps([{"path": p, "error": e, "findings": [f.__dict__ for f in fs]} for p, e, fs in results],
                              ensure_ascii=False, indent=2))
    else:
        for path, error, findings in results:
            if error:
                click.echo(f"{path}: error: {error}")
            for f in findings:
                hint = f" (did you mean {f.suggestion!r}?)" if f.suggestion and f.code == "PK201" else ""
                click.echo(f"{path}: {f.code} {f.message}{hint}")
        click.echo(f"{found} finding(s) in {len(paths)} caption file(s).")
    sys.exit(1 if found else 0)


@dataset.command("normalize")
@click.argument("root", type=click.Path(exists=True))
@_EXT
@click.option("--underscores-to-spaces", is_flag=True, help="long_hair -> long hair (kaomoji kept).")
@click.option("--escape-parentheses/--unescape-parentheses", default=None, help="Write \\( \\) or remove escapes.")
@click.option("--resolve-aliases", is_flag=True, help="Rewrite aliases to canonical tags (hires -> highres).")
@click.option("--remove-duplicates", is_flag=True, help="Drop repeated tags, also across spellings.")
@click.option("--remove-implied", is_flag=True, help="Drop tags implied by another tag in the caption.")
@click.option("--character-first", is_flag=True, help="Character tags first.")
@click.option("--split-series", is_flag=True, help="kazusa_(blue_archive) -> kazusa, blue archive.")
@click.option("--rating", type=click.Choice(["keep", "first", "last", "remove"]), default="keep", show_default=True,
              help="Where rating tags (general, sensitive, questionable, explicit) go.")
@click.option("--always-first", multiple=True, metavar="TAGS", help="Comma-separated tags moved to the front.")
@click.option("--undesired", multiple=True, metavar="TAGS", help="Comma-separated tags to remove.")
@click.option("--replace", "replacements", multiple=True, metavar="OLD=NEW", help="Replace a tag (repeatable).")
@click.option("--separator", default=", ", show_default=True, help="Written between tags.")
@click.option("--order-by", "order_profile", metavar="PROFILE",
              help="Reorder by a profile's template (e.g. sotediffusion-wuerstchen3).")
@click.option("--dry-run", is_flag=True, help="Report what would change; write nothing.")
@click.option("--diff", is_flag=True, help="Show changes as a unified diff; write nothing.")
@click.option("--backup", is_flag=True, help="Keep each original as NAME.orig (once).")
@click.option("--fsync", is_flag=True, help="fsync every write (slower; survives power loss too).")
@click.option("-j", "--jobs", type=int, default=None, help="Worker processes. Default: all cores.")
def dataset_normalize(root, extensions, underscores_to_spaces, escape_parentheses, resolve_aliases,
                      remove_duplicates, remove_implied, character_first, split_series, rating, always_first,
                      undesired, replacements, separator, order_profile, dry_run, diff, backup, fsync, jobs) -> None:
    """Rewrite caption files in place, atomically. Normalizing twice changes nothing the second time."""
    from ..dataset import NormalizeOptions, NormalizerFactory, process_files

    def tags_of(values):
        return tuple(t.strip() for v in values for t in v.split(",") if t.strip())

    pairs = []
    for item in replacements:
        if "=" not in item:
            fail(f"--replace takes OLD=NEW, not {item!r}")
        old, new = item.split("=", 1)
        pairs.append((old.strip(), new.strip()))
    options = NormalizeOptions(
        underscores_to_spaces=underscores_to_spaces, escape_parentheses=escape_parentheses,
        resolve_aliases=resolve_aliases, remove_duplicates=remove_duplicates, remove_implied=remove_implied,
        character_first=character_first, split_series=split_series, rating=rating,
        always_first=tags_of(always_first), undesired=tags_of(undesired), replacements=tuple(pairs),
        separator=separator, profile=order_profile)
    paths = _dataset_paths(root, extensions)
    write = not (dry_run or diff)
    factory = NormalizerFactory(options, find_config()[1].get("tag-sources"))
    changed = errors = 0
    results = process_files(paths, factory, write=write, backup=backup, fsync=fsync, workers=jobs)
    with click.progressbar(results, length=len(paths), label="normalizing", file=sys.stderr) as bar:
        for result in bar:
            if result.error:
                errors += 1
                click.echo(f"{result.path}: skipped: {result.error}", err=True)
            elif result.changed:
                changed += 1
                if diff:
                    click.echo("".join(difflib.unified_diff([result.old + "\n"], [result.new + "\n"],
                                                            fromfile=result.path, tofile=result.path)), nl=False)
                elif dry_run:
                    click.echo(f"would change {result.path}")
    verb = "would change" if not write else "changed"
    click.echo(f"{verb} {changed} of {len(paths)} caption file(s); {errors} unreadable (left untouched).", err=True)
    if errors:
        sys.exit(1)


@dataset.command("stats")
@click.argument("root", type=click.Path(exists=True))
@_EXT
@_PROFILE
@click.option("--html", "html_path", type=click.Path(dir_okay=False), help="Also write a self-contained HTML report.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--top", default=25, show_default=True, help="Rows in the terminal tables.")
@click.option("-j", "--jobs", type=int, default=None, help="Worker processes. Default: all cores.")
def dataset_stats(root, extensions, profile, html_path, as_json, top, jobs) -> None:
    """Tag frequency by category, unknown tags with suggestions, tags per caption."""
    from ..dataset import CaptionAnalyzer, DatasetStats
    from ..dataset.analyze import AnalyzeJob
    from ..dataset.files import map_files

    paths = _dataset_paths(root, extensions)
    cfg = find_config()[1]
    sources = cfg.get("tag-sources")
    analyzer = CaptionAnalyzer(_db(cfg), profile)  # for suggestions in the report
    stats = DatasetStats()
    results = map_files(paths, AnalyzeJob("stats", profile, suggest=False, sources=sources), jobs)
    with click.progressbar(results, length=len(paths), label="reading", file=sys.stderr) as bar:
        for path, error, tags in bar:
            if error is not None:
                stats.errors.append((path, error))
            else:
                stats.add_tags(tags)
    if html_path:
        Path(html_path).write_text(stats.to_html(analyzer), encoding="utf-8")
        click.echo(f"wrote {html_path}", err=True)
    data = stats.to_dict(analyzer, top)
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(f"{data['captions']:,} captions, {data['distinct_tags']:,} distinct tags, "
                  f"{data['mean_tags_per_caption']:.1f} tags per caption, {len(stats.errors)} unreadable")
    table = Table("category", "tags", title="Tags by category")
    for cat, count in data["categories"].items():
        table.add_row(cat, f"{count:,}")
    console.print(table)
    table = Table("tag", "captions", title=f"Top {top} tags")
    for tag, count in data["top_tags"]:
        table.add_row(tag, f"{count:,}")
    console.print(table)
    if data["unknown"]:
        table = Table("unknown tag", "captions", "did you mean", title="Unknown tags")
        for tag, count, suggestion in data["unknown"]:
            table.add_row(tag, f"{count:,}", suggestion or "")
        console.print(table)


def main() -> None:
    try:
        cli(prog_name="promptkit")
    except BrokenPipeError:  # `promptkit ... | head`
        sys.stderr.close()
        sys.exit(0)


if __name__ == "__main__":  # pragma: no cover
    main()
