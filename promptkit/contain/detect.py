"""Which container a text is: from the caller (an option, the profile or config), the file, or markers that
cannot mean anything else. Ambiguous text stays a plain prompt."""

from __future__ import annotations

import re
from pathlib import PurePath

from .document import Document
from .formats import (REGIONAL_KEYWORDS, is_json, is_styles_table, split_comfy_graph, split_dynamic_template,
                      split_forge_couple, split_horde, split_infotext, split_kohya, split_lines, split_prompt,
                      split_regional, split_styles_csv, split_ti_template, split_wildcards, yaml_collection)
from .placeholders import has_template_syntax

CONTAINERS = ("prompt", "a1111-styles-csv", "horde-style", "regional-prompter", "forge-couple", "kohya-sample",
              "ti-template", "dynamic-template", "wildcard-file", "comfy-graph", "infotext", "lines")
ALIASES = {"styles": "a1111-styles-csv", "styles-csv": "a1111-styles-csv", "style": "a1111-styles-csv",
           "horde": "horde-style", "regional": "regional-prompter", "kohya": "kohya-sample",
           "ti": "ti-template", "template": "dynamic-template", "dynamic": "dynamic-template",
           "wildcards": "wildcard-file", "wildcard": "wildcard-file", "couple": "forge-couple", "comfy": "comfy-graph",
           "comfyui": "comfy-graph", "workflow": "comfy-graph", "auto": None}
_COMFY = re.compile(r'"(?:class_type|type)"\s*:\s*"[^"]*TextEncode')

_KOHYA_OPTION = re.compile(r"(?m) --(?:n [^\n]|[whdsl] \d)")
_HORDE = re.compile(r"\{n?p\}")
_RP_ONLY = re.compile(r"\b(ADDCOMM|ADDBASE|ADDCOL|ADDROW)\b")
#: a line that opens with a people count (``2girls, blonde hair, ...``), after a LoRA of its own: two such lines are
#: Forge Couple's regions, a character each, every one repeating the picture's count as its README tells users to
#: (one prompt written over several lines states its count once)
_COUNT_LINE = re.compile(r"^[ \t]*(?:<[^<>\n]*>[ \t]*)*\d+\+?(?:girl|boy|other)s?\b", re.MULTILINE | re.IGNORECASE)
_COUPLE_DEFINE = re.compile(r"\{([A-Za-z_][\w -]*):[^{}]+\}")


class ContainerError(ValueError):
    """An unknown container kind, or a file that is not what its container says (one line, for people)."""


def canonical_container(name: str | None) -> str | None:
    """The container kind for a name or alias (None: detect); :class:`ContainerError` for an unknown name."""
    if name is None:
        return None
    key = name.strip().lower()
    if key in ALIASES:
        return ALIASES[key]
    if key in CONTAINERS:
        return key
    raise ContainerError(f"unknown container {name!r}; known: auto, {', '.join(CONTAINERS)}")


def detect_container(text: str, path: str | None = None) -> str:
    """The container kind of ``text`` (see ``CONTAINERS``), from the file's name first, then unambiguous markers."""
    kind = _from_path(text, path) if path else None
    return kind or _from_markers(text)


def _from_path(text: str, path: str) -> str | None:
    p = PurePath(path)
    name = p.name.lower()
    suffix = p.suffix.lower()
    folders = {part.lower() for part in p.parts[:-1]}
    if suffix == ".csv" and ("style" in name or is_styles_table(text)):
        return "a1111-styles-csv"
    if suffix in (".yaml", ".yml"):
        return "wildcard-file"
    if suffix == ".json":
        if _COMFY.search(text):
            return "comfy-graph"
        if _HORDE.search(text) and '"prompt"' in text:
            return "horde-style"
        if folders & {"wildcards", "collections"}:
            return "wildcard-file"
        return None
    if suffix == ".txt":
        if folders & {"wildcards", "collections"}:
            return "wildcard-file"
        if "textual_inversion_templates" in folders:
            return "ti-template"
        if name.startswith(("sample_prompt", "sample-prompt")) and _KOHYA_OPTION.search(text):
            return "kohya-sample"
    return None


_LINE_BREAKERS = re.compile(r"\b(?:BREAK|AND)\b")


_BLANK_LINE = re.compile(r"\n[ \t]*\r?\n")
LIST_LINES = 10
"""Lines of short comma-less items from which a text is a list of options rather than one prompt."""


def reads_as_alternatives(text: str) -> bool:
    """A list of whole prompts, one a line, as a wildcard or preset file holds them: three lines or more, none
    continued by a trailing comma, and two of them starting with the same three tags (one prompt written over
    several lines does not repeat its own tags; a file of alternatives repeats its shared head on every line);
    or ten lines or more of short items (six words at most) and no comma anywhere: a list of options; or three
    paragraphs or more (blank lines between), no line continued by a comma, fewer than two ending as sentences."""
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line and not line.startswith("#")]
    if len(lines) < 3 or any(line.endswith(",") for line in lines) or _LINE_BREAKERS.search(text):
        return False
    if len(lines) >= LIST_LINES and "," not in text and all(len(line.split()) <= 6 for line in lines):
        return True  # a list of short items, one a line and no comma anywhere: a wildcard file's options
    if len(_BLANK_LINE.findall(text.strip())) >= 2:
        # three or more paragraphs, none continued by a comma: prompts, one a paragraph; unless the paragraphs
        # end as sentences do, which is one prompt written in prose paragraphs (a scene, then the character)
        paragraphs = [p.rstrip() for p in _BLANK_LINE.split(text.strip())]
        return sum(p.endswith(".") for p in paragraphs) < 2
    heads: set[tuple[str, ...]] = set()
    for line in lines:
        pieces = tuple(piece.strip().lower() for piece in line.split(",")[:4])
        if len(pieces) < 4:
            continue
        head = pieces[:3]
        if head in heads:
            return True
        heads.add(head)
    return False


def _from_markers(text: str) -> str:
    # An infotext is never guessed: pasted into a prompt it is a mistake the linter reports (PK110); files of
    # generation parameters are read as such by their readers (promptkit.cli.inputs, PNG metadata).
    if text.lstrip().startswith("{") and _COMFY.search(text):
        return "comfy-graph"
    if text.lstrip()[:1] in "{[" and is_json(text):
        return "wildcard-file"  # a JSON library of prompts: each string a prompt of its own (keys name them)
    # the cheap test first: is_styles_table reads the first line character by character, in Python
    if text.lstrip().lower().startswith("name") and is_styles_table(text):
        return "a1111-styles-csv"
    if "{prompt}" in text:
        return "a1111-styles-csv"
    if _HORDE.search(text):
        return "horde-style"
    # (the substring first: a pattern that starts with \b is tried at every character, 5 us on a caption)
    if "ADD" in text and _RP_ONLY.search(text):
        return "regional-prompter"
    if _KOHYA_OPTION.search(text):
        return "kohya-sample"
    if "[filewords]" in text or "[name]" in text:
        return "ti-template"
    if yaml_collection(text):
        return "wildcard-file"
    if reads_as_alternatives(text):
        return "wildcard-file"
    if has_template_syntax(text) or "<ppp:" in text:
        return "dynamic-template"
    m = _COUPLE_DEFINE.search(text)
    if m and "{" + m.group(1) + "}" in text:
        return "forge-couple"
    if "\n" in text and len(_COUNT_LINE.findall(text)) >= 2:
        return "forge-couple"
    return "prompt"


def split_document(text: str, *, container: str | None = None, path: str | None = None,
                   negative: bool = False) -> Document:
    """The prompts and regions ``text`` holds. ``container`` is a kind or alias (None or ``auto``: detect it from
    ``path`` and the text); ``negative`` says the text is a negative prompt (its prompt segments are negative).
    Raises :class:`ContainerError` for an unknown kind or a file its kind cannot read."""
    kind = canonical_container(container) or detect_container(text, path)
    if kind == "prompt":
        segments = split_prompt(text, negative)
    elif kind == "a1111-styles-csv":
        segments = split_styles_csv(text, negative)
    elif kind == "horde-style":
        segments = split_horde(text, negative)
    elif kind == "regional-prompter":
        segments = split_regional(text, negative)
    elif kind == "forge-couple":
        segments = split_forge_couple(text, negative)
    elif kind == "kohya-sample":
        segments = split_kohya(text, negative)
    elif kind == "ti-template":
        segments = split_ti_template(text, negative)
    elif kind == "dynamic-template":
        segments = split_dynamic_template(text, negative)
    elif kind == "wildcard-file":
        segments = split_wildcards(text, negative, path)
    elif kind == "comfy-graph":
        segments = split_comfy_graph(text, negative)
    elif kind == "infotext":
        segments = split_infotext(text, negative)
    else:  # "lines"
        segments = split_lines(text, negative)
    return Document(text, kind, segments, path)


__all__ = ["CONTAINERS", "ContainerError", "canonical_container", "detect_container", "split_document",
           "REGIONAL_KEYWORDS"]
