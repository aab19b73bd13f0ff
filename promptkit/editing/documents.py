"""Documents people write prompts in, cut into the prompts they hold, and the settings that apply to them.

A document is split by :mod:`promptkit.contain`: a plain prompt (``.prompt`` files, caption ``.txt``/``.caption``
files, where the lines of a caption are its tags, as ``promptkit lint`` reads a caption file), ``lines`` (every
non-empty line is its own prompt, as A1111's "Prompts from file"), ``styles`` (an A1111 ``styles.csv``: the
``prompt`` cell of each row is a prompt, the ``negative_prompt`` cell a negative prompt, quoted cells unquoted,
spans mapped back through the quotes), or any container kind (wildcard files, templates, regions ...). ``auto``
knows the kind from the file's name and unambiguous markers.

Which profile and dialect apply, first found wins: a directive on the first line
(``# promptkit: profile=kivotos-xl-2 dialect=a1111 negative lines``), the project's ``promptkit.toml`` /
``[tool.promptkit]`` (looked up from the document's folder), the editor's settings, the defaults.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..contain import Segment  # noqa: F401  (the editing layer's segments are the container stage's)

Mode = Literal["auto", "prompt", "lines", "styles", "a1111-styles-csv", "horde-style", "regional-prompter",
               "forge-couple", "kohya-sample", "ti-template", "dynamic-template", "wildcard-file", "infotext"]
MODES = ("auto", "prompt", "lines", "styles", "a1111-styles-csv", "horde-style", "regional-prompter", "forge-couple",
         "kohya-sample", "ti-template", "dynamic-template", "wildcard-file", "infotext")

DIRECTIVE = re.compile(r"^#\s*promptkit\s*:(?P<body>[^\n]*)")
_DIRECTIVE_KEYS = ("profile", "dialect", "negative", "mode", "select", "ignore")


class Settings(BaseModel):
    """What a document is linted with. Unset fields fall back to the next source (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    profile: str | None = None
    dialect: str | None = None
    negative: bool | None = Field(None, description="the document holds negative prompts")
    mode: Mode = "auto"
    select: list[str] | None = None
    ignore: list[str] | None = None
    embeddings: list[str] = Field(default_factory=list, description="folders of textual-inversion files")
    loras: list[str] = Field(default_factory=list, description="folders of LoRA / LyCORIS files")
    wildcards: list[str] = Field(default_factory=list, description="dynamic-prompts wildcard folders")
    tag_sources: list[str] | None = Field(None, description="replaces the profile's own tag sources")
    debounce_ms: int = Field(150, ge=0, le=5000, description="quiet time before diagnostics after an edit")

    def over(self, base: "Settings") -> "Settings":
        """These settings where set, ``base`` elsewhere (lists of folders add up)."""
        merged = base.model_dump()
        for key, value in self.model_dump(exclude_unset=True).items():
            if key in ("embeddings", "loras", "wildcards"):
                merged[key] = list(dict.fromkeys(list(value) + list(merged[key])))
            elif value is not None and not (key == "mode" and value == "auto"):
                merged[key] = value
        return Settings(**merged)


@dataclass(frozen=True)
class Problem:
    """Something wrong with the document itself (a bad directive, an unknown profile): shown as a finding."""

    start: int
    end: int
    message: str
    code: str = "directive"


def parse_directive(text: str) -> tuple[Settings, list[Problem], int]:
    """Settings from a first-line directive, problems with it, and where the prompt text starts after it."""
    match = DIRECTIVE.match(text)
    if match is None:
        return Settings(), [], 0
    end = match.end()
    found: dict = {}
    problems: list[Problem] = []
    for word in re.finditer(r"\S+", match.group("body")):
        start = match.start("body") + word.start()
        key, _, value = word.group().partition("=")
        key = key.lower()
        if (key == "negative" or key in MODES) and not value:
            if key == "negative":
                found["negative"] = True
            else:
                found["mode"] = key
            continue
        if key not in _DIRECTIVE_KEYS or not value:
            problems.append(Problem(start, start + len(word.group()),
                                    f"unknown directive {word.group()!r}; use "
                                    "profile=ID dialect=NAME negative lines|styles|prompt|CONTAINER select=CODES ignore=CODES"))
        elif key == "negative":
            found["negative"] = value.lower() in ("1", "true", "yes", "on")
        elif key == "mode":
            if value not in MODES:
                problems.append(Problem(start, start + len(word.group()), f"unknown mode {value!r}"))
            else:
                found["mode"] = value
        elif key in ("select", "ignore"):
            found[key] = [c for c in value.split(",") if c]
        else:
            found[key] = value
    body_start = end + 1 if text[end:end + 1] == "\n" else end
    return Settings(**found), problems, body_start


def document_mode(path: str | None, settings: Settings, text: str = "") -> str:
    """The container a document is read as: the settings' ``mode``, else what its path and unambiguous markers
    say (:func:`promptkit.contain.detect_container`)."""
    if settings.mode != "auto":
        return _KINDS.get(settings.mode, settings.mode)
    from ..contain import detect_container

    return detect_container(text, path)


def split_document(text: str, mode: str, negative: bool = False, body_start: int = 0,
                   path: str | None = None) -> list[Segment]:
    """The prompts of a document from ``body_start`` on (after a directive line), through :mod:`promptkit.contain`
    (``mode`` is ``auto``, ``prompt``, ``lines``, ``styles`` or a container kind). Segments are in offsets of
    the whole document; a container the text cannot be read as gives no segments (see :func:`container_problem`)."""
    from ..contain import ContainerError, split_document as split

    kind = _KINDS.get(mode, mode)
    body = text[body_start:]
    try:
        doc = split(body, container=None if kind == "auto" else kind, path=path, negative=negative)
    except ContainerError:
        return []
    if body_start:
        for seg in doc.segments:
            seg.start += body_start
            seg.end += body_start
            if seg.offsets is not None:
                seg.offsets = [o + body_start for o in seg.offsets]
    return doc.segments


def container_problem(text: str, mode: str, body_start: int = 0, path: str | None = None) -> Problem | None:
    """Why the document cannot be read as its container (a YAML wildcard file that is not YAML ...), or None."""
    from ..contain import ContainerError, split_document as split

    kind = _KINDS.get(mode, mode)
    try:
        split(text[body_start:], container=None if kind == "auto" else kind, path=path)
    except ContainerError as exc:
        return Problem(0, 0, str(exc), "settings")
    return None


_KINDS = {"styles": "a1111-styles-csv"}
