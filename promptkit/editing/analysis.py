"""Everything an editor shows about a document, as plain JSON data, computed by the library the CLI uses.

Offsets are code points into the document (the surfaces convert them to UTF-16 or line/column). Each
function takes a :class:`Resolved` document: its prompts (``documents.split_document``), profile, dialect,
rule selection and tag database. Nothing is guessed: a document whose settings cannot be honoured (an
unknown profile, dialect or rule code, a missing embeddings folder) gets a problem finding and no lint
findings, and a prompt the library fails on gets a finding that says so.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from .documents import (Problem, Segment, Settings, container_problem, document_mode, parse_directive,
                        split_document)

DIALECTS = ("a1111", "comfy", "novelai", "compel")
NETWORK_SUFFIXES = (".safetensors", ".pt", ".ckpt", ".bin")
_NETWORK_PREFIX = re.compile(r"<(lora|lyco|lycoris|hypernet):([^:<>]*)$", re.I)
_WILDCARD_PREFIX = re.compile(r"(?:^|[^_\w])__([\w\-/.*]*)$")  # an open `__name` being typed
_NUMBER = re.compile(r"^[\d.\s+-]*$")
_BOUNDARY = set(",\n()[]{}|<>:")
MEMO_LIMIT = 4096  # lint results kept, per prompt text
MEMO_TEXT_LIMIT = 100_000  # longer prompts are not memoized


@dataclass
class Resolved:
    """A document ready to analyse: its prompts and what they are linted with."""

    text: str
    segments: list[Segment]
    mode: str
    settings: Settings
    profile: Any = None  # a Profile, or None when it could not be loaded (see problems)
    dialect: str = "a1111"
    db: Any = None
    embeddings: frozenset[str] = frozenset()
    problems: list[Problem] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        return self.profile is not None and not any(p.code == "settings" for p in self.problems)

    @property
    def prompts(self) -> list[Segment]:
        """The segments that are prompt text (not kohya options or infotext settings)."""
        return [s for s in self.segments if s.is_prompt]

    def segment_at(self, offset: int) -> Segment | None:
        """The innermost prompt segment holding the offset (a variant's option rather than its template)."""
        found = None
        for segment in self.prompts:
            if segment.start <= offset <= segment.end and (found is None or segment.end - segment.start <
                                                          found.end - found.start):
                found = segment
        return found


def resolve(text: str, path: str | None = None, settings: Settings | None = None,
            bundled_only: bool = False) -> Resolved:
    """Cut ``text`` into prompts and settle its profile, dialect, rules and tag database. ``bundled_only``: the
    document may name bundled profiles by id and nothing else that would open a file (for the playground,
    whose requests come from web pages)."""
    from ..linter.registry import UnknownRuleError, select_rules
    from ..profiles import ProfileError, bundled_ids, load_profile
    from ..syntax.dialects import canonical_dialect
    from ..tags import TagDataError

    directive, problems, body = parse_directive(text)
    problems = [Problem(p.start, p.end, p.message, "directive-key") for p in problems]
    where = (0, body - 1) if body else (0, 0)
    merged = directive.over(settings or Settings())
    mode = document_mode(path, merged, text[body:])
    segments = split_document(text, mode, bool(merged.negative), body, path)
    out = Resolved(text, segments, mode, merged, problems=problems)
    unreadable = container_problem(text, mode, body, path) if not segments and text[body:].strip() else None
    if unreadable is not None:
        problems.append(unreadable)
    problems.extend(text_problems(text))
    if bundled_only:
        refused = None
        if (merged.profile or "sdxl-base") not in bundled_ids():
            refused = f"unknown profile {merged.profile[:60]!r}; bundled profiles: {', '.join(bundled_ids())}"
        elif path or merged.tag_sources or merged.embeddings or merged.loras or merged.wildcards:
            refused = "only bundled profiles and tag databases are used here (no paths, folders or tag sources)"
        if refused:
            problems.append(Problem(*where, refused, "settings"))
            return out
    try:
        out.profile = load_profile(merged.profile or "sdxl-base")
    except (ProfileError, OSError, ValueError) as exc:
        problems.append(Problem(*where, str(exc).splitlines()[0], "settings"))
        return out
    try:
        out.dialect = canonical_dialect(merged.dialect) if merged.dialect else out.profile.dialect
        select_rules(merged.select, merged.ignore)
    except (ValueError, UnknownRuleError) as exc:
        problems.append(Problem(*where, str(exc), "settings"))
    try:
        out.embeddings = embedding_names(tuple(merged.embeddings))
    except FileNotFoundError as exc:
        problems.append(Problem(*where, str(exc), "settings"))
    try:
        out.db = open_db(out.profile, tuple(merged.tag_sources or ()))
    except (TagDataError, OSError, ValueError) as exc:
        problems.append(Problem(*where, str(exc), "settings"))
        out.profile = None
    return out


_UNREADABLE = re.compile("[\ufffd\ud800-\udfff\x00]")


def text_problems(text: str) -> list[Problem]:
    """Signs that a document is not text: bytes that were not UTF-8 (read as U+FFFD or lone surrogates), NULs."""
    m = _UNREADABLE.search(text)
    if m is None:
        return []
    what = "a NUL character (is this a binary file?)" if m.group() == "\x00" else \
        "bytes that are not UTF-8 (shown as U+FFFD)"
    return [Problem(m.start(), m.end(), f"the document holds {what}; the prompt is linted as it reads now",
                    "encoding")]


def open_db(profile, sources: tuple[str, ...]):
    from ..tags import TagDB
    from ..tags.db import stacked_db

    return stacked_db(sources) if sources else TagDB.for_profile(profile)


FOLDER_RECHECK_SECONDS = 5.0  # a folder's index is checked against its folders' mtimes at most this often
MAX_FOLDER_NAMES = 1_000_000  # names indexed per folder: a memory bound (~100 MB), far past any model folder


@dataclass
class FolderIndex:
    """The model files under a folder (stems, sorted case-insensitively), built once and rebuilt only when one of
    its folders changes (a file added, removed or renamed changes its folder's mtime): a completion looks a
    prefix up by bisection, so the work per request does not grow with the number of files."""

    names: tuple[str, ...]
    lowered: list[str]
    members: frozenset[str]
    folders: dict[str, int]  # every folder walked -> its mtime (ns) when walked
    checked: float = 0.0

    @classmethod
    def build(cls, folder: str, suffixes: tuple[str, ...]) -> "FolderIndex":
        import os

        if not os.path.isdir(folder):
            raise FileNotFoundError(f"{folder}: no such folder")
        found: set[str] = set()
        folders: dict[str, int] = {}
        stack = [folder]
        while stack and len(found) < MAX_FOLDER_NAMES:
            here = stack.pop()
            try:
                folders[here] = os.stat(here).st_mtime_ns
                with os.scandir(here) as entries:
                    for entry in entries:
                        try:
                            if entry.is_dir(follow_symlinks=False):
                                stack.append(entry.path)
                            elif os.path.splitext(entry.name)[1].lower() in suffixes and entry.is_file():
                                found.add(os.path.splitext(entry.name)[0])
                        except OSError:
                            continue
            except OSError:
                continue
        names = tuple(sorted(found, key=lambda n: (n.lower(), n)))
        return cls(names, [n.lower() for n in names], frozenset(names), folders, time.monotonic())

    def stale(self) -> bool:
        import os

        for path, mtime in self.folders.items():
            try:
                if os.stat(path).st_mtime_ns != mtime:
                    return True
            except OSError:
                return True
        return False

    def starting_with(self, typed: str, limit: int) -> list[str]:
        import bisect

        lowered = typed.lower()
        out = []
        for i in range(bisect.bisect_left(self.lowered, lowered), len(self.names)):
            if len(out) >= limit or not self.lowered[i].startswith(lowered):
                break
            out.append(self.names[i])
        return out


_folder_indexes: OrderedDict = OrderedDict()


def folder_index(folder: str, suffixes: tuple[str, ...]) -> FolderIndex:
    """The index of a folder's model files (see :class:`FolderIndex`); FileNotFoundError for no such folder."""
    key = (folder, suffixes)
    index = _folder_indexes.get(key)
    now = time.monotonic()
    if index is not None and now - index.checked < FOLDER_RECHECK_SECONDS:
        return index
    if index is None or index.stale():
        index = FolderIndex.build(folder, suffixes)
    index.checked = now
    _folder_indexes[key] = index
    _folder_indexes.move_to_end(key)
    while len(_folder_indexes) > 32:
        _folder_indexes.popitem(last=False)
    return index


def folder_names(folder: str, suffixes: tuple[str, ...]) -> tuple[str, ...]:
    """Model file names (stems) in a folder and its subfolders, sorted case-insensitively."""
    return folder_index(folder, suffixes).names


def embedding_names(folders: tuple[str, ...]) -> frozenset[str]:
    from ..linter.vocabulary import EMBEDDING_SUFFIXES, embedding_key

    return frozenset(embedding_key(n) for f in folders for n in folder_names(f, EMBEDDING_SUFFIXES))


# -- findings ---------------------------------------------------------------------------------------------

_memo: OrderedDict = OrderedDict()


def _problem_finding(p: Problem, severity: str = "error") -> dict:
    return {"code": p.code, "name": p.code, "severity": severity, "message": p.message, "start": p.start,
            "end": p.end, "suggestions": [], "fix": None, "negative": False}


def lint(doc: Resolved) -> list[dict]:
    """The linter's findings for every prompt of the document, in document offsets, plus document problems."""
    findings = [_problem_finding(p, "error" if p.code == "settings" else "warning") for p in doc.problems]
    if not doc.usable:
        return findings
    for segment in doc.prompts:
        findings.extend(_segment_findings(doc, segment))
    findings.extend(_template_rule_findings(doc))
    common = [s for s in doc.prompts if s.role == "common"]
    if common and doc.usable:  # Regional Prompter: the common prompt is part of every region
        from ..linter.containers import _common_repeats
        from ..linter.registry import select_rules

        if "PK204" in {r.code for r in select_rules(doc.settings.select, doc.settings.ignore)}:
            for segment in doc.prompts:
                if segment.role == "region":
                    known = [_from_dict(f) for f in _segment_findings(doc, segment)]
                    for d in _common_repeats(common[0], segment, doc.profile, doc.dialect, doc.db, []):
                        if (d.code, segment.to_document(d.start), segment.to_document(d.end)) not in known:
                            findings.append(_to_document(d.to_dict(), segment))
    return findings


def _template_rule_findings(doc: Resolved) -> list[dict]:
    """The template rules (PK4xx) on each template or wildcard-file prompt, as ``promptkit lint`` adds them,
    against the configured wildcard folders (none: no wildcard is judged missing)."""
    from ..linter.containers import TEMPLATE_CODES, template_findings, template_level
    from ..linter.registry import select_rules

    rules = {r.code for r in select_rules(doc.settings.select, doc.settings.ignore)} & TEMPLATE_CODES
    tops = [s for s in doc.prompts if not s.nested]
    if not rules or not tops:
        return []
    wildcards = _wildcards_of(doc)
    out = []
    for segment in tops:
        if not template_level(segment.container, segment, doc.profile, doc.dialect):
            continue
        key = ("templates", segment.text, doc.profile.id, tuple(sorted(rules)), id(wildcards))
        local = _memo.get(key)
        if local is None:
            local = [d.to_dict() for d in template_findings(segment, doc.profile, rules, wildcards)]
            _memo[key] = local
            if len(_memo) > MEMO_LIMIT:
                _memo.popitem(last=False)
        out.extend(_to_document(d, segment) for d in local)
    return out


def _from_dict(f: dict) -> tuple:
    return f["code"], f["start"], f["end"]


def _segment_findings(doc: Resolved, segment: Segment) -> list[dict]:
    settings = doc.settings
    key = (segment.text, tuple((p.start, p.end) for p in segment.placeholders), segment.negative, segment.dialect,
           doc.profile.id, doc.dialect, tuple(settings.select or ()),
           tuple(settings.ignore or ()), doc.embeddings, id(doc.db))
    local = _memo.get(key) if len(segment.text) <= MEMO_TEXT_LIMIT else None
    if local is None:
        local = _lint_segment(doc, segment)
        if len(segment.text) <= MEMO_TEXT_LIMIT:
            _memo[key] = local
            if len(_memo) > MEMO_LIMIT:
                _memo.popitem(last=False)
    else:
        _memo.move_to_end(key)
    return [_to_document(d, segment) for d in local]


def failure_finding(exc: Exception, length: int) -> dict:
    """The finding for a document the analysis process could not handle (out of memory, out of time)."""
    return {"code": "analysis", "name": "analysis-failed", "severity": "error", "start": 0, "end": min(length, 1),
            "message": f"promptkit could not analyse this document: {exc}", "suggestions": [], "fix": None,
            "negative": False}


def _lint_segment(doc: Resolved, segment: Segment) -> list[dict]:
    from ..linter.containers import lint_segment

    try:
        report = lint_segment(segment, doc.profile, doc.dialect, doc.db, doc.settings.select, doc.settings.ignore,
                              embeddings=doc.embeddings)
    except MemoryError:
        raise
    except Exception as exc:  # a library bug on this prompt: said, never swallowed
        return [{"code": "internal", "name": "internal-error", "severity": "error", "start": 0,
                 "end": min(len(segment.text), 1), "suggestions": [], "fix": None,
                 "message": f"promptkit could not lint this prompt ({type(exc).__name__}: {exc}); "
                            "please report it with the prompt"}]
    return [d.to_dict() for d in report.diagnostics]


def _to_document(local: dict, segment: Segment) -> dict:
    out = dict(local)
    out["start"] = segment.to_document(local["start"])
    out["end"] = segment.to_document(local["end"])
    out["negative"] = segment.negative
    fix = local.get("fix")
    if fix is not None:
        edits = []
        for e in fix["edits"]:
            replacement = segment.encode(e["replacement"])
            if replacement is None:  # an unquoted CSV cell cannot take a comma: no fix rather than a broken row
                edits = None
                break
            edits.append({"start": segment.to_document(e["start"]), "end": segment.to_document(e["end"]),
                          "replacement": replacement})
        out["fix"] = None if edits is None else {**fix, "edits": edits}
    return out


def _whole_segment_edits(doc: Resolved, rewrite) -> list[dict]:
    """One edit per prompt that ``rewrite(segment)`` changes (None from ``rewrite``: leave it). Options inside a
    variant are left to the template that holds them (one edit per template keeps the edits apart)."""
    edits = []
    if not doc.usable:
        return edits
    for segment in doc.prompts:
        if segment.nested:
            continue
        new = rewrite(segment)
        if new is None or new == segment.text:
            continue
        replacement = segment.encode(new)
        if replacement is not None:
            edits.append({"start": segment.start, "end": segment.end, "replacement": replacement})
    return edits


def fix_all(doc: Resolved, unsafe: bool = False) -> list[dict]:
    """Edits that apply every safe fix (and unsafe ones with ``unsafe``), prompt by prompt, as ``lint --fix``."""
    from ..linter.containers import fix_segment

    def rewrite(segment: Segment) -> str:
        fixed, _ = fix_segment(segment, doc.profile, doc.dialect, doc.db, doc.settings.select,
                               doc.settings.ignore, unsafe=unsafe, embeddings=doc.embeddings)
        return fixed

    return _whole_segment_edits(doc, rewrite)


def format_document(doc: Resolved) -> list[dict]:
    """Edits that format every prompt as ``promptkit fmt`` does."""
    from ..linter.containers import format_segment

    return _whole_segment_edits(doc, lambda s: format_segment(s, doc.profile, doc.dialect, doc.db))


def apply_edits(text: str, edits: list[dict]) -> str:
    from ..linter.diagnostics import Edit, apply_edits as apply

    return apply(text, [Edit(e["start"], e["end"], e["replacement"]) for e in edits])


# -- completion -------------------------------------------------------------------------------------------

def _spelling_of(doc: Resolved, name: str, like: str) -> str:
    from ..linter.rules.tags import spelled

    return spelled(SimpleNamespace(profile=doc.profile, prompt=SimpleNamespace(dialect=doc.dialect)), name, like)


def completion_prefix(text: str, position: int) -> tuple[int, str]:
    """Where the tag being typed at ``position`` starts, and what it says so far (escapes kept)."""
    i = position
    while i > 0:
        ch = text[i - 1]
        if ch in _BOUNDARY and not (i >= 2 and text[i - 2] == "\\"):
            break
        i -= 1
    while i < position and text[i] in " \t":
        i += 1
    return i, text[i:position]


def complete(doc: Resolved, offset: int, limit: int = 20) -> dict:
    """Completion at ``offset``: ``{"start", "end", "items": [{label, insert, detail, kind, ...}]}``.

    Tags from the profile's tag stack (most used first, aliases as ``alias -> tag``, written the profile's way),
    the profile's own tags (quality ladders, presets) first, embedding names from the user's folders, and
    LoRA names after ``<lora:``.
    """
    empty = {"start": offset, "end": offset, "items": []}
    segment = doc.segment_at(offset) if doc.usable else None
    if segment is None:
        return empty
    position = segment.from_document(offset)
    if position is None:
        return empty
    window = segment.text[max(0, position - 300):position]  # a tag is short: never scan a long line
    wildcard = _WILDCARD_PREFIX.search(window) if doc.settings.wildcards else None
    if wildcard:
        typed = wildcard.group(1)
        closed = segment.text.startswith("__", position)
        items = _wildcard_items(doc, typed, limit, closed)
        return {"start": segment.to_document(position - len(typed)), "end": offset, "items": items}
    network = _NETWORK_PREFIX.search(window)
    if network:
        typed = network.group(2)
        start = segment.to_document(position - len(typed))
        items = _network_items(doc, typed, limit)
        return {"start": start, "end": offset, "items": items}
    start, typed = completion_prefix(window, len(window))
    if start > 0 and window[start - 1] == "(" and typed.strip():
        # `kazusa (bl`: people type a qualified name with a bare parenthesis; offer the whole tag (escaped)
        outer, longer = completion_prefix(window, start - 1)
        if longer.strip():
            items = [i for i in tag_items(doc, longer + "(" + typed, limit) if "(" in i["name"]]
            if items:
                begin = position - (len(window) - outer)
                return {"start": segment.to_document(begin), "end": offset, "items": items}
    start = position - (len(window) - start)
    if not typed.strip() or _NUMBER.match(typed) or len(typed) > 100:
        return {**empty, "start": segment.to_document(start)}
    items = tag_items(doc, typed, limit)
    return {"start": segment.to_document(start), "end": offset, "items": items}


def tag_items(doc: Resolved, typed: str, limit: int = 20) -> list[dict]:
    """Completion items for a tag prefix (see :func:`complete`)."""
    from ..linter.vocabulary import embedding_key
    from ..syntax.normalize import lookup_key

    key = lookup_key(typed)
    if not key:
        return []
    items: list[dict] = []
    seen: set[str] = set()
    if len(key) >= 2:
        for name in sorted(n for n in doc.profile.vocabulary if n.startswith(key))[:5]:
            seen.add(name)
            items.append({"label": _spelling_of(doc, name, typed), "insert": _spelling_of(doc, name, typed),
                          "detail": f"{doc.profile.title}: the model's own tag", "kind": "profile",
                          "name": name, "filter": typed})
    for info in doc.db.complete(typed, limit=limit):
        if info.name in seen:
            continue
        seen.add(info.name)
        insert = _spelling_of(doc, info.name, typed)
        label = insert if info.matched != "alias" else f"{_spelling_of(doc, info.query, typed)} -> {insert}"
        items.append({"label": label, "insert": insert, "kind": "alias" if info.matched == "alias" else "tag",
                      "detail": f"{info.category.value} · {info.post_count:,} posts · {info.source}",
                      "name": info.name, "category": info.category.value, "post_count": info.post_count,
                      "filter": info.query if info.matched == "alias" else insert})
    folded = embedding_key(typed)
    for name in _embedding_files(doc):
        if embedding_key(name).startswith(folded) and len(items) < limit + 5:
            items.append({"label": name, "insert": name, "kind": "embedding", "name": name,
                          "detail": "textual inversion (your embeddings folder)", "filter": name})
    return items[: limit + 5]


def _embedding_files(doc: Resolved) -> list[str]:
    from ..linter.vocabulary import EMBEDDING_SUFFIXES

    names: list[str] = []
    for folder in doc.settings.embeddings:
        try:
            names.extend(folder_names(folder, EMBEDDING_SUFFIXES))
        except FileNotFoundError:
            continue
    return names


_wildcard_sets: OrderedDict = OrderedDict()


def wildcard_set(folders: tuple[str, ...]):
    """The wildcards of the configured folders (``wildcard-dirs``), read again when a folder changes."""
    from ..templates.wildcards import Wildcards

    indexes = tuple(folder_index(f, (".txt", ".yaml", ".json")) for f in folders)  # FileNotFoundError: no folder
    found = _wildcard_sets.get(folders)
    if found is None or found[0] != tuple(map(id, indexes)):
        found = (tuple(map(id, indexes)), indexes, Wildcards.from_folders([Path(f) for f in folders]))
        _wildcard_sets[folders] = found
        while len(_wildcard_sets) > 8:
            _wildcard_sets.popitem(last=False)
    _wildcard_sets.move_to_end(folders)
    return found[2]


def _wildcards_of(doc: Resolved):
    try:
        return wildcard_set(tuple(doc.settings.wildcards)) if doc.settings.wildcards else None
    except (FileNotFoundError, ValueError):
        return None


def _wildcard_items(doc: Resolved, typed: str, limit: int, closed: bool) -> list[dict]:
    """Wildcard names of the configured folders after ``__`` (and the closing ``__`` unless it is there)."""
    source = _wildcards_of(doc)
    if source is None:
        return []
    lowered = typed.lower()
    items = []
    for name in sorted(source.names(), key=lambda n: (n.lower(), n)):
        if name.lower().startswith(lowered):
            count = len(source.values(name))  # as the expansion reads it: duplicates are one option
            items.append({"label": name, "insert": name if closed else name + "__", "kind": "wildcard",
                          "name": name, "filter": name, "detail": f"wildcard · {count:,} options"})
            if len(items) >= limit:
                break
    return items


def _network_items(doc: Resolved, typed: str, limit: int) -> list[dict]:
    items: list[dict] = []
    for folder in doc.settings.loras:
        try:
            names = folder_index(folder, NETWORK_SUFFIXES).starting_with(typed, limit - len(items))
        except FileNotFoundError:
            continue
        items.extend({"label": name, "insert": name, "kind": "lora", "name": name, "filter": name,
                      "detail": f"LoRA in {folder}"} for name in names)
        if len(items) >= limit:
            break
    return items[:limit]


# -- hover ------------------------------------------------------------------------------------------------

def hover(doc: Resolved, offset: int) -> dict | None:
    """What the tag (or LoRA) at ``offset`` is: database entry, aliases, implications, chunk and weight."""
    segment = doc.segment_at(offset) if doc.usable else None
    if segment is None:
        return None
    position = segment.from_document(offset)
    for p in segment.placeholders:
        if p.kind == "wildcard" and p.start <= position <= p.end:
            return _wildcard_hover(doc, segment, p)
    from ..linter.engine import _namespaces
    from ..syntax import parse
    from ..syntax.ast import ExtraNetwork

    prompt = parse(segment.masked(), segment.dialect or doc.dialect, namespaces=_namespaces(doc.profile))
    tags = prompt.tags
    import bisect

    i = bisect.bisect_right(tags.starts, position) - 1
    tag = tags[i] if i >= 0 and tags.starts[i] <= position <= tags.starts[i] + len(tags.raws[i]) else None
    if tag is None:
        for node in prompt.walk():
            if type(node) is ExtraNetwork and node.start <= position <= node.end:
                return {"kind": "network", "network": node.kind, "name": node.name, "strength": node.multiplier,
                        "start": segment.to_document(node.start), "end": segment.to_document(node.end),
                        "files": _network_files(doc, node.name)}
        return None
    from ..linter.vocabulary import is_not_a_tag
    from ..tokens.chunks import plan_chunks

    plan = plan_chunks(prompt)
    chunks = plan.tag_chunks(tag)
    out: dict[str, Any] = {
        "kind": "tag", "text": tag.text, "name": tag.name, "namespace": tag.namespace, "weight": tag.weight,
        "branch": tag.branch, "start": segment.to_document(tag.start), "end": segment.to_document(tag.end),
        "chunks": chunks, "chunk_count": len(plan.chunks), "token_count": plan.token_count,
        "negative": segment.negative, "profile": doc.profile.id,
    }
    booru = not tag.namespace or tag.namespace in ("artist", "copyright", "character", "general", "meta")
    info = doc.db.lookup(tag.name) if booru else None  # as the linter looks tags up
    if info is not None:
        out.update(known=True, tag=info.name, category=info.category.value, post_count=info.post_count,
                   source=info.source, sources=list(info.sources), matched=info.matched,
                   aliases=doc.db.aliases_of(info.name, 12), implies=doc.db.implied(info.name)[:12])
    elif tag.name in doc.profile.vocabulary:
        out.update(known=True, tag=tag.name, category=doc.profile.ladder_of(tag.name) or "profile",
                   source=doc.profile.id, sources=[], matched="profile", aliases=[], implies=[])
    elif is_not_a_tag(tag.text, doc.embeddings):
        out.update(known=False, category="not a tag (embedding, wildcard or placeholder)", aliases=[], implies=[])
    else:
        out.update(known=False, category="unknown", aliases=[], implies=[],
                   suggestions=[s.name for s in doc.db.suggest(tag.text, 3)] if len(tag.text) <= 100 else [])
    return out


def _wildcard_hover(doc: Resolved, segment: Segment, p) -> dict:
    """A ``__name__``: how many options the configured folders give it, and how many prompts it makes."""
    from ..templates import ExpansionError, count_expansions

    out = {"kind": "wildcard", "name": p.name, "start": segment.to_document(p.start),
           "end": segment.to_document(p.end), "folders": list(doc.settings.wildcards), "options": None,
           "prompts": None}
    source = _wildcards_of(doc)
    if source is None:
        return out
    try:
        options = source.values(p.name)
    except ValueError:
        return out
    if options:
        out["options"] = len(options)
        try:
            out["prompts"] = count_expansions(segment.text[p.start:p.end], wildcards=source)
        except ExpansionError:
            pass
    return out


def _network_files(doc: Resolved, name: str) -> list[str]:
    found = []
    for folder in doc.settings.loras:
        try:
            if name in folder_index(folder, NETWORK_SUFFIXES).members:
                found.append(folder)
        except FileNotFoundError:
            continue
    return found


# -- chunks and conversions (the playground's views) ------------------------------------------------------

def chunk_view(doc: Resolved, segment: Segment, limit: int = 200) -> dict:
    """The 75-token chunks as A1111 cuts them: each token's text, weight and span; how each chunk ended.
    The first ``limit`` chunks are listed (a page cannot show thousands); ``chunk_total`` counts them all."""
    from ..linter.engine import _namespaces
    from ..syntax import parse
    from ..tokens.chunks import CHUNK_LENGTH, plan_chunks
    from ..tokens.clip import clip_bpe

    bpe = clip_bpe()
    plan = plan_chunks(parse(segment.masked(), segment.dialect or doc.dialect, namespaces=_namespaces(doc.profile)))
    chunks = []
    for i, chunk in enumerate(plan.chunks[:limit]):
        last = i == len(plan.chunks) - 1
        ended = "break" if chunk.forced else ("end" if last else
                                              "full" if len(chunk.tokens) == CHUNK_LENGTH else "backtrack")
        chunks.append({"ended": ended, "tokens": [
            {"text": bpe.decode([t.id]), "weight": round(t.weight, 6), "start": segment.to_document(t.start),
             "end": segment.to_document(t.end)} for t in chunk.tokens]})
    return {"chunks": chunks, "chunk_total": len(plan.chunks), "token_count": plan.token_count,
            "max_chunks": doc.profile.max_chunks}


def conversions(doc: Resolved, segment: Segment) -> list[dict]:
    """The prompt in every other dialect, or why it cannot be written there."""
    from ..syntax import ConversionError, parse

    prompt = parse(segment.text, doc.dialect)
    out = []
    for target in DIALECTS:
        if target == doc.dialect:
            continue
        try:
            out.append({"dialect": target, "text": prompt.render(target), "error": None})
        except ConversionError as exc:
            out.append({"dialect": target, "text": None, "error": str(exc)})
    return out


def rule_docs() -> list[dict]:
    """Every rule with its documentation (what ``promptkit rules`` shows)."""
    from ..linter import all_rules

    return [{"code": r.code, "name": r.name, "category": r.category, "severity": r.severity.value,
             "default": r.default, "fix": r.fix_safety, "summary": r.summary(), "docs": r.docs()}
            for r in all_rules()]


# -- syntax highlighting ----------------------------------------------------------------------------------

SYNTAX_KINDS = ("keyword", "number", "operator", "macro", "function")
_NUMBER_RUN = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)|[+-]+")


def _delimiter(out: list, text: str, start: int, kind: str) -> None:
    """A delimiter such as ``:1.2)`` or ``1.2::``: its numbers as numbers, the rest as ``kind``."""
    pos = 0
    for m in _NUMBER_RUN.finditer(text):
        if m.start() > pos:
            out.append([start + pos, start + m.start(), kind])
        out.append([start + m.start(), start + m.end(), "number"])
        pos = m.end()
    if pos < len(text):
        out.append([start + pos, start + len(text), kind])


def syntax_spans(doc: Resolved) -> list[list]:
    """``[start, end, kind]`` of the syntax people want to see at a glance: weights (brackets and numbers),
    BREAK and AND, prompt editing and alternation, LoRAs and embeddings. Document offsets, in order."""
    from ..linter.engine import _namespaces
    from ..syntax import parse
    from ..syntax.ast import Alternation, And, Break, Embedding, ExtraNetwork, Group, Schedule, Text

    out: list[list] = []
    if not doc.usable:
        return out
    for segment in doc.prompts:
        if segment.nested:
            continue
        local: list[list] = []
        for p in segment.placeholders:
            local.append([p.start, p.end, "macro"])
        prompt = parse(segment.masked(), segment.dialect or doc.dialect, namespaces=_namespaces(doc.profile))
        for node in prompt.walk():
            t = type(node)
            if t is Group:
                _delimiter(local, node.open, node.start, "operator")
                if node.close:
                    _delimiter(local, node.close, node.end - len(node.close), "operator")
            elif t is Break or t is And:
                word = node.raw.strip()
                at = node.start + node.raw.find(word) if word else node.start
                local.append([at, at + len(word), "keyword"])
            elif t is Schedule or t is Alternation:
                local.append([node.start, node.start + len(node.open), "macro"])
                for child in node.children:
                    if type(child) is Text and child.kind in (Text.COLON, Text.PIPE):
                        local.append([child.start, child.end, "macro"])
                if t is Schedule and node.when_raw:
                    last = node.children[-1] if node.children else None
                    if type(last) is Text and last.raw.strip() == node.when_raw.strip():
                        local.append([last.start, last.end, "number"])
                local.append([node.end - len(node.close), node.end, "macro"])
            elif t is ExtraNetwork or t is Embedding:
                local.append([node.start, node.end, "function"])
        local.sort()
        last_end = -1
        for s, e, kind in local:  # keep them disjoint (a delimiter never overlaps another, but be safe)
            if s >= last_end and e > s:
                out.append([segment.to_document(s), segment.to_document(e), kind])
                last_end = e
    return out
