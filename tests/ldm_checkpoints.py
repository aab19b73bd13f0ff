"""Tiny random-weight pipelines faithful to each family, written as original single-file checkpoints.

The pipelines keep every fact a single file cannot carry at the real models' values (64-wide attention
heads, or 8 heads for SD1; 32 GroupNorm groups; quick_gelu CLIP-L and gelu OpenCLIP; the VAE scale; the
real schedulers), shrinking only what the shapes say (widths, depths, layer counts). The writers turn
diffusers state dicts into the original key layouts (CompVis LDM / SGM, ComfyUI's Stable Cascade bundles);
the tests check them against diffusers' own single-file converters before loading them back.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import save_file

from promptkit.runners.ldm_layout import unet_block_map_for, vae_block_map
from tiny_models import trained_norms

SCHEDULER = dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                 steps_offset=1, timestep_spacing="leading")


def _clip(hidden=64, layers=2, act="quick_gelu", projection=None, seed=0):
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    torch.manual_seed(seed)
    config = CLIPTextConfig(hidden_size=hidden, intermediate_size=2 * hidden, num_attention_heads=hidden // 64,
                            num_hidden_layers=layers, hidden_act=act, vocab_size=49408, bos_token_id=49406,
                            eos_token_id=49407, pad_token_id=1, max_position_embeddings=77,
                            projection_dim=projection or hidden)
    return trained_norms((CLIPTextModelWithProjection if projection else CLIPTextModel)(config), seed).eval()


def _vae(scaling_factor):
    from diffusers import AutoencoderKL

    return AutoencoderKL(block_out_channels=[32, 64], in_channels=3, out_channels=3, latent_channels=4,
                         down_block_types=["DownEncoderBlock2D"] * 2, up_block_types=["UpDecoderBlock2D"] * 2,
                         layers_per_block=1, norm_num_groups=32, scaling_factor=scaling_factor).eval()


def sd_pipeline(seed=0, version=1):
    """SD 1.x (8 heads, conv projections, CLIP-L quick_gelu) or 2.x (64-wide heads, linear projections,
    OpenCLIP gelu padded with "!", upcast attention)."""
    from diffusers import EulerDiscreteScheduler, StableDiffusionPipeline, UNet2DConditionModel

    from promptkit.encode import clip_tokenizer

    torch.manual_seed(seed)
    v2 = version == 2
    unet = UNet2DConditionModel(block_out_channels=(64, 128) if v2 else (32, 64), layers_per_block=1 if v2 else 2,
                                sample_size=16, down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
                                up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=64,
                                attention_head_dim=[1, 2] if v2 else 8, use_linear_projection=v2, upcast_attention=v2,
                                norm_num_groups=32).eval()
    pipe = StableDiffusionPipeline(vae=_vae(0.18215), text_encoder=_clip(act="gelu" if v2 else "quick_gelu",
                                                                         seed=seed + 1),
                                   tokenizer=clip_tokenizer("!" if v2 else "<|endoftext|>"), unet=unet,
                                   scheduler=EulerDiscreteScheduler(**SCHEDULER), safety_checker=None,
                                   feature_extractor=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def sd1_pipeline(seed=0):
    return sd_pipeline(seed, 1)


def sd2_pipeline(seed=0):
    return sd_pipeline(seed, 2)


def sdxl_pipeline(seed=0, pag=False):
    from diffusers import (
        EulerDiscreteScheduler,
        StableDiffusionXLPAGPipeline,
        StableDiffusionXLPipeline,
        UNet2DConditionModel,
    )

    from promptkit.encode import clip_tokenizer

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(block_out_channels=(64, 128), layers_per_block=2, sample_size=16,
                                down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                                up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), attention_head_dim=[1, 2],
                                use_linear_projection=True, addition_embed_type="text_time", addition_time_embed_dim=8,
                                transformer_layers_per_block=[1, 2], projection_class_embeddings_input_dim=6 * 8 + 64,
                                cross_attention_dim=128, norm_num_groups=32).eval()
    parts = dict(vae=_vae(0.13025), text_encoder=_clip(seed=seed + 1),
                 text_encoder_2=_clip(act="gelu", projection=64, seed=seed + 2), tokenizer=clip_tokenizer(),
                 tokenizer_2=clip_tokenizer("!"), unet=unet, scheduler=EulerDiscreteScheduler(**SCHEDULER),
                 force_zeros_for_empty_prompt=True)
    pipe = StableDiffusionXLPAGPipeline(**parts, pag_applied_layers=["mid"]) if pag else \
        StableDiffusionXLPipeline(**parts)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def cascade_pipeline(seed=0):
    from diffusers import (
        DDPMWuerstchenScheduler,
        StableCascadeCombinedPipeline,
        StableCascadeUNet,
    )
    from diffusers.pipelines.deprecated.wuerstchen import PaellaVQModel

    from promptkit.encode import clip_tokenizer

    torch.manual_seed(seed)
    prior = StableCascadeUNet(in_channels=16, out_channels=16, conditioning_dim=128, block_out_channels=(128, 128),
                              num_attention_heads=(2, 2), down_num_layers_per_block=(1, 1),
                              up_num_layers_per_block=(1, 1), clip_image_in_channels=768, switch_level=(False,),
                              clip_text_in_channels=64, clip_text_pooled_in_channels=64, dropout=(0.0, 0.0),
                              timestep_conditioning_type=("sca", "crp")).eval()
    res, ts, attn = "SDCascadeResBlock", "SDCascadeTimestepBlock", "SDCascadeAttnBlock"
    decoder = StableCascadeUNet(in_channels=4, out_channels=4, conditioning_dim=128, patch_size=2,
                                block_out_channels=(32, 64, 64, 128), num_attention_heads=(-1, -1, 1, 2),
                                down_num_layers_per_block=(1, 1, 1, 1), up_num_layers_per_block=(1, 1, 1, 1),
                                down_blocks_repeat_mappers=(1, 1, 1, 1), up_blocks_repeat_mappers=(3, 3, 2, 2),
                                block_types_per_layer=((res, ts), (res, ts), (res, ts, attn), (res, ts, attn)),
                                switch_level=None, clip_text_pooled_in_channels=64, effnet_in_channels=16,
                                pixel_mapper_in_channels=3, dropout=(0.0,) * 4,
                                timestep_conditioning_type=("sca",)).eval()
    vqgan = PaellaVQModel(bottleneck_blocks=1, embed_dim=64, num_vq_embeddings=16).eval()
    te = _clip(act="gelu", projection=64, seed=seed + 1)
    tok = clip_tokenizer("!")
    pipe = StableCascadeCombinedPipeline(tokenizer=tok, text_encoder=te, decoder=decoder,
                                         scheduler=DDPMWuerstchenScheduler(), vqgan=vqgan, prior_prior=prior,
                                         prior_text_encoder=te, prior_tokenizer=tok,
                                         prior_scheduler=DDPMWuerstchenScheduler(), prior_feature_extractor=None,
                                         prior_image_encoder=None)
    pipe.set_progress_bar_config(disable=True)
    return pipe


# -- writers: diffusers -> original single-file layout ---------------------------------------------------
def _hf_clip(te, prefix):
    """An HF-layout CLIP as LDM/SGM checkpoints store it (``...transformer.text_model.*``)."""
    flat = not hasattr(te, "text_model")
    out = {}
    for key, value in te.state_dict().items():
        if key == "text_projection.weight":
            continue
        out[prefix + ("text_model." + key if flat else key)] = value
    out[prefix + "text_model.embeddings.position_ids"] = torch.arange(77).unsqueeze(0)  # old checkpoints keep it
    return out


def _open_clip(te, prefix, extra_layer=False, seed=0):
    """An HF CLIP written in OpenCLIP's layout: fused q/k/v, ``resblocks``, ``ln_final``, ``text_projection``."""
    inner = getattr(te, "text_model", te)
    sd = inner.state_dict()
    hidden = te.config.hidden_size
    out = {prefix + "token_embedding.weight": sd["embeddings.token_embedding.weight"],
           prefix + "positional_embedding": sd["embeddings.position_embedding.weight"],
           prefix + "ln_final.weight": sd["final_layer_norm.weight"],
           prefix + "ln_final.bias": sd["final_layer_norm.bias"],
           prefix + "logit_scale": torch.tensor(4.6052)}
    if hasattr(te, "text_projection"):
        out[prefix + "text_projection"] = te.text_projection.weight.T.contiguous()
    else:
        torch.manual_seed(seed)
        out[prefix + "text_projection"] = torch.randn(hidden, hidden)
    layers = te.config.num_hidden_layers
    names = {"layer_norm1": "ln_1", "layer_norm2": "ln_2", "self_attn.out_proj": "attn.out_proj",
             "mlp.fc1": "mlp.c_fc", "mlp.fc2": "mlp.c_proj"}
    for i in range(layers + int(extra_layer)):
        src = i if i < layers else layers - 1  # SD2 checkpoints carry one more layer than the model reads
        base = f"encoder.layers.{src}."
        block = f"{prefix}transformer.resblocks.{i}."
        scramble = 1.0 if i < layers else -0.5
        for kind in ("weight", "bias"):
            out[block + f"attn.in_proj_{kind}"] = torch.cat(
                [sd[base + f"self_attn.{p}_proj.{kind}"] for p in "qkv"]) * scramble
            for hf, oc in names.items():
                out[block + f"{oc}.{kind}"] = sd[base + f"{hf}.{kind}"] * scramble
    return out


def _unet(unet):
    table = unet_block_map_for(unet.config)
    out = {}
    for key, value in unet.state_dict().items():
        ldm = table.to_ldm(key)
        assert ldm is not None, key
        out["model.diffusion_model." + ldm] = value
    return out


def _vae_keys(vae, prefix="first_stage_model."):
    table = vae_block_map(len(vae.config.block_out_channels), vae.config.layers_per_block)
    out = {}
    for key, value in vae.state_dict().items():
        ldm = table.to_ldm(key)
        assert ldm is not None, key
        if ".mid.attn_1." in ldm and ldm.rsplit(".", 2)[-2] in ("q", "k", "v", "proj_out") and value.ndim == 2:
            value = value[:, :, None, None]
        out[prefix + ldm] = value
    return out


def ldm_state_dict(pipe, family):
    """The single-file state dict of a tiny SD1/SD2/SDXL pipeline."""
    sd = {**_unet(pipe.unet), **_vae_keys(pipe.vae)}
    if family == "sd1":
        sd.update(_hf_clip(pipe.text_encoder, "cond_stage_model.transformer."))
    elif family == "sd2":
        sd.update(_open_clip(pipe.text_encoder, "cond_stage_model.model.", extra_layer=True))
    else:
        sd.update(_hf_clip(pipe.text_encoder, "conditioner.embedders.0.transformer."))
        sd.update(_open_clip(pipe.text_encoder_2, "conditioner.embedders.1.model."))
    sd["model_ema.decay"] = torch.tensor(0.9999)  # what real files also carry and loaders must skip
    return {k: v.contiguous() for k, v in sd.items()}


def write_checkpoint(pipe, family, path: Path, v_pred=False, ztsnr=False, metadata=None) -> Path:
    sd = ldm_state_dict(pipe, family)
    if v_pred:
        sd["v_pred"] = torch.tensor([])
    if ztsnr:
        sd["ztsnr"] = torch.tensor([])
    save_file(sd, str(path), metadata=metadata)
    return path


def _cascade_unet(unet, decoder=False):
    out = {}
    sd = unet.state_dict()
    for key, value in sd.items():
        if ".attention.to_q." in key:
            kind = key.rsplit(".", 1)[1]
            base = key.split(".attention.to_q.")[0]
            out[f"{base}.attention.attn.in_proj_{kind}"] = torch.cat(
                [sd[f"{base}.attention.to_{p}.{kind}"] for p in "qkv"])
        elif ".attention.to_k." in key or ".attention.to_v." in key:
            continue
        elif ".attention.to_out.0." in key:
            out[key.replace(".attention.to_out.0.", ".attention.attn.out_proj.")] = value
        elif decoder and key.startswith("clip_txt_pooled_mapper."):
            out[key.replace("clip_txt_pooled_mapper.", "clip_mapper.")] = value
        else:
            out[key] = value
    return out


def write_cascade(pipe, folder: Path) -> tuple[Path, Path]:
    """ComfyUI's two all-in-one Stable Cascade files: stage C + CLIP-G, stage B + stage A."""
    te = pipe.prior_text_encoder
    prior = {"model.diffusion_model." + k: v for k, v in _cascade_unet(pipe.prior_prior).items()}
    prior.update(_hf_clip(te, "text_encoder.clip_g.transformer."))
    prior["text_encoder.clip_g.text_projection"] = te.text_projection.weight.T.contiguous()
    decoder = {"model.diffusion_model." + k: v for k, v in _cascade_unet(pipe.decoder, decoder=True).items()}
    decoder.update({"vae." + k.replace("vquantizer.embedding.", "vquantizer.codebook."): v
                    for k, v in pipe.vqgan.state_dict().items()})
    c, b = folder / "stable_cascade_stage_c.safetensors", folder / "stable_cascade_stage_b.safetensors"
    save_file({k: v.contiguous() for k, v in prior.items()}, str(c))
    save_file({k: v.contiguous() for k, v in decoder.items()}, str(b))
    return c, b


# -- LoRA files ------------------------------------------------------------------------------------------
def lora_pairs(module, rank, seed):
    """Random (up, down) for a Linear or Conv2d module, conv LoRAs with the module's kernel (LoCon)."""
    g = torch.Generator().manual_seed(seed)
    weight = module.weight
    if weight.ndim == 4:
        down = torch.randn(rank, weight.shape[1], *weight.shape[2:], generator=g) * 0.1
        up = torch.randn(weight.shape[0], rank, 1, 1, generator=g) * 0.1
    else:
        down = torch.randn(rank, weight.shape[1], generator=g) * 0.1
        up = torch.randn(weight.shape[0], rank, generator=g) * 0.1
    return up, down
