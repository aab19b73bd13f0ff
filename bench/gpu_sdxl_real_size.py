"""One real-size SDXL generation with random weights on a GPU, through promptkit's Runner (issue 6 check).

    python bench/gpu_sdxl_real_size.py [--steps 28] [--size 1024x1024]

Builds SDXL-base-sized components from their configs (UNet 2.6B, CLIP-L, OpenCLIP bigG, VAE) directly on the
GPU in float16, wraps them in a StableDiffusionXLPipeline, and times Runner.generate with the Kivotos XL
profile (Euler a, CFG 6). Nothing is downloaded; the images are noise, the timing is real.
"""

from __future__ import annotations

import argparse
import time

import torch


def build(device: str, dtype: torch.dtype):
    from diffusers import AutoencoderKL, EulerAncestralDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    from promptkit.encode import clip_tokenizer

    with torch.device(device):
        unet = UNet2DConditionModel(
            sample_size=128, in_channels=4, out_channels=4,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
            block_out_channels=(320, 640, 1280), layers_per_block=2, transformer_layers_per_block=(1, 2, 10),
            attention_head_dim=(5, 10, 20), cross_attention_dim=2048, use_linear_projection=True,
            addition_embed_type="text_time", addition_time_embed_dim=256, projection_class_embeddings_input_dim=2816)
        vae = AutoencoderKL(block_out_channels=(128, 256, 512, 512), in_channels=3, out_channels=3,
                            down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4,
                            latent_channels=4, layers_per_block=2, sample_size=1024, scaling_factor=0.13025)
        common = dict(vocab_size=49408, bos_token_id=49406, eos_token_id=49407, max_position_embeddings=77,
                      hidden_act="gelu")
        te = CLIPTextModel(CLIPTextConfig(hidden_size=768, intermediate_size=3072, num_attention_heads=12,
                                          num_hidden_layers=12, projection_dim=768, **common))
        te2 = CLIPTextModelWithProjection(CLIPTextConfig(hidden_size=1280, intermediate_size=5120,
                                                         num_attention_heads=20, num_hidden_layers=32,
                                                         projection_dim=1280, **common))
    pipe = StableDiffusionXLPipeline(vae=vae, text_encoder=te, text_encoder_2=te2, tokenizer=clip_tokenizer(),
                                     tokenizer_2=clip_tokenizer("!"), unet=unet,
                                     scheduler=EulerAncestralDiscreteScheduler(
                                         beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                         timestep_spacing="leading", steps_offset=1))
    return pipe.to(device, dtype)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=28)
    ap.add_argument("--size", default="1024x1024")
    args = ap.parse_args()
    from promptkit.runners import Runner

    device = "cuda"
    t0 = time.perf_counter()
    pipe = build(device, torch.float16)
    params = sum(p.numel() for p in pipe.unet.parameters()) / 1e9
    print(f"{torch.cuda.get_device_name()}: built SDXL-size pipeline (UNet {params:.2f}B params) "
          f"in {time.perf_counter() - t0:.1f} s")
    runner = Runner.from_pipeline(pipe, "kivotos-xl-2")
    w, h = map(int, args.size.split("x"))
    prompt = "1girl, kazusa \\(blue archive\\), blue archive, (smile:1.2), outdoors, masterpiece, best quality"
    runner.generate(prompt, steps=2, size=(w, h))  # warm-up (kernels, allocator)
    for label, text in (("plain", prompt), ("prompt editing", prompt + ", [day:night:0.5]")):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        gen = runner.generate(text, seed=1, steps=args.steps, size=(w, h))
        torch.cuda.synchronize()
        dt = time.perf_counter() - t0
        print(f"{label}: {args.steps} steps Euler a CFG {gen.params['CFG scale']} at {w}x{h}: {dt:.2f} s "
              f"({args.steps / dt:.1f} it/s), peak memory {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB")
    print(gen.infotext)


if __name__ == "__main__":
    main()
