"""One splitter per container kind: the segments a text of that kind holds, with their spans in the file.

Each format as its own documentation describes it:

- ``a1111-styles-csv``: A1111 ``styles.csv``, rows ``name,prompt,negative_prompt`` (RFC 4180 quoting); a style's
  ``{prompt}`` is where the user's prompt goes. A text that is not such a table is one style's prompt.
- ``horde-style``: AI Horde styles (``Haidra-Org/AI-Horde-Styles``): ``{p}`` and ``{np}`` are the user's prompt
  and negative prompt, ``###`` starts the negative part. A JSON file of styles: each ``"prompt"`` value.
- ``regional-prompter``: hako-mikan's Regional Prompter: ``BREAK``, ``ADDCOL`` and ``ADDROW`` separate regions;
  the part before ``ADDCOMM`` is the common prompt (added to every region), before ``ADDBASE`` the base prompt.
- ``forge-couple``: Haoming02's Forge Couple: a region per line (the default separator); ``{key:text}`` defines
  a common prompt (its text stays in the line), ``{key}`` inserts it.
- ``kohya-sample``: kohya-ss sd-scripts sample prompts: a prompt per line, ``#`` comments, options after `` --``:
  ``--n`` the negative prompt, ``--w --h --d --s --l`` (and the others) settings, not prompt text.
- ``ti-template``: A1111 textual-inversion templates: a prompt per line with ``[name]`` and ``[filewords]``.
- ``dynamic-template``: an sd-dynamic-prompts template: one prompt with variants, wildcards and variables.
- ``wildcard-file``: sd-dynamic-prompts wildcards: a ``.txt`` with an option per line (``#`` comments), or a
  YAML/JSON collection whose every leaf string is an option.
- ``infotext``: A1111 generation parameters: prompt, ``Negative prompt:`` lines, the settings line.
- ``prompt``: the whole text is one prompt.
"""

from __future__ import annotations

import re
from typing import Iterator

from .document import (BASE, COMMON, NEGATIVE, OPTION, POSITIVE, REGION, SETTINGS, Placeholder, Segment)
from .placeholders import fixed_placeholders, merge, template_syntax

_WS = " \t\r\n"
MAX_VARIANT_DEPTH = 4  # options of variants nested deeper are not segments of their own (still masked)


def _trim(text: str, s: int, e: int, chars: str = _WS) -> tuple[int, int]:
    while s < e and text[s] in chars:
        s += 1
    while e > s and text[e - 1] in chars:
        e -= 1
    return s, e


def _lines(text: str, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int]]:
    """(start, end) of every line of ``text[start:end]`` without its line ending."""
    end = len(text) if end is None else end
    pos = start
    while pos <= end:
        nl = text.find("\n", pos, end)
        stop = end if nl == -1 else nl
        yield pos, stop - 1 if stop > pos and text[stop - 1] == "\r" else stop
        if nl == -1:
            return
        pos = nl + 1


class _Builder:
    """Makes segments of one container, with the placeholders and option segments its syntax defines."""

    def __init__(self, text: str, container: str, fixed: tuple[str, ...] = (), fixed_kind: str = "",
                 template: bool = True) -> None:
        self.text, self.container = text, container
        self.fixed, self.fixed_kind, self.template = fixed, fixed_kind, template
        self.out: list[Segment] = []

    def span(self, s: int, e: int, role: str, label: str = "", trim: str = _WS) -> None:
        """A segment for the file slice ``text[s:e]`` (trimmed), with its placeholders and options."""
        s, e = _trim(self.text, s, e, trim)
        if s >= e:
            return
        self.add(Segment(s, self.text[s:e], role, self.container, label=label))

    def add(self, seg: Segment, depth: int = 0) -> None:
        if not seg.text.strip():
            return
        groups = [fixed_placeholders(seg.text, self.fixed, self.fixed_kind)] if self.fixed else []
        options: list[tuple[int, int, int]] = []
        t = seg.text
        if self.template and ("{" in t or "__" in t or "<ppp:" in t):
            found, options = template_syntax(t)
            groups.append(found)
        seg.placeholders = merge(*groups) if any(groups) else []
        self.out.append(seg)
        if depth >= MAX_VARIANT_DEPTH:
            return
        variants = {p.start for p in seg.placeholders if p.kind == "variant"}  # those no other placeholder hides
        for s, e, variant in options:
            if variant in variants:
                self._option(seg, s, e, depth + 1)

    def _option(self, parent: Segment, s: int, e: int, depth: int) -> None:
        text = parent.text[s:e]
        offsets = None if parent.offsets is None else parent.offsets[s:e + 1]
        start = parent.to_file(s)
        role = NEGATIVE if parent.negative else OPTION
        child = Segment(start, text, role, self.container, offsets=offsets, quoting=parent.quoting, nested=True,
                        dialect=parent.dialect, label=parent.label)
        self.add(child, depth)


# -- plain prompt, templates ------------------------------------------------------------------------------

def split_prompt(text: str, negative: bool = False) -> list[Segment]:
    return [Segment(0, text, NEGATIVE if negative else POSITIVE, "prompt")]


def split_dynamic_template(text: str, negative: bool = False) -> list[Segment]:
    b = _Builder(text, "dynamic-template")
    b.add(Segment(0, text, NEGATIVE if negative else POSITIVE, "dynamic-template"))
    return b.out


def split_ti_template(text: str, negative: bool = False) -> list[Segment]:
    b = _Builder(text, "ti-template", ("[name]", "[filewords]"), "ti")
    for n, (s, e) in enumerate(_lines(text), 1):
        b.span(s, e, NEGATIVE if negative else POSITIVE, f"line {n}")
    return b.out


# -- styles -------------------------------------------------------------------------------------------------

def csv_cells(text: str, start: int = 0) -> Iterator[list[tuple[int, int, bool]]]:
    """Rows of a CSV text as lists of (start, end, quoted) spans of each cell's contents (RFC 4180)."""
    row: list[tuple[int, int, bool]] = []
    i, n = start, len(text)
    while i <= n:
        if i < n and text[i] == '"':
            j = i + 1
            while True:
                q = text.find('"', j)
                if q == -1:  # an unterminated quote runs to the end, as Python's csv reads it
                    q = n
                    break
                if text[q + 1:q + 2] == '"':
                    j = q + 2
                    continue
                break
            row.append((i + 1, q, True))
            i = q + 1
            while i < n and text[i] not in ",\n":  # junk after the closing quote belongs to the cell's end
                i += 1
        else:
            j = i
            while j < n and text[j] not in ",\n":
                j += 1
            end = j - 1 if j > i and text[j - 1] == "\r" else j
            row.append((i, end, False))
            i = j
        if i >= n or text[i] == "\n":
            yield row
            row = []
            if i >= n:
                return
        i += 1


def csv_header(text: str, start: int = 0) -> list[str]:
    """The lower-cased names of the first CSV row."""
    rows = csv_cells(text, start)
    header = next(rows, None) or []
    return [text[s:e].strip().lower() for s, e, _ in header]


def is_styles_table(text: str, start: int = 0) -> bool:
    names = csv_header(text, start)
    return "name" in names and "prompt" in names


def csv_cell(text: str, s: int, e: int, quoted: bool, role: str, container: str, label: str = "") -> Segment:
    """A CSV cell as a segment: unquoted text, offsets through ``""`` escapes."""
    raw = text[s:e]
    if not quoted:
        return Segment(s, raw, role, container, quoting="csv-bare", label=label)
    if '""' not in raw:
        return Segment(s, raw, role, container, quoting="csv", label=label)
    chars: list[str] = []
    offsets: list[int] = []
    i = 0
    while i < len(raw):
        offsets.append(s + i)
        chars.append(raw[i])
        i += 2 if raw.startswith('""', i) else 1
    offsets.append(e)
    return Segment(s, "".join(chars), role, container, offsets=offsets, quoting="csv", label=label)


def split_styles_csv(text: str, negative: bool = False, start: int = 0) -> list[Segment]:
    b = _Builder(text, "a1111-styles-csv", ("{prompt}",), "style")
    if not is_styles_table(text, start):  # one style's prompt on its own
        b.add(Segment(start, text[start:], NEGATIVE if negative else POSITIVE, "a1111-styles-csv"))
        return b.out
    rows = csv_cells(text, start)
    names = [text[s:e].strip().lower() for s, e, _ in next(rows)]
    name_col = names.index("name")
    prompt_col = names.index("prompt")
    negative_col = names.index("negative_prompt") if "negative_prompt" in names else -1
    for row in rows:
        label = text[row[name_col][0]:row[name_col][1]] if name_col < len(row) else ""
        for col, role in ((prompt_col, POSITIVE), (negative_col, NEGATIVE)):
            if 0 <= col < len(row):
                s, e, quoted = row[col]
                if s < e:
                    b.add(csv_cell(text, s, e, quoted, role, "a1111-styles-csv", label))
    return b.out


def split_lines(text: str, negative: bool = False, start: int = 0) -> list[Segment]:
    """Every non-empty line not starting with ``#`` is a prompt (A1111's "Prompts from file")."""
    out = []
    for s, e in _lines(text, start):
        if text[s:e].strip() and not text[s:e].lstrip().startswith("#"):
            out.append(Segment(s, text[s:e], NEGATIVE if negative else POSITIVE, "lines"))
    return out


def _horde_prompt(b: _Builder, seg_start: int, text: str, offsets: list[int] | None, quoting: str,
                  label: str, negative: bool) -> None:
    """Split one horde style prompt (``text`` is its unquoted value) at ``###``."""
    cut = text.find("###")
    parts = [(0, len(text), NEGATIVE if negative else POSITIVE)] if cut == -1 else \
        [(0, cut, NEGATIVE if negative else POSITIVE), (cut + 3, len(text), NEGATIVE)]
    for s, e, role in parts:
        s, e = _trim(text, s, e)
        if s >= e:
            continue
        if offsets is None:
            b.add(Segment(seg_start + s, text[s:e], role, "horde-style", quoting=quoting, label=label))
        else:
            b.add(Segment(offsets[s], text[s:e], role, "horde-style", offsets=offsets[s:e + 1], quoting=quoting,
                          label=label))


def split_horde(text: str, negative: bool = False) -> list[Segment]:
    b = _Builder(text, "horde-style", ("{p}", "{np}"), "horde")
    strings = json_strings(text) if text.lstrip().startswith("{") else None
    if strings is None:
        _horde_prompt(b, 0, text, None, "", "", negative)
        return b.out
    for path, s, e, value, offsets in strings:
        if path and path[-1] == "prompt":
            _horde_prompt(b, s, value, offsets, "json", str(path[0]), negative)
    return b.out


# -- ComfyUI workflows -----------------------------------------------------------------------------------------

def comfy_graph_prompts(graph) -> dict[tuple, str] | None:
    """Key paths of the prompt texts of a ComfyUI workflow -> role, or None when ``graph`` is not one.

    API format (node id -> ``{"class_type", "inputs"}``): the ``text``/``text_g``/``text_l`` inputs of text-encode
    nodes; a node wired into a sampler's ``negative`` input is a negative. UI format (``{"nodes": [...]}``): the
    string widget values of text-encode nodes; a node titled ``negative`` is a negative (its links are not read)."""
    found: dict[tuple, str] = {}
    if isinstance(graph, dict) and isinstance(graph.get("nodes"), list):
        for i, node in enumerate(graph["nodes"]):
            if isinstance(node, dict) and "TextEncode" in str(node.get("type", "")):
                role = NEGATIVE if "neg" in str(node.get("title", "")).lower() else POSITIVE
                for j, value in enumerate(node.get("widgets_values") or ()):
                    if isinstance(value, str):
                        found[("nodes", i, "widgets_values", j)] = role
        return found
    if not isinstance(graph, dict) or not graph or not all(
            isinstance(n, dict) and "class_type" in n for n in graph.values()):
        return None
    negatives = {str(n["inputs"]["negative"][0]) for n in graph.values() if isinstance(n.get("inputs"), dict)
                 and isinstance(n["inputs"].get("negative"), list) and n["inputs"]["negative"]}
    for node_id, node in graph.items():
        inputs = node.get("inputs")
        if "TextEncode" in str(node.get("class_type")) and isinstance(inputs, dict):
            for key in ("text", "text_g", "text_l"):
                if isinstance(inputs.get(key), str):
                    found[(node_id, "inputs", key)] = NEGATIVE if str(node_id) in negatives else POSITIVE
    return found


def split_comfy_graph(text: str, negative: bool = False) -> list[Segment]:
    """A ComfyUI workflow file: each text-encode node's text is a prompt, linted in place in the JSON."""
    import json

    from .detect import ContainerError

    try:
        wanted = comfy_graph_prompts(json.loads(text))
    except (ValueError, RecursionError):
        wanted = None
    strings = json_strings(text) if wanted is not None else None
    if strings is None:
        raise ContainerError("not a ComfyUI workflow (JSON of nodes) that can be read")
    b = _Builder(text, "comfy-graph")
    for keys, s, e, value, offsets in strings:
        role = wanted.get(keys)
        if role is not None:
            b.add(Segment(s, value, NEGATIVE if negative else role, "comfy-graph", offsets=offsets, quoting="json",
                          dialect="comfy", label=".".join(str(k) for k in keys)))
    return b.out


# -- regions --------------------------------------------------------------------------------------------------

REGIONAL_KEYWORDS = re.compile(r"\b(BREAK|ADDCOMM|ADDBASE|ADDCOL|ADDROW)\b")


def split_regional(text: str, negative: bool = False) -> list[Segment]:
    b = _Builder(text, "regional-prompter")
    pos = 0
    n = 0
    for m in REGIONAL_KEYWORDS.finditer(text):
        kw = m.group(1)
        role = COMMON if kw == "ADDCOMM" else BASE if kw == "ADDBASE" else REGION
        n += role == REGION
        b.span(pos, m.start(), NEGATIVE if negative else role, kw.lower() if role != REGION else f"region {n}")
        pos = m.end()
    b.span(pos, len(text), NEGATIVE if negative else REGION, f"region {n + 1}")
    return b.out


_COUPLE_DEFINE = re.compile(r"\{([^{}:\n]+):")
_COUPLE_USE = re.compile(r"\{([^{}:|\n]+)\}")


def split_forge_couple(text: str, negative: bool = False, separator: str = "\n") -> list[Segment]:
    b = _Builder(text, "forge-couple")
    bounds, pos = [], 0
    while True:
        cut = text.find(separator, pos) if separator else -1
        bounds.append((pos, len(text) if cut == -1 else cut))
        if cut == -1:
            break
        pos = cut + len(separator)
    for n, (s, e) in enumerate(bounds, 1):
        before = len(b.out)
        b.span(s, e, NEGATIVE if negative else REGION, f"region {n}")
        if len(b.out) > before:
            _couple_placeholders(b.out[before])
    return b.out


def _couple_placeholders(seg: Segment) -> None:
    """``{key:`` and its ``}`` are syntax (the text between is prompt text of the line); ``{key}`` is inserted."""
    found = list(seg.placeholders)
    t = seg.text
    for m in _COUPLE_DEFINE.finditer(t):
        close = t.find("}", m.end())
        if close != -1 and "{" not in t[m.end():close]:
            found.append(Placeholder(m.start(), m.end(), "couple-define", m.group(1)))
            found.append(Placeholder(close, close + 1, "couple-define-end", m.group(1)))
    for m in _COUPLE_USE.finditer(t):
        found.append(Placeholder(m.start(), m.end(), "couple-use", m.group(1)))
    seg.placeholders = merge(found)


# -- per-line formats with options ------------------------------------------------------------------------------

def split_kohya(text: str, negative: bool = False) -> list[Segment]:
    """kohya's ``line_to_prompt_dict``: the line split at `` --``; the first part is the prompt, ``n ...`` the
    negative, every other part an option (``w 768``, ``d 1`` ...)."""
    b = _Builder(text, "kohya-sample")
    for number, (s, e) in enumerate(_lines(text), 1):
        line = text[s:e]
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        cuts = [m.start() for m in re.finditer(" --", line)]
        starts = [0] + [c + 3 for c in cuts]
        ends = cuts + [len(line)]
        label = f"line {number}"
        for k, (ps, pe) in enumerate(zip(starts, ends)):
            if k == 0:
                b.span(s + ps, s + pe, NEGATIVE if negative else POSITIVE, label)
            elif line.startswith("n ", ps):
                b.span(s + ps + 2, s + pe, NEGATIVE, label)
            else:
                b.out.append(Segment(s + ps - 2, text[s + ps - 2:s + pe].rstrip(), SETTINGS, "kohya-sample",
                                     label=label))
    return b.out


_NEGATIVE_NAME = re.compile(r"(?:^|[^a-z])(?:neg|negatives?)(?:[^a-z]|$)", re.IGNORECASE)


def names_negatives(name: str) -> bool:
    """A wildcard file or key named for negative prompts (``negative_quality_tags.txt``, ``neg/hands``): its
    options go into the negative field, so they are read as negatives."""
    return _NEGATIVE_NAME.search(name) is not None


def split_wildcards(text: str, negative: bool = False, path: str | None = None) -> list[Segment]:
    b = _Builder(text, "wildcard-file")
    if path and names_negatives(re.split(r"[\\/]", path)[-1].rsplit(".", 1)[0]):
        negative = True
    role = NEGATIVE if negative else OPTION
    suffix = (path or "").lower().rsplit(".", 1)[-1] if path and "." in path else ""
    stripped = text.lstrip()
    if suffix in ("yaml", "yml", "json") or (not suffix and stripped[:1] in "{[" and is_json(text)) or \
            (suffix != "txt" and yaml_collection(text)):
        leaves = json_strings(text) if stripped[:1] in "{[" else None
        if leaves is None:
            leaves = yaml_strings(text)
        if leaves is None:
            from .detect import ContainerError

            raise ContainerError(f"{path or 'wildcard file'}: not a YAML/JSON wildcard collection that can be read")
        for keys, s, e, value, offsets in leaves:
            quoting = "json" if offsets is not None or text[s - 1:s] == '"' else "yaml-plain"
            if s > 0 and text[s - 1] == "'":
                quoting = "yaml-single"
            label = "/".join(str(k) for k in keys)
            b.add(Segment(s, value, NEGATIVE if names_negatives(label) else role, "wildcard-file", offsets=offsets,
                          quoting=quoting, label=label))
        return b.out
    for number, (s, e) in enumerate(_lines(text), 1):
        line = text[s:e]
        if line.strip() and not line.lstrip().startswith("#"):
            b.span(s, e, role, f"line {number}")
    return b.out


_YAML_HEAD = re.compile(r"\ufeff?(?:#[^\n]*\n|\s*\n)*[^\s#:,][^:,\n]*:[ \t]*\r?\n[ \t]+\S")


def yaml_collection(text: str) -> bool:
    """A YAML mapping whose leaves are all strings (a wildcard collection), as sd-dynamic-prompts reads one:
    what ``detect`` recognises without a file name, and ``split_wildcards`` then reads as YAML."""
    if not _YAML_HEAD.match(text) and not _flat_quoted_mapping(text):
        return False
    read = _yaml_read(text)
    if read is None or read.data is _NOT_YAML:  # not YAML, or PyYAML missing: not a collection
        return False
    data = read.data
    stack, leaves = [data], 0
    if not isinstance(data, dict):
        return False
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, str):
            leaves += 1
        elif node is not None:
            return False
    return leaves > 0


def _flat_quoted_mapping(text: str) -> bool:
    """Three lines or more, every one ``name: "quoted value"`` (easy-prompt-selector's tag files): a mapping of
    prompts, not one prompt written over lines."""
    lines = [line for line in text.lstrip("\ufeff").splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return len(lines) >= 3 and all(_QUOTED_ENTRY.fullmatch(line) for line in lines)


_QUOTED_ENTRY = re.compile(r"[^\s#:\-\[{][^:\n]*:[ \t]+\"[^\"\n]*\"[ \t]*\r?")


def is_json(text: str) -> bool:
    """The text is JSON (``json.loads`` reads it: no walk over its strings, which :func:`json_strings` does)."""
    import json

    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return False
    return True


# -- infotext ----------------------------------------------------------------------------------------------------------

def split_infotext(text: str, negative: bool = False) -> list[Segment]:
    """A1111's layout (``promptkit.infotext.parse_infotext`` reads the same): the prompt lines, the lines from
    ``Negative prompt:`` on, and a last line of at least three ``key: value`` settings."""
    from ..infotext import _NEGATIVE, param_pairs

    b = _Builder(text, "infotext", template=False)
    lines = list(_lines(text))
    while lines and not text[lines[-1][0]:lines[-1][1]].strip():
        lines.pop()
    settings = None
    if lines and len(param_pairs(text[lines[-1][0]:lines[-1][1]])) >= 3:
        settings = lines.pop()
    neg_at = None
    for s, e in lines:
        stripped = text[s:e].lstrip()
        if stripped.startswith(_NEGATIVE):
            neg_at = e - len(stripped) + len(_NEGATIVE)
            break
    prompt_end = lines[-1][1] if lines else 0
    if neg_at is not None:
        b.span(0, neg_at - len(_NEGATIVE), POSITIVE)
        b.span(neg_at, prompt_end, NEGATIVE)
    elif lines:
        b.span(0, prompt_end, POSITIVE)
    if settings is not None:
        b.out.append(Segment(settings[0], text[settings[0]:settings[1]], SETTINGS, "infotext"))
    return b.out


# -- JSON and YAML string leaves --------------------------------------------------------------------------------------

_JSON_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def _json_string(text: str, i: int) -> tuple[str, list[int] | None, int] | None:
    """The JSON string starting at the quote ``text[i]``: its value, offsets (None when no escape), end index."""
    j = i + 1
    n = len(text)
    chars: list[str] = []
    offsets: list[int] = []
    escaped = False
    while j < n:
        c = text[j]
        if c == '"':
            offsets.append(j)
            return "".join(chars), (offsets if escaped else None), j + 1
        if c == "\\":
            escaped = True
            k = text[j + 1:j + 2]
            if k == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", text[j + 2:j + 6] or ""):
                chars.append(chr(int(text[j + 2:j + 6], 16)))
                offsets.append(j)
                j += 6
                continue
            if k in _JSON_ESCAPES:
                chars.append(_JSON_ESCAPES[k])
                offsets.append(j)
                j += 2
                continue
            return None
        if c == "\n":
            return None
        chars.append(c)
        offsets.append(j)
        j += 1
    return None


def json_strings(text: str) -> list[tuple[tuple, int, int, str, list[int] | None]] | None:
    """Every string value (not key) of a JSON text: (key path, start, end, value, offsets), where start/end span
    the contents between the quotes. None when the text is not JSON."""
    if not is_json(text):
        return None
    out = []
    stack: list[list] = []  # [kind, key or index]
    i, n = 0, len(text)
    pending_key = None
    while i < n:
        c = text[i]
        if c in " \t\r\n,:":
            if c == "," and stack and stack[-1][0] == "list":
                stack[-1][1] += 1
            i += 1
            continue
        if c in "{[":
            path_key = pending_key
            stack.append(["dict" if c == "{" else "list", None if c == "{" else 0, path_key])
            pending_key = None
            i += 1
            continue
        if c in "}]":
            stack.pop()
            i += 1
            continue
        if c == '"':
            parsed = _json_string(text, i)
            if parsed is None:  # pragma: no cover - json.loads accepted it
                return None
            value, offsets, after = parsed
            k = after
            while k < n and text[k] in " \t\r\n":
                k += 1
            if stack and stack[-1][0] == "dict" and k < n and text[k] == ":":
                stack[-1][1] = value
                i = after
                continue
            keys = tuple(fr[1] for fr in stack)
            out.append((keys, i + 1, after - 1, value, offsets))
            i = after
            continue
        i += 1  # numbers, true/false/null
    return out


def yaml_strings(text: str) -> list[tuple[tuple, int, int, str, list[int] | None]] | None:
    """Every leaf string of a YAML text whose characters can be mapped back exactly (plain one-line scalars,
    quoted scalars without escapes); None when the text is not YAML (or PyYAML is missing)."""
    read = _yaml_read(text)
    if read is None:  # pragma: no cover - a declared dependency
        return None
    if read.error is not None:
        import yaml

        if not isinstance(read.error, yaml.YAMLError):
            raise read.error
        return None
    return list(read.leaves)


class _YamlRead:
    """One reading of a YAML text: its leaf strings (``yaml_strings``) and its data (``yaml_collection``)."""

    __slots__ = ("text", "leaves", "data", "error")

    def __init__(self, text: str, leaves: list, data, error: BaseException | None) -> None:
        self.text, self.leaves, self.data, self.error = text, leaves, data, error


_NOT_YAML = object()  # the data of a text that does not load
_LAST_YAML: list = [None]  # the last text read: detection and splitting read the same text in turn


def _yaml_read(text: str) -> _YamlRead | None:
    """Parse ``text`` once for both questions (a collection without a file name was parsed three times: once
    by ``detect``, again by ``split_wildcards``'s check, then for its leaves). None when PyYAML is missing.

    The same steps as ``yaml.compose`` then ``yaml.safe_load``: the loader's node is walked for the leaves
    before it is constructed (construction merges ``<<`` keys into the node in place)."""
    last = _LAST_YAML[0]
    if last is not None and last.text == text:
        return last
    try:
        import yaml
    except ImportError:  # pragma: no cover - a declared dependency
        return None
    loader = yaml.SafeLoader(text)
    try:
        try:
            root = loader.get_single_node()
        except Exception as exc:  # as yaml.compose: the caller decides which errors mean "not YAML"
            read = _YamlRead(text, [], _NOT_YAML, exc)
        else:
            leaves = _yaml_leaves(text, root)
            try:
                data = loader.construct_document(root) if root is not None else None
            except Exception:  # as yaml.safe_load: not a collection
                data = _NOT_YAML
            read = _YamlRead(text, leaves, data, None)
    finally:
        loader.dispose()
    _LAST_YAML[0] = read
    return read


def _yaml_leaves(text: str, root) -> list[tuple[tuple, int, int, str, list[int] | None]]:
    import yaml

    out = []
    stack = [((), root)]
    while stack:
        keys, node = stack.pop()
        if isinstance(node, yaml.MappingNode):
            for k, v in reversed(node.value):
                stack.append((keys + (getattr(k, "value", ""),), v))
        elif isinstance(node, yaml.SequenceNode):
            for idx in range(len(node.value) - 1, -1, -1):
                stack.append((keys + (idx,), node.value[idx]))
        elif isinstance(node, yaml.ScalarNode) and node.tag.endswith(":str"):
            s, e = node.start_mark.index, node.end_mark.index
            value = node.value
            if node.style in ('"', "'"):
                s, e = s + 1, e - 1
            if node.style in (None, "", '"', "'") and text[s:e] == value:
                out.append((keys, s, e, value, None))
    out.sort(key=lambda row: row[1])
    return out
