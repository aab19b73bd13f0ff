"""The analysis' JSON data as LSP types: diagnostics, code actions, edits, completion items, hover text,
semantic tokens; and the rule documentation files diagnostics link to."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from lsprotocol import types

from .. import __version__
from ..editing.positions import LineIndex, units

TOKEN_TYPES = ("keyword", "number", "operator", "macro", "function")
_KINDS = {"tag": types.CompletionItemKind.Value, "alias": types.CompletionItemKind.Reference,
          "profile": types.CompletionItemKind.Constant, "embedding": types.CompletionItemKind.Variable,
          "lora": types.CompletionItemKind.Module, "wildcard": types.CompletionItemKind.File}
SEVERITY = {"error": types.DiagnosticSeverity.Error, "warning": types.DiagnosticSeverity.Warning,
            "info": types.DiagnosticSeverity.Information}


def lsp_range(start: int, end: int, index: LineIndex) -> types.Range:
    sl, sc = index.position(start)
    el, ec = index.position(max(start, end))
    return types.Range(types.Position(sl, sc), types.Position(el, ec))


def diagnostic(finding: dict, i: int, index: LineIndex, rule_docs: dict[str, str]) -> types.Diagnostic:
    code = finding["code"]
    href = rule_docs.get(code)
    fix = finding.get("fix")
    message = finding["message"]
    if fix and fix.get("edits"):
        message += f" [fix ({'safe' if fix['safe'] else 'unsafe'}): {fix['description']}]"
    return types.Diagnostic(
        range=lsp_range(finding["start"], finding["end"], index), message=message,
        severity=SEVERITY.get(finding["severity"], types.DiagnosticSeverity.Warning), code=code,
        code_description=types.CodeDescription(href=href) if href else None, source="promptkit",
        data={"index": i, "name": finding.get("name")})


def text_edit(edit: dict, index: LineIndex) -> types.TextEdit:
    return types.TextEdit(range=lsp_range(edit["start"], edit["end"], index), new_text=edit["replacement"])


def fix_action(uri: str, finding: dict, i: int, index: LineIndex, rule_docs: dict[str, str]) -> types.CodeAction:
    fix = finding["fix"]
    safe = bool(fix["safe"])
    title = f"{finding['code']}: {fix['description']}" + ("" if safe else " (unsafe: may change the meaning)")
    return types.CodeAction(
        title=title, kind=types.CodeActionKind.QuickFix, is_preferred=safe,
        diagnostics=[diagnostic(finding, i, index, rule_docs)],
        edit=types.WorkspaceEdit(changes={uri: [text_edit(e, index) for e in fix["edits"]]}))


def completion_list(result: dict, index: LineIndex) -> types.CompletionList:
    where = lsp_range(result["start"], result["end"], index)
    items = []
    for n, item in enumerate(result["items"]):
        items.append(types.CompletionItem(
            label=item["label"], kind=_KINDS.get(item["kind"], types.CompletionItemKind.Text),
            detail=item.get("detail"), sort_text=f"{n:04d}", filter_text=item.get("filter") or item["insert"],
            text_edit=types.TextEdit(range=where, new_text=item["insert"])))
    return types.CompletionList(is_incomplete=True, items=items)


def hover_markdown(info: dict) -> str:
    if info["kind"] == "wildcard":
        if info["options"] is None:
            where = ("not in your wildcard folders" if info["folders"] else
                     "no wildcard folder configured (`wildcard-dirs` in promptkit.toml)")
            return f"**wildcard** `{info['name']}` · {where}"
        made = f" · makes {info['prompts']:,} prompts" if info.get("prompts") not in (None, info["options"]) else ""
        return f"**wildcard** `{info['name']}` · {info['options']:,} options{made}"
    if info["kind"] == "network":
        where = ", ".join(f"`{f}`" for f in info["files"]) or "not found in your LoRA folders"
        return f"**{info['network']}** `{info['name']}` · strength {info['strength']:g}\n\n{where}"
    lines = []
    if info.get("known") and info.get("post_count") is not None:
        lines.append(f"**{info['tag']}** · {info['category']} · {info['post_count']:,} posts · {info['source']}")
    elif info.get("known"):
        lines.append(f"**{info['tag']}** · {info['category']} · a tag of the profile `{info['profile']}`")
    else:
        lines.append(f"**{info['text']}** · {info['category']}")
    if info.get("matched") == "alias":
        lines.append(f"`{info['name']}` is an alias of `{info['tag']}`")
    if info.get("sources") and len(info["sources"]) > 1:
        lines.append("listed in " + ", ".join(info["sources"]))
    if info.get("aliases"):
        lines.append("also written " + ", ".join(f"`{a}`" for a in info["aliases"]))
    if info.get("implies"):
        lines.append("implies " + ", ".join(f"`{a}`" for a in info["implies"]))
    if info.get("suggestions"):
        lines.append("did you mean " + ", ".join(f"`{a}`" for a in info["suggestions"]) + "?")
    chunks = info.get("chunks") or []
    place = (f"chunk {chunks[0] + 1}" if len(chunks) == 1 else
             f"cut across chunks {', '.join(str(c + 1) for c in chunks)}" if chunks else "no tokens")
    lines.append(f"{place} of {info['chunk_count']} ({info['token_count']} tokens) · weight {info['weight']:.4g}"
                 + (f" · {info['branch']}" if info.get("branch") else ""))
    return "\n\n".join(lines)


def hover(info: dict, index: LineIndex) -> types.Hover:
    return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=hover_markdown(info)),
                       range=lsp_range(info["start"], info["end"], index))


def semantic_data(spans: list[list], index: LineIndex) -> list[int]:
    """LSP's relative encoding: (line delta, start delta, length, type, modifiers) per token, one line each."""
    data: list[int] = []
    last_line = last_char = 0
    text = index.text
    for start, end, kind in spans:
        line, char = index.position(start)
        line_end = index.offset(line, 1 << 30)
        length = units(text[start:min(end, line_end)], index.encoding)
        if length <= 0:
            continue
        delta_line = line - last_line
        data += [delta_line, char - last_char if delta_line == 0 else char, length, TOKEN_TYPES.index(kind), 0]
        last_line, last_char = line, char
    return data


def write_rule_docs(rules: list[dict]) -> dict[str, str]:
    """Each rule's documentation as a Markdown file in the cache folder; code -> file URI (empty if unwritable)."""
    from ..tags.store import cache_dir

    try:
        folder = cache_dir() / "rule-docs" / __version__
        folder.mkdir(parents=True, exist_ok=True)
        out = {}
        for rule in rules:
            path = folder / f"{rule['code']}.md"
            body = (f"# {rule['code']} {rule['name']}\n\n{rule['docs']}\n\n"
                    f"Severity: {rule['severity']}. On by default: {'yes' if rule['default'] else 'no'}. "
                    f"Fix: {rule['fix'] or 'none'}.\n")
            if not path.is_file() or path.read_text(encoding="utf-8") != body:
                _write_atomic(path, body)
            out[rule["code"]] = path.resolve().as_uri()
        return out
    except OSError:
        return {}


def _write_atomic(path: Path, body: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(body)
    os.replace(tmp, path)
