"""Runners on tiny random-weight pipelines of every family; A1111 infotext reading and writing."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from promptkit.infotext import parse_infotext, read_png_prompts

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from tiny_models import (cascade_pipeline, finite, one_thread, sd1_pipeline, sdxl_pag_pipeline,  # noqa: E402,F401
                         sdxl_pipeline)

from promptkit.runners import GenerationError, Runner, detect_vpred  # noqa: E402

warnings.filterwarnings("ignore", category=FutureWarning)
pytestmark = pytest.mark.filterwarnings("ignore::promptkit.runners.GenerationWarning")


@pytest.fixture(scope="module")
def runners():
    return {
        "sygil": Runner.from_pipeline(sd1_pipeline(), "sygil-diffusion"),
        "kivotos": Runner.from_pipeline(sdxl_pipeline(), "kivotos-xl-2"),
        "space": Runner.from_pipeline(sdxl_pipeline(), "spacediffusion-xl-vpred"),
        "noobai": Runner.from_pipeline(sdxl_pipeline(), "noobai-xl-vpred"),
        "bigasp": Runner.from_pipeline(sdxl_pag_pipeline(), "bigasp-v2.5"),
        "sote": Runner.from_pipeline(cascade_pipeline(), "sotediffusion-wuerstchen3"),
    }


def test_infotext_round_trips_every_corpus_infotext(corpus):
    count = 0
    for record in corpus:
        if not record.get("raw"):
            continue
        info = parse_infotext(record["raw"])
        assert info.prompt == record["prompt"]
        assert (info.negative_prompt or None) == (record["negative_prompt"] or None)
        again = parse_infotext(info.to_text())
        assert (again.prompt, again.negative_prompt, again.params) == (info.prompt, info.negative_prompt, info.params)
        count += 1
    assert count > 50


def test_sdxl_epsilon_family(runners, tmp_path):
    r = runners["kivotos"]
    before = r.pipeline.scheduler
    gen = r.generate("1girl, kazusa \\(blue archive\\), (smile:1.2)", seed=3, steps=2, size=(64, 96))
    assert r.pipeline.scheduler is before  # the A1111 sampler runs for the call only
    assert gen.images[0].size == (64, 96)
    assert gen.latents.shape == (1, 4, 48, 32) and gen.latents.dtype == torch.float32
    info = parse_infotext(gen.infotext)
    assert info.prompt == "1girl, kazusa \\(blue archive\\), (smile:1.2)"
    assert info.negative_prompt == r.profile.presets.negative
    assert info.params["Sampler"] == "Euler a" and info.params["CFG scale"] == "6.0"
    assert info.params["Schedule type"] == "Automatic" and info.params["RNG"] == "CPU"
    assert info.params["Seed"] == "3" and info.params["Size"] == "64x96" and info.params["Model"] == "kivotos-xl-2"
    saved = gen.save(tmp_path / "out.png")
    assert read_png_prompts(saved[0])[0] == ("prompt", info.prompt, False)
    again = r.generate("1girl, kazusa \\(blue archive\\), (smile:1.2)", seed=3, steps=2, size=(64, 96))
    finite(gen)
    finite(again)
    assert np.array_equal(np.asarray(gen.images[0]), np.asarray(again.images[0]))  # fixed seed: reproducible


def test_sdxl_vpred_zero_snr_and_rescale(runners):
    r = runners["noobai"]
    gen = r.generate("1girl", seed=0, steps=2, size=(64, 64), sampler="Euler")
    # A1111's "Noise Schedule: Zero Terminal SNR": the last alphas_cumprod is 4.897e-8, so sigma_max is 4518.9
    assert abs(gen.sigmas[0].item() - ((1 - 4.8973451890853435e-08) / 4.8973451890853435e-08) ** 0.5) < 0.05
    assert gen.params["CFG Rescale phi"] == 0.7 and gen.params["Noise Schedule"] == "Zero Terminal SNR"
    finite(gen)
    space = runners["space"]
    gen = space.generate("1girl", steps=3, size=(64, 64), sampler="DPM++ 3M SDE Karras")
    assert (gen.params["Sampler"], gen.params["Schedule type"]) == ("DPM++ 3M SDE", "Karras")
    assert len(gen.sigmas) == 4 and gen.sigmas[-1] == 0  # 4 Karras sigmas + 0, the penultimate dropped
    assert space.encoder.towers[0].layer == -2  # SDXL: penultimate layer whatever "Clip skip: 2" says


def test_flow_matching_with_pag(runners):
    r = runners["bigasp"]
    gen = r.generate("1girl, low quality", seed=0, steps=4, size=(64, 64))
    assert finite(gen).params["PAG scale"] == 2.0 and gen.params["Shift"] == 6.0
    assert gen.params["Schedule type"] == "Normal" and gen.sigmas[0] == 1.0 and gen.sigmas[-1] == 0
    beta = r.generate("1girl, low quality", seed=0, steps=4, size=(64, 64), schedule_type="Beta")
    assert finite(beta).params["Shift"] == 1.0  # the card's beta set-up
    with pytest.raises(GenerationError, match="flow-matching"):
        r.generate("1girl", steps=2, size=(64, 64), sampler="DPM++ 2M Karras")


def test_pag_is_never_dropped_silently(runners):
    """bigASP's card asks for PAG; on a pipeline without it the run says so (warning) or refuses (explicit ask)."""
    from promptkit.runners import GenerationWarning

    r = Runner.from_pipeline(runners["kivotos"].pipeline, "bigasp-v2.5")  # an SDXL pipeline without PAG
    with pytest.warns(GenerationWarning, match="PAG scale 2, which is not applied"):
        gen = r.generate("1girl, low quality", seed=0, steps=2, size=(64, 64))
    assert "PAG scale" not in finite(gen).params
    with pytest.raises(GenerationError, match="pag_scale=3 cannot be applied"):
        r.generate("1girl", seed=0, steps=2, size=(64, 64), pag_scale=3.0)


def test_sd1_clip_skip_and_scheduler(runners):
    r = runners["sygil"]
    gen = r.generate("species:seal, studio:dc", seed=0, steps=2, size=(64, 64), sampler="DPM++ 2M Karras")
    assert (finite(gen).params["Sampler"], gen.params["Schedule type"]) == ("DPM++ 2M", "Karras")
    assert r.encoder.towers[0].layer is None  # clip skip 1: last_hidden_state


def test_stable_cascade_prior_and_decoder(runners):
    r = runners["sote"]
    gen = r.generate("newest, extremely aesthetic, best quality, 1girl", seed=0, steps=2, size=(128, 128),
                     decoder_steps=2)
    assert gen.images[0].size == (128, 128)
    assert (gen.params["Decoder steps"], gen.params["Decoder CFG scale"]) == (2, 2.0)
    kw = r.encoder.encode("1girl")
    assert kw["prompt_embeds_pooled"].shape == (1, 1, 32)
    with pytest.raises(GenerationError, match="multiples of 128"):
        r.generate("1girl", steps=2, size=(832, 1216))


def test_prompt_editing_runs_through_the_step_callback(runners):
    gen = runners["kivotos"].generate("1girl, [cat:dog:0.5]", seed=0, steps=2, size=(64, 64))
    assert finite(gen).images
    with pytest.raises(GenerationError, match="AND"):
        runners["sote"].generate("a cat AND a dog", steps=2, size=(128, 128))


def test_composable_guidance_formula():
    """[uncond, cond] in, [uncond, uncond + sum w_i (cond_i - uncond)] out, from one UNet batch."""
    from promptkit.runners.runner import ComposableGuidance

    class FakeUNet:
        def forward(self, sample, timestep, encoder_hidden_states=None, added_cond_kwargs=None, return_dict=False):
            self.batch = sample.shape[0]
            return (sample * encoder_hidden_states.mean(dim=(1, 2))[:, None, None, None],)

    unet = FakeUNet()
    neg, a, b = torch.full((1, 77, 4), 1.0), torch.full((1, 77, 4), 3.0), torch.full((1, 77, 4), 5.0)
    parts = [(1.2, {"prompt_embeds": a, "negative_prompt_embeds": neg}),
             (-0.5, {"prompt_embeds": b, "negative_prompt_embeds": neg})]
    sample = torch.randn(2, 4, 8, 8)
    with ComposableGuidance(unet, parts, "sd1"):
        out = unet.forward(torch.cat([sample, sample]), 10, encoder_hidden_states=torch.zeros(4, 77, 4))[0]
    assert unet.batch == 6  # uncond and both sub-prompts in one call
    uncond = sample * 1.0
    expected = uncond + 1.2 * (sample * 3.0 - uncond) - 0.5 * (sample * 5.0 - uncond)
    assert torch.allclose(out[:2], uncond) and torch.allclose(out[2:], expected)


@pytest.mark.parametrize("name", ["sygil", "kivotos"])
def test_and_subprompts_run_as_composable_diffusion(runners, name):
    r = runners[name]
    plain = r.generate("a cat", negative="x", seed=0, steps=2, size=(64, 64), output_type="latent").images
    halves = r.generate("a cat :0.5 AND a cat :0.5", negative="x", seed=0, steps=2, size=(64, 64),
                        output_type="latent").images
    other = r.generate("a cat AND a dog :0.7", negative="x", seed=0, steps=2, size=(64, 64),
                       output_type="latent").images
    for latents in (plain, halves, other):
        finite(latents)
    scale = plain.abs().max().item()
    assert (plain - halves).abs().max().item() < 1e-4 * max(1.0, scale)  # the same guidance, split in two
    assert (plain - other).abs().max().item() > 1e-2 * max(1.0, scale)


def test_nonsense_is_refused_before_work(runners):
    with pytest.raises(GenerationError, match="fried"):
        runners["noobai"].generate("1girl", cfg=30, steps=2, size=(64, 64))
    with pytest.raises(GenerationError, match="supported"):
        runners["kivotos"].generate("1girl", sampler="Euler Turbo Max", steps=2, size=(64, 64))
    with pytest.raises(GenerationError, match="no schedule type"):
        runners["kivotos"].generate("1girl", sampler="DDIM", schedule_type="Karras", steps=2, size=(64, 64))
    with pytest.raises(GenerationError, match="DPM adaptive"):
        runners["kivotos"].generate("1girl", sampler="DPM adaptive", steps=2, size=(64, 64))
    with pytest.raises(GenerationError, match="rng='nv'"):
        runners["kivotos"].generate("1girl", rng="gpu", steps=2, size=(64, 64))
    with pytest.warns(UserWarning, match="outside"):
        runners["kivotos"].settings(cfg=8.5)


def test_single_file_safety_and_vpred_detection(tmp_path):
    from safetensors.torch import save_file

    ckpt = tmp_path / "model.ckpt"
    ckpt.write_bytes(b"not really a pickle")
    with pytest.raises(GenerationError, match="allow_pickle"):
        Runner.from_single_file(ckpt, "kivotos-xl-2")
    marked = tmp_path / "noob.safetensors"
    save_file({"v_pred": torch.zeros(1), "ztsnr": torch.zeros(1), "w": torch.zeros(2)}, str(marked))
    assert detect_vpred(marked) == {"v_pred": True, "ztsnr": True}
    with pytest.raises(GenerationError, match="not a model promptkit knows"):  # markers alone are no checkpoint
        Runner.from_single_file(marked, "kivotos-xl-2")  # (v-pred conflicts: tests/test_model_files.py)

