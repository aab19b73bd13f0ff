"""The original single-file key layouts (CompVis LDM / Stability SGM, Stable Cascade) and diffusers' layout.

A single-file checkpoint stores the UNet as ``model.diffusion_model.input_blocks.4.1...``, the VAE as
``first_stage_model.encoder.down.0.block.1...`` and OpenCLIP text encoders with fused ``in_proj`` attention;
diffusers names the same modules ``down_blocks.1.attentions.0...``. This module holds that one map, built
from a model's block structure, in both directions:

- checkpoint -> diffusers, to load single files (``single_file.py``);
- diffusers -> LDM module names, for kohya LoRA keys (SDXL LoRAs name LDM modules:
  ``lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q``) and to write checkpoints.

It also reads each component's diffusers config from the tensor shapes (widths, depths, layer counts), so
nothing but the few facts in ``configs/*.json`` (head width, norm groups, activations) is assumed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import ModelFileError

UNET_PREFIX = "model.diffusion_model."
VAE_PREFIX = "first_stage_model."

# diffusers ResnetBlock2D child -> LDM ResBlock child (UNet); the VAE's ResnetBlock only renames the shortcut.
_UNET_RESNET = {"norm1": "in_layers.0", "conv1": "in_layers.2", "time_emb_proj": "emb_layers.1",
                "norm2": "out_layers.0", "conv2": "out_layers.3", "conv_shortcut": "skip_connection"}
_VAE_RESNET = {"conv_shortcut": "nin_shortcut"}
_VAE_ATTENTION = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "proj_out"}


@dataclass(frozen=True)
class BlockMap:
    """diffusers module prefix -> (LDM prefix, child-name map) for every block of one model."""

    blocks: dict[str, tuple[str, dict[str, str]]]

    def __post_init__(self) -> None:
        back = {ldm: (name, {v: k for k, v in children.items()}) for name, (ldm, children) in self.blocks.items()}
        object.__setattr__(self, "_back", back)

    def to_ldm(self, name: str) -> str | None:
        """A diffusers key or module name in the LDM layout (None if it is not part of this model)."""
        return _convert(name, self.blocks)

    def from_ldm(self, name: str) -> str | None:
        return _convert(name, self._back)  # type: ignore[attr-defined]

    def module_names(self) -> dict[str, str]:
        """LDM module path -> diffusers module path, for every block (children included lazily by callers)."""
        return {ldm: name for name, (ldm, _) in self.blocks.items()}


def _convert(name: str, table: Mapping[str, tuple[str, dict[str, str]]]) -> str | None:
    parts = name.split(".")
    for n in range(min(len(parts), 6), 0, -1):
        hit = table.get(".".join(parts[:n]))
        if hit is None:
            continue
        target, children = hit
        rest = parts[n:]
        for width in (2, 1):
            child = ".".join(rest[:width])
            if len(rest) >= width and child in children:
                rest = children[child].split(".") + rest[width:]
                break
        return ".".join([target, *rest]) if rest else target
    return None


def unet_block_map(levels: int, layers: int, attention: list[bool], addition_embedding: bool) -> BlockMap:
    """The LDM <-> diffusers map of a UNet2DConditionModel with ``levels`` resolutions of ``layers`` blocks."""
    plain: dict[str, str] = {}
    blocks: dict[str, tuple[str, dict[str, str]]] = {
        "conv_in": ("input_blocks.0.0", plain), "time_embedding.linear_1": ("time_embed.0", plain),
        "time_embedding.linear_2": ("time_embed.2", plain), "conv_norm_out": ("out.0", plain),
        "conv_out": ("out.2", plain)}
    if addition_embedding:
        blocks["add_embedding.linear_1"] = ("label_emb.0.0", plain)
        blocks["add_embedding.linear_2"] = ("label_emb.0.2", plain)
    for i in range(levels):
        for j in range(layers):
            k = 1 + i * (layers + 1) + j
            blocks[f"down_blocks.{i}.resnets.{j}"] = (f"input_blocks.{k}.0", _UNET_RESNET)
            if attention[i]:
                blocks[f"down_blocks.{i}.attentions.{j}"] = (f"input_blocks.{k}.1", plain)
        if i < levels - 1:
            blocks[f"down_blocks.{i}.downsamplers.0.conv"] = (f"input_blocks.{1 + i * (layers + 1) + layers}.0.op",
                                                             plain)
    blocks["mid_block.resnets.0"] = ("middle_block.0", _UNET_RESNET)
    blocks["mid_block.attentions.0"] = ("middle_block.1", plain)
    blocks["mid_block.resnets.1"] = ("middle_block.2", _UNET_RESNET)
    up_attention = attention[::-1]
    for i in range(levels):
        for j in range(layers + 1):
            k = i * (layers + 1) + j
            blocks[f"up_blocks.{i}.resnets.{j}"] = (f"output_blocks.{k}.0", _UNET_RESNET)
            if up_attention[i]:
                blocks[f"up_blocks.{i}.attentions.{j}"] = (f"output_blocks.{k}.1", plain)
        if i < levels - 1:
            k = i * (layers + 1) + layers
            blocks[f"up_blocks.{i}.upsamplers.0.conv"] = (f"output_blocks.{k}.{2 if up_attention[i] else 1}.conv",
                                                         plain)
    return BlockMap(blocks)


def unet_block_map_for(config: Mapping[str, Any]) -> BlockMap:
    """The map for a diffusers UNet config (what a loaded pipeline's ``unet.config`` holds)."""
    return unet_block_map(len(config["block_out_channels"]), int(config["layers_per_block"]),
                          [t.startswith("CrossAttn") for t in config["down_block_types"]],
                          config.get("addition_embed_type") == "text_time")


def vae_block_map(levels: int, layers: int) -> BlockMap:
    plain: dict[str, str] = {}
    blocks: dict[str, tuple[str, dict[str, str]]] = {
        "quant_conv": ("quant_conv", plain), "post_quant_conv": ("post_quant_conv", plain)}
    for side in ("encoder", "decoder"):
        blocks[f"{side}.conv_in"] = (f"{side}.conv_in", plain)
        blocks[f"{side}.conv_out"] = (f"{side}.conv_out", plain)
        blocks[f"{side}.conv_norm_out"] = (f"{side}.norm_out", plain)
        blocks[f"{side}.mid_block.resnets.0"] = (f"{side}.mid.block_1", _VAE_RESNET)
        blocks[f"{side}.mid_block.resnets.1"] = (f"{side}.mid.block_2", _VAE_RESNET)
        blocks[f"{side}.mid_block.attentions.0"] = (f"{side}.mid.attn_1", _VAE_ATTENTION)
    for i in range(levels):
        for j in range(layers):
            blocks[f"encoder.down_blocks.{i}.resnets.{j}"] = (f"encoder.down.{i}.block.{j}", _VAE_RESNET)
        if i < levels - 1:
            blocks[f"encoder.down_blocks.{i}.downsamplers.0.conv"] = (f"encoder.down.{i}.downsample.conv", plain)
        ldm = levels - 1 - i
        for j in range(layers + 1):
            blocks[f"decoder.up_blocks.{i}.resnets.{j}"] = (f"decoder.up.{ldm}.block.{j}", _VAE_RESNET)
        if i < levels - 1:
            blocks[f"decoder.up_blocks.{i}.upsamplers.0.conv"] = (f"decoder.up.{ldm}.upsample.conv", plain)
    return BlockMap(blocks)


def is_vae_attention_projection(ldm_key: str) -> bool:
    """LDM VAE attention q/k/v/proj_out are 1x1 convolutions; diffusers stores them as linear weights."""
    return ".mid.attn_1." in ldm_key and ldm_key.rsplit(".", 2)[-2] in ("q", "k", "v", "proj_out") \
        and ldm_key.endswith(".weight")


# -- shapes -> configs -----------------------------------------------------------------------------------
class _Shape(tuple):
    """A tensor's shape that names the tensor when asked for a dimension it lacks (a damaged header: one
    line, not an ``IndexError``)."""

    def __new__(cls, dims: tuple[int, ...], key: str, what: str) -> "_Shape":
        shape = super().__new__(cls, dims)
        shape.key, shape.what = key, what
        return shape

    def __getitem__(self, index):  # type: ignore[override]
        try:
            return super().__getitem__(index)
        except IndexError:
            raise ModelFileError(f"{self.what} is damaged: tensor {self.key} has shape {list(self)}, too few "
                                 "dimensions for its place in the model") from None


class Shapes:
    """Tensor shapes under one key prefix, with the counting helpers config inference needs."""

    def __init__(self, shapes: Mapping[str, tuple[int, ...]], prefix: str, what: str) -> None:
        self.shapes, self.prefix, self.what = shapes, prefix, what

    def __contains__(self, key: str) -> bool:
        return self.prefix + key in self.shapes

    def __call__(self, key: str) -> tuple[int, ...]:
        try:
            return _Shape(self.shapes[self.prefix + key], self.prefix + key, self.what)
        except KeyError:
            raise ModelFileError(f"{self.what} lacks {self.prefix + key}: the file is incomplete or not a "
                                 "standard checkpoint") from None

    def indices(self, stem: str) -> list[int]:
        """Sorted distinct integers N of keys ``prefix + stem + N.``."""
        start = self.prefix + stem
        found = set()
        for key in self.shapes:
            if key.startswith(start):
                head = key[len(start):].split(".", 1)[0]
                if head.isdigit():
                    found.add(int(head))
        return sorted(found)


def unet_config(shapes: Mapping[str, tuple[int, ...]], family: Mapping[str, Any], pooled_dim: int | None,
                what: str) -> dict[str, Any]:
    """A UNet2DConditionModel config read from an LDM UNet's shapes (``model.diffusion_model.*``)."""
    s = Shapes(shapes, UNET_PREFIX, what)
    model_channels, in_channels = s("input_blocks.0.0.weight")[:2]
    inputs = s.indices("input_blocks.")
    ops = [i for i in inputs if f"input_blocks.{i}.0.op.weight" in s]
    layers = ops[0] - 1 if ops else len(inputs) - 1
    levels = len(ops) + 1
    if layers < 1 or len(inputs) != levels * (layers + 1):
        raise ModelFileError(f"{what}: its UNet input blocks ({len(inputs)}) do not form a standard LDM UNet")
    first = [1 + i * (layers + 1) for i in range(levels)]
    channels = [s(f"input_blocks.{k}.0.out_layers.3.weight")[0] for k in first]
    attention = [f"input_blocks.{k}.1.proj_in.weight" in s for k in first]
    if not any(attention):
        raise ModelFileError(f"{what}: its UNet has no cross-attention blocks")
    depth = [len(s.indices(f"input_blocks.{k}.1.transformer_blocks.")) if a else 1 for k, a in zip(first, attention)]
    mid_depth = len(s.indices("middle_block.1.transformer_blocks."))
    if mid_depth and mid_depth != depth[-1]:
        raise ModelFileError(f"{what}: its middle block has {mid_depth} transformer layers and its last level "
                             f"{depth[-1]}; diffusers' UNet cannot hold that layout")
    attn = attention.index(True)
    context = s(f"input_blocks.{first[attn]}.1.transformer_blocks.0.attn2.to_k.weight")[1]
    linear = len(s(f"input_blocks.{first[attn]}.1.proj_in.weight")) == 2
    if "num_heads" in family:
        heads: Any = int(family["num_heads"])
    else:
        width = int(family["head_channels"])
        heads = [max(1, c // width) for c in channels]
    config: dict[str, Any] = {
        "sample_size": family.get("sample_size", 64), "in_channels": in_channels,
        "out_channels": s("out.2.weight")[0], "down_block_types": [
            "CrossAttnDownBlock2D" if a else "DownBlock2D" for a in attention],
        "up_block_types": ["CrossAttnUpBlock2D" if a else "UpBlock2D" for a in attention[::-1]],
        "block_out_channels": channels, "layers_per_block": layers, "cross_attention_dim": context,
        "attention_head_dim": heads, "use_linear_projection": linear,
        "transformer_layers_per_block": depth if len(set(depth)) > 1 else depth[0],
        "norm_num_groups": family.get("norm_num_groups", 32), "norm_eps": family.get("norm_eps", 1e-5),
        "upcast_attention": family.get("upcast_attention", False)}
    time_dim = s("time_embed.0.weight")[0]
    if time_dim != channels[0] * 4:
        config["time_embedding_dim"] = time_dim
    if "label_emb.0.0.weight" in s:
        adm = s("label_emb.0.0.weight")[1]
        if pooled_dim is None or (adm - pooled_dim) % 6:
            raise ModelFileError(f"{what}: its UNet takes {adm} added conditioning inputs, which do not fit SDXL's "
                                 f"pooled text ({pooled_dim}) + 6 size/crop embeddings")
        config.update(addition_embed_type="text_time", addition_time_embed_dim=(adm - pooled_dim) // 6,
                      projection_class_embeddings_input_dim=adm)
    del model_channels
    return config


def vae_config(shapes: Mapping[str, tuple[int, ...]], family: Mapping[str, Any], what: str) -> dict[str, Any]:
    s = Shapes(shapes, VAE_PREFIX, what)
    levels = len(s.indices("encoder.down."))
    layers = len(s.indices("encoder.down.0.block."))
    if levels < 1 or layers < 1:
        raise ModelFileError(f"{what}: its VAE encoder has no down blocks")
    config: dict[str, Any] = {
        "in_channels": s("encoder.conv_in.weight")[1], "out_channels": s("decoder.conv_out.weight")[0],
        "down_block_types": ["DownEncoderBlock2D"] * levels, "up_block_types": ["UpDecoderBlock2D"] * levels,
        "block_out_channels": [s(f"encoder.down.{i}.block.0.conv2.weight")[0] for i in range(levels)],
        "layers_per_block": layers, "latent_channels": s("decoder.conv_in.weight")[1],
        "norm_num_groups": family.get("norm_num_groups", 32), "sample_size": family.get("sample_size", 512),
        "scaling_factor": family["scaling_factor"], "force_upcast": family.get("force_upcast", True),
        "use_quant_conv": "quant_conv.weight" in s, "use_post_quant_conv": "post_quant_conv.weight" in s}
    return config


def under(tensors: Mapping[str, Any], prefix: str) -> Iterator[tuple[str, Any]]:
    """(name without ``prefix``, tensor) for every tensor under ``prefix``."""
    for key, value in tensors.items():
        if key.startswith(prefix):
            yield key[len(prefix):], value


def convert_unet(tensors: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    """LDM UNet tensors (``model.diffusion_model.*``) -> diffusers UNet2DConditionModel state dict."""
    table = unet_block_map_for(config)
    out = {}
    for ldm, value in under(tensors, UNET_PREFIX):
        name = table.from_ldm(ldm)
        if name is not None:
            out[name] = value
    return out


def convert_vae(tensors: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    table = vae_block_map(len(config["block_out_channels"]), int(config["layers_per_block"]))
    out = {}
    for ldm, value in under(tensors, VAE_PREFIX):
        name = table.from_ldm(ldm)
        if name is None:
            continue
        if is_vae_attention_projection(ldm) and value.ndim == 4:
            value = value[:, :, 0, 0]
        out[name] = value
    return out


# -- text encoders ---------------------------------------------------------------------------------------
def clip_config(shapes: Mapping[str, tuple[int, ...]], spec: Mapping[str, Any], what: str) -> dict[str, Any]:
    """A CLIPTextConfig (as kwargs) for an HF-layout or OpenCLIP-layout text encoder in a checkpoint."""
    prefix = spec["prefix"]
    if spec["layout"] == "hf":
        s = Shapes(shapes, hf_text_model_prefix(shapes, prefix), what)
        vocab, hidden = s("embeddings.token_embedding.weight")
        positions = s("embeddings.position_embedding.weight")[0]
        layers = len(s.indices("encoder.layers."))
        intermediate = s("encoder.layers.0.mlp.fc1.weight")[0]
        projection = _hf_projection_shape(shapes, prefix)
        projection_dim = projection[0] if projection else hidden
    else:
        s = Shapes(shapes, prefix, what)
        vocab, hidden = s("token_embedding.weight")
        positions = s("positional_embedding")[0]
        layers = len(s.indices("transformer.resblocks.")) - int(spec.get("drop_last_layers", 0))
        intermediate = s("transformer.resblocks.0.mlp.c_fc.weight")[0]
        projection_dim = s("text_projection")[1] if spec.get("projection") else hidden
    if layers < 1:
        raise ModelFileError(f"{what}: its text encoder under {prefix} has no layers")
    return {"vocab_size": vocab, "hidden_size": hidden, "intermediate_size": intermediate,
            "num_hidden_layers": layers, "num_attention_heads": max(1, hidden // int(spec["head_width"])),
            "max_position_embeddings": positions, "hidden_act": spec["hidden_act"], "projection_dim": projection_dim,
            "bos_token_id": 49406, "eos_token_id": 49407, "pad_token_id": 1, "layer_norm_eps": 1e-5}


def hf_text_model_prefix(keys: Mapping[str, Any], prefix: str) -> str:
    """Where an HF-layout CLIP's ``text_model`` lives: ``prefix + "text_model."``, or ``prefix`` itself in early
    SD 1.x checkpoints saved with transformers before 4.18 (``cond_stage_model.transformer.embeddings.*``)."""
    wrapped = prefix + "text_model."
    if any(k.startswith(wrapped) for k in keys):
        return wrapped
    return prefix


def _hf_projection_shape(shapes: Mapping[str, tuple[int, ...]], prefix: str) -> tuple[int, ...] | None:
    """(projection_dim, hidden) of an HF-layout projection, stored as ``text_projection.weight`` or as the
    OpenCLIP-oriented ``text_projection`` one level up (ComfyUI's Stable Cascade bundle)."""
    if prefix + "text_projection.weight" in shapes:
        return shapes[prefix + "text_projection.weight"]
    outer = prefix.rsplit("transformer.", 1)[0] + "text_projection"
    if outer in shapes:
        if len(shapes[outer]) != 2:
            raise ModelFileError(f"{outer} has shape {list(shapes[outer])}, where a projection is 2-dimensional: "
                                 "the file is damaged")
        hidden, dim = shapes[outer]
        return (dim, hidden)
    return None


def convert_clip(tensors: Mapping[str, Any], spec: Mapping[str, Any], layers: int, with_projection: bool,
                 flattened: bool) -> dict[str, Any]:
    """Checkpoint text-encoder tensors -> a transformers CLIPTextModel(WithProjection) state dict.

    ``flattened``: transformers >= 5.6 ``CLIPTextModel`` has no ``text_model.`` wrapper."""
    prefix = spec["prefix"]
    out: dict[str, Any] = {}
    if spec["layout"] == "hf":
        for name, value in under(tensors, hf_text_model_prefix(tensors, prefix)):
            if not name.endswith("position_ids") and not name.startswith("text_projection"):
                out["text_model." + name] = value
        if with_projection:
            if prefix + "text_projection.weight" in tensors:
                out["text_projection.weight"] = tensors[prefix + "text_projection.weight"]
            else:
                outer = tensors[prefix.rsplit("transformer.", 1)[0] + "text_projection"]
                out["text_projection.weight"] = outer.T.contiguous()
    else:
        out = _convert_open_clip(tensors, prefix, layers, with_projection)
    if flattened:
        out = {k.removeprefix("text_model."): v for k, v in out.items()}
    return out


def _split3(fused: Any) -> list[Any]:
    """A fused q/k/v projection as three tensors with their own storage: views into the fused tensor would
    keep it alive and, misaligned, can take other (not bit-identical) matmul kernels than separate weights."""
    return [part.clone() for part in fused.chunk(3, dim=0)]


_OPEN_CLIP_BLOCK = {"ln_1": "layer_norm1", "ln_2": "layer_norm2", "attn.out_proj": "self_attn.out_proj",
                    "mlp.c_fc": "mlp.fc1", "mlp.c_proj": "mlp.fc2"}


def _convert_open_clip(tensors: Mapping[str, Any], prefix: str, layers: int,
                       with_projection: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    simple = {"token_embedding.weight": "text_model.embeddings.token_embedding.weight",
              "positional_embedding": "text_model.embeddings.position_embedding.weight",
              "ln_final.weight": "text_model.final_layer_norm.weight",
              "ln_final.bias": "text_model.final_layer_norm.bias"}
    for key, name in simple.items():
        if prefix + key in tensors:
            out[name] = tensors[prefix + key]
    if with_projection:
        out["text_projection.weight"] = tensors[prefix + "text_projection"].T.contiguous()
    block_prefix = prefix + "transformer.resblocks."
    for key, value in tensors.items():
        if not key.startswith(block_prefix):
            continue
        index, rest = key[len(block_prefix):].split(".", 1)
        if int(index) >= layers:
            continue  # SD2 reads the penultimate layer: the last one is not part of its text encoder
        target = f"text_model.encoder.layers.{index}."
        if rest in ("attn.in_proj_weight", "attn.in_proj_bias"):
            kind = "weight" if rest.endswith("weight") else "bias"
            for part, chunk in zip(("q_proj", "k_proj", "v_proj"), _split3(value)):
                out[f"{target}self_attn.{part}.{kind}"] = chunk
            continue
        module, _, leaf = rest.rpartition(".")
        if module in _OPEN_CLIP_BLOCK:
            out[target + _OPEN_CLIP_BLOCK[module] + "." + leaf] = value
    return out


def open_clip_names() -> dict[str, str]:
    """OpenCLIP block child -> HF CLIP child (for writers of the LDM layout)."""
    return dict(_OPEN_CLIP_BLOCK)


# -- Stable Cascade --------------------------------------------------------------------------------------
CASCADE_TYPES = {"depthwise": "SDCascadeResBlock", "mapper": "SDCascadeTimestepBlock",
                 "attention": "SDCascadeAttnBlock"}


def cascade_unet_config(shapes: Mapping[str, tuple[int, ...]], prefix: str, stage: Mapping[str, Any],
                        what: str) -> dict[str, Any]:
    """A StableCascadeUNet config read from a stage B or stage C UNet in the original (Wuerstchen v3) layout."""
    s = Shapes(shapes, prefix, what)
    levels = len(s.indices("down_blocks."))
    if levels < 1:
        raise ModelFileError(f"{what}: no Stable Cascade down blocks under {prefix or 'the top level'}")
    channels = [s(f"down_blocks.{i}.0.depthwise.weight")[0] for i in range(levels)]

    def kinds(side: str, i: int) -> list[str]:
        found = []
        for j in s.indices(f"{side}.{i}."):
            for child, kind in CASCADE_TYPES.items():
                if any(k.startswith(f"{prefix}{side}.{i}.{j}.{child}") for k in shapes):
                    found.append(kind)
                    break
            else:
                raise ModelFileError(f"{what}: unknown block {side}.{i}.{j} in its Stable Cascade UNet")
        return found

    types, down_layers = [], []
    for i in range(levels):
        found = kinds("down_blocks", i)
        period = found.index("SDCascadeResBlock", 1) if "SDCascadeResBlock" in found[1:] else len(found)
        pattern = found[:period]
        if found != pattern * (len(found) // period):
            raise ModelFileError(f"{what}: the blocks of level {i} do not repeat one layer pattern")
        types.append(tuple(pattern))
        down_layers.append(len(found) // period)
    up_layers = [len(kinds("up_blocks", u)) // len(types[levels - 1 - u]) for u in range(levels)]
    attention = [i for i in range(levels) if "SDCascadeAttnBlock" in types[i]]
    width = int(stage["head_width"])
    heads = [channels[i] // width if i in attention else -1 for i in range(levels)]
    if not attention:
        raise ModelFileError(f"{what}: its Stable Cascade UNet has no attention blocks")
    first_attn = types[attention[0]].index("SDCascadeAttnBlock")
    conditioning = s(f"down_blocks.{attention[0]}.{first_attn}.kv_mapper.1.weight")[1]
    ts = types[0].index("SDCascadeTimestepBlock")
    timestep_dim = s(f"down_blocks.0.{ts}.mapper.weight")[1]
    conds = tuple(c for c in ("sca", "crp") if f"down_blocks.0.{ts}.mapper_{c}.weight" in s)
    pooled_key = "clip_txt_pooled_mapper.weight" if "clip_txt_pooled_mapper.weight" in s else "clip_mapper.weight"
    pooled_out, pooled_in = s(pooled_key)
    patch = int(stage["patch_size"])
    switch = None
    if any(k.startswith(prefix + "down_downscalers.") and ".blocks." in k for k in shapes):
        switch = (bool(stage.get("switch_level")),) * (levels - 1)
    return {
        "in_channels": s("embedding.1.weight")[1] // patch ** 2, "out_channels": s("clf.1.weight")[0] // patch ** 2,
        "timestep_ratio_embedding_dim": timestep_dim, "patch_size": patch, "conditioning_dim": conditioning,
        "block_out_channels": tuple(channels), "num_attention_heads": tuple(heads),
        "down_num_layers_per_block": tuple(down_layers), "up_num_layers_per_block": tuple(up_layers),
        "down_blocks_repeat_mappers": tuple(len(s.indices(f"down_repeat_mappers.{i}.")) + 1 for i in range(levels)),
        "up_blocks_repeat_mappers": tuple(len(s.indices(f"up_repeat_mappers.{u}.")) + 1 for u in range(levels)),
        "block_types_per_layer": tuple(types),
        "clip_text_in_channels": s("clip_txt_mapper.weight")[1] if "clip_txt_mapper.weight" in s else None,
        "clip_text_pooled_in_channels": pooled_in,
        "clip_image_in_channels": s("clip_img_mapper.weight")[1] if "clip_img_mapper.weight" in s else None,
        "clip_seq": pooled_out // conditioning,
        "effnet_in_channels": s("effnet_mapper.0.weight")[1] if "effnet_mapper.0.weight" in s else None,
        "pixel_mapper_in_channels": s("pixels_mapper.0.weight")[1] if "pixels_mapper.0.weight" in s else None,
        "kernel_size": s("down_blocks.0.0.depthwise.weight")[-1], "dropout": (0.0,) * levels,
        "self_attn": bool(stage.get("self_attn", True)), "timestep_conditioning_type": conds,
        "switch_level": switch}


def convert_cascade_unet(tensors: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """Original Stable Cascade UNet tensors -> diffusers StableCascadeUNet (split fused attention)."""
    out: dict[str, Any] = {}
    for name, value in under(tensors, prefix):
        if name.endswith(("attention.attn.in_proj_weight", "attention.attn.in_proj_bias")):
            kind = "weight" if name.endswith("weight") else "bias"
            base = name.rsplit(".attn.", 1)[0]
            for part, chunk in zip(("to_q", "to_k", "to_v"), _split3(value)):
                out[f"{base}.{part}.{kind}"] = chunk
        elif ".attention.attn.out_proj." in name:
            out[name.replace(".attention.attn.out_proj.", ".attention.to_out.0.")] = value
        elif name.startswith("clip_mapper."):
            out[name.replace("clip_mapper.", "clip_txt_pooled_mapper.", 1)] = value
        else:
            out[name] = value
    return out


def convert_stage_a(tensors: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """Original stage A (``VectorQuantize.codebook``) -> diffusers PaellaVQModel (``vquantizer.embedding``)."""
    out: dict[str, Any] = {}
    for name, value in under(tensors, prefix):
        if name.startswith("vquantizer."):
            if name != "vquantizer.codebook.weight":
                continue  # training-time EMA buffers
            name = "vquantizer.embedding.weight"
        out[name] = value
    return out


def paella_vq_config(shapes: Mapping[str, tuple[int, ...]], prefix: str, family: Mapping[str, Any],
                     what: str) -> dict[str, Any]:
    """A PaellaVQModel (Stable Cascade stage A) config from its shapes."""
    s = Shapes(shapes, prefix, what)
    levels = int(family.get("levels", 2))
    num_vq, latent = s("vquantizer.codebook.weight")
    up_blocks = len(s.indices("up_blocks."))
    return {"in_channels": family.get("in_channels", 3), "out_channels": family.get("out_channels", 3),
            "up_down_scale_factor": family.get("up_down_scale_factor", 2), "levels": levels,
            "bottleneck_blocks": up_blocks - 1 - 2 * (levels - 1),
            "embed_dim": s("in_block.1.weight")[0] * 2 ** (levels - 1), "latent_channels": latent,
            "num_vq_embeddings": num_vq, "scale_factor": family.get("scale_factor", 0.3764)}
