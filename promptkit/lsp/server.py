"""The language server: documents in, findings, fixes, completion, hover, formatting and highlighting out.

The server keeps each open document's text (incremental sync, applied here with the specification's line
breaks) and asks two analysis processes for everything else: one for findings, fixes, formatting and
highlighting, one for completion and hover, so that typing stays fast while a long document is linted.
Diagnostics are published after ``debounce_ms`` of quiet (at once when a document opens), and only for the
version they were computed for. A document the analysis cannot handle (out of memory, out of time, a library
error) gets one finding that says so; the server itself never stops on a document.

The client's bytes are cut into messages by ``framing`` (strict, bounded: a frame pygls cannot read is refused
with a log line and the server reads on), and a project configuration that cannot be read is one diagnostic on
the configuration file (``config``), with default settings for the documents.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import sys
import threading
from dataclasses import dataclass, field
from urllib.parse import unquote, urlparse

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.exceptions import JsonRpcException
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.json_rpc import JsonRPCNotification
from pygls.protocol.language_server import lsp_method

from .. import __version__
from ..editing.documents import Settings
from ..editing.positions import LineIndex
from ..editing.worker import DocumentRef, Worker, WorkerError
from . import render
from .config import ConfigProblem, client_settings, config_file, project_settings
from .framing import FramedStdin

logger = logging.getLogger(__name__)

FIX_ALL_KIND = "source.fixAll.promptkit"
MAX_DIAGNOSTICS = 1000  # per document: the rest is summed up in one more finding


def uri_path(uri: str) -> str | None:
    parsed = urlparse(uri)
    return unquote(parsed.path) if parsed.scheme == "file" else None


@dataclass
class OpenDocument:
    uri: str
    text: str
    version: int
    path: str | None
    findings: list[dict] | None = None
    findings_version: int = -1
    pending: asyncio.Task | None = None
    _index: LineIndex | None = field(default=None, repr=False)

    def index(self, encoding: str) -> LineIndex:
        if self._index is None or self._index.text is not self.text or self._index.encoding != encoding:
            self._index = LineIndex(self.text, encoding)
        return self._index

    def apply(self, change, encoding: str) -> None:
        """One content change: a range replaced (incremental sync) or the whole text."""
        if isinstance(change, types.TextDocumentContentChangePartial):
            index = self.index(encoding)
            start = index.offset(change.range.start.line, change.range.start.character)
            end = max(start, index.offset(change.range.end.line, change.range.end.character))
            self.text = self.text[:start] + change.text + self.text[end:]
        else:
            self.text = change.text
        self._index = None


class PromptProtocol(LanguageServerProtocol):
    """pygls' protocol, but document changes are applied by :class:`OpenDocument` only (with the LSP's line
    breaks, where pygls' workspace splits lines as ``str.splitlines`` does)."""

    def structure_message(self, data: dict):
        """A request whose parameters do not fit its method gets an error response (pygls would log the
        problem and leave the client waiting for an answer forever)."""
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            if "id" not in data or "method" not in data or not isinstance(data["id"], (int, str)):
                raise
            error = exc.to_response_error()
            error.message = f"{error.message}: the parameters of {data['method']!r} do not fit the protocol"
            self._send_response(data["id"], error=error)
            return JsonRPCNotification(method="$/promptkit/answered", jsonrpc="2.0", params=None)

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: types.DidChangeTextDocumentParams):
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CHANGE)) is not None:
            yield handler, (params,), None


class PromptServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("promptkit", __version__, protocol_cls=PromptProtocol,
                         text_document_sync_kind=types.TextDocumentSyncKind.Incremental)
        self.documents: dict[str, OpenDocument] = {}
        self.client = Settings()
        self.lint_worker = Worker("lint")
        self.lookup_worker = Worker("lookup")
        self.rule_docs: dict[str, str] = {}
        self.config_problems: dict[str, ConfigProblem] = {}  # by configuration file URI: what was published
        atexit.register(self.close_workers)

    # -- helpers ------------------------------------------------------------------------------------------
    @property
    def encoding(self) -> str:
        try:
            return str(self.workspace.position_encoding or "utf-16")
        except RuntimeError:
            return "utf-16"

    def settings_for(self, doc: OpenDocument) -> tuple[Settings, ConfigProblem | None]:
        project, problem = project_settings(doc.path)
        return project.over(self.client), problem

    def ref(self, doc: OpenDocument) -> tuple[DocumentRef, ConfigProblem | None]:
        settings, problem = self.settings_for(doc)
        return DocumentRef(doc.uri, doc.version, doc.text, doc.path, settings), problem

    def report_config(self, doc: OpenDocument, problem: ConfigProblem | None) -> None:
        """A project configuration that cannot be used: one diagnostic on the file (editors list it whether or
        not the file is open), one message and one log line per distinct problem; cleared once it reads again."""
        from pathlib import Path

        if problem is None:
            if not self.config_problems or not doc.path:
                return
            used = config_file(Path(doc.path).parent)  # this document's configuration reads again
            if used is not None and self.config_problems.pop(used.as_uri(), None) is not None:
                self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=used.as_uri(),
                                                                                      diagnostics=[]))
            return
        if problem.path is None:
            key = f"promptkit-config:{problem.message}"
            if key not in self.config_problems:
                self.config_problems[key] = problem
                logger.warning("%s", problem.message)
                self.window_show_message(types.ShowMessageParams(types.MessageType.Warning, problem.message))
            return
        uri = Path(problem.path).as_uri()
        if self.config_problems.get(uri) == problem:
            return
        self.config_problems[uri] = problem
        logger.warning("%s: %s", problem.path, problem.message)
        self.window_show_message(types.ShowMessageParams(types.MessageType.Warning, f"{problem.path}: {problem.message}"))
        where = types.Range(types.Position(problem.line, 0), types.Position(problem.line + 1, 0))
        self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[types.Diagnostic(
            range=where, message=problem.message, severity=types.DiagnosticSeverity.Error, code="settings",
            source="promptkit")]))

    def close_workers(self) -> None:
        self.lint_worker.close()
        self.lookup_worker.close()

    async def call(self, worker: Worker, method: str, doc: OpenDocument | None, params: dict | None = None):
        ref = self.ref(doc)[0] if doc is not None else None
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, lambda: worker.call(method, params, ref))

    def warm_up(self) -> None:
        """Start both analysis processes and load the default profile's database, in the background."""
        profile = self.client.profile

        def run(worker: Worker, full: bool) -> None:
            try:
                worker.call("warm", {"profile": profile, "full": full}, timeout=120.0)
            except WorkerError as exc:
                logger.warning("warm-up failed: %s", exc)

        for worker, full in ((self.lint_worker, True), (self.lookup_worker, False)):
            threading.Thread(target=run, args=(worker, full), daemon=True).start()

    # -- diagnostics --------------------------------------------------------------------------------------
    def schedule_lint(self, doc: OpenDocument, delay: float) -> None:
        if doc.pending is not None:
            doc.pending.cancel()
        doc.pending = asyncio.ensure_future(self._lint_later(doc, delay))

    async def _lint_later(self, doc: OpenDocument, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        await self.lint_now(doc)

    async def lint_now(self, doc: OpenDocument) -> list[dict]:
        version, text = doc.version, doc.text
        ref, problem = self.ref(doc)
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(None, lambda: self.lint_worker.call("lint", None, ref))
            findings = result["findings"]
            if not self.rule_docs:  # the links in the first diagnostics too
                rules = await loop.run_in_executor(None, lambda: self.lint_worker.call("rules"))
                self.rule_docs = render.write_rule_docs(rules)
        except WorkerError as exc:
            from ..editing.analysis import failure_finding  # the analysis runs in the workers: not at start-up

            findings = [failure_finding(exc, len(text))]
        self.report_config(doc, problem)
        if self.documents.get(doc.uri) is not doc or doc.version != version:
            return findings  # a newer version is on its way: do not publish stale findings
        doc.findings, doc.findings_version = findings, version
        index = doc.index(self.encoding)
        shown = findings[:MAX_DIAGNOSTICS]
        if len(findings) > MAX_DIAGNOSTICS:  # an editor cannot show more; `promptkit lint` lists them all
            last = findings[MAX_DIAGNOSTICS]
            shown = shown + [{"code": "more", "name": "more-findings", "severity": "info", "start": last["start"],
                              "end": last["start"], "fix": None, "message":
                              f"{len(findings) - MAX_DIAGNOSTICS:,} more findings from here on are not shown "
                              "(`promptkit lint` lists them all)"}]
        self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(
            uri=doc.uri, version=version,
            diagnostics=[render.diagnostic(f, i, index, self.rule_docs) for i, f in enumerate(shown)]))
        return findings

    async def current_findings(self, doc: OpenDocument) -> list[dict]:
        if doc.findings_version == doc.version and doc.findings is not None:
            return doc.findings
        return await self.lint_now(doc)


server = PromptServer()


@server.feature(types.INITIALIZE)
def initialize(ls: PromptServer, params: types.InitializeParams) -> None:
    ls.client, message = client_settings(params.initialization_options)
    if message:
        ls.window_show_message(types.ShowMessageParams(types.MessageType.Warning, message))


@server.feature(types.INITIALIZED)
def initialized(ls: PromptServer, params: types.InitializedParams) -> None:
    ls.warm_up()


@server.feature(types.SHUTDOWN)
def shutdown(ls: PromptServer, params: None) -> None:
    ls.close_workers()


@server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
def did_change_configuration(ls: PromptServer, params: types.DidChangeConfigurationParams) -> None:
    ls.client, message = client_settings(params.settings)
    if message:
        ls.window_show_message(types.ShowMessageParams(types.MessageType.Warning, message))
    for doc in ls.documents.values():
        ls.schedule_lint(doc, 0)


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: PromptServer, params: types.DidOpenTextDocumentParams) -> None:
    item = params.text_document
    doc = OpenDocument(item.uri, item.text, item.version, uri_path(item.uri))
    ls.documents[item.uri] = doc
    ls.schedule_lint(doc, 0)


@server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
def did_change(ls: PromptServer, params: types.DidChangeTextDocumentParams) -> None:
    doc = ls.documents.get(params.text_document.uri)
    if doc is None:
        return
    for change in params.content_changes:
        doc.apply(change, ls.encoding)
    doc.version = params.text_document.version
    ls.schedule_lint(doc, ls.settings_for(doc)[0].debounce_ms / 1000)


@server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: PromptServer, params: types.DidCloseTextDocumentParams) -> None:
    doc = ls.documents.pop(params.text_document.uri, None)
    if doc is not None and doc.pending is not None:
        doc.pending.cancel()
    ls.lint_worker.forget(params.text_document.uri)
    ls.lookup_worker.forget(params.text_document.uri)
    ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[]))


@server.feature(types.TEXT_DOCUMENT_CODE_ACTION,
                types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix, FIX_ALL_KIND]))
async def code_action(ls: PromptServer, params: types.CodeActionParams):
    doc = ls.documents.get(params.text_document.uri)
    if doc is None:
        return None
    findings = await ls.current_findings(doc)
    index = doc.index(ls.encoding)
    start = index.offset(params.range.start.line, params.range.start.character)
    end = index.offset(params.range.end.line, params.range.end.character)
    only = params.context.only
    actions: list[types.CodeAction] = []
    if not only or types.CodeActionKind.QuickFix in only:
        for i, finding in enumerate(findings):
            fix = finding.get("fix")
            if fix and fix.get("edits") and finding["start"] <= end and finding["end"] >= start:
                actions.append(render.fix_action(doc.uri, finding, i, index, ls.rule_docs))
    wants_all = not only or any(str(k).startswith("source") for k in only)
    if wants_all and any(f.get("fix") and f["fix"]["safe"] for f in findings):
        try:
            edits = await ls.call(ls.lint_worker, "fix_all", doc)
        except WorkerError as exc:
            logger.warning("fix all failed: %s", exc)
            edits = []
        if edits and doc.findings_version == doc.version:
            actions.append(types.CodeAction(
                title="promptkit: apply every safe fix", kind=FIX_ALL_KIND,
                edit=types.WorkspaceEdit(changes={doc.uri: [render.text_edit(e, index) for e in edits]})))
    return actions


async def _ask_at(ls: PromptServer, params: types.TextDocumentPositionParams, method: str):
    """The document's index and the lookup process's answer about the position ``params`` names; None for a
    document the server does not hold. Raises WorkerError."""
    doc = ls.documents.get(params.text_document.uri)
    if doc is None:
        return None
    index = doc.index(ls.encoding)
    offset = index.offset(params.position.line, params.position.character)
    return index, await ls.call(ls.lookup_worker, method, doc, {"offset": offset})


@server.feature(types.TEXT_DOCUMENT_COMPLETION,
                types.CompletionOptions(trigger_characters=["<", ":", "_"], resolve_provider=False))
async def completion(ls: PromptServer, params: types.CompletionParams):
    try:
        answer = await _ask_at(ls, params, "complete")
    except WorkerError as exc:
        logger.warning("completion failed: %s", exc)
        return types.CompletionList(is_incomplete=True, items=[])
    if answer is None:
        return None
    index, result = answer
    return render.completion_list(result, index)


@server.feature(types.TEXT_DOCUMENT_HOVER)
async def hover(ls: PromptServer, params: types.HoverParams):
    try:
        answer = await _ask_at(ls, params, "hover")
    except WorkerError as exc:
        return types.Hover(contents=types.MarkupContent(types.MarkupKind.Markdown,
                                                        f"promptkit could not look this up: {exc}"))
    if answer is None:
        return None
    index, info = answer
    return render.hover(info, index) if info else None


@server.feature(types.TEXT_DOCUMENT_FORMATTING)
async def formatting(ls: PromptServer, params: types.DocumentFormattingParams):
    doc = ls.documents.get(params.text_document.uri)
    if doc is None:
        return None
    try:
        edits = await ls.call(ls.lint_worker, "format", doc)
    except WorkerError as exc:
        from pygls.exceptions import JsonRpcInternalError

        raise JsonRpcInternalError(f"promptkit could not format this document: {exc}") from None
    index = doc.index(ls.encoding)
    return [render.text_edit(e, index) for e in edits]


@server.feature(types.TEXT_DOCUMENT_SEMANTIC_TOKENS_FULL,
                types.SemanticTokensLegend(token_types=list(render.TOKEN_TYPES), token_modifiers=[]))
async def semantic_tokens(ls: PromptServer, params: types.SemanticTokensParams):
    doc = ls.documents.get(params.text_document.uri)
    if doc is None:
        return None
    try:
        spans = await ls.call(ls.lint_worker, "syntax", doc)
    except WorkerError:
        spans = []
    return types.SemanticTokens(data=render.semantic_data(spans, doc.index(ls.encoding)))


def run_stdio() -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    try:
        server.start_io(FramedStdin(sys.stdin.buffer), sys.stdout.buffer)  # type: ignore[arg-type]
    finally:
        server.close_workers()

