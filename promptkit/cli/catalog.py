"""`promptkit profiles` and `promptkit rules`: what promptkit knows about models and its lint rules."""

from __future__ import annotations

import json
import re

import click

from .common import fail

_LITERAL = re.compile(r"``(.+?)``", re.S)


def plain(doc: str) -> str:
    """A rule's docs for a terminal: reStructuredText literals (``x``) shown as 'x'."""
    return _LITERAL.sub(lambda m: f"'{m.group(1)}'", doc)


def _value(value) -> str:
    """One profile field, readable: ranges as min-max, lists joined, sizes as WxH."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict) and set(value) == {"min", "max", "default"}:
        return f"{_value(value['min'])}-{_value(value['max'])} (default {_value(value['default'])})"
    if isinstance(value, list):
        if value and all(isinstance(v, list) and len(v) == 2 for v in value):
            return ", ".join(f"{w}x{h}" for w, h in value)
        if value and all(isinstance(v, dict) and "name" in v for v in value):
            return ", ".join(v["name"] for v in value)
        return ", ".join(_value(v) for v in value)
    return str(value)


def profile_lines(data: dict) -> list[str]:
    """A profile as 'field: value' lines, nested tables (ladders, presets) one entry a line."""
    lines = []
    width = 20
    for key, value in data.items():
        if value in (None, [], {}, ""):
            continue
        label = key.replace("_", " ")
        if isinstance(value, dict) and set(value) != {"min", "max", "default"}:
            entries = {k: v for k, v in value.items() if v not in (None, [], {}, "")}
            if not entries:
                continue
            lines.append(f"{label}:")
            for k, v in entries.items():
                lines.append(f"  {k.replace('_', ' ') + ':':<{width - 2}} {_value(v)}")
            continue
        lines.append(f"{label + ':':<{width}} {_value(value)}")
    return lines


@click.command()
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
        for line in profile_lines(data):
            click.echo(line)
        return
    items = all_profiles()
    if as_json:
        click.echo(json.dumps([p.model_dump(mode="json") for p in items], indent=2, ensure_ascii=False))
        return
    width = max(len(p.id) for p in items)
    for p in items:
        click.echo(f"{p.id:<{width}}  {p.architecture:<10} {p.prediction_type:<12} {p.title}")


@click.command()
@click.argument("code", required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output with each rule's docs.")
def rules(code, as_json) -> None:
    """List the lint rules (which run by default, which only with --select), or explain one (by code or name)."""
    from ..linter import all_rules

    found = all_rules()
    if code:
        found = [r for r in found if r.code == code.upper() or r.name == code]
        if not found:
            fail(f"no rule {code!r}; see `promptkit rules`")
    if as_json:
        click.echo(json.dumps([{"code": r.code, "name": r.name, "category": r.category, "severity": r.severity.value,
                                "fix": r.fix_safety, "default": r.default, "docs": r.docs()} for r in found], indent=2))
        return
    if code:
        r = found[0]
        on = "on by default" if r.default else "off by default (--select " + r.code + ")"
        click.echo(f"{r.code} {r.name}  [{r.category}, {r.severity.value}, fix: {r.fix_safety or 'none'}, {on}]\n")
        click.echo(plain(r.docs()))
        return
    click.echo(f"{'code':<6} {'name':<24} {'default':<8} {'severity':<8} {'fix':<11} summary")
    for r in found:
        click.echo(f"{r.code:<6} {r.name:<24} {'on' if r.default else 'off':<8} {r.severity.value:<8} "
                   f"{('fix:' + r.fix_safety) if r.fix_safety else '':<11} {plain(r.summary())}")
