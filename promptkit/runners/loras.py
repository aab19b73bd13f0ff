"""LoRAs as A1111 loads them: ``<lora:name:te:unet>`` in a prompt, merged into the weights for one run.

- Names are file stems (or ``ss_output_name`` aliases) found recursively in the LoRA folders the user
  gives (``--lora-dir``, ``lora-dirs`` in promptkit.toml, A1111's ``models/Lora`` next to
  ``models/Stable-diffusion``). An unknown name is an error that lists the nearest names.
- ``<lora:name>`` is weight 1; ``<lora:name:w>`` applies ``w`` to the text encoders and the UNet;
  ``<lora:name:te:unet>`` (or ``te=``/``unet=``) sets them apart; ``dyn=N`` keeps the first N ranks.
  ``<lyco:...>`` is A1111's alias of ``<lora:...>``.
- Key formats: kohya/A1111 (``lora_unet_*``, ``lora_te_*``/``lora_te1_*``/``lora_te2_*`` with
  ``lora_down``/``lora_up``/``alpha``, LoCon convolutions, ``lora_mid``; SDXL kohya files name LDM blocks
  such as ``lora_unet_input_blocks_4_1_...``), diffusers/peft (``unet.*.lora_A``/``lora_B`` with the
  ``lora_adapter_metadata`` alphas), old diffusers ``.lora.down``/``.lora.up`` and attention-processor keys,
  and LyCORIS full ``diff`` networks. LoHa, LoKr, IA3, OFT, GLoRA, DoRA and hypernetworks are refused by
  name. A key that matches no module of the loaded model is an error, not a skipped layer.
- Merge: ``W += multiplier * (alpha / rank) * up @ down`` per module, as A1111's ``network_lora`` computes
  it (summed over networks in float32, then cast), with a CPU copy of every touched weight taken first and
  copied back after the run, so the model is bit-for-bit the original afterwards.
- Infotext: ``Lora hashes: "name: 0123456789ab, ..."``: the first 12 hex digits of the file's
  ``sshs_model_hash`` metadata or of the sha256 of its tensor bytes (kohya's "addnet" hash), keyed by the
  name written in the prompt without ``:`` and ``,``, as A1111's ``extra_networks_lora`` writes it.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import re
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..syntax import Prompt, parse
from ..syntax.ast import Alternation, ExtraNetwork, Schedule
from .errors import GenerationWarning, LoraError, ModelFileError
from .model_files import TensorFile, identify, lora_short_hash, read_tensor_file

LORA_SUFFIXES = (".safetensors", ".pt", ".ckpt")
_A1111_DIRS = ("Lora", "LyCORIS")
# Key tails -> role. Order matters: the longest tails first.
_PARTS = (("lora.down.weight", "down"), ("lora.up.weight", "up"), ("lora_down.weight", "down"),
          ("lora_up.weight", "up"), ("lora_mid.weight", "mid"), ("lora_A.weight", "down"), ("lora_B.weight", "up"),
          ("down.weight", "down"), ("up.weight", "up"), ("alpha", "alpha"), ("diff_b", "diff_b"), ("diff", "diff"),
          ("dora_scale", "dora"), ("lora_magnitude_vector", "dora"), ("lora_magnitude_vector.weight", "dora"))
_PROCESSOR = re.compile(r"\.processor\.(to_q|to_k|to_v|to_out)_lora$")


# -- what the prompt asks for ----------------------------------------------------------------------------
@dataclass(frozen=True)
class NetworkRequest:
    """One ``<lora:...>`` of a prompt with A1111's reading of its arguments."""

    raw: str
    kind: str
    name: str
    te: float
    unet: float
    dyn: int | None = None


def requested_networks(prompt: str | Prompt, dialect: str = "a1111") -> list[NetworkRequest]:
    """The extra networks of a prompt, read as A1111's ``ExtraNetworkParams`` (positional and ``k=v``)."""
    parsed = prompt if isinstance(prompt, Prompt) else parse(prompt, dialect)
    out = []
    for node in parsed.loras:
        kind = node.kind.lower()
        if kind == "hypernet":
            raise LoraError(f"{node.raw}: hypernetworks are not supported by promptkit's runners; remove it "
                            "(A1111 applies it, so this prompt cannot be reproduced here)")
        if kind not in ("lora", "lyco"):
            raise LoraError(f"{node.raw}: unknown extra network <{kind}:...>; promptkit loads <lora:...> "
                            "(and A1111's alias <lyco:...>)")
        positional = [node.name] + [a for a in node.args if "=" not in a]
        named = dict(a.split("=", 1) for a in node.args if "=" in a)
        try:
            te = float(positional[1]) if len(positional) > 1 else 1.0
            te = float(named.get("te", te))
            unet = float(positional[2]) if len(positional) > 2 else te
            unet = float(named.get("unet", unet))
            dyn_text = named.get("dyn", positional[3] if len(positional) > 3 else None)
            dyn = int(dyn_text) if dyn_text is not None else None
        except ValueError:
            raise LoraError(f"{node.raw}: its weights must be numbers (<lora:name:0.8> or "
                            "<lora:name:te:unet>)") from None
        if not (math.isfinite(te) and math.isfinite(unet)):
            raise LoraError(f"{node.raw}: weights must be finite numbers")
        if not node.name.strip():
            raise LoraError(f"{node.raw}: no LoRA name")
        out.append(NetworkRequest(node.raw, kind, node.name.strip(), te, unet, dyn))
    return out


def _scheduled(parsed: Prompt) -> bool:
    inside = False
    for node in parsed.walk():
        if type(node) in (Schedule, Alternation):
            for child in _descendants(node):
                if type(child) is ExtraNetwork:
                    inside = True
    return inside


def _descendants(node: Any) -> Iterator[Any]:
    stack = list(getattr(node, "children", []) or [])
    while stack:
        item = stack.pop()
        yield item
        stack.extend(getattr(item, "children", []) or [])


# -- finding files ---------------------------------------------------------------------------------------
class LoraLibrary:
    """The LoRA files under some folders, by file stem and by ``ss_output_name`` alias (A1111's lookup)."""

    def __init__(self, folders: Iterable[str | Path]) -> None:
        self.folders = [Path(f) for f in folders]

    @functools.cached_property
    def by_stem(self) -> dict[str, list[Path]]:
        found: dict[str, list[Path]] = {}
        for folder in self.folders:
            if not folder.is_dir():
                continue
            for path in sorted(folder.rglob("*")):
                if path.suffix.lower() in LORA_SUFFIXES and path.is_file():
                    found.setdefault(path.stem, []).append(path)
        return found

    @functools.cached_property
    def by_alias(self) -> dict[str, list[Path]]:
        aliases: dict[str, list[Path]] = {}
        for paths in self.by_stem.values():
            for path in paths:
                if path.suffix.lower() != ".safetensors":
                    continue
                try:
                    alias = read_tensor_file(path).metadata.get("ss_output_name")
                except ModelFileError:
                    continue
                if alias and alias != path.stem:
                    aliases.setdefault(alias, []).append(path)
        return aliases

    def find(self, name: str) -> Path:
        """The one file called ``name``; an error naming near names, or both files if two share the name."""
        if not self.folders:
            raise LoraError(f"<lora:{name}>: no LoRA folder given; pass --lora-dir DIR (or set lora-dirs in "
                            "promptkit.toml, or keep the checkpoint in A1111's models/Stable-diffusion)")
        paths = self.by_stem.get(name) or self.by_alias.get(name) or self._by_relative(name)
        if not paths:
            raise LoraError(f"<lora:{name}>: no such LoRA in {', '.join(str(f) for f in self.folders)}"
                            + self._near(name))
        if len(paths) > 1:
            raise LoraError(f"<lora:{name}> is ambiguous: {', '.join(str(p) for p in paths)}; rename one of them")
        return paths[0]

    def _by_relative(self, name: str) -> list[Path]:
        if "/" not in name and "\\" not in name:
            return []
        rel = name.replace("\\", "/")
        return [p for paths in self.by_stem.values() for p in paths for f in self.folders
                if p.is_relative_to(f) and p.relative_to(f).with_suffix("").as_posix() == rel]

    def _near(self, name: str) -> str:
        from rapidfuzz import fuzz, process

        names = sorted(set(self.by_stem) | set(self.by_alias))
        if not names:
            return " (the folders hold no .safetensors, .pt or .ckpt files)"
        near = [n for n, score, _ in process.extract(name, names, scorer=fuzz.WRatio, limit=5) if score >= 60]
        return f"; near names: {', '.join(near)}" if near else f"; {len(names)} LoRAs there, none close"


def a1111_lora_dirs(checkpoint: str | Path) -> list[Path]:
    """``models/Lora`` (and ``models/LyCORIS``) beside a checkpoint kept in A1111's ``models/Stable-diffusion``."""
    path = Path(checkpoint).resolve()
    for parent in path.parents:
        if parent.name == "Stable-diffusion" and parent.parent.name == "models":
            return [parent.parent / d for d in _A1111_DIRS if (parent.parent / d).is_dir()]
    return []


# -- reading a LoRA against a pipeline --------------------------------------------------------------------
@dataclass
class LoraModule:
    """The change one network makes to one layer."""

    module: Any  # torch Linear / Conv2d (or a norm, for full diff networks)
    tower: str  # unet, te1, te2
    up: Any = None
    down: Any = None
    mid: Any = None
    alpha: float | None = None
    diff: Any = None
    diff_b: Any = None
    key: str = ""

    def delta(self, dyn: int | None, factor: float = 1.0) -> Any:
        """The float32 weight change at multiplier ``factor`` (A1111's ``rebuild_conventional`` /
        ``rebuild_cp_decomposition`` times ``alpha / rank``), computed on the weight's device. The factors are
        folded into the small ``up`` matrix so the full-size product is the only full-size pass."""
        import torch

        weight = self.module.weight
        device = weight.device
        if self.diff is not None:
            return self.diff.to(device, torch.float32).reshape(weight.shape) * factor
        up = self.up.to(device, torch.float32).reshape(self.up.shape[0], -1)
        down = self.down.to(device, torch.float32).reshape(self.down.shape[0], -1)
        rank = down.shape[0]
        if dyn is not None:
            up, down = up[:, :dyn], down[:dyn]
        up = up * (factor * (self.alpha / rank if self.alpha is not None else 1.0))
        if self.mid is not None:
            delta = torch.einsum("n m k l, i n, m j -> i j k l", self.mid.to(device, torch.float32), up, down)
        else:
            delta = up @ down
        if delta.numel() != weight.numel():
            raise LoraError(f"{self.key}: a {tuple(self.up.shape)} x {tuple(self.down.shape)} LoRA cannot change "
                            f"a {tuple(weight.shape)} weight (a LoRA for another base model?)")
        return delta.reshape(weight.shape)


@dataclass
class LoraNetwork:
    request: NetworkRequest
    path: Path
    modules: list[LoraModule]
    short_hash: str


class ModuleIndex:
    """Module lookup for one pipeline by every name LoRA files use (diffusers, LDM, kohya underscores)."""

    def __init__(self, pipeline: Any) -> None:
        from .ldm_layout import unet_block_map_for

        self.towers: dict[str, Any] = {"unet": pipeline.unet, "te1": pipeline.text_encoder}
        if getattr(pipeline, "text_encoder_2", None) is not None:
            self.towers["te2"] = pipeline.text_encoder_2
        self.sdxl = "te2" in self.towers
        self.kohya: dict[str, tuple[str, Any]] = {}
        table = unet_block_map_for(pipeline.unet.config)
        for name, module in pipeline.unet.named_modules():
            if not name:
                continue
            self.kohya["lora_unet_" + name.replace(".", "_")] = ("unet", module)
            ldm = table.to_ldm(name)
            if ldm is not None:
                self.kohya.setdefault("lora_unet_" + ldm.replace(".", "_"), ("unet", module))
        for tower in ("te1", "te2"):
            model = self.towers.get(tower)
            if model is None:
                continue
            prefixes = [f"lora_{tower}_"] + (["lora_te_"] if tower == "te1" else [])
            inner = getattr(model, "text_model", model)
            for name, module in inner.named_modules():
                for prefix in prefixes:
                    self.kohya[prefix + "text_model_" + name.replace(".", "_")] = (tower, module)
            for name, module in model.named_modules():
                for prefix in prefixes:
                    self.kohya.setdefault(prefix + name.replace(".", "_"), (tower, module))

    def find(self, base: str) -> tuple[str, Any] | None:
        if base in self.kohya:
            return self.kohya[base]
        base = _PROCESSOR.sub(lambda m: "." + ("to_out.0" if m.group(1) == "to_out" else m.group(1)), base)
        for prefix, tower in (("unet.", "unet"), ("text_encoder.", "te1"), ("text_encoder_2.", "te2"),
                              ("lora_unet.", "unet")):
            if base.startswith(prefix) and tower in self.towers:
                module = _submodule(self.towers[tower], base[len(prefix):])
                return (tower, module) if module is not None else None
        return None


def _submodule(model: Any, path: str) -> Any:
    """``path`` in ``model``, or in its ``text_model`` (transformers >= 5.6 flattened CLIPTextModel)."""
    inner = getattr(model, "text_model", model)
    for target, sub in ((model, path), (inner, path.removeprefix("text_model."))):
        try:
            return target.get_submodule(sub)
        except AttributeError:
            continue
    return None


def read_lora(path: Path, request: NetworkRequest, index: ModuleIndex) -> LoraNetwork:
    """Read a LoRA file into per-module changes for this pipeline, refusing what cannot be applied exactly."""
    tf = read_tensor_file(path)
    kind = identify(tf)
    if kind.kind != "lora":
        raise LoraError(f"<lora:{request.name}>: {path.name} is {kind.description}, not a LoRA")
    if "LyCORIS" in kind.description and "full" not in kind.description:
        raise LoraError(f"<lora:{request.name}>: {path.name} is {kind.description}; promptkit applies LoRA/LoCon "
                        "(lora_up/lora_down, lora_A/lora_B) and full-diff networks only")
    base_arch = kind.architecture
    if (base_arch == "sdxl") != index.sdxl and base_arch is not None:
        raise LoraError(f"<lora:{request.name}>: {path.name} is a LoRA for {_ARCH_NAMES[base_arch]} "
                        f"(from its metadata) but the model is {'SDXL' if index.sdxl else 'SD 1.x/2.x'}")
    groups: dict[str, dict[str, Any]] = {}
    for key in tf:
        base, role = _split_key(key)
        if role is None:
            raise LoraError(f"<lora:{request.name}>: {path.name} has a key promptkit cannot read: {key}")
        groups.setdefault(base, {})[role] = key
    alphas = _peft_alphas(tf)
    tensors = tf.load()
    modules, unmatched = [], []
    for base, roles in groups.items():
        if "dora" in roles:
            raise LoraError(f"<lora:{request.name}>: {path.name} is a DoRA (weight-decomposed) network, which "
                            "promptkit does not apply")
        if set(roles) <= {"alpha"}:
            continue
        found = index.find(base)
        if found is None:
            unmatched.append(base)
            continue
        tower, module = found
        if not hasattr(module, "weight") or module.weight is None:
            raise LoraError(f"<lora:{request.name}>: {base} names a layer without weights")
        alpha = float(tensors[roles["alpha"]].item()) if "alpha" in roles else _peft_alpha(alphas, base, tower,
                                                                                             tensors, roles)
        item = LoraModule(module, tower, key=base, alpha=alpha)
        if "diff" in roles:
            item.diff = tensors[roles["diff"]]
            item.diff_b = tensors.get(roles.get("diff_b", ""))
        elif "up" in roles and "down" in roles:
            item.up, item.down = tensors[roles["up"]], tensors[roles["down"]]
            item.mid = tensors[roles["mid"]] if "mid" in roles else None
        else:
            raise LoraError(f"<lora:{request.name}>: {base} has {', '.join(sorted(roles))} but no up/down pair")
        modules.append(item)
    if unmatched:
        raise LoraError(f"<lora:{request.name}>: {len(unmatched)} of {len(groups)} layers of {path.name} are not in "
                        f"this model (e.g. {unmatched[0]}); is it a LoRA for another base model?")
    if not modules:
        raise LoraError(f"<lora:{request.name}>: {path.name} holds no LoRA layers")
    return LoraNetwork(request, path, modules, lora_short_hash(tf))


_ARCH_NAMES = {"sd1": "SD 1.x", "sd2": "SD 2.x", "sdxl": "SDXL"}


def _split_key(key: str) -> tuple[str, str | None]:
    for tail, role in _PARTS:
        if key.endswith("." + tail):
            return key[: -len(tail) - 1], role
    return key, None


def _peft_alphas(tf: TensorFile) -> dict[str, Any]:
    raw = tf.metadata.get("lora_adapter_metadata")
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise ModelFileError(f"{tf.path.name}: its lora_adapter_metadata is not valid JSON") from None
    return data if isinstance(data, dict) else {}


_PEFT_PREFIX = {"unet": "unet", "te1": "text_encoder", "te2": "text_encoder_2"}


def _peft_alpha(meta: dict[str, Any], base: str, tower: str, tensors: dict[str, Any],
                roles: dict[str, str]) -> float | None:
    """peft's scale is ``lora_alpha / r`` (``/ sqrt(r)`` with rsLoRA) from the adapter metadata; no metadata
    means alpha = rank (scale 1), as diffusers loads such files."""
    if not meta or "down" not in roles:
        return None
    prefix = _PEFT_PREFIX[tower]
    if meta.get(f"{prefix}.use_dora"):
        raise LoraError(f"{base}: DoRA adapters are not supported")
    rank = tensors[roles["down"]].shape[0]
    alpha = meta.get(f"{prefix}.lora_alpha", rank)
    module = base.split(".", 1)[1] if "." in base else base
    for pattern, value in (meta.get(f"{prefix}.alpha_pattern") or {}).items():
        if module == pattern or module.endswith("." + pattern) or re.fullmatch(pattern, module):
            alpha = value
            break
    if meta.get(f"{prefix}.use_rslora"):
        return float(alpha) / math.sqrt(rank) * rank  # delta() divides by the rank again
    return float(alpha)


# -- applying and restoring ------------------------------------------------------------------------------
class AppliedLoras:
    """Merge networks into a pipeline's weights for the duration of a ``with`` block, then restore them.

    Every touched weight is copied to the CPU before it changes (A1111's ``network_weights_backup``) and
    copied back on exit, so the weights after the block are the originals bit for bit. The prompt encoder's
    chunk cache is cleared on entry and exit: text-encoder outputs change with the LoRA.
    """

    def __init__(self, networks: list[LoraNetwork], encoders: Any = ()) -> None:
        self.networks = networks
        self.encoders = list(encoders) if isinstance(encoders, (list, tuple)) else [encoders]
        self._backups: list[tuple[Any, Any]] = []

    def __enter__(self) -> AppliedLoras:
        import torch

        # Group the work by tensor first, then change one tensor at a time: only one full-size float32 delta
        # exists at any moment (an SDXL LoRA touches ~2.5e9 weights; all deltas at once would need ~10 GB).
        work: dict[int, tuple[Any, list[Any]]] = {}
        for net in self.networks:
            for item in net.modules:
                factor = net.request.te if item.tower != "unet" else net.request.unet
                if factor == 0:
                    continue
                weight = item.module.weight
                work.setdefault(id(weight), (weight, []))[1].append(
                    lambda item=item, factor=factor, dyn=net.request.dyn: item.delta(dyn, factor))
                bias = getattr(item.module, "bias", None)
                if item.diff_b is not None and bias is not None:
                    work.setdefault(id(bias), (bias, []))[1].append(
                        lambda diff=item.diff_b, factor=factor, bias=bias: diff.to(bias.device, torch.float32) * factor)
        try:
            with torch.no_grad():
                for param, deltas in work.values():
                    change = deltas[0]()
                    for more in deltas[1:]:
                        change.add_(more())
                    self._backups.append((param, param.detach().to("cpu", copy=True)))
                    param.add_(change)  # computed in float32, rounded once to the weight's dtype
                    del change
        except BaseException:
            self._restore()
            raise
        self._clear_cache()
        return self

    def __exit__(self, *exc: object) -> None:
        self._restore()

    def _restore(self) -> None:
        import torch

        with torch.no_grad():
            for param, saved in reversed(self._backups):
                param.copy_(saved.to(param.device))
        self._backups.clear()
        self._clear_cache()

    def _clear_cache(self) -> None:
        for encoder in self.encoders:
            cache = getattr(encoder, "_cache", None)
            if cache is not None:
                cache.clear()


# -- the hook on Runner.generate ---------------------------------------------------------------------------
def prepare_networks(runner: Any, prompt: str, negative: str | None, dialect: str | None = None) -> list[LoraNetwork]:
    """Resolve and read every ``<lora:>`` of a prompt for this runner, or raise one clear error."""
    dialect = dialect or runner.profile.dialect
    parsed = parse(prompt, dialect)
    requests = requested_networks(parsed)
    if negative:
        stray = requested_networks(parse(negative, dialect))
        if stray:
            raise LoraError(f"{stray[0].raw} is in the negative prompt: A1111 loads extra networks from the prompt "
                            "only (it reads this one as text); move it to the prompt or remove it")
    if not requests:
        return []
    if not hasattr(runner.pipeline, "unet"):
        raise LoraError(f"{requests[0].raw}: LoRAs on Stable Cascade are not supported")
    if _scheduled(parsed):
        warnings.warn("A1111 applies a LoRA for every step: prompt editing around <lora:...> does not schedule it",
                      GenerationWarning, stacklevel=3)
    library = LoraLibrary(getattr(runner, "lora_dirs", ()) or ())
    index = ModuleIndex(runner.pipeline)
    return [read_lora(library.find(r.name), r, index) for r in requests]


def strip_extra_networks(prompt: str, dialect: str = "a1111") -> str:
    """The prompt without its ``<lora:...>`` tags, as A1111 conditions on it (``extra_networks.parse_prompt``
    removes them from the text, leaving the commas around them); the infotext keeps the original."""
    parsed = parse(prompt, dialect)
    pieces, at = [], 0
    for node in parsed.loras:
        pieces.append(prompt[at:node.start])
        at = node.end
    pieces.append(prompt[at:])
    return "".join(pieces)


def check_lora_hashes(runner: Any, prompt: str, infotext: Any, strict: bool = True) -> None:
    """An infotext's ``Lora hashes`` against the files this runner finds for its ``<lora:>`` names.

    Read as A1111's ``infotext_pasted`` reads it (``name: hash`` pairs split on ``,``). A name whose file
    has another hash is an error (a warning with ``strict=False``): the image would not be the same.
    """
    from ..infotext import Infotext, parse_infotext

    info = infotext if isinstance(infotext, Infotext) else parse_infotext(str(infotext))
    recorded = info.params.get("Lora hashes")
    if not recorded:
        return
    wanted = {}
    for part in recorded.split(","):
        name, _, short = part.strip().partition(":")
        if name.strip() and short.strip():
            wanted[name.strip()] = short.strip().lower()
    requests = requested_networks(parse(prompt, runner.profile.dialect))
    if not requests:
        return
    library = LoraLibrary(getattr(runner, "lora_dirs", ()) or ())
    for request in requests:
        expected = wanted.get(request.name.replace(":", "").replace(",", ""))
        if expected is None:
            continue
        path = library.find(request.name)
        found = lora_short_hash(read_tensor_file(path))
        if not found.startswith(expected[:len(found)]) and not expected.startswith(found):
            message = (f"the infotext was made with LoRA {request.name} hash {expected} and {path.name} is {found}: "
                       "find the same file (or pass check_model_hash=False / --ignore-model-hash)")
            if strict:
                raise LoraError(message)
            warnings.warn(message, GenerationWarning, stacklevel=3)


def lora_hashes(networks: list[LoraNetwork]) -> str:
    """A1111's ``Lora hashes`` value: ``name: hash`` per mentioned name (``:`` and ``,`` removed)."""
    seen: dict[str, str] = {}
    for net in networks:
        name = net.request.name.replace(":", "").replace(",", "")
        seen[name] = net.short_hash
    return ", ".join(f"{k}: {v}" for k, v in seen.items())


def with_extra_networks(generate: Any) -> Any:
    """Wrap ``Runner.generate``: apply the prompt's LoRAs around the run, record ``Lora hashes`` after."""

    @functools.wraps(generate)
    def run(self: Any, prompt: str, *args: Any, **kwargs: Any) -> Any:
        negative = kwargs["negative"] if "negative" in kwargs else (args[0] if args else None)
        dialect = kwargs.get("dialect") or self.profile.dialect
        with _warnings_at_caller():
            networks = prepare_networks(self, prompt, negative, dialect)
            if not networks:
                return generate(self, prompt, *args, **kwargs)
            text = strip_extra_networks(prompt, dialect)
            encoders = [self.encoder, *getattr(self, "_encoders", {}).values()]
            with AppliedLoras(networks, encoders):
                gen = generate(self, text, *args, **kwargs)
        gen.infotexts = [prompt + info[len(text):] if info.startswith(text) else info for info in gen.infotexts]
        add_params(gen, {"Lora hashes": lora_hashes(networks)})
        return gen

    return run


@contextlib.contextmanager
def _warnings_at_caller() -> Iterator[None]:
    """Re-issue warnings raised inside the wrapped ``generate`` as if from its caller (this wrapper adds a frame
    that would otherwise become their reported location)."""
    catcher = warnings.catch_warnings(record=True)
    caught = catcher.__enter__()
    warnings.simplefilter("always")
    try:
        yield
    finally:
        catcher.__exit__(None, None, None)
        for item in caught or ():
            warnings.warn(item.message, item.category, stacklevel=4)


def add_params(gen: Any, extra: dict[str, str]) -> None:
    """Insert parameters into a Generation's params and infotexts before ``Version`` (A1111's order)."""
    from ..infotext import param_pairs, quote, unquote

    def merged(params: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {k: v for k, v in params.items() if k != "Version"}
        out.update(extra)
        if "Version" in params:
            out["Version"] = params["Version"]
        return out

    gen.params = merged(gen.params)
    texts = []
    for text in gen.infotexts:
        head, _, last = text.rpartition("\n")
        params = {k.strip(): unquote(v.strip()) for k, v in param_pairs(last)}
        line = ", ".join(f"{k}: {quote(v)}" for k, v in merged(params).items())
        texts.append(f"{head}\n{line}" if head else line)
    gen.infotexts = texts


__all__ = ["AppliedLoras", "LoraLibrary", "LoraNetwork", "NetworkRequest", "a1111_lora_dirs", "lora_hashes",
           "prepare_networks", "read_lora", "requested_networks", "with_extra_networks"]
