"""``PromptEncoder``: parsed prompts -> the exact keyword arguments a diffusers pipeline takes.

Per architecture (shared/reference/diffusers-runners.md 1.1-1.2):

| arch | encoder output used | pooled |
|---|---|---|
| sd1 | ``last_hidden_state``; A1111 clip skip N>1: ``final_layer_norm(hidden_states[-N])`` | - |
| sd2 | ``last_hidden_state`` (OpenCLIP-H, padded with 0 after the first EOS) | - |
| sdxl | ``hidden_states[-2]`` of CLIP-L and of bigG (padded with 0), concatenated | bigG ``text_embeds`` |
| cascade | bigG ``hidden_states[-1]`` with the attention mask, one 77-token chunk | ``text_embeds`` as (B,1,1280) |

Long prompts are cut into 75-token chunks exactly as A1111 does (BREAK, comma backtrack, see
``promptkit.tokens.chunks``), every chunk of the positive and negative prompts goes through each text
encoder in one batched forward pass, identical chunks are encoded once (an LRU cache keyed by token ids,
mask and layer), and weights are applied afterwards by the chosen weighting (``weighting.py``).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable

import torch

from ..syntax import Prompt, parse
from ..syntax.ast import Alternation, And, Blend, Break, Embedding, ExtraNetwork, Schedule, Swap, Text
from ..tokens.chunks import CHUNK_LENGTH, ChunkPlan, embedding_index, plan_chunks
from ..tokens.clip import BOS, EOS, clip_bpe
from . import comfy_mode, compel_mode
from .weighting import WEIGHTINGS, a1111_no_norm, a1111_original, lerp_from_empty


class UnsupportedPrompt(ValueError):
    """The prompt uses something this encoder and weighting cannot honour; the message names it.

    promptkit never encodes syntax as text and never guesses: a blend in A1111 weighting, a schedule passed
    to ``encode`` (use ``schedule``), ``AND`` (use ``encode_subprompts``), BREAK where ComfyUI or compel has
    none, an embedding that is not loaded, a prompt compel itself rejects.
    """

ARCHITECTURES = ("sd1", "sd2", "sdxl", "cascade")


@dataclass
class _Tower:
    """One text encoder and how its output is read."""

    model: Any
    pad_id: int
    layer: int | None  # None: last_hidden_state; else an index into hidden_states
    final_norm: bool  # apply the final layer norm to an intermediate layer (SD1 clip skip)
    pooled: bool  # read text_embeds / pooler output
    mask: bool  # pass the attention mask (Stable Cascade)

    def ids(self, tokens: list[int]) -> tuple[int, ...]:
        body = [BOS] + tokens + [EOS]
        return tuple(body + [self.pad_id] * (CHUNK_LENGTH + 2 - len(body)))

    def mask_for(self, ids: tuple[int, ...]) -> tuple[int, ...]:
        first_eos = ids.index(EOS)
        return tuple(1 if i <= first_eos else 0 for i in range(len(ids)))


@dataclass
class _Chunk:
    tokens: list[int]
    weights: list[float]
    fixes: tuple[tuple[int, str], ...] = ()  # textual inversion: (token position, embedding name)


class PromptEncoder:
    """Encode prompts for a diffusers pipeline with A1111, ComfyUI or compel weighting.

    Build it with :meth:`from_pipeline` or from components. ``clip_skip`` has A1111's meaning (2 = the
    penultimate layer); for SDXL and Stable Cascade the architecture's fixed layer is used, as in A1111.
    """

    def __init__(self, tokenizer: Any = None, text_encoder: Any = None, tokenizer_2: Any = None,
                 text_encoder_2: Any = None, weighting: str = "a1111", clip_skip: int | None = None,
                 dialect: str = "a1111", architecture: str | None = None, pooled: str = "first",
                 backtrack: int = 20, zero_empty_negative: bool | None = None, cache_size: int = 512) -> None:
        if weighting not in WEIGHTINGS:
            raise ValueError(f"unknown weighting {weighting!r}; choose one of {', '.join(WEIGHTINGS)}")
        if pooled not in ("first", "last"):
            raise ValueError("pooled must be 'first' (A1111, ComfyUI) or 'last' (sd_embed)")
        if text_encoder is None:
            raise ValueError("a PromptEncoder needs at least text_encoder")
        self.architecture = architecture or _guess_architecture(text_encoder, text_encoder_2)
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"unknown architecture {self.architecture!r}; choose one of {', '.join(ARCHITECTURES)}")
        self.tokenizer, self.tokenizer_2 = tokenizer, tokenizer_2
        self.weighting = weighting
        self.clip_skip = clip_skip
        self.dialect = dialect
        self.pooled_from = pooled
        self.backtrack = backtrack
        self.zero_empty_negative = self.architecture == "sdxl" if zero_empty_negative is None else zero_empty_negative
        self.towers = self._towers(text_encoder, text_encoder_2, tokenizer, tokenizer_2)
        self.max_chunks = 1 if self.architecture == "cascade" else None
        self.embeddings: dict[str, list[torch.Tensor]] = {}  # name -> vectors per tower
        self._cache: OrderedDict[tuple, tuple[torch.Tensor, torch.Tensor | None]] = OrderedDict()
        self.cache_size = cache_size
        self.forward_passes = 0  # how many batched encoder calls were made (for tests and benchmarks)

    # -- construction -------------------------------------------------------------------------------------
    @classmethod
    def from_pipeline(cls, pipe: Any, weighting: str = "a1111", clip_skip: int | None = None,
                      dialect: str = "a1111", profile: Any = None, **kwargs: Any) -> "PromptEncoder":
        """Take the tokenizers and text encoders of a diffusers pipeline (SD1/2, SDXL, Stable Cascade)."""
        if profile is not None:
            from ..profiles import load_profile

            prof = load_profile(profile) if isinstance(profile, str) else profile
            clip_skip = clip_skip if clip_skip is not None else prof.clip_skip
            dialect = prof.dialect if dialect == "a1111" else dialect
        name = type(pipe).__name__
        if hasattr(pipe, "prior_text_encoder"):  # StableCascadeCombinedPipeline
            return cls(pipe.prior_tokenizer, pipe.prior_text_encoder, weighting=weighting, dialect=dialect,
                       architecture="cascade", **kwargs)
        if "Cascade" in name:
            return cls(pipe.tokenizer, pipe.text_encoder, weighting=weighting, dialect=dialect,
                       architecture="cascade", **kwargs)
        return cls(pipe.tokenizer, pipe.text_encoder, getattr(pipe, "tokenizer_2", None),
                   getattr(pipe, "text_encoder_2", None), weighting=weighting, clip_skip=clip_skip,
                   dialect=dialect, **kwargs)

    def _towers(self, te: Any, te2: Any, tok: Any, tok2: Any) -> list[_Tower]:
        arch = self.architecture
        if arch == "sd1":
            skip = self.clip_skip or 1
            return [_Tower(te, EOS, None if skip <= 1 else -skip, skip > 1, False, False)]
        if arch == "sd2":
            return [_Tower(te, 0, None, False, False, False)]
        if arch == "sdxl":
            if te2 is None:
                raise ValueError("SDXL needs text_encoder_2 (OpenCLIP bigG)")
            pad2 = getattr(tok2, "pad_token_id", 0) if tok2 is not None else 0
            return [_Tower(te, EOS, -2, False, False, False), _Tower(te2, pad2 if pad2 is not None else 0, -2, False,
                                                                    True, False)]
        pad = getattr(tok, "pad_token_id", EOS) if tok is not None else EOS
        return [_Tower(te, EOS if pad is None else pad, -1, False, True, True)]

    # -- token planning -----------------------------------------------------------------------------------
    def _parse(self, prompt: str | Prompt) -> Prompt:
        return prompt if isinstance(prompt, Prompt) else parse(prompt, self.dialect)

    def _chunks(self, prompt: Prompt) -> list[_Chunk]:
        if self.weighting == "comfy":
            chunks = self._comfy_chunks(prompt)
        else:
            index = None
            if self.embeddings:
                index = embedding_index({name: len(vectors[0]) for name, vectors in self.embeddings.items()})
            plan: ChunkPlan = plan_chunks(prompt, self.backtrack, embeddings=index)
            chunks = [_Chunk([t.id for t in c.tokens], [t.weight for t in c.tokens], tuple(c.fixes))
                      for c in plan.chunks]
        if self.max_chunks is not None:
            chunks = chunks[: self.max_chunks]  # Stable Cascade reads 77 tokens; the rest is dropped
        return chunks

    def _tokenize(self, text: str) -> list[int]:
        """Token ids of ``text`` without BOS/EOS, from the pipeline's tokenizer (what ComfyUI and compel use)."""
        tok = self.tokenizer
        if tok is None:
            return clip_bpe().encode(text)
        ids = tok(text, truncation=False)["input_ids"]
        if ids and ids[0] == BOS:
            ids = ids[1:]
        if ids and ids[-1] == EOS:
            ids = ids[:-1]
        return ids

    def _token_text(self, token: int) -> str:
        if self.tokenizer is not None:
            return self.tokenizer.convert_ids_to_tokens(token)
        return clip_bpe().decoder[token]

    def _comfy_chunks(self, prompt: Prompt) -> list[_Chunk]:
        """ComfyUI's chunks: each weighted segment tokenized on its own, then ComfyUI's word wrapping."""
        from ..syntax.dialects.comfy import comfy_segments

        if prompt.dialect == "comfy":
            segments = comfy_segments(prompt.children)
        else:  # what ComfyUI makes of the prompt written in its syntax: one segment per weighted run
            segments = [(text, weight, [Text(0, 0, text, text)]) for text, weight in self._runs(prompt)]

        def vector_count(name: str) -> int:
            return len(self.embeddings[name][0])

        groups = comfy_mode.segment_groups(segments, self._tokenize, vector_count)
        chunks = []
        for chunk in comfy_mode.chunk_groups(groups):
            fixes = []
            for position, (_, _, fix) in enumerate(chunk):
                if fix is not None:
                    name, index = fix
                    if fixes and fixes[-1][1] == name and fixes[-1][0] + fixes[-1][3] == position \
                            and fixes[-1][2] + fixes[-1][3] == index:
                        fixes[-1] = (fixes[-1][0], name, fixes[-1][2], fixes[-1][3] + 1)
                    else:
                        fixes.append((position, name, index, 1))
            chunks.append(_Chunk([t for t, _, _ in chunk], [w for _, w, _ in chunk], tuple(fixes)))
        return chunks

    def _runs(self, prompt: Prompt) -> list[tuple[str, float]]:
        """The prompt's text as runs of equal weight, without syntax (networks are no text)."""
        runs: list[list] = []
        for node, weight in prompt.leaf_weights():
            t = type(node)
            if t is ExtraNetwork:
                continue
            if t is Text:
                if node.kind == Text.BACKSLASH and prompt.dialect == "a1111":
                    continue
                value = node.value
            elif t is Embedding:
                value = node.name
            else:
                value = node.raw  # type: ignore[attr-defined]
            if runs and runs[-1][1] == weight:
                runs[-1][0] += value
            else:
                runs.append([value, weight])
        return [(text, weight) for text, weight in runs]

    # -- encoding -----------------------------------------------------------------------------------------
    def _run(self, tower: _Tower, requests: list[tuple]) -> dict[tuple, tuple[torch.Tensor, torch.Tensor | None]]:
        """Encode every uncached (ids, mask, fixes) request of one tower in a single batched forward pass.

        Returns the (hidden, pooled) of every request of this call, so results stay available even when the
        batch is larger than the cache."""
        key_base = (id(tower.model), tower.layer, tower.final_norm)
        found: dict[tuple, tuple[torch.Tensor, torch.Tensor | None]] = {}
        todo = []
        for request in requests:
            if request in found:
                continue
            cached = self._cache.get(key_base + request)
            if cached is not None:
                self._cache.move_to_end(key_base + request)
                found[request] = cached
            elif request not in todo:
                todo.append(request)
        if not todo:
            return found
        model = tower.model
        device = next(model.parameters()).device
        input_ids = torch.tensor([ids for ids, _, _ in todo], dtype=torch.long, device=device)
        kwargs: dict[str, Any] = {"output_hidden_states": True}
        if any(mask is not None for _, mask, _ in todo):
            kwargs["attention_mask"] = torch.tensor([m if m is not None else (1,) * len(i) for i, m, _ in todo],
                                                    dtype=torch.long, device=device)
        hook = None
        if any(fixes for _, _, fixes in todo):
            hook = model.get_input_embeddings().register_forward_hook(self._embedding_hook(tower, todo))
        try:
            with torch.no_grad():
                out = model(input_ids, **kwargs)
        finally:
            if hook is not None:
                hook.remove()
        self.forward_passes += 1
        if tower.layer is None:
            hidden = out.last_hidden_state
        else:
            hidden = out.hidden_states[tower.layer]
            if tower.final_norm:
                hidden = getattr(model, "text_model", model).final_layer_norm(hidden)
        pooled = None
        if tower.pooled:
            pooled = out.text_embeds if getattr(out, "text_embeds", None) is not None else out.pooler_output
        for i, request in enumerate(todo):
            found[request] = self._cache[key_base + request] = (hidden[i], pooled[i] if pooled is not None else None)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return found

    def _embedding_hook(self, tower: _Tower, todo: list[tuple]):
        """Replace placeholder rows by textual-inversion vectors after the token-embedding lookup (A1111's way)."""
        index = self.towers.index(tower)

        def hook(module, inputs, output):
            output = output.clone()
            for row, (_, _, fixes) in enumerate(todo):
                for fix in fixes:
                    position, name = fix[0], fix[1]
                    vectors = self.embeddings[name][index].to(output.dtype).to(output.device)
                    if len(fix) == 4:  # a part of the vectors (ComfyUI splits a long embedding across chunks)
                        vectors = vectors[fix[2]:fix[2] + fix[3]]
                    output[row, position + 1:position + 1 + len(vectors)] = vectors  # +1: BOS
            return output

        return hook

    def _requests(self, tower: _Tower, chunks: list[_Chunk]) -> list[tuple]:
        out = []
        for chunk in chunks:
            ids = tower.ids(chunk.tokens)
            out.append((ids, tower.mask_for(ids) if tower.mask else None, chunk.fixes))
        return out

    def load_embedding(self, path: str, name: str | None = None) -> str:
        """Load a textual-inversion embedding from a local ``.safetensors`` file; it is used where ``name``
        (default: the file name) appears in a prompt, as in A1111. SD1/SD2 files hold ``emb_params``,
        SDXL files ``clip_l`` and ``clip_g``."""
        from pathlib import Path

        from safetensors.torch import load_file

        tensors = load_file(path)
        name = name or Path(path).stem
        if self.architecture == "sdxl":
            missing = {"clip_l", "clip_g"} - set(tensors)
            if missing:
                raise ValueError(f"{path}: an SDXL embedding needs clip_l and clip_g, missing {sorted(missing)}")
            vectors = [tensors["clip_l"], tensors["clip_g"]]
        else:
            key = "emb_params" if "emb_params" in tensors else next(iter(tensors))
            vectors = [tensors[key]]
        for tower, vec in zip(self.towers, vectors):
            width = tower.model.get_input_embeddings().weight.shape[1]
            if vec.ndim != 2 or vec.shape[1] != width:
                raise ValueError(f"{path}: vectors of shape {tuple(vec.shape)} do not fit a {width}-wide text encoder")
        self.embeddings[name] = vectors
        return name

    def _encode_chunks(self, groups: list[list[_Chunk]]) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
        """Encode several prompts' chunk lists together; returns (embeds (1,77k,C), pooled) per prompt."""
        empty = _Chunk([], [])
        encoded = []  # per tower: this call's (hidden, pooled) by request
        for tower in self.towers:
            requests = [r for chunks in groups for r in self._requests(tower, chunks)]
            requests += self._requests(tower, [empty])
            encoded.append(self._run(tower, requests))
        results = []
        for chunks in groups:
            per_tower = []
            pooled = None
            for tower, found in zip(self.towers, encoded):
                reqs = self._requests(tower, chunks)
                z = torch.stack([found[request][0] for request in reqs])
                w = torch.tensor([[1.0] + c.weights + [1.0] * (CHUNK_LENGTH + 1 - len(c.weights)) for c in chunks],
                                 dtype=z.dtype, device=z.device)
                z = self._weigh(tower, found, z, w)
                per_tower.append(z.reshape(1, -1, z.shape[-1]))
                if tower.pooled:
                    pooled = found[reqs[0] if self.pooled_from == "first" else reqs[-1]][1]
            embeds = torch.cat(per_tower, dim=-1) if len(per_tower) > 1 else per_tower[0]
            results.append((embeds, pooled[None] if pooled is not None else None))
        return results

    def _weigh(self, tower: _Tower, found: dict, z: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        if bool((w == 1.0).all()):
            return z
        if self.weighting == "a1111":
            weighted = a1111_original(z, w)
            if not bool(torch.isfinite(weighted).all()):
                raise UnsupportedPrompt("A1111's weighting rescales each chunk by its mean before / its mean after the "
                                        "weights; here a weighted chunk's mean is 0, so A1111 itself would give NaN or "
                                        "infinite embeddings: change the weights, or use weighting='a1111-no-norm'")
            return weighted
        if self.weighting == "a1111-no-norm":
            return a1111_no_norm(z, w)
        empty = found[self._requests(tower, [_Chunk([], [])])[0]][0]
        return lerp_from_empty(z, w, empty)  # comfy

    @staticmethod
    def _pad(chunks: list[_Chunk], count: int) -> list[_Chunk]:
        return chunks + [_Chunk([], []) for _ in range(count - len(chunks))]

    def check(self, prompt: str | Prompt) -> Prompt:
        """The parsed prompt, or :class:`UnsupportedPrompt` naming what this encoder cannot honour in it."""
        prompt = self._parse(prompt)
        weighting = self.weighting
        for node in prompt.walk():
            t = type(node)
            if t is Schedule or t is Alternation:
                raise UnsupportedPrompt("this prompt uses prompt editing or alternation "
                                        f"({prompt.source[node.start:node.end]}); use encoder.schedule(prompt, steps)")
            if t is And:
                raise UnsupportedPrompt("this prompt has AND sub-prompts; use encoder.encode_subprompts(prompt)")
            if t is Break and weighting in ("comfy", "compel"):
                instead = "ComfyUI joins prompts with ConditioningConcat" if weighting == "comfy" else "compel uses .and()"
                raise UnsupportedPrompt(f"the {weighting} weighting has no BREAK ({instead}); use the a1111 "
                                        "weighting or split the prompt")
            if (t is Blend or t is Swap) and weighting != "compel":
                what = f".{node.op}()" if t is Blend else "a cross-attention .swap()"
                raise UnsupportedPrompt(f"{what} is compel's: only the compel weighting encodes it "
                                        f"({prompt.source[node.start:node.end]!r})")
            if t is Embedding and node.name not in self.embeddings:  # type: ignore[attr-defined]
                raise UnsupportedPrompt(f"{node.raw} is not loaded; load it with encoder.load_embedding(path)")  # type: ignore
        for node, weight in prompt.leaf_weights():
            if not math.isfinite(weight):
                raise UnsupportedPrompt(f"{prompt.source[node.start:node.end]!r} has the weight {weight}: its "
                                        "embeddings would be infinite or NaN")
        if weighting == "compel":
            if self.architecture == "cascade":
                raise UnsupportedPrompt("compel has no Stable Cascade mode; use the a1111 or comfy weighting")
            if self.embeddings:
                raise UnsupportedPrompt("textual inversion is not reproduced in the compel weighting "
                                        "(compel takes it from diffusers' tokenizer)")
            conj = self._compel_conjunction(prompt)
            for tower in self.towers:  # what compel fails on only once it tokenizes
                self._compel_job(tower, conj)
        return prompt

    def _compel_job(self, tower: _Tower, conj) -> "_CompelJob":
        try:
            return _CompelJob(self, tower, conj)
        except compel_mode.CompelCannotEncode as exc:
            raise UnsupportedPrompt(f"compel 2.5.1: {exc}") from None

    def _compel_conjunction(self, prompt: Prompt):
        """compel's reading of the prompt (a compel prompt exactly as compel reads it; another dialect's prompt
        as its runs of equal weight), or UnsupportedPrompt with compel's own reason."""
        from ..syntax.dialects.compel import CompelConjunction, CompelFragment, CompelRejects, compel_conjunction

        try:
            if prompt.dialect == "compel":
                conj = compel_conjunction(prompt.source)
            else:
                conj = CompelConjunction([[CompelFragment(t, w) for t, w in self._runs(prompt)]], [1.0], [])
            compel_mode.check_conjunction(conj)
        except (CompelRejects, compel_mode.CompelCannotEncode) as exc:
            raise UnsupportedPrompt(f"compel 2.5.1: {exc}") from None
        return conj

    def networks(self, prompt: str | Prompt) -> list[tuple[str, str, float]]:
        """The extra networks a prompt asks for, (kind, name, strength) in order: A1111's ``<lora:x:0.8>`` and
        compel's ``withLora(x, 0.8)``. They are never encoded as text; load them into the pipeline."""
        prompt = self._parse(prompt)
        return [(n.kind, n.name, n.multiplier) for n in prompt.loras]

    def encode(self, prompt: str | Prompt, negative: str | Prompt | None = None) -> dict[str, torch.Tensor]:
        """Keyword arguments for ``pipe(**kw)``: embeddings (and pooled ones) of ``prompt`` and ``negative``."""
        positive = self.check(prompt)
        neg = self.check(negative if negative is not None else "")
        return self._encode_pair([positive], neg)[0]

    def _encode_pair(self, positives: list[Prompt], negative: Prompt) -> list[dict[str, torch.Tensor]]:
        if self.weighting == "compel":
            encoded = self._encode_compel(positives + [negative])
            encoded = _pad_with(encoded, self._empty_embeds())
        elif self.weighting == "comfy":
            # ComfyUI does not pad a shorter prompt: it repeats each to a common length when it batches them,
            # which leaves attention unchanged. The same here, so diffusers gets one length.
            encoded = _repeat_to_common_length(self._encode_chunks([self._chunks(p) for p in positives + [negative]]))
        else:
            groups = [self._chunks(p) for p in positives]
            neg_chunks = self._chunks(negative)
            count = max(len(c) for c in groups + [neg_chunks])
            groups = [self._pad(c, count) for c in groups]
            neg_chunks = self._pad(neg_chunks, count)
            encoded = self._encode_chunks(groups + [neg_chunks])
        neg_embeds, neg_pooled = encoded[-1]
        if self.zero_empty_negative and not negative.source.strip():
            neg_embeds = torch.zeros_like(neg_embeds)
            neg_pooled = torch.zeros_like(neg_pooled) if neg_pooled is not None else None
        return [self._kwargs(e, p, neg_embeds, neg_pooled) for e, p in encoded[:-1]]

    # -- compel ---------------------------------------------------------------------------------------------
    def _empty_embeds(self) -> torch.Tensor:
        """The encoding of ``[BOS, EOS, pad...]`` of every tower side by side: (1, 77, C)."""
        parts = []
        for tower in self.towers:
            request = self._requests(tower, [_Chunk([], [])])[0]
            parts.append(self._run(tower, [request])[request][0][None])
        return torch.cat(parts, dim=-1)

    def _encode_compel(self, prompts: list[Prompt]) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
        """compel's conditioning of each prompt (see ``compel_mode``), every request of all of them batched."""
        conjunctions = [self._compel_conjunction(p) for p in prompts]
        per_tower = []
        for tower in self.towers:
            jobs = [self._compel_job(tower, conj) for conj in conjunctions]
            empty = self._requests(tower, [_Chunk([], [])])[0]
            found = self._run(tower, [r for job in jobs for r in job.requests] + [empty])
            per_tower.append([job.assemble(found, found[empty][0]) for job in jobs])
        out = []
        for i in range(len(prompts)):
            embeds = [results[i][0] for results in per_tower]
            pooled = None
            for tower, results in zip(self.towers, per_tower):
                if tower.pooled:
                    pooled = results[i][1]
            out.append((torch.cat(embeds, dim=-1) if len(embeds) > 1 else embeds[0],
                        pooled[None] if pooled is not None else None))
        return out

    def _kwargs(self, embeds, pooled, neg_embeds, neg_pooled) -> dict[str, torch.Tensor]:
        if self.architecture == "sdxl":
            return {"prompt_embeds": embeds, "pooled_prompt_embeds": pooled,
                    "negative_prompt_embeds": neg_embeds, "negative_pooled_prompt_embeds": neg_pooled}
        if self.architecture == "cascade":
            return {"prompt_embeds": embeds, "prompt_embeds_pooled": pooled[:, None],
                    "negative_prompt_embeds": neg_embeds, "negative_prompt_embeds_pooled": neg_pooled[:, None]}
        return {"prompt_embeds": embeds, "negative_prompt_embeds": neg_embeds}

    # -- AND and scheduling -------------------------------------------------------------------------------
    def encode_subprompts(self, prompt: str | Prompt, negative: str | Prompt | None = None
                          ) -> list[tuple[float, dict[str, torch.Tensor]]]:
        """``AND`` parts encoded separately (one batched pass), each with its composable-diffusion weight."""
        parsed = self._parse(prompt)
        parts = parsed.subprompts
        prompts = [self.check(parse(p.text, self.dialect)) for p in parts]
        neg = self.check(negative if negative is not None else "")
        encoded = self._encode_pair(prompts, neg)
        return [(part.weight, kw) for part, kw in zip(parts, encoded)]

    def schedule(self, prompt: str | Prompt, steps: int, negative: str | Prompt | None = None,
                 hires_steps: int | None = None) -> "PromptSchedule":
        """Embeddings per step range for A1111 prompt editing ``[a:b:when]`` and alternation ``[a|b]``."""
        from ..syntax.schedule import prompt_schedules

        text = prompt.source if isinstance(prompt, Prompt) else prompt
        plan = prompt_schedules(text, steps, hires_steps)
        distinct = list(dict.fromkeys(t for _, t in plan))
        neg = self.check(negative if negative is not None else "")
        encoded = dict(zip(distinct, self._encode_pair([self.check(parse(t, self.dialect)) for t in distinct], neg)))
        return PromptSchedule([(end, encoded[t]) for end, t in plan], self.architecture)


class _CompelJob:
    """One prompt's compel conditioning for one tower: the encoder requests it needs, and their assembly."""

    def __init__(self, encoder: PromptEncoder, tower: _Tower, conj) -> None:
        from ..syntax.dialects.compel import CompelBlend, CompelSwap

        self.tower = tower
        self.conj = conj
        bos, eos, pad = BOS, EOS, tower.pad_id

        def plan(fragments):
            return compel_mode.plan_tokens(fragments, encoder._tokenize, encoder._token_text, bos, eos, pad)

        self.parts = []  # ("plain", plan, pad_to) | ("blend", [plans], weights, normalize)
        for part in conj.parts:
            if type(part) is CompelBlend:
                self.parts.append(("blend", [plan(p) for p in part.prompts], part.weights, part.normalize))
            elif any(type(x) is CompelSwap for x in part):
                original = plan(compel_mode.original_side(part))
                edited = compel_mode.chunk_count(compel_mode.edited_side(part), encoder._tokenize, encoder._token_text)
                self.parts.append(("plain", original, max(edited, original.chunks)))
            else:
                fragments_plan = plan(part)
                self.parts.append(("plain", fragments_plan, fragments_plan.chunks))
        self.requests = [r for p in self._plans() for r in self._plan_requests(p)]

    def _plans(self):
        for part in self.parts:
            yield from (part[1] if part[0] == "blend" else [part[1]])

    def _plan_requests(self, plan) -> list[tuple]:
        out = []
        for mask in [plan.mask] + [m for _, m in plan.masked]:
            for k in range(plan.chunks):
                out.append((tuple(plan.ids[k * 77:(k + 1) * 77]), tuple(mask[k * 77:(k + 1) * 77]), ()))
        return out

    def _embed(self, plan, found: dict, empty: torch.Tensor) -> torch.Tensor:
        """``get_embeddings_for_weighted_prompt_fragments`` of one plan: (77 * chunks, C)."""
        w = torch.tensor(plan.weights, dtype=empty.dtype, device=empty.device).reshape(plan.chunks, 77)

        def encoded(mask: list[int]) -> torch.Tensor:
            z = torch.stack([found[(tuple(plan.ids[k * 77:(k + 1) * 77]), tuple(mask[k * 77:(k + 1) * 77]), ())][0]
                             for k in range(plan.chunks)])
            if not bool((w == 1.0).all()):
                z = lerp_from_empty(z, w, empty)
            return z.reshape(-1, z.shape[-1])

        base = encoded(plan.mask)
        if not plan.masked:
            return base
        stack = torch.stack([base] + [encoded(m) for _, m in plan.masked])
        coefficients = torch.tensor(compel_mode.downweight_coefficients([weight for weight, _ in plan.masked]),
                                    dtype=base.dtype, device=base.device)
        coefficients = coefficients / torch.sum(coefficients)
        return torch.sum(stack * coefficients.reshape(-1, 1, 1), dim=0)

    def assemble(self, found: dict, empty: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        def padded(z: torch.Tensor, chunks: int) -> torch.Tensor:
            missing = chunks - z.shape[0] // 77
            return torch.cat([z] + [empty] * missing) if missing > 0 else z

        pieces = []
        for part, weight in zip(self.parts, self.conj.weights):
            if part[0] == "blend":
                _, plans, weights, normalize = part
                zs = [self._embed(p, found, empty) for p in plans]
                longest = max(z.shape[0] // 77 for z in zs)
                zs = torch.stack([padded(z, longest) for z in zs])
                w = torch.tensor(weights, dtype=zs.dtype, device=zs.device)
                if normalize:
                    w = w / torch.sum(w)
                z = torch.sum(zs * w.reshape(-1, 1, 1), dim=0)
            else:
                z = padded(self._embed(part[1], found, empty), part[2])
            if weight != 1:
                empty_part = padded(empty, z.shape[0] // 77)
                z = empty_part + (z - empty_part) * weight
            pieces.append(z)
        first = next(self._plans())
        pooled = found[(tuple(first.ids[:77]), tuple(first.mask[:77]), ())][1] if self.tower.pooled else None
        return torch.cat(pieces)[None], pooled


def _pad_with(encoded: list[tuple[torch.Tensor, torch.Tensor | None]], empty: torch.Tensor):
    """compel's ``pad_conditioning_tensors_to_same_length``: shorter ones get ``empty`` chunks appended."""
    longest = max(e.shape[1] for e, _ in encoded)
    out = []
    for embeds, pooled in encoded:
        missing = (longest - embeds.shape[1]) // 77
        if missing:
            embeds = torch.cat([embeds] + [empty] * missing, dim=1)
        out.append((embeds, pooled))
    return out


def _repeat_to_common_length(encoded: list[tuple[torch.Tensor, torch.Tensor | None]]):
    """Repeat each embedding along the tokens to the least common multiple of their lengths (ComfyUI's
    ``CONDCrossAttn.concat``: repeated keys and values leave softmax attention unchanged)."""
    lengths = [e.shape[1] for e, _ in encoded]
    common = math.lcm(*lengths)
    return [(e.repeat(1, common // e.shape[1], 1) if e.shape[1] != common else e, p) for e, p in encoded]


def _guess_architecture(te: Any, te2: Any) -> str:
    if te2 is not None:
        return "sdxl"
    hidden = getattr(getattr(te, "config", None), "hidden_size", 768)
    return "sd2" if hidden == 1024 else "sd1"


class PromptSchedule:
    """Embeddings per step range, and a ``callback_on_step_end`` that swaps them during sampling.

    ``entries`` is ``[(last_step, kwargs)]`` with 1-based steps, as A1111 counts them.
    """

    def __init__(self, entries: list[tuple[int, dict[str, torch.Tensor]]], architecture: str) -> None:
        self.entries = entries
        self.architecture = architecture

    def at(self, step: int) -> dict[str, torch.Tensor]:
        """The kwargs for 1-based ``step``."""
        for end, kwargs in self.entries:
            if step <= end:
                return kwargs
        return self.entries[-1][1]

    @property
    def initial(self) -> dict[str, torch.Tensor]:
        return self.at(1)

    @property
    def tensor_inputs(self) -> list[str]:
        """What to pass as ``callback_on_step_end_tensor_inputs``."""
        return ["prompt_embeds", "add_text_embeds"] if self.architecture == "sdxl" else ["prompt_embeds"]

    def callback(self) -> Callable:
        """A ``callback_on_step_end`` that installs the next step's embeddings (classifier-free guidance layout)."""

        def on_step_end(pipe: Any, step_index: int, timestep: Any, callback_kwargs: dict) -> dict:
            kw = self.at(step_index + 2)  # the step about to run, 1-based
            current = callback_kwargs.get("prompt_embeds")
            if current is None:
                return callback_kwargs
            # the pipeline's batch layout: [negative] [positive] [positive again for perturbed-attention guidance]
            layout = ["positive"]
            if getattr(pipe, "do_classifier_free_guidance", True):
                layout.insert(0, "negative")
            if getattr(pipe, "do_perturbed_attention_guidance", False):
                layout.append("positive")
            per = current.shape[0] // len(layout)

            def stack(pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
                parts = [(neg if part == "negative" else pos) for part in layout]
                return torch.cat([t.repeat(per, *([1] * (t.dim() - 1))) for t in parts])

            callback_kwargs["prompt_embeds"] = stack(kw["prompt_embeds"], kw["negative_prompt_embeds"]).to(current.dtype)
            if self.architecture == "sdxl" and "add_text_embeds" in callback_kwargs:
                pooled = stack(kw["pooled_prompt_embeds"], kw["negative_pooled_prompt_embeds"])
                callback_kwargs["add_text_embeds"] = pooled.to(callback_kwargs["add_text_embeds"].dtype)
            return callback_kwargs

        return on_step_end
