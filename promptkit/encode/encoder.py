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

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable

import torch

from ..syntax import Prompt, parse
from ..syntax.ast import Alternation, And, Schedule
from ..tokens.chunks import CHUNK_LENGTH, ChunkPlan, embedding_index, plan_chunks
from ..tokens.clip import BOS, EOS
from .weighting import WEIGHTINGS, a1111_no_norm, a1111_original, compel_downweight_blend, lerp_from_empty

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
        index = None
        if self.embeddings:
            index = embedding_index({name: len(vectors[0]) for name, vectors in self.embeddings.items()})
        plan: ChunkPlan = plan_chunks(prompt, self.backtrack, embeddings=index)
        chunks = [_Chunk([t.id for t in c.tokens], [t.weight for t in c.tokens], tuple(c.fixes)) for c in plan.chunks]
        if self.max_chunks is not None:
            chunks = chunks[: self.max_chunks]  # Stable Cascade reads 77 tokens; the rest is dropped
        return chunks

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
                for position, name in fixes:
                    vectors = self.embeddings[name][index].to(output.dtype).to(output.device)
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

    def _compel_masks(self, tower: _Tower, chunk: _Chunk) -> list[tuple[float, tuple, tuple, tuple]]:
        """compel's down-weighting: one request per fragment below weight 1, with that fragment masked out."""
        ids = tower.ids(chunk.tokens)
        base_mask = list(tower.mask_for(ids)) if tower.mask else [1] * len(ids)
        out = []
        i = 0
        weights = chunk.weights
        while i < len(weights):
            j = i
            while j + 1 < len(weights) and weights[j + 1] == weights[i]:
                j += 1
            if weights[i] < 1.0:
                mask = base_mask[:]
                for pos in range(i + 1, j + 2):  # +1: BOS
                    mask[pos] = 0
                out.append((weights[i], ids, tuple(mask), chunk.fixes))
            i = j + 1
        return out

    def _encode_chunks(self, groups: list[list[_Chunk]]) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
        """Encode several prompts' chunk lists together; returns (embeds (1,77k,C), pooled) per prompt."""
        empty = _Chunk([], [])
        encoded = []  # per tower: this call's (hidden, pooled) by request
        for tower in self.towers:
            requests = [r for chunks in groups for r in self._requests(tower, chunks)]
            requests += self._requests(tower, [empty])
            if self.weighting == "compel":
                requests += [(ids, mask, fixes) for chunks in groups for c in chunks
                             for _, ids, mask, fixes in self._compel_masks(tower, c)]
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
                z = self._weigh(tower, found, chunks, z, w)
                per_tower.append(z.reshape(1, -1, z.shape[-1]))
                if tower.pooled:
                    pooled = found[reqs[0] if self.pooled_from == "first" else reqs[-1]][1]
            embeds = torch.cat(per_tower, dim=-1) if len(per_tower) > 1 else per_tower[0]
            results.append((embeds, pooled[None] if pooled is not None else None))
        return results

    def _weigh(self, tower: _Tower, found: dict, chunks: list[_Chunk], z: torch.Tensor,
               w: torch.Tensor) -> torch.Tensor:
        if bool((w == 1.0).all()):
            return z
        if self.weighting == "a1111":
            return a1111_original(z, w)
        if self.weighting == "a1111-no-norm":
            return a1111_no_norm(z, w)
        empty = found[self._requests(tower, [_Chunk([], [])])[0]][0]
        weighted = lerp_from_empty(z, w, empty)
        if self.weighting == "comfy":
            return weighted
        out = []
        for k, chunk in enumerate(chunks):
            without = [(weight, lerp_from_empty(found[(ids, mask, fixes)][0][None], w[k:k + 1], empty)[0])
                       for weight, ids, mask, fixes in self._compel_masks(tower, chunk)]
            out.append(compel_downweight_blend(weighted[k], without))
        return torch.stack(out)

    @staticmethod
    def _pad(chunks: list[_Chunk], count: int) -> list[_Chunk]:
        return chunks + [_Chunk([], []) for _ in range(count - len(chunks))]

    def _check_static(self, prompt: Prompt) -> None:
        for node in prompt.walk():
            if type(node) in (Schedule, Alternation):
                raise ValueError("this prompt uses prompt editing or alternation; use encoder.schedule(prompt, steps)")
            if type(node) is And:
                raise ValueError("this prompt has AND sub-prompts; use encoder.encode_subprompts(prompt)")

    def encode(self, prompt: str | Prompt, negative: str | Prompt | None = None) -> dict[str, torch.Tensor]:
        """Keyword arguments for ``pipe(**kw)``: embeddings (and pooled ones) of ``prompt`` and ``negative``."""
        positive = self._parse(prompt)
        self._check_static(positive)
        neg = self._parse(negative if negative is not None else "")
        return self._encode_pair([positive], neg)[0]

    def _encode_pair(self, positives: list[Prompt], negative: Prompt) -> list[dict[str, torch.Tensor]]:
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
        prompts = [parse(p.text, self.dialect) for p in parts]
        for p in prompts:
            self._check_static(p)
        neg = self._parse(negative if negative is not None else "")
        encoded = self._encode_pair(prompts, neg)
        return [(part.weight, kw) for part, kw in zip(parts, encoded)]

    def schedule(self, prompt: str | Prompt, steps: int, negative: str | Prompt | None = None,
                 hires_steps: int | None = None) -> "PromptSchedule":
        """Embeddings per step range for A1111 prompt editing ``[a:b:when]`` and alternation ``[a|b]``."""
        from ..syntax.schedule import prompt_schedules

        text = prompt.source if isinstance(prompt, Prompt) else prompt
        plan = prompt_schedules(text, steps, hires_steps)
        distinct = list(dict.fromkeys(t for _, t in plan))
        neg = self._parse(negative if negative is not None else "")
        encoded = dict(zip(distinct, self._encode_pair([parse(t, self.dialect) for t in distinct], neg)))
        return PromptSchedule([(end, encoded[t]) for end, t in plan], self.architecture)


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
