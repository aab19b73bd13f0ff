"""``promptkit lsp`` end to end: a real LSP client (pytest-lsp) talks to the server process over stdio.

Every answer is checked against the library called directly in this process (lint_prompt, fix_text,
format_prompt, TagDB, plan_chunks): the server must show what ``promptkit lint`` and ``fmt`` compute.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

pytest.importorskip("pygls")
pytest_lsp = pytest.importorskip("pytest_lsp")
from lsprotocol import types  # noqa: E402
from pygls.protocol import default_converter  # noqa: E402
from pytest_lsp import ClientServerConfig, LanguageClient  # noqa: E402

from promptkit.editing.positions import LineIndex  # noqa: E402
from promptkit.linter import fix_text, format_prompt, lint_prompt  # noqa: E402
from promptkit.profiles import load_profile  # noqa: E402
from promptkit.tags import TagDB  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PROFILE = "kivotos-xl-2"
SERVER_ENV = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
              "PROMPTKIT_EDITOR_MEMORY_MB": "1200"}
pytestmark = pytest.mark.asyncio(loop_scope="module")


def recording_client() -> LanguageClient:
    """pytest-lsp's client, keeping every publication by (uri, version): none is missed in a burst."""
    from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features

    client = LanguageClient(converter_factory=default_converter)
    client.published = {}

    def publish(client: LanguageClient, params: types.PublishDiagnosticsParams) -> None:
        client.diagnostics[params.uri] = params.diagnostics
        client.published[(params.uri, params.version)] = params.diagnostics

    register_lsp_features(client, {**DEFAULT_CLIENT_FEATURES, types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS: publish})
    return client


@pytest_lsp.fixture(scope="module", config=ClientServerConfig(
    server_command=[sys.executable, "-m", "promptkit.cli.main", "lsp"], server_env=SERVER_ENV,
    client_factory=recording_client))
async def client(lsp_client: LanguageClient):
    await lsp_client.initialize_session(types.InitializeParams(
        capabilities=types.ClientCapabilities(),
        initialization_options={"promptkit": {"profile": PROFILE, "debounce_ms": 0}}))
    yield
    await lsp_client.shutdown_session()


_counter = iter(range(10 ** 6))


def new_uri(name: str = "prompt.prompt") -> str:
    return f"file:///tmp/promptkit-lsp-test/{next(_counter)}/{name}"


async def diagnostics_for(client: LanguageClient, uri: str, version: int, timeout: float = 60.0):
    """The diagnostics the server published for this version of the document."""
    async def wait():
        while (uri, version) not in client.published:
            await asyncio.sleep(0.02)
        return client.published[(uri, version)]
    return await asyncio.wait_for(wait(), timeout)


async def open_doc(client: LanguageClient, text: str, uri: str | None = None, timeout: float = 60.0):
    uri = uri or new_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        types.TextDocumentItem(uri=uri, language_id="prompt", version=1, text=text)))
    return uri, await diagnostics_for(client, uri, 1, timeout)


def offsets(text: str, rng: types.Range) -> tuple[int, int]:
    index = LineIndex(text)
    return index.offset(rng.start.line, rng.start.character), index.offset(rng.end.line, rng.end.character)


def apply(text: str, edits: list[types.TextEdit]) -> str:
    spans = sorted(((*offsets(text, e.range), e.new_text) for e in edits), reverse=True)
    for s, e, new in spans:
        text = text[:s] + new + text[e:]
    return text


def library_findings(text: str, negative: bool = False) -> list[tuple[str, int, int]]:
    report = lint_prompt(text, PROFILE, negative=negative)
    return [(d.code, d.start, d.end) for d in report.diagnostics]


def served(text: str, diagnostics) -> list[tuple[str, int, int]]:
    return sorted((d.code, *offsets(text, d.range)) for d in diagnostics)


PROMPT = "smile, kazusa (blue archive), 1girl, long hiar, pony tail"


async def test_open_shows_the_linters_findings_with_ranges_and_rule_docs(client: LanguageClient):
    uri, diagnostics = await open_doc(client, PROMPT)
    assert served(PROMPT, diagnostics) == sorted(library_findings(PROMPT))
    typo = next(d for d in diagnostics if d.code == "PK201")
    assert PROMPT[slice(*offsets(PROMPT, typo.range))] == "long hiar"
    assert "long hair" in typo.message and typo.severity == types.DiagnosticSeverity.Warning
    docs = next(d for d in diagnostics if d.code_description).code_description.href
    assert docs.startswith("file://")  # written once warm; the rule's own documentation
    code = next(d for d in diagnostics if d.code_description).code
    assert code in Path(docs[len("file://"):]).read_text(encoding="utf-8")


async def test_incremental_edits_update_the_findings(client: LanguageClient):
    text = "1girl, long hiar, smile"
    uri, diagnostics = await open_doc(client, text)
    assert "PK201" in [d.code for d in diagnostics]
    start = text.index("hiar")
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        types.VersionedTextDocumentIdentifier(uri=uri, version=2),
        [types.TextDocumentContentChangePartial(
            range=types.Range(types.Position(0, start), types.Position(0, start + 4)), text="hair")]))
    diagnostics = await diagnostics_for(client, uri, 2)
    assert served("1girl, long hair, smile", diagnostics) == library_findings("1girl, long hair, smile")
    # a second line typed at the end, in UTF-16 units after an emoji (two units, one code point)
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        types.VersionedTextDocumentIdentifier(uri=uri, version=3),
        [types.TextDocumentContentChangePartial(range=types.Range(types.Position(0, 23), types.Position(0, 23)),
                                                text=" \U0001F600\npony tail")]))
    diagnostics = await diagnostics_for(client, uri, 3)
    new = "1girl, long hair, smile \U0001F600\npony tail"
    assert served(new, diagnostics) == sorted(library_findings(new))
    assert any(d.code == "PK202" and d.range.start == types.Position(1, 0) for d in diagnostics)


async def test_code_actions_apply_the_linters_fixes(client: LanguageClient):
    uri, diagnostics = await open_doc(client, PROMPT)
    typo = next(d for d in diagnostics if d.code == "PK201")
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        types.TextDocumentIdentifier(uri), typo.range, types.CodeActionContext(diagnostics=[typo])))
    quick = [a for a in actions if a.kind == types.CodeActionKind.QuickFix]
    replace = next(a for a in quick if "long hair" in a.title)
    assert "unsafe" in replace.title and not replace.is_preferred  # the linter marks typo fixes unsafe
    assert apply(PROMPT, replace.edit.changes[uri]) == PROMPT.replace("long hiar", "long hair")
    respelling = next(d for d in diagnostics if d.code == "PK202")
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        types.TextDocumentIdentifier(uri), respelling.range, types.CodeActionContext(diagnostics=[respelling])))
    safe = next(a for a in actions if a.kind == types.CodeActionKind.QuickFix and a.is_preferred)
    assert apply(PROMPT, safe.edit.changes[uri]).endswith("ponytail")
    fix_all = next(a for a in actions if a.kind == "source.fixAll.promptkit")
    assert apply(PROMPT, fix_all.edit.changes[uri]) == fix_text(PROMPT, PROFILE)[0]


async def test_completion_ranks_by_posts_and_writes_tags_the_profiles_way(client: LanguageClient):
    db = TagDB.for_profile(PROFILE)
    text = "1girl, kazusa (bl"
    uri, _ = await open_doc(client, text)
    result = await client.text_document_completion_async(types.CompletionParams(
        types.TextDocumentIdentifier(uri), types.Position(0, len(text))))
    first = result.items[0]
    assert first.text_edit.new_text == r"kazusa \(blue archive\)"  # spaces, escaped parentheses (Kivotos)
    assert offsets(text, first.text_edit.range) == (7, len(text))
    text2 = "1girl, lo"
    uri2, _ = await open_doc(client, text2)
    result = await client.text_document_completion_async(types.CompletionParams(
        types.TextDocumentIdentifier(uri2), types.Position(0, len(text2))))
    expected = [i.name.replace("_", " ") for i in db.complete("lo", limit=20)]
    got = [i.text_edit.new_text for i in result.items if i.kind != types.CompletionItemKind.Constant]
    assert got[:5] == expected[:5]  # most used first, as TagDB.complete ranks them
    text3 = "masterpiece, hires"
    uri3, _ = await open_doc(client, text3)
    result = await client.text_document_completion_async(types.CompletionParams(
        types.TextDocumentIdentifier(uri3), types.Position(0, len(text3))))
    alias = next(i for i in result.items if i.label.startswith("hires ->"))
    assert alias.text_edit.new_text == db.lookup("hires").name.replace("_", " ")


async def test_hover_shows_tag_info_chunk_and_weight(client: LanguageClient):
    db = TagDB.for_profile(PROFILE)
    filler = ", ".join(["smile"] * 40)
    text = f"(long hair:1.2), {filler}, blue eyes BREAK red scarf"
    uri, _ = await open_doc(client, text)
    hover = await client.text_document_hover_async(types.HoverParams(
        types.TextDocumentIdentifier(uri), types.Position(0, 3)))
    info = db.lookup("long_hair")
    assert f"{info.post_count:,} posts" in hover.contents.value
    assert "weight 1.2" in hover.contents.value and "chunk 1 of 3" in hover.contents.value
    assert offsets(text, hover.range) == (1, 10)
    hover = await client.text_document_hover_async(types.HoverParams(
        types.TextDocumentIdentifier(uri), types.Position(0, text.index("red scarf") + 2)))
    assert "chunk 3 of 3" in hover.contents.value  # BREAK starts a new chunk; the filler fills the first


async def test_formatting_is_promptkit_fmt(client: LanguageClient):
    text = "smile ,  kazusa \\(blue archive\\),1girl,pony tail"
    uri, _ = await open_doc(client, text)
    edits = await client.text_document_formatting_async(types.DocumentFormattingParams(
        types.TextDocumentIdentifier(uri), types.FormattingOptions(tab_size=2, insert_spaces=True)))
    assert apply(text, edits) == format_prompt(text, load_profile(PROFILE))


async def test_semantic_tokens_mark_weights_break_schedules_and_loras(client: LanguageClient):
    text = "(a:1.2), [b:c:0.5] BREAK <lora:x:0.8>"
    uri, _ = await open_doc(client, text)
    tokens = await client.text_document_semantic_tokens_full_async(types.SemanticTokensParams(
        types.TextDocumentIdentifier(uri)))
    legend = ["keyword", "number", "operator", "macro", "function"]
    found, line, char = [], 0, 0
    data = tokens.data
    for i in range(0, len(data), 5):
        line += data[i]
        char = data[i + 1] if data[i] else char + data[i + 1]
        found.append((text[char:char + data[i + 2]], legend[data[i + 3]]))
    assert ("1.2", "number") in found and ("BREAK", "keyword") in found
    assert ("<lora:x:0.8>", "function") in found and ("0.5", "number") in found and ("[", "macro") in found


async def test_malformed_document_gets_findings_and_the_server_answers(client: LanguageClient):
    text = "(((unbalanced, [a:b, smile)) ]]] <lora:"
    uri, diagnostics = await open_doc(client, text)
    assert served(text, diagnostics) == sorted(library_findings(text))
    assert "PK101" in [d.code for d in diagnostics]
    assert await client.text_document_hover_async(types.HoverParams(
        types.TextDocumentIdentifier(uri), types.Position(0, 5))) is not None


async def test_unknown_profile_is_an_error_finding_not_a_guess(client: LanguageClient):
    text = "# promptkit: profile=no-such-model\n1girl, long hiar"
    uri, diagnostics = await open_doc(client, text)
    assert [d.code for d in diagnostics] == ["settings"]
    assert "unknown profile 'no-such-model'" in diagnostics[0].message
    assert diagnostics[0].severity == types.DiagnosticSeverity.Error and diagnostics[0].range.start.line == 0
    text = "# promptkit: profile=pony-v6 negative\nscore_9, pony tail"
    uri, diagnostics = await open_doc(client, text)
    body = text.split("\n", 1)[1]
    expected = [(c, s + len(text) - len(body), e + len(text) - len(body))
                for c, s, e in ((d.code, d.start, d.end) for d in
                                lint_prompt(body, "pony-v6", negative=True).diagnostics)]
    assert served(text, diagnostics) == sorted(expected)


async def test_styles_csv_cells_are_prompts_mapped_through_the_quotes(client: LanguageClient):
    text = 'name,prompt,negative_prompt\nmine,"1girl, pony tail, ""sign"", long hiar",worst quality\n'
    uri, diagnostics = await open_doc(client, text, new_uri("styles.csv"))
    typo = next(d for d in diagnostics if d.code == "PK201")
    assert text[slice(*offsets(text, typo.range))] == "long hiar"
    respell = next(d for d in diagnostics if d.code == "PK202")
    assert text[slice(*offsets(text, respell.range))] == "pony tail"
    fixed = apply(text, (await client.text_document_formatting_async(types.DocumentFormattingParams(
        types.TextDocumentIdentifier(uri), types.FormattingOptions(2, True)))))
    assert 'ponytail, ""sign"", long hiar' in fixed and fixed.count("\n") == 2  # the row stays one CSV row
    import csv
    import io

    assert list(csv.reader(io.StringIO(fixed)))[1][1] == format_prompt('1girl, pony tail, "sign", long hiar', load_profile(PROFILE))


async def test_wildcard_files_lint_each_line(client: LanguageClient):
    text = "# hair colours\nlong hiar\npony tail\n"
    uri, diagnostics = await open_doc(client, text, new_uri("wildcards/hair.txt"))
    assert sorted((d.code, d.range.start.line) for d in diagnostics) == [("PK201", 1), ("PK202", 2)]


async def test_debounce_publishes_only_the_last_version(client: LanguageClient):
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"promptkit": {"profile": PROFILE, "debounce_ms": 300}}))
    uri, _ = await open_doc(client, "1girl")
    for v, word in enumerate(["1girl, l", "1girl, lo", "1girl, lon", "1girl, long hiar"], start=2):
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            types.VersionedTextDocumentIdentifier(uri=uri, version=v), [types.TextDocumentContentChangeWholeDocument(word)]))
    diagnostics = await diagnostics_for(client, uri, 5)
    seen = sorted(v for u, v in client.published if u == uri)
    assert [d.code for d in diagnostics] == ["PK201"] and seen == [1, 5]
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"promptkit": {"profile": PROFILE, "debounce_ms": 0}}))


HOSTILE = {
    "200 KB": ", ".join(["1girl", "long hair", "pony tail", "smile"] * 13000)[:200_000],
    "1 MB": ("masterpiece, 1girl, (long hair:1.2), pony tail, " * 25000)[:1_000_000],
    "binary junk": bytes(range(256)).decode("latin-1") * 400,
    "100,000 nested brackets": "(" * 100_000 + "pony tail" + ")" * 100_000,
    "lone surrogates": "1girl, \udcff\udc80 smile, long hiar",
    "nested prompt editing": "[a:" * 30_000 + "b" + ":0.5]" * 30_000,  # valid A1111: no finding at all
}


@pytest.mark.parametrize("name", list(HOSTILE))
async def test_hostile_documents_get_an_answer_and_the_server_lives(client: LanguageClient, name: str):
    text = HOSTILE[name]
    uri, diagnostics = await open_doc(client, text, timeout=240.0)
    if name == "nested prompt editing":  # (gigabytes in the parser before issue 16; now linear)
        assert served(text, diagnostics) == library_findings(text)
    else:
        assert diagnostics, name  # a finding, or one that says why there are none
    if name == "1 MB":  # bounded: 1,000 findings and one that counts the rest
        assert len(diagnostics) == 1001 and diagnostics[-1].code == "more" and "more findings" in diagnostics[-1].message
    elif name == "lone surrogates":
        assert {"encoding", "PK201"} <= {d.code for d in diagnostics}
    else:
        assert "analysis" not in [d.code for d in diagnostics]
    # formatting answers as `promptkit fmt` does (100,000 brackets kept, "pony tail" respelled inside them)
    if name != "1 MB":  # formatting a megabyte costs ~10 s here; its lint above already proves the size
        edits = await client.text_document_formatting_async(types.DocumentFormattingParams(
            types.TextDocumentIdentifier(uri), types.FormattingOptions(2, True)))
        if name in ("200 KB", "100,000 nested brackets", "nested prompt editing"):
            assert apply(text, edits or []) == format_prompt(text, load_profile(PROFILE)), name
        if name == "100,000 nested brackets":
            assert edits and apply(text, edits) == text.replace("pony tail", "ponytail")
    await client.text_document_completion_async(types.CompletionParams(
        types.TextDocumentIdentifier(uri), types.Position(0, 3)))
    uri2, diagnostics = await open_doc(client, "long hiar")
    assert [d.code for d in diagnostics] == ["PK201"]
    client.text_document_did_close(types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(uri)))


# The analysis process's memory limit (RLIMIT_AS), low enough that two megabytes of prompt run out of it (a small
# lint needs ~130 MB of address space here, 1 MB ~460 MB, 2 MB ~800 MB): no document is that costly at the usual
# limit.
SMALL_MEMORY_ENV = {**SERVER_ENV, "PROMPTKIT_EDITOR_MEMORY_MB": "350"}


@pytest_lsp.fixture(scope="module", config=ClientServerConfig(
    server_command=[sys.executable, "-m", "promptkit.cli.main", "lsp"], server_env=SMALL_MEMORY_ENV,
    client_factory=recording_client))
async def small_client(lsp_client: LanguageClient):
    await lsp_client.initialize_session(types.InitializeParams(
        capabilities=types.ClientCapabilities(),
        initialization_options={"promptkit": {"profile": PROFILE, "debounce_ms": 0}}))
    yield
    await lsp_client.shutdown_session()


async def test_a_document_beyond_the_memory_limit_is_a_diagnostic_and_the_server_lives(small_client: LanguageClient):
    text = HOSTILE["1 MB"] * 2  # needs ~800 MB: far from the limit either way
    uri, diagnostics = await open_doc(small_client, text, timeout=240.0)
    assert [d.code for d in diagnostics] == ["analysis"] and "memory" in diagnostics[0].message
    _, diagnostics = await open_doc(small_client, "long hiar")  # a fresh analysis process answers
    assert [d.code for d in diagnostics] == ["PK201"]


async def test_project_config_folders_complete_loras_and_embeddings(client: LanguageClient, tmp_path: Path):
    (tmp_path / "loras" / "styles").mkdir(parents=True)
    (tmp_path / "loras" / "styles" / "detail_tweaker_xl.safetensors").write_bytes(b"")
    (tmp_path / "emb").mkdir()
    (tmp_path / "emb" / "MyNegativeXL.pt").write_bytes(b"")
    (tmp_path / "promptkit.toml").write_text('profile = "pony-v6"\nlora-dirs = ["loras"]\nembeddings = "emb"\n')
    uri = (tmp_path / "x.prompt").as_uri()
    text = "score_9, long_ha, <lora:det"
    _, diagnostics = await open_doc(client, text, uri)
    expected = sorted((d.code, d.start, d.end) for d in lint_prompt(text, "pony-v6").diagnostics)
    assert served(text, diagnostics) == expected  # the project's profile, over the editor's kivotos-xl-2

    async def complete(at: int):
        return await client.text_document_completion_async(types.CompletionParams(
            types.TextDocumentIdentifier(uri), types.Position(0, at)))

    result = await complete(len(text))
    assert [i.text_edit.new_text for i in result.items] == ["detail_tweaker_xl"]
    assert offsets(text, result.items[0].text_edit.range) == (text.index("det"), len(text))
    result = await complete(text.index("long_ha") + 7)
    assert result.items[0].text_edit.new_text == "long_hair"  # pony-v6 takes either style: the writer's kept
    text2 = "score_9, MyNeg"
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        types.VersionedTextDocumentIdentifier(uri=uri, version=2), [types.TextDocumentContentChangeWholeDocument(text2)]))
    await diagnostics_for(client, uri, 2)
    result = await complete(len(text2))
    assert "MyNegativeXL" in [i.text_edit.new_text for i in result.items]


async def test_wildcard_names_complete_after_underscores_and_hover_counts_options(client: LanguageClient,
                                                                                 tmp_path: Path):
    from test_template_lint import wildcard_texts

    (tmp_path / "wc").mkdir()
    tied = wildcard_texts()["hair_styles_tied.txt"]
    (tmp_path / "wc" / "hair_styles_tied.txt").write_bytes(tied.encode("utf-8"))
    (tmp_path / "promptkit.toml").write_text('wildcard-dirs = ["wc"]\n')
    uri = (tmp_path / "x.prompt").as_uri()
    text = "1girl, __hair_st"
    await open_doc(client, text, uri)
    result = await client.text_document_completion_async(types.CompletionParams(
        types.TextDocumentIdentifier(uri), types.Position(0, len(text))))
    assert [i.text_edit.new_text for i in result.items] == ["hair_styles_tied__"]
    assert offsets(text, result.items[0].text_edit.range) == (text.index("hair_st"), len(text))
    options = len({line.strip() for line in tied.splitlines() if line.strip() and not line.startswith("#")})
    assert result.items[0].detail == f"wildcard · {options:,} options"
    text2 = "1girl, __hair_styles_tied__, __hair_colors__"
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        types.VersionedTextDocumentIdentifier(uri=uri, version=2), [types.TextDocumentContentChangeWholeDocument(text2)]))
    diagnostics = await diagnostics_for(client, uri, 2)
    # the template rules run in the editor as in `promptkit lint`, against the project's wildcard folder
    assert [(d.code, offsets(text2, d.range)) for d in diagnostics if d.code.startswith("PK4")] == \
        [("PK401", (text2.index("__hair_colors__"), len(text2)))]
    hover = await client.text_document_hover_async(types.HoverParams(
        types.TextDocumentIdentifier(uri), types.Position(0, text2.index("styles"))))
    assert hover.contents.value == f"**wildcard** `hair_styles_tied` · {options:,} options"
    assert offsets(text2, hover.range) == (7, 27)
    hover = await client.text_document_hover_async(types.HoverParams(
        types.TextDocumentIdentifier(uri), types.Position(0, text2.index("colors"))))
    assert "not in your wildcard folders" in hover.contents.value
