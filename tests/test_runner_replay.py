"""Seed parity (A1111's RNG sources, variation seeds, seed resize, ENSD) and infotext replay, end to end."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from tiny_models import finite, one_thread, sd1_pipeline  # noqa: E402,F401

from promptkit.infotext import parse_infotext  # noqa: E402
from promptkit.profiles import load_profile  # noqa: E402
from promptkit.runners import (GenerationError, ImageNoise, PhiloxGenerator, ReplayError,  # noqa: E402
                               Runner, read_infotext, replay_settings)
from promptkit.runners.noise import philox4x32_10  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::promptkit.runners.GenerationWarning")
ROOT = Path(__file__).resolve().parents[1]
SIZE = (32, 32)


@pytest.fixture(scope="module")
def runner():
    return Runner.from_pipeline(sd1_pipeline(), "sygil-diffusion")


# -- noise ---------------------------------------------------------------------------------------------------------

def test_philox_matches_the_random123_known_answers():
    cases = [([0, 0, 0, 0], [0, 0], [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]),
             ([0xFFFFFFFF] * 4, [0xFFFFFFFF] * 2, [0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD]),
             ([0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344], [0xA4093822, 0x299F31D0],
              [0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1])]
    for counter, key, expected in cases:
        out = philox4x32_10(np.array(counter, np.uint32).reshape(4, 1), np.array(key, np.uint32).reshape(2, 1))
        assert [int(v) for v in out[:, 0]] == expected


def test_nv_source_gives_cudas_normals():
    # torch.randn((3, 4), device="cuda") after manual_seed(0), as A1111's rng_philox documents it
    cuda = [[-0.92466259, -0.42534415, -2.6438457, 0.14518388], [-0.12086647, -0.57972564, -0.62285122, -0.32838709],
            [-1.07454231, -0.36314407, -1.67105067, 2.26550497]]
    g = PhiloxGenerator(0)
    first = g.randn((3, 4))
    assert first.dtype == np.float32 and np.abs(first - np.array(cuda)).max() < 1e-6
    second = g.randn((3, 4))  # the offset moves on with every call
    assert np.abs(second - first).max() > 0.1
    assert np.array_equal(PhiloxGenerator(0).randn((3, 4)), first)
    assert np.abs(PhiloxGenerator(1).randn((3, 4)) - first).max() > 0.1


def cpu_randn(seed, shape, draws=1):
    g = torch.Generator("cpu").manual_seed(seed)
    out = [torch.randn(shape, generator=g) for _ in range(draws)]
    return out[-1]


def test_image_noise_per_image_seeds_and_ensd():
    shape = (4, 8, 8)
    plain = ImageNoise(shape, [7, 8], "cpu")
    first = plain.first()
    assert torch.equal(first[0], cpu_randn(7, shape)) and torch.equal(first[1], cpu_randn(8, shape))
    assert torch.equal(plain.next()[0], cpu_randn(7, shape, draws=2))  # ancestral noise continues the stream
    delta = ImageNoise(shape, [7, 8], "cpu", ensd=31337)
    assert torch.equal(delta.first(), first)
    assert torch.equal(delta.next()[1], cpu_randn(8 + 31337, shape))  # re-seeded with seed + ENSD after draw 1


def a1111_slerp(val, low, high):
    """rng.slerp as A1111 has it (norms along dim 1 of a (C, H, W) noise)."""
    low_norm = low / torch.norm(low, dim=1, keepdim=True)
    high_norm = high / torch.norm(high, dim=1, keepdim=True)
    dot = (low_norm * high_norm).sum(1)
    omega = torch.acos(dot)
    so = torch.sin(omega)
    return (torch.sin((1.0 - val) * omega) / so).unsqueeze(1) * low + (torch.sin(val * omega) / so).unsqueeze(1) * high


def test_variation_seed_and_seed_resize():
    shape = (4, 8, 8)
    base, sub = cpu_randn(3, shape), cpu_randn(99, shape)
    for strength in (0.25, 0.7):
        mixed = ImageNoise(shape, [3], "cpu", subseeds=[99], subseed_strength=strength).first()[0]
        assert torch.allclose(mixed, a1111_slerp(strength, base, sub), atol=1e-6)
    assert torch.allclose(ImageNoise(shape, [3], "cpu", subseeds=[99], subseed_strength=1.0).first()[0], sub,
                          atol=1e-5)
    # "Seed resize from 32x48": the seed's noise at that size (latent factor 8: 4x6) pasted into the middle
    resized = ImageNoise(shape, [3], "cpu", seed_resize_from=(32, 48)).first()[0]
    small = cpu_randn(3, (4, 6, 4))
    assert torch.equal(resized[:, 1:7, 2:6], small)
    canvas = cpu_randn(3, shape)
    outside = torch.ones(shape, dtype=torch.bool)
    outside[:, 1:7, 2:6] = False
    assert torch.equal(resized[outside], canvas[outside])


def test_gpu_rng_needs_cuda_and_nv_stands_in(runner):
    with pytest.raises(GenerationError, match="rng='nv'"):
        runner.generate("a cat", steps=2, size=SIZE, rng="gpu")
    nv = runner.generate("a cat", "", seed=5, steps=3, size=SIZE, sampler="Euler", rng="nv", output_type="latent")
    cpu = runner.generate("a cat", "", seed=5, steps=3, size=SIZE, sampler="Euler", rng="cpu", output_type="latent")
    assert (finite(nv.latents) - finite(cpu.latents)).abs().max() > 1.0 and "RNG: NV" in nv.infotext
    assert torch.equal(ImageNoise((4, 16, 16), [5], "nv").first()[0],
                       torch.from_numpy(PhiloxGenerator(5).randn((4, 16, 16))))


# -- infotexts written -------------------------------------------------------------------------------------------

def test_written_infotext_carries_what_reproduces_it(runner, tmp_path):
    ckpt = tmp_path / "model.safetensors"
    ckpt.write_bytes(b"not a real checkpoint, but a file with a sha256")
    runner.checkpoint_path = ckpt
    try:
        gen = runner.generate("a cat, (smile:1.1)", "lowres", seed=11, steps=3, size=SIZE, sampler="Euler a",
                              rng="nv", ensd=31337, subseed=5, subseed_strength=0.3, seed_resize_from=(24, 24),
                              eta=0.8, output_type="latent")
    finally:
        runner.checkpoint_path = None
        runner.model_hash = None
    params = parse_infotext(gen.infotext).params
    assert params["Model hash"] == hashlib.sha256(ckpt.read_bytes()).hexdigest()[:10]
    assert (params["RNG"], params["ENSD"], params["Variation seed"], params["Variation seed strength"]) == (
        "NV", "31337", "5", "0.3")
    assert (params["Seed resize from"], params["Eta"], params["Sampler"], params["Schedule type"]) == (
        "24x24", "0.8", "Euler a", "Automatic")


@pytest.mark.parametrize("kwargs", [
    dict(sampler="Euler a", rng="nv", ensd=31337, subseed=5, subseed_strength=0.3, seed_resize_from=(24, 24)),
    dict(sampler="DPM++ 3M SDE", schedule_type="Karras", rng="cpu", eta=0.7),
    dict(sampler="DDIM", rng="cpu", eta=0.5),
])
def test_infotext_in_same_latents_out(runner, kwargs):
    gen = runner.generate("a cat, [dog:bird:2]", "lowres", seed=21, steps=4, size=SIZE, output_type="latent",
                          **kwargs)
    again = runner.generate_from_infotext(gen.infotext, output_type="latent")
    assert torch.equal(finite(again.latents), finite(gen.latents))
    assert parse_infotext(again.infotext).params == parse_infotext(gen.infotext).params


def test_png_infotext_replays_to_the_same_image(runner, tmp_path):
    gen = runner.generate("a cat", "lowres", seed=4, steps=3, size=SIZE, sampler="DPM++ 2M", rng="cpu")
    saved = gen.save(tmp_path / "cat.png")[0]
    again = runner.generate_from_infotext(read_infotext(saved))
    finite(gen)
    finite(again)
    assert np.array_equal(np.asarray(again.images[0]), np.asarray(gen.images[0]))


# -- infotexts read ------------------------------------------------------------------------------------------------

A1111_TEXT = ("1girl, smile\nNegative prompt: lowres\nSteps: 20, Sampler: DPM++ 2M, Schedule type: Karras, "
              "CFG scale: 7, Seed: 1, Size: 512x768, Model hash: 0123456789, Model: x, Version: v1.10.1")


def test_everything_unreproducible_is_listed_before_work(runner):
    text = A1111_TEXT + (", Denoising strength: 0.4, Hires upscale: 2, Hires upscaler: Latent, ADetailer model: "
                         "face_yolov8n.pt, RP Active: True, Frobnicate: 3")
    with pytest.raises(ReplayError) as err:
        runner.generate_from_infotext(text)
    message = str(err.value)
    for fragment in ("hires fix", "Hires upscale", "Denoising strength", "ADetailer", "Regional Prompter",
                     "Frobnicate"):
        assert fragment in message
    replay = replay_settings(text, load_profile("sygil-diffusion"), allow_unsupported=True)
    assert any("ADetailer" in w for w in replay.warnings)
    assert replay.kwargs["sampler"] == "DPM++ 2M" and replay.kwargs["schedule_type"] == "Karras"


def test_model_hash_is_checked(runner, tmp_path):
    ckpt = tmp_path / "m.safetensors"
    ckpt.write_bytes(b"another file")
    runner.checkpoint_path = ckpt
    try:
        with pytest.raises(ReplayError, match="Model hash 0123456789"):
            runner.generate_from_infotext(A1111_TEXT.replace("512x768", "32x32").replace("20,", "2,"))
        gen = runner.generate_from_infotext(A1111_TEXT.replace("512x768", "32x32").replace("20,", "2,"),
                                            check_model_hash=False, output_type="latent")
        assert gen.latents.shape == (1, 4, 16, 16)
    finally:
        runner.checkpoint_path = None
        runner.model_hash = None


def test_missing_keys_mean_a1111_defaults():
    profile = load_profile("sd15")
    replay = replay_settings("a cat\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 3, Size: 512x512", profile)
    assert (replay.negative, replay.kwargs["clip_skip"], replay.kwargs["rng"]) == ("", 1, "nv")  # GPU -> NV on CPU
    assert any("NV" in w for w in replay.warnings)
    assert "schedule_type" not in replay.kwargs and "ensd" not in replay.kwargs
    on_gpu = replay_settings("a cat\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 3, Size: 512x512", profile,
                             device="cuda")
    assert on_gpu.kwargs["rng"] == "gpu"


def test_old_sampler_names_and_versions():
    profile = load_profile("sd15")
    old = replay_settings("a\nSteps: 20, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 3, Size: 512x512", profile)
    assert old.kwargs["sampler"] == "DPM++ 2M Karras" and "schedule_type" not in old.kwargs
    pre19 = replay_settings("a\nSteps: 20, Sampler: DPM++ 2M, CFG scale: 7, Seed: 3, Size: 512x512, "
                            "Version: v1.7.0", profile)
    assert pre19.kwargs["schedule_type"] == "Uniform" and any("v1.7" in w for w in pre19.warnings)
    new = replay_settings("a\nSteps: 20, Sampler: DPM++ 2M, CFG scale: 7, Seed: 3, Size: 512x512, "
                          "Version: v1.10.1", profile)
    assert "schedule_type" not in new.kwargs  # Automatic: Karras for DPM++ 2M


def test_every_corpus_infotext_replays_or_is_refused_for_its_own_keys(corpus):
    profile = load_profile("sd15")
    replayed = refused = 0
    for record in corpus:
        if not record.get("raw"):
            continue
        info = parse_infotext(record["raw"])
        try:
            replay = replay_settings(info, profile)
        except ReplayError as exc:
            refused += 1
            named = [key for key in info.params if key in str(exc)]
            assert named, f"refusal names none of the infotext's keys: {exc}"
            continue
        replayed += 1
        assert replay.kwargs["steps"] == int(info.params["Steps"])
        assert replay.kwargs["size"] == tuple(int(v) for v in info.params["Size"].split("x"))
        assert replay.prompt == info.prompt
    assert replayed >= 5 and refused >= 50


# -- the command line ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pipeline_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny-sd1")
    sd1_pipeline().save_pretrained(folder)
    return folder


def test_cli_generate_then_replay_is_quiet_and_identical(pipeline_folder, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    first = tmp_path / "first.png"
    run = subprocess.run([sys.executable, "-m", "promptkit.cli.main", "generate", "a cat, (smile:1.2)", "-p",
                          "sygil-diffusion", "-c", str(pipeline_folder), "--steps", "3", "--size", "32x32",
                          "--sampler", "Euler a", "--ensd", "31337", "--seed", "9", "-o", str(first)],
                         capture_output=True, text=True, env=env, timeout=600)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == f"wrote {first}"
    noise = [line for line in run.stderr.splitlines()
             if line.strip() and "it/s]" not in line and "s/it]" not in line and not line.startswith("promptkit:")]
    assert noise == [], "third-party output on a normal run:\n" + "\n".join(noise)
    from click.testing import CliRunner
    from PIL import Image

    from promptkit.cli.main import cli

    second = tmp_path / "second.png"
    result = CliRunner().invoke(cli, ["generate", "--infotext", str(first), "-p", "sygil-diffusion", "-c",
                                      str(pipeline_folder), "-o", str(second)])
    assert result.exit_code == 0, result.output
    assert np.array_equal(np.asarray(Image.open(second)), np.asarray(Image.open(first)))
    assert len(np.unique(np.asarray(Image.open(first)))) > 1  # not one flat colour (what NaN latents decode to)
    text = tmp_path / "hires.txt"
    text.write_text(A1111_TEXT + ", Hires upscale: 2", encoding="utf-8")
    bad = CliRunner().invoke(cli, ["generate", "--infotext", str(text), "-p", "sygil-diffusion", "-c",
                                   str(pipeline_folder)])
    assert bad.exit_code == 2
    lines = [line for line in bad.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("promptkit: error:") and "hires fix" in lines[0]
    both = CliRunner().invoke(cli, ["generate", "a cat", "--infotext", str(text), "-p", "sygil-diffusion", "-c",
                                    str(pipeline_folder)])
    assert both.exit_code == 2 and "PROMPT" in both.output


def test_cli_generate_a_template_records_it_and_each_image_replays(pipeline_folder, tmp_path):
    """Each image of a batch gets its own expansion (random by its seed); the infotext keeps the expansion as the
    prompt and the template as ``Template:``, as sd-dynamic-prompts writes it; replaying an image replays it."""
    from click.testing import CliRunner
    from PIL import Image

    import promptkit
    from promptkit.cli.main import cli
    from promptkit.templates import Expander

    template = "a {cat|dog|fox|owl|bird}, (smile:1.2)"
    out = tmp_path / "t.png"
    result = CliRunner().invoke(cli, ["generate", template, "-n", "{bad|ugly} hands", "-p", "sygil-diffusion",
                                      "-c", str(pipeline_folder), "--steps", "2", "--size", "32x32", "--seed", "5",
                                      "--batch", "2", "-o", str(out)])
    assert result.exit_code == 0, result.output
    second = tmp_path / "t-1.png"
    infos = [parse_infotext(Image.open(p).info["parameters"]) for p in (out, second)]
    for i, info in enumerate(infos):
        expected = Expander(seed=5 + i).expand(template, mode="random")[0]
        assert info.prompt == expected and expected in promptkit.expand(template)
        assert info.params["Template"] == template and info.params["Negative Template"] == "{bad|ugly} hands"
        assert info.negative_prompt in ("bad hands", "ugly hands") and info.params["Seed"] == str(5 + i)
    again = tmp_path / "again.png"
    replay = CliRunner().invoke(cli, ["generate", "--infotext", str(second), "-p", "sygil-diffusion", "-c",
                                      str(pipeline_folder), "-o", str(again)])
    assert replay.exit_code == 0, replay.output
    assert np.array_equal(np.asarray(Image.open(again)), np.asarray(Image.open(second)))
