"""Tiny random-weight text encoders and pipelines built from configs (no downloads), with the real tokenizer.

Configs follow diffusers' own fast tests (see shared/reference/diffusers-runners.md, 3.1).
"""

from __future__ import annotations

import pytest
import torch

# The scheduler configs the real checkpoints ship (runwayml SD1.5 scheduler_config.json, stabilityai SDXL base
# scheduler/scheduler_config.json): the beta schedule every runner test samples with.
SD15_SCHEDULER = {"_class_name": "PNDMScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear",
                  "beta_start": 0.00085, "clip_sample": False, "num_train_timesteps": 1000, "set_alpha_to_one": False,
                  "skip_prk_steps": True, "steps_offset": 1, "trained_betas": None}
SDXL_SCHEDULER = {"_class_name": "EulerDiscreteScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear",
                  "beta_start": 0.00085, "clip_sample": False, "interpolation_type": "linear",
                  "num_train_timesteps": 1000, "prediction_type": "epsilon", "sample_max_value": 1.0,
                  "set_alpha_to_one": False, "skip_prk_steps": True, "steps_offset": 1, "timestep_spacing": "leading",
                  "trained_betas": None, "use_karras_sigmas": False}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models run fastest single-threaded (and do not fight other work for the cores); import it into a
    test module to apply it there."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def trained_norms(model, seed: int):
    """Give every LayerNorm of ``model`` a scale and shift other than 1 and 0, as a trained model's are.

    A freshly built LayerNorm (weight 1, bias 0) makes each token's output zero-mean, so A1111's emphasis,
    which multiplies by the ratio of two chunk means, divides rounding noise by rounding noise: the result
    depends on the order in which the CPU's kernel sums, and on some processors the second mean is exactly 0
    (inf, then all-NaN latents). With shifts around 0.1 both means are real numbers.
    """
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.LayerNorm) and module.elementwise_affine:
                module.weight.copy_(1.0 + 0.1 * torch.randn(module.weight.shape, generator=g))
                module.bias.copy_(0.1 + 0.05 * torch.randn(module.bias.shape, generator=g))
    return model


def finite(x):
    """``x``, after asserting that every number in it is finite (a tensor, an array, or a Generation's latents
    or images). Two all-NaN outputs compare unequal with torch.equal, yet decode to the same black PNG and
    pass every ``!=`` check: a comparison of a model's outputs proves something only when they are numbers.
    """
    import numpy as np

    if hasattr(x, "latents") and hasattr(x, "images"):  # a promptkit Generation
        finite(x.latents if x.latents is not None else x.images)
        return x
    values = x.detach().cpu().numpy() if torch.is_tensor(x) else np.asarray(x)
    bad = values.size - int(np.isfinite(values).sum())
    assert values.size and not bad, f"the model output {bad} non-finite values of {values.size}"
    return x


def _config(config: dict) -> dict:
    return {k: v for k, v in config.items() if not k.startswith("_")}


def clip_config(hidden: int = 32, layers: int = 5, projection: int = 32):
    from transformers import CLIPTextConfig

    return CLIPTextConfig(hidden_size=hidden, intermediate_size=37, num_attention_heads=4, num_hidden_layers=layers,
                          hidden_act="gelu", vocab_size=49408, bos_token_id=49406, eos_token_id=49407,
                          pad_token_id=1, projection_dim=projection, max_position_embeddings=77)


def text_model(seed: int = 0, hidden: int = 32, layers: int = 5):
    from transformers import CLIPTextModel

    torch.manual_seed(seed)
    return trained_norms(CLIPTextModel(clip_config(hidden, layers)), seed).eval()


def text_model_with_projection(seed: int = 1, hidden: int = 32, layers: int = 5):
    from transformers import CLIPTextModelWithProjection

    torch.manual_seed(seed)
    return trained_norms(CLIPTextModelWithProjection(clip_config(hidden, layers)), seed).eval()


def sd1_pipeline(seed: int = 0):
    from diffusers import AutoencoderKL, PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel

    from promptkit.encode import clip_tokenizer

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(block_out_channels=(4, 8), layers_per_block=1, sample_size=32, in_channels=4,
                                out_channels=4, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                                up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=32,
                                norm_num_groups=2)
    vae = AutoencoderKL(block_out_channels=[4, 8], in_channels=3, out_channels=3,
                        down_block_types=["DownEncoderBlock2D"] * 2, up_block_types=["UpDecoderBlock2D"] * 2,
                        latent_channels=4, norm_num_groups=2)
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text_model(seed), tokenizer=clip_tokenizer(), unet=unet,
                                   scheduler=PNDMScheduler.from_config(_config(SD15_SCHEDULER)), safety_checker=None,
                                   feature_extractor=None,
                                   requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def sdxl_pipeline(seed: int = 0):
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel

    from promptkit.encode import clip_tokenizer

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(block_out_channels=(2, 4), layers_per_block=2, sample_size=32, in_channels=4,
                                out_channels=4, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                                up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), attention_head_dim=(2, 4),
                                use_linear_projection=True, addition_embed_type="text_time",
                                addition_time_embed_dim=8, transformer_layers_per_block=(1, 2),
                                projection_class_embeddings_input_dim=80, cross_attention_dim=64, norm_num_groups=1)
    vae = AutoencoderKL(block_out_channels=[32, 64], in_channels=3, out_channels=3,
                        down_block_types=["DownEncoderBlock2D"] * 2, up_block_types=["UpDecoderBlock2D"] * 2,
                        latent_channels=4, sample_size=128)
    pipe = StableDiffusionXLPipeline(vae=vae, text_encoder=text_model(seed), text_encoder_2=text_model_with_projection(seed + 1),
                                     tokenizer=clip_tokenizer(), tokenizer_2=clip_tokenizer("!"), unet=unet,
                                     scheduler=EulerDiscreteScheduler.from_config(_config(SDXL_SCHEDULER)),
                                     force_zeros_for_empty_prompt=True)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def sdxl_pag_pipeline(seed: int = 0):
    from diffusers import StableDiffusionXLPAGPipeline

    pipe = StableDiffusionXLPAGPipeline.from_pipe(sdxl_pipeline(seed), pag_applied_layers=["mid"])
    pipe.set_progress_bar_config(disable=True)
    return pipe


def cascade_pipeline(seed: int = 0):
    from diffusers import DDPMWuerstchenScheduler, StableCascadeCombinedPipeline, StableCascadeUNet
    from diffusers.pipelines.deprecated.wuerstchen import PaellaVQModel

    from promptkit.encode import clip_tokenizer

    torch.manual_seed(seed)
    prior = StableCascadeUNet(conditioning_dim=128, block_out_channels=(128, 128), num_attention_heads=(2, 2),
                              down_num_layers_per_block=(1, 1), up_num_layers_per_block=(1, 1),
                              clip_image_in_channels=768, switch_level=(False,), clip_text_in_channels=32,
                              clip_text_pooled_in_channels=32, dropout=(0.1, 0.1))
    decoder = StableCascadeUNet(in_channels=4, out_channels=4, conditioning_dim=128,
                                block_out_channels=(16, 32, 64, 128), num_attention_heads=(-1, -1, 1, 2),
                                down_num_layers_per_block=(1, 1, 1, 1), up_num_layers_per_block=(1, 1, 1, 1),
                                down_blocks_repeat_mappers=(1, 1, 1, 1), up_blocks_repeat_mappers=(3, 3, 2, 2),
                                block_types_per_layer=(("SDCascadeResBlock", "SDCascadeTimestepBlock"),
                                                       ("SDCascadeResBlock", "SDCascadeTimestepBlock"),
                                                       ("SDCascadeResBlock", "SDCascadeTimestepBlock",
                                                        "SDCascadeAttnBlock"),
                                                       ("SDCascadeResBlock", "SDCascadeTimestepBlock",
                                                        "SDCascadeAttnBlock")),
                                switch_level=None, clip_text_pooled_in_channels=32, dropout=(0.1, 0.1, 0.1, 0.1))
    vqgan = PaellaVQModel(bottleneck_blocks=1, num_vq_embeddings=2)
    te = text_model_with_projection(seed)
    pipe = StableCascadeCombinedPipeline(tokenizer=clip_tokenizer(), text_encoder=te, decoder=decoder,
                                         scheduler=DDPMWuerstchenScheduler(), vqgan=vqgan, prior_prior=prior,
                                         prior_text_encoder=te, prior_tokenizer=clip_tokenizer(),
                                         prior_scheduler=DDPMWuerstchenScheduler(), prior_feature_extractor=None,
                                         prior_image_encoder=None)
    pipe.set_progress_bar_config(disable=True)
    return pipe
