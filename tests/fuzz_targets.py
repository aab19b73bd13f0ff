"""What the fuzzers run on each input, and which exceptions are allowed (everything else is a bug).

Shared by ``tests/test_fuzz.py`` (hypothesis, a bounded number of examples per CI run) and
``tools/fuzz.py`` (atheris, for runs of minutes or hours). An allowed exception is one the CLI turns into a
clear line: a ``PromptSyntaxError``, a ``ConversionError`` for what a dialect cannot express, a
``ValueError`` naming a malformed PNG.
"""

from __future__ import annotations

import functools
import os
import tempfile

from promptkit.infotext import _PARAM, looks_like_infotext, param_pairs, parse_infotext, read_png_prompts
from promptkit.syntax import ConversionError, PromptSyntaxError

DIALECTS = ("a1111", "comfy", "novelai", "compel")


@functools.cache
def db():
    from promptkit.tags import default_db

    return default_db()


@functools.cache
def profiles() -> tuple[str, ...]:
    from promptkit.profiles import bundled_ids

    return tuple(bundled_ids())


def check_parse(text: str) -> None:
    import promptkit

    for dialect in DIALECTS:
        prompt = promptkit.parse(text, dialect=dialect)
        [(t.name, t.start, t.end, t.weight) for t in prompt.tags]
        try:
            promptkit.parse(text, dialect=dialect, strict=True)
        except PromptSyntaxError:
            pass


def check_convert(text: str) -> None:
    import promptkit

    for write in DIALECTS:
        try:
            promptkit.convert(text, "a1111", write)
        except (ConversionError, PromptSyntaxError):
            pass


def check_lint(text: str, profile: str, negative: bool = False) -> None:
    from promptkit.linter import lint_prompt

    lint_prompt(text, profile, None, db(), negative=negative)


def check_fix_and_fmt(text: str, profile: str) -> None:
    from promptkit.linter import fix_text, format_prompt

    fixed, _ = fix_text(text, profile, None, db(), unsafe=True)
    assert isinstance(fixed, str)
    format_prompt(text, profile, None, db())


def check_infotext(text: str) -> None:
    looks_like_infotext(text)
    parse_infotext(text)
    last = text.rsplit("\n", 1)[-1]
    if len(last) <= 300:  # A1111's regex is quadratic: compare on short lines only
        assert param_pairs(last) == _PARAM.findall(last), last


def check_png(data: bytes) -> None:
    fd, name = tempfile.mkstemp(suffix=".png", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        try:
            read_png_prompts(name)
        except ValueError:
            pass
    finally:
        os.unlink(name)
