"""The playground's JSON API: pydantic models for every request and answer, and the handlers.

All offsets count UTF-16 code units, as JavaScript strings do (the server converts them to and from the
library's code points). Every request is a POST of a JSON object, except the two catalogues (GET):

==========================  ====================================================================
``GET  /api/profiles``       ``[{id, title, dialect, family}]``: the bundled profiles
``GET  /api/rules``          ``[{code, name, severity, default, fix, summary, docs}]``
``POST /api/analyze``        :class:`AnalyzeRequest` -> :class:`AnalyzeResponse`: findings of the prompt and
                             the negative prompt, the prompt's 75-token chunks, the prompt in every other dialect
``POST /api/fix``            :class:`FixRequest` -> :class:`TextResponse`: one finding's fix applied (by code and
                             span), or every safe fix (``all``; ``unsafe`` too)
``POST /api/format``         :class:`TextRequest` -> :class:`TextResponse`: ``promptkit fmt``
``POST /api/complete``       :class:`PositionRequest` -> :class:`CompletionResponse`
``POST /api/hover``          :class:`PositionRequest` -> :class:`HoverResponse` (``info`` null off a tag)
==========================  ====================================================================

A request that does not validate gets 422 with ``{"error": message, "details": [...]}``; malformed JSON or a
body that is not UTF-8 gets 400; see ``server.py`` for the others.

Only bundled data: a request names a profile by its bundled id, in the ``profile`` field and in a first-line
``# promptkit: profile=...`` directive of its text alike (anything else, a path or ``../`` included, is 422 with
the same message whether or not such a file exists), and the analysis processes run with ``bundled_only`` so
that no setting can make them open a file (a second wall, should a request ever slip past the first).

Large texts do not hold up small ones. The analysis runs in child processes that answer one request at a time
and cannot be interrupted without being killed, so a 2 MB analysis (about half a minute) would make every
small request wait behind it. Texts over ``HEAVY_TEXT`` characters go to their own process (``heavy``) instead:
small requests keep a process to themselves and are answered at once, large ones queue behind each other, at
most ``HEAVY_WAITING`` of them at a time (503 beyond that). A time bound per request would refuse large prompts
that are fine to lint slowly, and a priority queue would still leave a small request waiting for the large one
already running.
"""

from __future__ import annotations

import threading
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..editing import analysis
from ..editing.documents import Settings, parse_directive
from ..editing.positions import Utf16Offsets
from ..editing.worker import DocumentRef, Worker, WorkerError

MAX_TEXT = 4_000_000  # characters: a prompt of a few MB is accepted (and linted, slowly); more is refused
MAX_FINDINGS = 2000  # findings listed per prompt (a page cannot show more); finding_total counts them all
HEAVY_TEXT = 50_000  # characters (about half a second of lint): longer texts go to the heavy process
HEAVY_WAITING = 4  # large requests running or waiting at once; more get 503


class ApiError(Exception):
    """An answer other than 200: ``status`` and a message for people."""

    def __init__(self, status: int, message: str, details: list | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details or []


class Target(BaseModel):
    """What the text is linted as: a bundled profile, a dialect (default: the profile's), rule selection."""

    model_config = ConfigDict(extra="forbid")

    profile: str = Field("sdxl-base", max_length=100)
    dialect: Literal["a1111", "comfy", "novelai", "compel"] | None = None
    select: list[str] | None = Field(None, max_length=100)
    ignore: list[str] | None = Field(None, max_length=100)

    @field_validator("profile")
    @classmethod
    def _bundled(cls, value: str) -> str:
        return bundled_profile(value)

    @model_validator(mode="after")
    def _rules(self) -> "Target":
        from ..linter.registry import UnknownRuleError, select_rules

        try:
            select_rules(self.select, self.ignore)
        except UnknownRuleError as exc:
            raise ValueError(str(exc)) from None
        return self

    def settings(self, negative: bool) -> Settings:
        return Settings(profile=self.profile, dialect=self.dialect, negative=negative, mode="auto",
                        select=self.select, ignore=self.ignore)


def bundled_profile(value: str) -> str:
    """``value`` when it is a bundled profile's id; else ValueError, with one message for any other value (a
    path that exists or not, ``../``): a web request never names a file, nor learns whether one exists."""
    from ..profiles import bundled_ids

    if value not in bundled_ids():
        shown = value if len(value) <= 60 else value[:60] + "..."
        raise ValueError(f"unknown profile {shown!r}; bundled profiles: {', '.join(bundled_ids())}")
    return value


def _directive_profile(text: str) -> None:
    """A ``# promptkit: profile=...`` directive in a request's text names a bundled profile too."""
    directive = parse_directive(text)[0]
    if directive.profile is not None:
        try:
            bundled_profile(directive.profile)
        except ValueError as exc:
            raise ValueError(f"the text's '# promptkit:' directive: {exc}") from None


class AnalyzeRequest(Target):
    prompt: str = Field("", max_length=MAX_TEXT)
    negative_prompt: str = Field("", max_length=MAX_TEXT)

    @model_validator(mode="after")
    def _directives(self) -> "AnalyzeRequest":
        _directive_profile(self.prompt)
        _directive_profile(self.negative_prompt)
        return self


class TextRequest(Target):
    text: str = Field(max_length=MAX_TEXT)
    negative: bool = False

    @model_validator(mode="after")
    def _directives(self) -> "TextRequest":
        _directive_profile(self.text)
        return self


class PositionRequest(TextRequest):
    offset: int = Field(ge=0, description="UTF-16 offset of the caret or the mouse")

    @model_validator(mode="after")
    def _inside(self) -> "PositionRequest":
        if self.offset > len(self.text.encode("utf-16-le", "surrogatepass")) // 2:
            raise ValueError(f"offset {self.offset} is past the end of the text")
        return self


class FixRequest(TextRequest):
    code: str | None = Field(None, max_length=20, description="the finding to fix: its code, start and end")
    start: int | None = Field(None, ge=0)
    end: int | None = Field(None, ge=0)
    all: bool = Field(False, description="apply every safe fix instead (``unsafe``: unsafe ones too)")
    unsafe: bool = False

    @model_validator(mode="after")
    def _which(self) -> "FixRequest":
        if not self.all and (self.code is None or self.start is None or self.end is None):
            raise ValueError("name the finding (code, start, end) or ask for all fixes (all: true)")
        return self


class Edit(BaseModel):
    start: int
    end: int
    replacement: str


class FixModel(BaseModel):
    description: str
    safe: bool
    edits: list[Edit]


class Finding(BaseModel):
    code: str
    name: str
    severity: Literal["error", "warning", "info"]
    message: str
    start: int
    end: int
    suggestions: list[str] = []
    fix: FixModel | None = None
    negative: bool = False


class Token(BaseModel):
    text: str
    weight: float
    start: int
    end: int


class Chunk(BaseModel):
    ended: Literal["break", "full", "backtrack", "end"] = Field(
        description="BREAK, 75 tokens, moved back to the last comma (A1111's backtrack), or the last chunk")
    tokens: list[Token]


class Chunks(BaseModel):
    chunks: list[Chunk] = Field(description="the first 200 chunks")
    chunk_total: int
    token_count: int
    max_chunks: int | None


class Conversion(BaseModel):
    dialect: str
    text: str | None
    error: str | None


class PromptAnalysis(BaseModel):
    findings: list[Finding] = Field(description=f"the first {MAX_FINDINGS} findings, in source order")
    finding_total: int = 0
    chunks: Chunks | None = None
    conversions: list[Conversion] | None = None


class AnalyzeResponse(BaseModel):
    profile: str
    dialect: str
    prompt: PromptAnalysis
    negative_prompt: PromptAnalysis


class TextResponse(BaseModel):
    text: str
    changed: bool


class CompletionItem(BaseModel):
    label: str
    insert: str
    detail: str | None = None
    kind: str


class CompletionResponse(BaseModel):
    start: int
    end: int
    items: list[CompletionItem]


class HoverResponse(BaseModel):
    info: dict[str, Any] | None


class Api:
    """The handlers, over three analysis processes: one for findings and rewrites, one for completion and hover,
    one for texts over ``HEAVY_TEXT`` characters (see the module docstring). All read bundled data only."""

    def __init__(self) -> None:
        self.lint_worker = Worker("playground-lint", bundled_only=True)
        self.lookup_worker = Worker("playground-lookup", bundled_only=True)
        self.heavy_worker = Worker("playground-heavy", bundled_only=True)
        self._heavy_slots = threading.BoundedSemaphore(HEAVY_WAITING)
        self._catalogues: dict[str, Any] = {}

    def close(self) -> None:
        self.lint_worker.close()
        self.lookup_worker.close()
        self.heavy_worker.close()

    def _route(self, worker: Worker, size: int):
        """The process for a text of ``size`` characters, and a slot among the heavy ones when it is large."""
        if size <= HEAVY_TEXT:
            return worker, None
        if not self._heavy_slots.acquire(blocking=False):
            raise ApiError(503, f"{HEAVY_WAITING} large texts are being analysed; try again in a minute")
        return self.heavy_worker, self._heavy_slots

    def warm(self, profile: str | None = None) -> None:
        self.lint_worker.call("warm", {"profile": profile, "full": True}, timeout=120.0)
        self.lookup_worker.call("warm", {"profile": profile, "full": False}, timeout=120.0)

    @staticmethod
    def _ref(role: str, text: str, settings: Settings) -> DocumentRef:
        return DocumentRef(role, hash((text, settings.model_dump_json())) & 0x7FFFFFFF, text, None, settings)

    def _call(self, worker: Worker, method: str, ref: DocumentRef | None, params: dict | None = None):
        worker, slot = self._route(worker, len(ref.text) if ref is not None else 0)
        try:
            return worker.call(method, params, ref)
        except WorkerError as exc:
            if exc.kind in ("memory", "timeout", "crash"):
                raise ApiError(422, f"promptkit could not analyse this text: {exc}") from None
            raise ApiError(500, f"promptkit failed on this request: {exc}") from None
        finally:
            if slot is not None:
                slot.release()

    def catalogue(self, name: str) -> Any:
        if name not in self._catalogues:
            self._catalogues[name] = self._call(self.lint_worker, name, None)
        return self._catalogues[name]

    def analyze(self, req: AnalyzeRequest) -> AnalyzeResponse:
        worker, slot = self._route(self.lint_worker, len(req.prompt) + len(req.negative_prompt))
        try:
            return self._analyze(req, worker)
        finally:
            if slot is not None:
                slot.release()

    def _analyze(self, req: AnalyzeRequest, worker: Worker) -> AnalyzeResponse:
        out: dict[str, Any] = {}
        dialect = req.dialect
        for role, text, negative in (("prompt", req.prompt, False), ("negative_prompt", req.negative_prompt, True)):
            ref = self._ref(role, text, req.settings(negative))
            units = Utf16Offsets(text)
            try:
                result = worker.call("lint", None, ref)
                findings = result["findings"]
                dialect = result["dialect"]
            except WorkerError as exc:
                out[role] = PromptAnalysis(findings=[Finding(**analysis.failure_finding(exc, len(text)))],
                                           finding_total=1)
                continue
            part: dict[str, Any] = {"findings": [_finding_units(f, units) for f in findings[:MAX_FINDINGS]],
                                    "finding_total": len(findings)}
            if role == "prompt" and not any(f["code"] == "settings" for f in findings):
                try:
                    chunks = worker.call("chunks", None, ref)
                    part["chunks"] = _chunks_units(chunks, units) if chunks else None
                    part["conversions"] = worker.call("conversions", None, ref)
                except WorkerError:
                    part["chunks"] = part["conversions"] = None
            out[role] = PromptAnalysis(**part)
        return AnalyzeResponse(profile=req.profile, dialect=dialect or "a1111", **out)

    def fix(self, req: FixRequest) -> TextResponse:
        ref = self._ref("fix", req.text, req.settings(req.negative))
        units = Utf16Offsets(req.text)
        if req.all:
            edits = self._call(self.lint_worker, "fix_all", ref, {"unsafe": req.unsafe})
        else:
            start, end = units.from_units(req.start), units.from_units(req.end)
            findings = self._call(self.lint_worker, "lint", ref)["findings"]
            match = next((f for f in findings if f["code"] == req.code and f["start"] == start and f["end"] == end
                          and f.get("fix")), None)
            if match is None:
                raise ApiError(409, f"no finding {req.code} with a fix at {req.start}-{req.end} in this text "
                                    "(it changed since?)")
            edits = match["fix"]["edits"]
        text = analysis.apply_edits(req.text, edits)
        return TextResponse(text=text, changed=text != req.text)

    def format(self, req: TextRequest) -> TextResponse:
        edits = self._call(self.lint_worker, "format", self._ref("fix", req.text, req.settings(req.negative)))
        text = analysis.apply_edits(req.text, edits)
        return TextResponse(text=text, changed=text != req.text)

    def complete(self, req: PositionRequest) -> CompletionResponse:
        units = Utf16Offsets(req.text)
        ref = self._ref("edit", req.text, req.settings(req.negative))
        result = self._call(self.lookup_worker, "complete", ref, {"offset": units.from_units(req.offset)})
        return CompletionResponse(start=units.to_units(result["start"]), end=units.to_units(result["end"]),
                                  items=[CompletionItem(**{k: i.get(k) for k in ("label", "insert", "detail", "kind")})
                                         for i in result["items"]])

    def hover(self, req: PositionRequest) -> HoverResponse:
        units = Utf16Offsets(req.text)
        ref = self._ref("edit", req.text, req.settings(req.negative))
        info = self._call(self.lookup_worker, "hover", ref, {"offset": units.from_units(req.offset)})
        if info:
            info["start"], info["end"] = units.to_units(info["start"]), units.to_units(info["end"])
        return HoverResponse(info=info)


def _finding_units(f: dict, units: Utf16Offsets) -> dict:
    out = dict(f, start=units.to_units(f["start"]), end=units.to_units(f["end"]))
    if f.get("fix"):
        out["fix"] = dict(f["fix"], edits=[dict(e, start=units.to_units(e["start"]), end=units.to_units(e["end"]))
                                           for e in f["fix"]["edits"]])
    return out


def _chunks_units(view: dict, units: Utf16Offsets) -> dict:
    for chunk in view["chunks"]:
        for t in chunk["tokens"]:
            t["start"], t["end"] = units.to_units(t["start"]), units.to_units(t["end"])
    return view


ROUTES = {
    "/api/analyze": (AnalyzeRequest, Api.analyze),
    "/api/fix": (FixRequest, Api.fix),
    "/api/format": (TextRequest, Api.format),
    "/api/complete": (PositionRequest, Api.complete),
    "/api/hover": (PositionRequest, Api.hover),
}
CATALOGUES = {"/api/profiles": "profiles", "/api/rules": "rules"}
