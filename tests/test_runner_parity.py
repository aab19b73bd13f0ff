"""The runners against the reference programs, number for number.

- ``sampling_sigmas`` against A1111 >= 1.9's ``get_sigmas`` over k-diffusion 0.1.1.post1 (every sampler, every
  schedule type, 20 and 28 steps, the SD1.5 and SDXL scheduler configs, and a zero-terminal-SNR v-pred SDXL).
- The flow-matching sigmas against ComfyUI's ModelSamplingSD3 + normal/beta scheduler formulas.
- ``generate(rng="cpu")`` final latents on a tiny SD1 UNet against k-diffusion's samplers run as A1111 runs them
  (same seed, conditioning and CFG; A1111's per-image generators, ENSD, Brownian tree) and against A1111's DDIM.

The reference side lives in ``kdiffusion_reference.py``; it is written from the reference programs' behaviour,
not from promptkit's code.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

import kdiffusion_reference  # noqa: E402
from kdiffusion_reference import (A1111_SAMPLERS, a1111_alphas_cumprod, a1111_sigmas, a1111_ztsnr,  # noqa: E402
                                  compvis)
from tiny_models import (SD15_SCHEDULER, SDXL_SCHEDULER, finite, one_thread, sd1_pipeline,  # noqa: E402,F401
                         sdxl_pipeline)

from promptkit.profiles import load_profile  # noqa: E402
from promptkit.runners import GenerationError, Runner  # noqa: E402

pytestmark = [pytest.mark.filterwarnings("ignore::promptkit.runners.GenerationWarning"),
              pytest.mark.filterwarnings("ignore:Should have:UserWarning")]  # torchsde, in the k-diffusion reference

SCHEDULES = ("Automatic", "Uniform", "Karras", "Exponential", "Polyexponential", "SGM Uniform", "KL Optimal",
             "Align Your Steps", "Simple", "Normal", "DDIM", "Beta")


@pytest.fixture(scope="module")
def sd1_pipe():
    return sd1_pipeline()


@pytest.fixture(scope="module")
def sdxl_pipe():
    return sdxl_pipeline()


@pytest.fixture(scope="module")
def runners(sd1_pipe, sdxl_pipe):
    return {"sd1": Runner.from_pipeline(sd1_pipe, "sygil-diffusion"),
            "sdxl": Runner.from_pipeline(sdxl_pipe, "kivotos-xl-2"),
            "vpred": Runner.from_pipeline(sdxl_pipe, "noobai-xl-vpred"),
            "flow": Runner.from_pipeline(sdxl_pipe, "bigasp-v2.5")}


def assert_sigmas_close(ours, ref, what, rel=1e-4):
    assert ours.shape == ref.shape, f"{what}: {len(ours)} sigmas, A1111 has {len(ref)}"
    scale = ref.abs().clamp(min=1e-6)
    worst = ((ours.double() - ref.double()).abs() / scale).max().item()
    assert worst <= rel, f"{what}: relative difference {worst:.2e}\nours {ours.tolist()}\nA1111 {ref.tolist()}"


# -- sigmas ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("steps", [20, 28])
@pytest.mark.parametrize("family", ["sd1", "sdxl"])
def test_sampling_sigmas_equal_a1111_for_every_sampler_and_schedule(runners, family, steps):
    config = SD15_SCHEDULER if family == "sd1" else SDXL_SCHEDULER
    wrap = compvis(a1111_alphas_cumprod(config["beta_start"], config["beta_end"]))
    checked = 0
    for sampler in A1111_SAMPLERS:
        for schedule in SCHEDULES:
            ref = a1111_sigmas(sampler, steps, wrap, schedule, sdxl=family == "sdxl")
            ours = runners[family].sampling_sigmas(sampler, steps, schedule)
            assert_sigmas_close(ours, ref, f"{family} {sampler} / {schedule} / {steps} steps")
            checked += 1
    assert checked == len(A1111_SAMPLERS) * len(SCHEDULES)


def test_automatic_defaults_and_old_names(runners):
    r = runners["sd1"]
    wrap = compvis(a1111_alphas_cumprod())
    euler = r.sampling_sigmas("Euler", 20)
    assert abs(euler[0].item() - 14.614642) < 1e-4 and euler[-1] == 0  # not diffusers' "leading" 11.03
    for old, base, schedule in (("DPM++ 2M Karras", "DPM++ 2M", "Karras"), ("DPM++ 2M SDE Karras", "DPM++ 2M SDE",
                                                                             "Karras"),
                                ("DPM++ 3M SDE Exponential", "DPM++ 3M SDE", "Exponential"), ("LMS Karras", "LMS",
                                                                                             "Karras")):
        assert_sigmas_close(r.sampling_sigmas(old, 20), a1111_sigmas(base, 20, wrap, schedule), old)
    # discard penultimate sigma: 3M SDE computes 21 exponential sigmas and drops the one before the final 0
    full = r.sampling_sigmas("DPM++ 2M SDE", 21)
    assert torch.equal(r.sampling_sigmas("DPM++ 3M SDE", 20), torch.cat([full[:-2], full[-1:]]))
    forced = r.sampling_sigmas("Euler", 20, discard_penultimate_sigma=True)
    assert len(forced) == 21 and torch.equal(forced, torch.cat([r.sampling_sigmas("Euler", 21)[:-2], forced[-1:]]))


def test_vpred_zero_terminal_snr_sigmas(runners):
    wrap = compvis(a1111_ztsnr(a1111_alphas_cumprod()), v=True)
    for sampler in A1111_SAMPLERS:
        for schedule in SCHEDULES:
            for steps in (20, 28):
                ref = a1111_sigmas(sampler, steps, wrap, schedule, sdxl=True)
                assert_sigmas_close(runners["vpred"].sampling_sigmas(sampler, steps, schedule), ref,
                                    f"v-pred ZTSNR {sampler} / {schedule} / {steps} steps")


def test_timestep_samplers_use_a1111_grids(runners):
    r = runners["sd1"]
    acp = a1111_alphas_cumprod()
    sigmas = ((1 - acp) / acp) ** 0.5
    for steps in (20, 28):
        grid = torch.clip(torch.tensor(list(range(0, 1000, 1000 // steps))) + 1, 0, 999)
        assert_sigmas_close(r.sampling_sigmas("DDIM", steps), sigmas[grid.flip(0)], f"DDIM {steps}")
        assert_sigmas_close(r.sampling_sigmas("PLMS", steps), sigmas[grid.flip(0)], f"PLMS {steps}")
        # UniPC: time-uniform from t=1 to t=1/1000, log(alpha) interpolated between the discrete timesteps
        t_array = np.linspace(0, 1, 1001)[1:]
        log_alpha = 0.5 * np.log(acp.double().numpy())
        times = np.linspace(1.0, 1e-3, len(grid) + 1)
        la = np.interp(times, t_array, log_alpha)
        ref = torch.tensor(np.sqrt(1 - np.exp(2 * la)) / np.exp(la), dtype=torch.float32)
        assert_sigmas_close(r.sampling_sigmas("UniPC", steps), ref, f"UniPC {steps}", rel=1e-5)
    with pytest.raises(GenerationError, match="no schedule type"):
        r.sampling_sigmas("DDIM", 20, "Karras")


def comfy_flow_sigmas(shift, steps, schedule):
    """ComfyUI: ModelSamplingDiscreteFlow(shift) sigmas table, then normal_scheduler or beta_scheduler."""
    from scipy import stats

    def sigma(timestep):
        t = timestep / 1000.0
        return t if shift == 1.0 else shift * t / (1 + (shift - 1) * t)

    table = [sigma(i / 1000 * 1000) for i in range(1, 1001)]
    if schedule == "Normal":
        start, end = table[-1] * 1000, table[0] * 1000
        ts = [start + (end - start) * k / (steps - 1) for k in range(steps)]
        return [sigma(t) for t in ts] + [0.0]
    picked, last = [], -1
    for t in np.rint(stats.beta.ppf(1 - np.linspace(0, 1, steps, endpoint=False), 0.6, 0.6) * 999):
        if t != last:
            picked.append(table[int(t)])
        last = t
    return picked + [0.0]


@pytest.mark.parametrize("schedule,shift", [("Normal", 6.0), ("Beta", 1.0), ("Normal", 3.0), ("Beta", 6.0)])
@pytest.mark.parametrize("steps", [25, 30])
def test_flow_sigmas_equal_comfyui(runners, schedule, shift, steps):
    ours = runners["flow"].sampling_sigmas("Euler", steps, schedule, shift=shift)
    ref = torch.tensor(comfy_flow_sigmas(shift, steps, schedule), dtype=torch.float64)
    assert ours.shape == ref.shape
    assert (ours.double() - ref).abs().max().item() <= 1e-6


def test_flow_defaults_follow_the_card(runners):
    r = runners["flow"]
    assert torch.equal(r.sampling_sigmas("Euler", 25), r.sampling_sigmas("Euler", 25, "Normal", shift=6.0))
    assert torch.equal(r.sampling_sigmas("Euler", 25, "Beta"), r.sampling_sigmas("Euler", 25, "Beta", shift=1.0))


def test_missing_scipy_is_a_clear_error(runners, monkeypatch):
    for name in [m for m in sys.modules if m == "scipy" or m.startswith("scipy.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "scipy", None)
    with pytest.raises(GenerationError, match="needs scipy.*pip install"):
        runners["flow"].sampling_sigmas("Euler", 25, "Beta")
    with pytest.raises(GenerationError, match="LMS sampler needs scipy"):
        runners["sd1"].sampling_sigmas("LMS", 20)


# -- final latents -------------------------------------------------------------------------------------------------

PROMPT, NEGATIVE, SEED, STEPS, CFG, SIZE = "1girl, (smile:1.2), blue sky, cat", "lowres", 123, 12, 7.0, 32


def reference_latents(runner, sampler, ensd=0, schedule="Automatic", v=False):
    return kdiffusion_reference.reference_latents(runner, sampler, PROMPT, NEGATIVE, SEED, STEPS, CFG, SIZE, ensd,
                                                  schedule, v)


@pytest.mark.parametrize("sampler,ensd,schedule", [
    ("Euler", 0, "Automatic"), ("Euler a", 0, "Automatic"), ("Euler a", 31337, "Automatic"),
    ("DPM++ 2M", 0, "Karras"), ("DPM++ 2M SDE", 0, "Automatic"), ("DDIM", 0, "Automatic"),
    ("PLMS", 0, "Automatic"), ("DPM fast", 31337, "Automatic")])
def test_final_latents_equal_a1111(runners, sampler, ensd, schedule):
    r = runners["sd1"]
    ref = reference_latents(r, sampler, ensd, schedule)
    name = "DPM++ 2M Karras" if schedule == "Karras" else sampler
    gen = r.generate(PROMPT, NEGATIVE, seed=SEED, steps=STEPS, cfg=CFG,
                     size=(SIZE, SIZE), sampler=name, rng="cpu", ensd=ensd, output_type="latent")
    diff = (finite(gen.latents) - finite(ref)).abs().max().item()
    scale = ref.abs().max().item()
    assert diff <= 1e-3 * scale, f"{sampler}: max latent difference {diff:.3g} (magnitude {scale:.3g})"


def test_vpred_final_latents_equal_a1111(sd1_pipe):
    profile = load_profile("sygil-diffusion").model_copy(update={"prediction_type": "v_prediction"})
    r = Runner.from_pipeline(sd1_pipe, profile)
    ref = reference_latents(r, "Euler a", ensd=31337, v=True)
    gen = r.generate(PROMPT, NEGATIVE, seed=SEED, steps=STEPS, cfg=CFG,
                     size=(SIZE, SIZE), sampler="Euler a", rng="cpu", ensd=31337, output_type="latent")
    assert (finite(gen.latents) - finite(ref)).abs().max().item() <= 1e-3 * ref.abs().max().item()


def test_generate_integrates_over_sampling_sigmas(runners):
    r = runners["sd1"]
    unet = r.pipeline.unet
    seen = []
    original = unet.forward

    def recording(sample, timestep, *args, **kwargs):
        seen.append(float(timestep))
        return original(sample, timestep, *args, **kwargs)

    unet.forward = recording
    try:
        gen = r.generate("a cat", "", seed=1, steps=6, size=(SIZE, SIZE), sampler="Euler", output_type="latent")
        heun = r.generate("a cat", "", seed=1, steps=6, size=(SIZE, SIZE), sampler="Heun", output_type="latent")
    finally:
        unet.forward = original
    sigmas = r.sampling_sigmas("Euler", 6)
    assert torch.equal(gen.sigmas, sigmas)
    t = r.model_schedule().sigma_to_t(sigmas[:-1])
    assert seen[:6] == [float(v) for v in t]  # the UNet saw k-diffusion's fractional t(sigma) of those sigmas
    assert len(seen) == 6 + 11  # Heun: two evaluations per step but the last (to sigma 0)
    assert finite(heun.latents).shape == finite(gen.latents).shape


def test_batch_images_equal_single_runs(runners):
    r = runners["sd1"]
    for sampler in ("Euler a", "DPM++ 2M SDE"):
        both = r.generate("a cat", "", seed=40, steps=5, size=(SIZE, SIZE), sampler=sampler, batch=2,
                          output_type="latent", ensd=31337)
        second = r.generate("a cat", "", seed=41, steps=5, size=(SIZE, SIZE), sampler=sampler,
                            output_type="latent", ensd=31337)
        scale = finite(second.latents).abs().max().item()
        assert (finite(both.latents)[1:] - second.latents).abs().max().item() <= 1e-4 * scale, sampler
        assert [line.split("Seed: ")[1].split(",")[0] for line in both.infotexts] == ["40", "41"]


def test_unipc_converges_to_the_exact_solution():
    """No reference program here for A1111's UniPC: check it against the exact ODE solution of Gaussian data.

    For data N(0, s^2) the probability-flow ODE is solved exactly by x_t = sqrt((a_t^2 s^2 + sd_t^2) /
    (a_T^2 s^2 + sd_T^2)) x_T. On a logSNR-uniform grid (constant step in half-logSNR) a correct order-p
    multistep predictor-corrector's error falls ~2**p per doubling of the steps (p = order + 1 with the
    corrector, capped by the predictor's order + 1). On A1111's time-uniform grid the last step stays large, so
    only the final error is checked there.
    """
    from promptkit.runners.algorithms import _VPSchedule, unipc

    acp = a1111_alphas_cumprod().double()
    ns = _VPSchedule(acp)
    s2 = 0.25
    x_T = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64)

    def solve(steps, order, skip, lower_order_final=True):
        coroutine = unipc(x_T.clone(), steps, None, acp, order=order, skip_type=skip,
                          lower_order_final=lower_order_final)
        x, t_input = next(coroutine)
        try:
            while True:
                t = torch.tensor([t_input / 1000 + 1e-3], dtype=torch.float64)
                a, sd = ns.alpha(t), ns.std(t)
                x0 = a * s2 / (a * a * s2 + sd * sd) * x
                x, t_input = coroutine.send((x - a * x0) / sd)
        except StopIteration as done:
            return done.value

    def var(t):
        t = torch.tensor([t], dtype=torch.float64)
        return ns.alpha(t) ** 2 * s2 + ns.std(t) ** 2

    exact = (var(1e-3) / var(1.0)).sqrt() * x_T

    def error(steps, order, skip="logSNR", lower_order_final=True):
        return ((solve(steps, order, skip, lower_order_final) - exact).abs().max() / exact.abs().max()).item()

    # measured: order 1 (+ corrector) 4.6x and 4.4x per doubling, order 2 9.0x and 8.8x
    for order, rate in ((1, 3.5), (2, 7.0)):
        errors = [error(n, order) for n in (10, 20, 40)]
        assert errors[0] / errors[1] > rate and errors[1] / errors[2] > rate, (order, errors)
    # order 3 without the lower-order final steps (whose last, uncorrected step is second order): 12x and 15x
    errors = [error(n, 3, lower_order_final=False) for n in (32, 64, 128)]
    assert errors[0] / errors[1] > 10 and errors[1] / errors[2] > 10, errors
    assert error(20, 3, "time_uniform") < 0.07  # A1111's grid and settings; DPM++ 2M on the same grid: 0.13
