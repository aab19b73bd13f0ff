"""Single-file checkpoints (what model sites ship) -> diffusers pipelines, offline, with no config folder.

The family is read from the file's keys (``model_files.identify``), every width and depth from its tensor
shapes (``ldm_layout``), and the few facts a file cannot tell (head width, norm groups, activations, VAE
scale, tokenizer padding, training schedule) from ``configs/<family>.json`` inside the package. The
tokenizers are built from the shipped CLIP vocabulary. Nothing touches the network.

The prediction type is read from the file where it says so: NoobAI-style ``v_pred`` / ``ztsnr`` marker keys
(as ComfyUI reads them), ModelSpec metadata (``modelspec.prediction_type``, ``...-768-v`` architectures), or
an A1111-style ``NAME.yaml`` beside the checkpoint with ``parameterization: "v"``. SDXL and SD1 files
without a marker are epsilon models; a profile the user names wins there (flow-matching SDXL such as bigASP
carries no marker). An SD 2.x file without a marker is decided as A1111 decides it: the UNet is run once on
a fixed input and a strongly negative mean output means v-prediction. A profile whose architecture or
prediction type contradicts what the file says is an error, never a silent choice.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..profiles import Profile, load_profile
from .errors import ModelFileError
from .ldm_layout import (
    UNET_PREFIX,
    VAE_PREFIX,
    cascade_unet_config,
    clip_config,
    convert_cascade_unet,
    convert_clip,
    convert_stage_a,
    convert_unet,
    convert_vae,
    paella_vq_config,
    unet_config,
    vae_config,
)
from .model_files import FileKind, TensorFile, identify, read_tensor_file

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
# Profile architectures each checkpoint family can run.
_COMPATIBLE = {"sd1": {"sd1"}, "sd2": {"sd2"}, "sdxl": {"sdxl", "sdxl-vpred", "sdxl-flow"}, "cascade": {"cascade"}}
_FAMILY_NAMES = {"sd1": "Stable Diffusion 1.x", "sd2": "Stable Diffusion 2.x", "sdxl": "SDXL",
                 "cascade": "Stable Cascade"}


@functools.cache
def family_config(family: str) -> dict[str, Any]:
    """The shipped facts of a model family (``configs/<family>.json``)."""
    return json.loads((CONFIG_DIR / f"{family}.json").read_text(encoding="utf-8"))


@dataclass
class Detection:
    """What a checkpoint file says about itself, and which evidence said it."""

    architecture: str  # sd1, sd2, sdxl, cascade
    prediction_type: str | None  # None: the file does not say (SD 2.x without a marker)
    zero_terminal_snr: bool
    evidence: str
    explicit: bool  # the prediction type comes from a marker, metadata or a .yaml, not a family default
    kind: FileKind | None = None


@dataclass
class LoadedCheckpoint:
    pipeline: Any
    profile: Profile
    detection: Detection
    files: list[Path] = field(default_factory=list)


# -- what the file is -------------------------------------------------------------------------------------
def inspect_checkpoint(path: str | Path, allow_pickle: bool = False) -> tuple[TensorFile, Detection]:
    """Read a checkpoint's header, refuse what is not a full checkpoint, detect family and prediction type."""
    path = Path(path)
    tf = read_tensor_file(path, allow_pickle=allow_pickle)
    kind = identify(tf)
    if kind.kind not in ("checkpoint", "cascade-prior"):
        raise ModelFileError(wrong_kind_message(path, kind))
    if kind.kind == "cascade-prior" and not tf.has_prefix("text_encoder."):
        raise ModelFileError(f"{path.name} is {kind.description}: promptkit loads ComfyUI's all-in-one Stable "
                             "Cascade checkpoints (stage C with text_encoder.clip_g.*, stage B with vae.*); "
                             "for the bare stage files use a diffusers folder")
    prediction, evidence, explicit = _prediction_from_file(tf, path, kind.architecture or "")
    zsnr = "ztsnr" in tf
    return tf, Detection(kind.architecture or "", prediction, zsnr, evidence, explicit, kind)


def wrong_kind_message(path: Path, kind: FileKind) -> str:
    name = path.name
    if kind.kind == "lora":
        return (f"{name} is {kind.description}, not a checkpoint: put it in a LoRA folder (--lora-dir) and write "
                f"<lora:{path.stem}:1> in the prompt")
    if kind.kind == "embedding":
        return f"{name} is {kind.description}, not a checkpoint: load it with PromptEncoder.load_embedding"
    if kind.kind == "vae":
        return (f"{name} is {kind.description}, not a checkpoint: give the model's own .safetensors checkpoint "
                "(a separate VAE file is not supported)")
    if kind.kind == "diffusers-unet":
        return (f"{name} is {kind.description}, one part of a diffusers folder: give --checkpoint the folder "
                "that holds model_index.json")
    if kind.kind == "cascade-decoder":
        return (f"{name} is {kind.description}: give the stage C (prior) checkpoint and pass this file as the "
                "decoder (--decoder)")
    return f"{name} is {kind.description}; promptkit needs a full single-file checkpoint (UNet, text encoders, VAE)"


_YAML_V = re.compile(r"^\s*parameterization\s*:\s*[\"']?v[\"']?\s*$", re.MULTILINE)


def _prediction_from_file(tf: TensorFile, path: Path, architecture: str) -> tuple[str | None, str, bool]:
    if architecture == "cascade":
        return "epsilon", "Stable Cascade", False
    if "v_pred" in tf:
        return "v_prediction", "its 'v_pred' marker key", True
    spec = tf.metadata.get("modelspec.prediction_type", "").strip().lower()
    if spec in ("v", "v_prediction", "v-prediction"):
        return "v_prediction", f"its modelspec.prediction_type metadata ({spec})", True
    if spec in ("epsilon", "eps"):
        return "epsilon", f"its modelspec.prediction_type metadata ({spec})", True
    arch = tf.metadata.get("modelspec.architecture", "")
    if arch.endswith("-v"):
        return "v_prediction", f"its modelspec.architecture metadata ({arch})", True
    sidecar = path.with_suffix(".yaml")
    if sidecar.is_file():
        text = sidecar.read_text(encoding="utf-8", errors="replace")
        if _YAML_V.search(text):
            return "v_prediction", f"{sidecar.name} (parameterization: v)", True
        return "epsilon", f"{sidecar.name} (no v parameterization)", True
    if architecture == "sd2":
        return None, "nothing in the file", False
    return "epsilon", f"no v-prediction marker (v_pred key or modelspec metadata): a {architecture} epsilon model", \
        False


def choose_profile(detection: Detection, profile: str | Profile | None, name: str) -> Profile:
    """The user's profile, checked against the file; or the family's base profile for what the file says."""
    arch = detection.architecture
    if profile is None:
        pid = family_config(arch)["profiles"].get(detection.prediction_type or "epsilon")
        base = load_profile(pid)
        if detection.prediction_type == "v_prediction" and base.prediction_type != "v_prediction":
            base = base.model_copy(update={
                "architecture": "sdxl-vpred" if arch == "sdxl" else base.architecture,
                "prediction_type": "v_prediction", "zero_terminal_snr": detection.zero_terminal_snr,
                "title": f"{base.title} (v-prediction, from {name})"})
        return base
    prof = load_profile(profile) if isinstance(profile, str) else profile
    if prof.architecture not in _COMPATIBLE.get(arch, set()):
        raise ModelFileError(f"{name} is {_describe(detection)} but profile {prof.id} is for "
                             f"{_profile_family(prof)}: pick a {_FAMILY_NAMES.get(arch, arch)} profile")
    wanted = detection.prediction_type
    if detection.explicit and wanted and wanted != prof.prediction_type:
        hint = ("use a v-pred profile such as noobai-xl-vpred or spacediffusion-xl-vpred"
                if wanted == "v_prediction" and arch == "sdxl" else f"use a {wanted} profile")
        raise ModelFileError(f"{name} is a {_pretty(wanted)} checkpoint ({detection.evidence}) but profile "
                             f"{prof.id} is {prof.prediction_type}: {hint}")
    return prof


def _pretty(prediction: str) -> str:
    return {"v_prediction": "v-prediction", "epsilon": "epsilon", "flow": "flow-matching"}.get(prediction, prediction)


def _describe(detection: Detection) -> str:
    return detection.kind.description if detection.kind else _FAMILY_NAMES.get(detection.architecture, "")


def _profile_family(prof: Profile) -> str:
    arch = prof.architecture
    return _FAMILY_NAMES.get("sdxl" if arch.startswith("sdxl") else arch, arch)


# -- building the pipeline --------------------------------------------------------------------------------
def load_single_file(path: str | Path, profile: str | Profile | None = None, allow_pickle: bool = False,
                     torch_dtype: Any = None, decoder: str | Path | None = None,
                     device: Any = None) -> LoadedCheckpoint:
    """Load a single-file checkpoint (Stable Cascade: stage C ``path`` plus stage B ``decoder``) offline,
    straight onto ``device`` when one is given (CPU by default)."""
    path = Path(path)
    tf, detection = inspect_checkpoint(path, allow_pickle)
    if detection.architecture == "cascade":
        if detection.prediction_type is None:
            detection.prediction_type = "epsilon"
        prof = choose_profile(detection, profile, path.name)
        decoder_path = _cascade_decoder_path(path, decoder)
        dtf = read_tensor_file(decoder_path, allow_pickle=allow_pickle)
        dkind = identify(dtf)
        if dkind.kind != "cascade-decoder":
            raise ModelFileError(f"{decoder_path.name} is {dkind.description}, not a Stable Cascade stage B decoder")
        if not dtf.has_prefix("vae."):
            raise ModelFileError(f"{decoder_path.name} is a bare stage B UNet without stage A (vae.*): use ComfyUI's "
                                 "all-in-one stable_cascade_stage_b checkpoint")
        pipe = _build_cascade(tf, dtf, torch_dtype, device)
        return LoadedCheckpoint(pipe, prof, detection, [path, decoder_path])
    if decoder is not None:
        raise ModelFileError(f"{path.name} is {_describe(detection)}: a decoder file belongs to Stable Cascade only")
    prof = choose_profile(detection, profile, path.name) if detection.prediction_type or profile else None
    pipe = _build_unet_pipeline(tf, detection, torch_dtype, device, pag=bool(prof and prof.pag_scale))
    if detection.prediction_type is None:
        if prof is not None:
            detection.prediction_type, detection.evidence = prof.prediction_type, f"profile {prof.id}"
        else:
            is_v = a1111_v_probe(pipe.unet)
            detection.prediction_type = "v_prediction" if is_v else "epsilon"
            detection.evidence = "A1111's v-parameterization probe of the UNet"
            prof = choose_profile(detection, None, path.name)
    assert prof is not None
    _set_scheduler_prediction(pipe, prof.prediction_type, detection.zero_terminal_snr or prof.zero_terminal_snr)
    return LoadedCheckpoint(pipe, prof, detection, [path])


def load_with_diffusers_config(path: Path, profile: str | Profile | None, config: str | Path, allow_pickle: bool,
                               torch_dtype: Any) -> LoadedCheckpoint:
    """diffusers' own ``from_single_file`` with a local diffusers config folder, after the same file checks."""
    import diffusers

    tf, detection = inspect_checkpoint(path, allow_pickle)
    if detection.architecture == "cascade":
        raise ModelFileError(f"{path.name}: diffusers has no single-file loader for Stable Cascade pipelines; "
                             "leave out the config folder")
    if detection.prediction_type is None and profile is None:
        raise ModelFileError(f"{path.name} is an SD 2.x checkpoint that does not say whether it is v-prediction: "
                             "name a profile (sd2 or sd2-v)")
    prof = choose_profile(detection, profile, path.name)
    pag = bool(prof.pag_scale) and detection.architecture == "sdxl"
    cls = {"sd1": "StableDiffusionPipeline", "sd2": "StableDiffusionPipeline",
           "sdxl": "StableDiffusionXLPAGPipeline" if pag else "StableDiffusionXLPipeline"}[detection.architecture]
    options: dict[str, Any] = {"local_files_only": True, "config": str(config)}
    if torch_dtype is not None:
        options["torch_dtype"] = torch_dtype
    try:
        pipe = getattr(diffusers, cls).from_single_file(str(path), **options)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise ModelFileError(f"{path.name}: diffusers could not load it with the config folder {config} "
                             f"({str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__})") \
            from None
    _set_scheduler_prediction(pipe, prof.prediction_type, detection.zero_terminal_snr or prof.zero_terminal_snr)
    del tf
    return LoadedCheckpoint(pipe, prof, detection, [path])


def _cascade_decoder_path(path: Path, decoder: str | Path | None) -> Path:
    if decoder is not None:
        return Path(decoder)
    if "stage_c" in path.name:
        sibling = path.with_name(path.name.replace("stage_c", "stage_b"))
        if sibling.is_file():
            return sibling
    raise ModelFileError(f"{path.name} is a Stable Cascade stage C: it needs its stage B decoder too "
                         "(decoder=... / --decoder FILE)")


def _load(tf: TensorFile, prefixes: tuple[str, ...], dtype: Any, device: Any) -> dict[str, Any]:
    return tf.load([k for k in tf if k.startswith(prefixes)], dtype=dtype, device=device)


def _build_unet_pipeline(tf: TensorFile, detection: Detection, torch_dtype: Any, device: Any, pag: bool) -> Any:
    import diffusers
    import torch

    from ..encode.tokenizer import clip_tokenizer

    dtype = torch_dtype or torch.float32
    family = family_config(detection.architecture)
    what = tf.path.name
    encoders, tokenizers = [], []
    for spec in family["text_encoders"]:
        encoders.append(_build_clip(tf, spec, dtype, device, what))
        tokenizers.append(clip_tokenizer(spec["pad"]))
    pooled = getattr(encoders[-1].config, "projection_dim", None) if len(encoders) > 1 else None
    unet_cfg = unet_config(tf.shapes, family["unet"], pooled, what)
    unet = _assemble(lambda: diffusers.UNet2DConditionModel(**unet_cfg),
                     convert_unet(_load(tf, (UNET_PREFIX,), dtype, device), unet_cfg), f"{what}: its UNet")
    vae_cfg = vae_config(tf.shapes, family["vae"], what)
    vae = _assemble(lambda: diffusers.AutoencoderKL(**vae_cfg),
                    convert_vae(_load(tf, (VAE_PREFIX,), dtype, device), vae_cfg), f"{what}: its VAE")
    scheduler = _scheduler(family["scheduler"])
    options = dict(family.get("pipeline_options", {}))
    if detection.architecture == "sdxl":
        cls = diffusers.StableDiffusionXLPAGPipeline if pag else diffusers.StableDiffusionXLPipeline
        extra = {"pag_applied_layers": ["mid"]} if pag else {}
        return cls(vae=vae, text_encoder=encoders[0], text_encoder_2=encoders[1], tokenizer=tokenizers[0],
                   tokenizer_2=tokenizers[1], unet=unet, scheduler=scheduler, **options, **extra)
    return diffusers.StableDiffusionPipeline(vae=vae, text_encoder=encoders[0], tokenizer=tokenizers[0], unet=unet,
                                             scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                             **options)


def _build_clip(tf: TensorFile, spec: dict[str, Any], dtype: Any, device: Any, what: str) -> Any:
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    config = CLIPTextConfig(**clip_config(tf.shapes, spec, what))
    with_projection = bool(spec.get("projection"))
    cls = CLIPTextModelWithProjection if with_projection else CLIPTextModel
    outer_projection = spec["prefix"].rsplit("transformer.", 1)[0] + "text_projection"
    tensors = tf.load([k for k in tf if k.startswith(spec["prefix"]) or k == outer_projection], dtype=dtype,
                      device=device)
    return _assemble(lambda: cls(config),
                     lambda model: convert_clip(tensors, spec, config.num_hidden_layers, with_projection,
                                                flattened=not hasattr(model, "text_model")),
                     f"{what}: its text encoder ({spec['prefix']})")


def _assemble(build: Any, state: Any, what: str) -> Any:
    """Build a model on the meta device and give it the checkpoint's tensors (no random init, no copy).

    ``state`` is the diffusers/transformers state dict, or a function of the empty model that returns it."""
    import torch

    with torch.device("meta"):
        model = build()
    if callable(state):
        state = state(model)
    state = {k: v if v.is_contiguous() else v.contiguous() for k, v in state.items()}  # the layout kernels expect
    expected = set(model.state_dict())
    missing = sorted(expected - set(state))
    unexpected = sorted(set(state) - expected)
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} weights missing (e.g. {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {unexpected[0]})")
        raise ModelFileError(f"{what} does not match the layout its shapes describe: {'; '.join(parts)}")
    try:
        model.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as exc:
        lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
        raise ModelFileError(f"{what} has tensors of the wrong shape ({lines[-1] if lines else exc})") from None
    _materialize_buffers(model)
    return model.eval()


def _materialize_buffers(model: Any) -> None:
    """Non-persistent buffers are not in any file: rebuild CLIP's ``position_ids``; anything else is a bug."""
    import torch

    for name, buffer in list(model.named_buffers()):
        if not buffer.is_meta:
            continue
        owner_name, _, leaf = name.rpartition(".")
        owner = model.get_submodule(owner_name) if owner_name else model
        if leaf == "position_ids":
            device = next(model.parameters()).device
            owner.register_buffer(leaf, torch.arange(buffer.shape[-1], device=device).expand((1, -1)),
                                  persistent=False)
        else:  # pragma: no cover - a diffusers/transformers change we do not know
            raise ModelFileError(f"internal: buffer {name} was not in the checkpoint")


def _scheduler(config: dict[str, Any]) -> Any:
    import diffusers

    config = dict(config)
    cls = getattr(diffusers, config.pop("_class_name"))
    return cls.from_config(config)


def _set_scheduler_prediction(pipe: Any, prediction: str, zero_snr: bool) -> None:
    """The pipeline's own scheduler says what the model is (Runner rebuilds it per sampler from this config)."""
    if prediction not in ("epsilon", "v_prediction"):
        return  # flow matching: the runner builds its own scheduler from the profile
    extra: dict[str, Any] = {"prediction_type": prediction}
    if prediction == "v_prediction" and zero_snr:
        extra.update(rescale_betas_zero_snr=True, timestep_spacing="trailing")
    pipe.scheduler = type(pipe.scheduler).from_config(pipe.scheduler.config, **extra)


def a1111_v_probe(unet: Any) -> bool:
    """A1111's ``is_using_v_parameterization_for_sd2``: run the UNet at t=999 on a flat 0.5 input with a flat
    0.5 context; an epsilon model predicts roughly the input, a v model strongly negative values."""
    import torch

    param = next(unet.parameters())
    x = torch.full((1, unet.config.in_channels, 8, 8), 0.5, dtype=param.dtype, device=param.device)
    context = torch.full((1, 2, unet.config.cross_attention_dim), 0.5, dtype=param.dtype, device=param.device)
    with torch.no_grad():
        out = unet(x, torch.tensor([999], device=param.device), encoder_hidden_states=context).sample
    return (out - x).float().mean().item() < -1


# -- Stable Cascade ---------------------------------------------------------------------------------------
def _build_cascade(prior_tf: TensorFile, decoder_tf: TensorFile, torch_dtype: Any, device: Any) -> Any:
    import diffusers
    import torch
    from diffusers.pipelines.deprecated.wuerstchen import PaellaVQModel

    from ..encode.tokenizer import clip_tokenizer

    dtype = torch_dtype or torch.float32
    family = family_config("cascade")
    spec = family["text_encoders"][0]
    text_encoder = _build_clip(prior_tf, spec, dtype, device, prior_tf.path.name)
    units = []
    for tf, stage in ((prior_tf, family["prior"]), (decoder_tf, family["decoder"])):
        cfg = cascade_unet_config(tf.shapes, UNET_PREFIX, stage, tf.path.name)
        units.append(_assemble(lambda cfg=cfg: diffusers.StableCascadeUNet(**cfg),
                               convert_cascade_unet(_load(tf, (UNET_PREFIX,), dtype, device), UNET_PREFIX),
                               f"{tf.path.name}: its Stable Cascade UNet"))
    vq_cfg = paella_vq_config(decoder_tf.shapes, "vae.", family["vqgan"], decoder_tf.path.name)
    vq_state = convert_stage_a(_load(decoder_tf, ("vae.",), dtype, device), "vae.")
    vqgan = _assemble(lambda: PaellaVQModel(**vq_cfg), vq_state, f"{decoder_tf.path.name}: its stage A (VQGAN)")
    tokenizer = clip_tokenizer(spec["pad"])
    return diffusers.StableCascadeCombinedPipeline(
        tokenizer=tokenizer, text_encoder=text_encoder, decoder=units[1], scheduler=_scheduler(family["scheduler"]),
        vqgan=vqgan, prior_prior=units[0], prior_text_encoder=text_encoder, prior_tokenizer=tokenizer,
        prior_scheduler=_scheduler(family["scheduler"]), prior_feature_extractor=None, prior_image_encoder=None)
