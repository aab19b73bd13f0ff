"""Real model files (issue 15): single-file checkpoints offline for every family, LoRAs as A1111 loads them,
and one clear line for every wrong file.

Tiny pipelines faithful to each family are written in the original single-file key layout by
``ldm_checkpoints.py``; the writer is checked against diffusers' own single-file converters, then the files
are loaded back with no config and no network and must generate the image their source pipeline generates.
"""

from __future__ import annotations

import hashlib
import json
import socket
import struct
import warnings

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

import ldm_checkpoints as lc  # noqa: E402
from tiny_models import finite  # noqa: E402
from click.testing import CliRunner  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

from promptkit.cli.main import cli  # noqa: E402
from promptkit.infotext import parse_infotext, png_text_chunks  # noqa: E402
from promptkit.runners import GenerationError, Runner  # noqa: E402
from promptkit.runners.errors import LoraError, ModelFileError  # noqa: E402
from promptkit.runners.loras import (  # noqa: E402
    AppliedLoras,
    LoraLibrary,
    ModuleIndex,
    read_lora,
    requested_networks,
)
from promptkit.runners.single_file import a1111_v_probe  # noqa: E402

warnings.filterwarnings("ignore", category=FutureWarning)
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning")


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """No network at all: any connection attempt fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError("promptkit tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("checkpoints")
    out = {"folder": folder, "sd1": lc.sd1_pipeline(1), "sd2": lc.sd2_pipeline(2), "sdxl": lc.sdxl_pipeline(3),
           "cascade": lc.cascade_pipeline(4)}
    lc.write_checkpoint(out["sd1"], "sd1", folder / "sd1.safetensors")
    lc.write_checkpoint(out["sd2"], "sd2", folder / "sd2.safetensors")
    lc.write_checkpoint(out["sd2"], "sd2", folder / "sd2v.safetensors", v_pred=True)
    lc.write_checkpoint(out["sdxl"], "sdxl", folder / "sdxl.safetensors")
    lc.write_checkpoint(out["sdxl"], "sdxl", folder / "noob.safetensors", v_pred=True, ztsnr=True)
    out["stage_c"], out["stage_b"] = lc.write_cascade(out["cascade"], folder)
    return out


def same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert set(sa) == set(sb)
    return all(torch.equal(sa[k], sb[k]) for k in sa)


# -- the writer is the original layout (diffusers' own converters read it back) ---------------------------
def test_written_checkpoints_are_the_layout_diffusers_converts(files):
    from diffusers.loaders import single_file_utils as sfu

    for family in ("sd1", "sdxl", "sd2"):
        pipe = files[family]
        ckpt = lc.ldm_state_dict(pipe, family)
        unet = sfu.convert_ldm_unet_checkpoint(ckpt, pipe.unet.config)
        assert unet.keys() == pipe.unet.state_dict().keys()
        assert all(torch.equal(unet[k], v) for k, v in pipe.unet.state_dict().items())
        vae = sfu.convert_ldm_vae_checkpoint(ckpt, pipe.vae.config)
        assert all(torch.equal(vae[k], v) for k, v in pipe.vae.state_dict().items())
    sd1 = files["sd1"]
    clip = sfu.convert_ldm_clip_checkpoint(lc.ldm_state_dict(sd1, "sd1"))
    assert all(torch.equal(clip["text_model." + k], v) for k, v in sd1.text_encoder.state_dict().items()
               if not k.endswith("position_ids"))
    xl = files["sdxl"]
    big = sfu.convert_open_clip_checkpoint(xl.text_encoder_2, lc.ldm_state_dict(xl, "sdxl"),
                                           prefix="conditioner.embedders.1.model.")
    assert all(torch.equal(big[k], v) for k, v in xl.text_encoder_2.state_dict().items() if k in big)
    assert big.keys() == xl.text_encoder_2.state_dict().keys()
    cascade = files["cascade"]
    for unet, decoder in ((cascade.prior_prior, False), (cascade.decoder, True)):
        back = sfu.convert_stable_cascade_unet_single_file_to_diffusers(lc._cascade_unet(unet, decoder))
        assert back.keys() == unet.state_dict().keys()
        assert all(torch.equal(back[k], v) for k, v in unet.state_dict().items())


def test_known_ldm_names_of_sdxl_blocks(files):
    """Fixed points of the real SDXL layout (2 blocks per level, no attention at the first level)."""
    from promptkit.runners.ldm_layout import unet_block_map_for

    table = unet_block_map_for(files["sdxl"].unet.config)
    pairs = {"down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q":
             "input_blocks.4.1.transformer_blocks.0.attn1.to_q",
             "down_blocks.0.resnets.1.conv2": "input_blocks.2.0.out_layers.3",
             "down_blocks.0.downsamplers.0.conv": "input_blocks.3.0.op",
             "mid_block.attentions.0.transformer_blocks.1.attn2.to_k": "middle_block.1.transformer_blocks.1.attn2.to_k",
             "mid_block.resnets.1.time_emb_proj": "middle_block.2.emb_layers.1",
             "up_blocks.0.attentions.2.proj_out": "output_blocks.2.1.proj_out",
             "up_blocks.0.upsamplers.0.conv": "output_blocks.2.2.conv",
             "up_blocks.1.resnets.0.conv_shortcut": "output_blocks.3.0.skip_connection",
             "add_embedding.linear_2": "label_emb.0.2", "conv_norm_out": "out.0"}
    for diffusers_name, ldm in pairs.items():
        assert table.to_ldm(diffusers_name) == ldm
        assert table.from_ldm(ldm) == diffusers_name


# -- every family loads offline with no config and generates its source pipeline's image ------------------
FAMILIES = [
    # (checkpoint, profile named by the user or None, source pipeline, expected profile, prediction, zsnr)
    ("sd1", None, "sd1", "sd15", "epsilon", False),
    ("sd2", "sd2", "sd2", "sd2", "epsilon", False),
    ("sd2v", None, "sd2", "sd2-v", "v_prediction", False),
    ("sdxl", None, "sdxl", "sdxl-base", "epsilon", False),
    ("noob", None, "sdxl", "sdxl-base", "v_prediction", True),
    ("sdxl", "bigasp-v2.5", "sdxl", "bigasp-v2.5", "flow", False),
]


@pytest.mark.parametrize("name,profile,source,expected,prediction,zsnr", FAMILIES,
                         ids=["sd1", "sd2-eps", "sd2-v", "sdxl-eps", "sdxl-vpred", "sdxl-flow"])
def test_single_file_generates_the_source_pipelines_image(files, name, profile, source, expected, prediction, zsnr):
    runner = Runner.from_single_file(files["folder"] / f"{name}.safetensors", profile)
    assert runner.profile.id == expected and runner.profile.prediction_type == prediction
    assert runner.zero_terminal_snr == zsnr
    pipe = files[source]
    assert same_weights(runner.pipeline.unet, pipe.unet) and same_weights(runner.pipeline.vae, pipe.vae)
    assert same_weights(runner.pipeline.text_encoder, pipe.text_encoder)
    if source == "sdxl":
        assert same_weights(runner.pipeline.text_encoder_2, pipe.text_encoder_2)
    if expected == "bigasp-v2.5":  # the profile asks for PAG: the loader builds the PAG pipeline
        assert type(runner.pipeline).__name__ == "StableDiffusionXLPAGPipeline"
        pipe = lc.sdxl_pipeline(3, pag=True)
    reference = Runner.from_pipeline(pipe, runner.profile, zero_terminal_snr=runner.zero_terminal_snr)
    kw = dict(negative="lowres", seed=5, steps=2, size=(32, 32), output_type="latent")
    ours = runner.generate("1girl, (smile:1.2), outdoors", **kw).images
    theirs = reference.generate("1girl, (smile:1.2), outdoors", **kw).images
    assert torch.equal(finite(ours), finite(theirs))
    assert type(runner.pipeline.scheduler).__name__ == type(reference.pipeline.scheduler).__name__


def test_stable_cascade_pair_generates_the_source_pipelines_image(files):
    runner = Runner.from_single_file(files["stage_c"])  # stage B found beside it by ComfyUI's file name
    assert runner.profile.id == "stable-cascade"
    pipe = files["cascade"]
    for ours, theirs in ((runner.pipeline.prior_prior, pipe.prior_prior), (runner.pipeline.decoder, pipe.decoder),
                         (runner.pipeline.vqgan, pipe.vqgan), (runner.pipeline.prior_text_encoder,
                                                               pipe.prior_text_encoder)):
        assert same_weights(ours, theirs)
    reference = Runner.from_pipeline(pipe, runner.profile)
    kw = dict(seed=2, steps=2, size=(128, 128), decoder_steps=2, output_type="np")
    ours = runner.generate("1girl, smile", **kw).images
    theirs = reference.generate("1girl, smile", **kw).images
    assert ours.shape == (1, 128, 128, 3) and (finite(ours) == finite(theirs)).all()
    with pytest.raises(ModelFileError, match="stage B"):
        Runner.from_single_file(files["stage_b"])


def test_prediction_type_from_metadata_yaml_and_the_a1111_probe(files, tmp_path):
    pipe = files["sd2"]
    meta = lc.write_checkpoint(pipe, "sd2", tmp_path / "spec.safetensors",
                               metadata={"modelspec.architecture": "stable-diffusion-v2-768-v"})
    assert Runner.from_single_file(meta).profile.id == "sd2-v"
    plain = lc.write_checkpoint(pipe, "sd2", tmp_path / "v2-1_768.safetensors")
    (tmp_path / "v2-1_768.yaml").write_text("model:\n  params:\n    parameterization: \"v\"\n")
    runner = Runner.from_single_file(plain)
    assert runner.profile.id == "sd2-v" and "yaml" in runner.checkpoint.evidence
    # No marker, no .yaml, no profile: A1111 runs the UNet at t=999 on a flat input (v models go strongly negative).
    unet = pipe.unet
    original = unet.conv_out.bias.detach().clone()
    try:
        with torch.no_grad():
            unet.conv_out.bias.fill_(-5.0)
        assert a1111_v_probe(unet) is True
        lc.write_checkpoint(pipe, "sd2", tmp_path / "probe.safetensors")
        probed = Runner.from_single_file(tmp_path / "probe.safetensors")
        assert probed.profile.id == "sd2-v" and "probe" in probed.checkpoint.evidence
        with torch.no_grad():
            unet.conv_out.bias.fill_(5.0)
        assert a1111_v_probe(unet) is False
    finally:
        with torch.no_grad():
            unet.conv_out.bias.copy_(original)


def test_profiles_that_contradict_the_file_are_refused(files):
    folder = files["folder"]
    with pytest.raises(ModelFileError, match="v-prediction checkpoint .*'v_pred' marker.* kivotos-xl-2 is epsilon"):
        Runner.from_single_file(folder / "noob.safetensors", "kivotos-xl-2")
    with pytest.raises(ModelFileError, match="SDXL checkpoint but profile sygil-diffusion is for Stable Diffusion 1.x"):
        Runner.from_single_file(folder / "sdxl.safetensors", "sygil-diffusion")
    with pytest.raises(ModelFileError, match="1.x checkpoint but profile kivotos-xl-2 is for SDXL"):
        Runner.from_single_file(folder / "sd1.safetensors", "kivotos-xl-2")
    # A v-pred SDXL merge without markers: the profile the user names wins.
    assert Runner.from_single_file(folder / "sdxl.safetensors", "noobai-xl-vpred").profile.prediction_type == \
        "v_prediction"


# -- every wrong file: one line naming what it is ------------------------------------------------------------
def _wrong_files(folder, files):
    sd1 = folder / "sd1.safetensors"
    data = sd1.read_bytes()
    length = struct.unpack("<Q", data[:8])[0]
    cases = {}
    cases["truncated.safetensors"] = (data[: len(data) // 2], "is truncated: its header lists")
    cases["header.safetensors"] = (data[:9] + b"#" + data[10:], "corrupt safetensors header")
    header = data[8:8 + length].replace(b'"data_offsets":[0,', b'"data_offsets":[1,', 1)
    bad = data[:8] + header + data[8 + length:]
    cases["offsets.safetensors"] = (bad, "corrupt safetensors header")
    cases["huge.safetensors"] = (struct.pack("<Q", 10**12) + b"{}", "truncated or not a safetensors file")
    cases["empty.safetensors"] = (b"", "empty or truncated")
    cases["random.safetensors"] = (bytes(range(256)) * 4, "not a safetensors file|truncated")
    import io
    buffer = io.BytesIO()
    torch.save({"state_dict": {"w": torch.zeros(2)}}, buffer)
    cases["renamed.safetensors"] = (buffer.getvalue(), "pickled PyTorch checkpoint renamed")
    cases["model.ckpt"] = (buffer.getvalue(), "pickle file .*allow_pickle=True")
    return cases


def _save(path, tensors, metadata=None):
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(path), metadata=metadata)
    return path


def _kind_files(folder, files):
    sd1 = files["sd1"]
    ckpt = lc.ldm_state_dict(sd1, "sd1")
    q = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q"
    return {
        "a_lora.safetensors": ({f"{q}.lora_down.weight": torch.zeros(4, 32), f"{q}.lora_up.weight": torch.zeros(32, 4),
                                f"{q}.alpha": torch.tensor(4.0)}, "is a LoRA .* put it in a LoRA folder"),
        "vae.safetensors": ({k[len("first_stage_model."):]: v for k, v in ckpt.items()
                             if k.startswith("first_stage_model.")}, "is a VAE, not a checkpoint"),
        "diffusers_unet.safetensors": (sd1.unet.state_dict(), "diffusers-format UNet"),
        "embedding.safetensors": ({"clip_l": torch.zeros(2, 768), "clip_g": torch.zeros(2, 1280)},
                                  "textual-inversion embedding"),
        "no_vae.safetensors": ({k: v for k, v in ckpt.items() if not k.startswith("first_stage_model.")},
                               "without its VAE"),
        "unet_only.safetensors": ({k: v for k, v in ckpt.items() if k.startswith("model.diffusion_model.")},
                                  "UNet-only checkpoint"),
        "loha.safetensors": ({"lora_unet_x.hada_w1_a": torch.zeros(2, 2), "lora_unet_x.hada_w1_b": torch.zeros(2, 2)},
                             "LyCORIS LoHa"),
        "inpaint.safetensors": ({**ckpt, "model.diffusion_model.input_blocks.0.0.weight": torch.zeros(32, 9, 3, 3)},
                                "inpainting variant"),
    }


def test_every_wrong_file_gets_one_clear_line(files, tmp_path):
    folder = files["folder"]
    cases = {name: (payload, message) for name, (payload, message) in _wrong_files(folder, files).items()}
    for name, (payload, message) in cases.items():
        (tmp_path / name).write_bytes(payload)
    for name, (tensors, message) in _kind_files(folder, files).items():
        _save(tmp_path / name, tensors)
        cases[name] = (None, message)
    for name, (_, message) in cases.items():
        with pytest.raises(ModelFileError, match=message) as caught:
            Runner.from_single_file(tmp_path / name)
            pytest.fail(f"{name} loaded")
        text = str(caught.value)
        assert "\n" not in text and name.split(".")[0] in text, text
        out = CliRunner().invoke(cli, ["generate", "1girl", "-c", str(tmp_path / name)], catch_exceptions=False)
        assert out.exit_code == 2, out.output
        lines = [line for line in out.output.splitlines() if line.strip()]
        assert lines == [f"promptkit: error: {text}"]
    assert len(cases) >= 14


def test_pickles_load_only_when_allowed(files, tmp_path):
    sd1 = files["sd1"]
    ckpt = tmp_path / "sd1.ckpt"
    torch.save({"state_dict": lc.ldm_state_dict(sd1, "sd1"), "global_step": 10}, ckpt)
    with pytest.raises(ModelFileError, match="allow_pickle"):
        Runner.from_single_file(ckpt)
    runner = Runner.from_single_file(ckpt, allow_pickle=True)
    assert same_weights(runner.pipeline.unet, sd1.unet)


# -- LoRAs ------------------------------------------------------------------------------------------------
def _kohya_name(prefix, module_name):
    return prefix + module_name.replace(".", "_")


def write_kohya(path, pipe, unet_targets, te_targets, rank=4, alpha=2.0, seed=0, ldm=None, metadata=None):
    """A kohya LoRA: UNet modules by diffusers name (SD1 files) or by LDM name (SDXL files), text encoders by
    HF CLIP name. Returns {(tower, module name): (up, down, alpha)}."""
    tensors, expected = {}, {}
    for i, name in enumerate(unet_targets):
        module = pipe.unet.get_submodule(name)
        up, down = lc.lora_pairs(module, rank, seed + i)
        key = _kohya_name("lora_unet_", ldm[name] if ldm else name)
        tensors.update({f"{key}.lora_up.weight": up, f"{key}.lora_down.weight": down,
                        f"{key}.alpha": torch.tensor(alpha)})
        expected[("unet", name)] = (up, down, alpha)
    for j, (tower, name) in enumerate(te_targets):
        te = pipe.text_encoder if tower == "te1" else pipe.text_encoder_2
        inner = getattr(te, "text_model", te)
        module = inner.get_submodule(name)
        up, down = lc.lora_pairs(module, rank, seed + 100 + j)
        prefix = ("lora_te_" if not hasattr(pipe, "text_encoder_2") else f"lora_{tower}_") + "text_model_"
        key = _kohya_name(prefix, name)
        tensors.update({f"{key}.lora_up.weight": up, f"{key}.lora_down.weight": down,
                        f"{key}.alpha": torch.tensor(alpha)})
        expected[(tower, name)] = (up, down, alpha)
    _save(path, tensors, metadata)
    return expected


def _module(pipe, tower, name):
    if tower == "unet":
        return pipe.unet.get_submodule(name)
    te = pipe.text_encoder if tower == "te1" else pipe.text_encoder_2
    return getattr(te, "text_model", te).get_submodule(name)


def check_deltas(pipe, expected, weights, apply):
    """Apply, then: exactly the named weights changed, each by weight * alpha/rank * up @ down; all else equal;
    after the block every tensor is the original bit for bit."""
    models = {"unet": pipe.unet, "te1": pipe.text_encoder, "te2": getattr(pipe, "text_encoder_2", None)}
    before = {t: {k: v.clone() for k, v in m.state_dict().items()} for t, m in models.items() if m is not None}
    touched = {}
    for (tower, name), (up, down, alpha) in expected.items():
        module = _module(pipe, tower, name)
        rank = down.shape[0]
        delta = (up.reshape(up.shape[0], -1) @ down.reshape(rank, -1)).reshape(module.weight.shape)
        touched[id(module.weight)] = (module.weight, module.weight.detach().clone() +
                                      weights["te" if tower != "unet" else "unet"] * alpha / rank * delta)
    with apply():
        for tower, model in models.items():
            if model is None:
                continue
            for key, value in model.state_dict().items():
                param = dict(model.named_parameters()).get(key)
                if param is not None and id(param) in touched:
                    want = touched[id(param)][1]
                    assert torch.allclose(value, want, atol=1e-6, rtol=1e-5), key
                    assert not torch.equal(value, before[tower][key]) or torch.equal(want, before[tower][key])
                else:
                    assert torch.equal(value, before[tower][key]), f"{tower}.{key} changed"
    for tower, model in models.items():
        if model is not None:
            assert all(torch.equal(v, before[tower][k]) for k, v in model.state_dict().items())


SD1_UNET = ["down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q",
            "down_blocks.0.attentions.1.proj_in",  # a 1x1 convolution in SD1
            "up_blocks.0.resnets.2.conv1",  # a 3x3 convolution (LoCon)
            "mid_block.attentions.0.transformer_blocks.0.ff.net.2"]
SD1_TE = [("te1", "encoder.layers.0.self_attn.q_proj"), ("te1", "encoder.layers.1.mlp.fc2")]


def _runner_with_loras(pipe, profile, folder):
    runner = Runner.from_pipeline(pipe, profile)
    runner.lora_dirs = [folder]
    return runner


def test_kohya_sd1_lora_changes_exactly_the_expected_weights(files, tmp_path):
    pipe = files["sd1"]
    expected = write_kohya(tmp_path / "style.safetensors", pipe, SD1_UNET, SD1_TE)
    runner = _runner_with_loras(pipe, "sd15", tmp_path)
    index = ModuleIndex(pipe)
    (request,) = requested_networks("<lora:style:0.5:1.25>")
    network = read_lora(LoraLibrary([tmp_path]).find("style"), request, index)
    assert len(network.modules) == 6
    check_deltas(pipe, expected, {"te": 0.5, "unet": 1.25}, lambda: AppliedLoras([network], runner.encoder))
    (te_only,) = requested_networks("<lora:style:te=0.7:unet=0>")
    network = read_lora(tmp_path / "style.safetensors", te_only, index)
    check_deltas(pipe, {k: v for k, v in expected.items() if k[0] != "unet"}, {"te": 0.7, "unet": 0.0},
                 lambda: AppliedLoras([network]))


def test_kohya_sdxl_lora_with_ldm_block_names(files, tmp_path):
    pipe = files["sdxl"]
    from promptkit.runners.ldm_layout import unet_block_map_for

    table = unet_block_map_for(pipe.unet.config)
    targets = ["down_blocks.1.attentions.0.transformer_blocks.1.attn2.to_k", "mid_block.attentions.0.proj_out",
               "up_blocks.0.attentions.2.transformer_blocks.0.ff.net.0.proj", "down_blocks.0.resnets.1.conv2"]
    ldm = {name: table.to_ldm(name) for name in targets}
    assert ldm[targets[0]] == "input_blocks.4.1.transformer_blocks.1.attn2.to_k"
    te = [("te1", "encoder.layers.1.self_attn.v_proj"), ("te2", "encoder.layers.0.mlp.fc1")]
    expected = write_kohya(tmp_path / "xl.safetensors", pipe, targets, te, rank=2, alpha=1.0, ldm=ldm,
                           metadata={"ss_base_model_version": "sdxl_base_v1-0"})
    (request,) = requested_networks("<lora:xl:0.8>")
    network = read_lora(tmp_path / "xl.safetensors", request, ModuleIndex(pipe))
    check_deltas(pipe, expected, {"te": 0.8, "unet": 0.8}, lambda: AppliedLoras([network]))


def test_peft_lora_with_adapter_metadata(files, tmp_path):
    pipe = files["sdxl"]
    targets = {"unet": ["down_blocks.1.attentions.1.transformer_blocks.0.attn1.to_out.0",
                        "up_blocks.0.attentions.0.transformer_blocks.1.attn1.to_v"],
               "te2": ["encoder.layers.1.self_attn.k_proj"]}
    tensors, expected = {}, {}
    for tower, names in targets.items():
        for i, name in enumerate(names):
            module = _module(pipe, tower, name)
            up, down = lc.lora_pairs(module, 8, 50 + i)
            prefix = "unet." if tower == "unet" else "text_encoder_2.text_model."
            tensors[f"{prefix}{name}.lora_A.weight"] = down
            tensors[f"{prefix}{name}.lora_B.weight"] = up
            expected[(tower, name)] = (up, down, 4.0 if tower == "unet" else 16.0)
    meta = {"lora_adapter_metadata": json.dumps({"unet.r": 8, "unet.lora_alpha": 4,
                                                 "text_encoder_2.r": 8, "text_encoder_2.lora_alpha": 16})}
    _save(tmp_path / "peft.safetensors", tensors, meta)
    (request,) = requested_networks("<lora:peft:1.5>")
    network = read_lora(tmp_path / "peft.safetensors", request, ModuleIndex(pipe))
    check_deltas(pipe, expected, {"te": 1.5, "unet": 1.5}, lambda: AppliedLoras([network]))


def addnet_hash(path):
    data = path.read_bytes()
    length = struct.unpack("<Q", data[:8])[0]
    return hashlib.sha256(data[8 + length:]).hexdigest()[:12]


def test_lora_in_a_prompt_runs_records_hashes_and_restores(files, tmp_path):
    pipe = files["sd1"]
    write_kohya(tmp_path / "style.safetensors", pipe, SD1_UNET, SD1_TE, seed=3)
    sub = tmp_path / "characters"
    sub.mkdir()
    write_kohya(sub / "kazusa_v2.safetensors", pipe, SD1_UNET[:2], [], seed=9)
    runner = _runner_with_loras(pipe, "sd15", tmp_path)
    before = {k: v.clone() for k, v in pipe.unet.state_dict().items()}
    kw = dict(negative="lowres", seed=1, steps=2, size=(32, 32), output_type="latent")
    plain = runner.generate("1girl, smile", **kw)
    prompt = "1girl, <lora:style:0.8>, smile <lyco:kazusa_v2:0.5:1>"
    gen = runner.generate(prompt, **kw)
    assert not torch.equal(finite(plain.images), finite(gen.images))
    assert all(torch.equal(v, before[k]) for k, v in pipe.unet.state_dict().items())
    info = parse_infotext(gen.infotext)
    assert info.prompt == prompt  # the infotext keeps the tags, as A1111's does
    hashes = f"style: {addnet_hash(tmp_path / 'style.safetensors')}, " \
             f"kazusa_v2: {addnet_hash(sub / 'kazusa_v2.safetensors')}"
    assert info.params["Lora hashes"] == hashes and gen.params["Lora hashes"] == hashes
    assert f'Lora hashes: "{hashes}", Version: ' in gen.infotext
    # The tags are not text to the encoder (A1111 removes them before conditioning): weight 0 == no LoRA.
    zero = runner.generate("1girl, <lora:style:0>, smile", **kw)
    assert torch.equal(finite(zero.images), runner.generate("1girl, , smile", **kw).images)
    again = runner.generate("1girl, smile", **kw)
    assert torch.equal(finite(again.images), plain.images)  # encoder cache cleared: no LoRA-encoded text leaks


def test_lora_errors_are_clear(files, tmp_path):
    pipe = files["sd1"]
    write_kohya(tmp_path / "style_v1.safetensors", pipe, SD1_UNET[:1], [])
    _save(tmp_path / "loha.safetensors", {"lora_unet_x.hada_w1_a": torch.zeros(2, 2)})
    xl = tmp_path / "xl_style.safetensors"
    write_kohya(xl, files["sdxl"], ["down_blocks.1.attentions.0.proj_in"], [],
                metadata={"ss_base_model_version": "sdxl_base_v1-0"})
    runner = _runner_with_loras(pipe, "sd15", tmp_path)
    cases = {"1girl <lora:style:1>": "no such LoRA .*near names: style_v1",
             "1girl <lora:loha:1>": "LyCORIS LoHa",
             "1girl <lora:xl_style:1>": "LoRA for SDXL .* the model is SD 1.x",
             "1girl <hypernet:anime:1>": "hypernetworks are not supported",
             "1girl <lora:style_v1:strong>": "weights must be numbers",
             "1girl <foo:bar>": "unknown extra network"}
    for prompt, message in cases.items():
        with pytest.raises(LoraError, match=message):
            runner.generate(prompt, steps=2, size=(32, 32))
    with pytest.raises(LoraError, match="negative prompt"):
        runner.generate("1girl", negative="<lora:style_v1:1>", steps=2, size=(32, 32))
    bare = Runner.from_pipeline(pipe, "sd15")
    with pytest.raises(LoraError, match="no LoRA folder"):
        bare.generate("1girl <lora:style_v1:1>", steps=2, size=(32, 32))
    unmatched = tmp_path / "other.safetensors"
    _save(unmatched, {"lora_unet_not_a_layer.lora_down.weight": torch.zeros(2, 4),
                      "lora_unet_not_a_layer.lora_up.weight": torch.zeros(4, 2)})
    with pytest.raises(LoraError, match="1 of 1 layers of other.safetensors are not in this model"):
        runner.generate("1girl <lora:other:1>", steps=2, size=(32, 32))


def test_generate_cli_with_loras_from_a1111_layout_and_config(files, tmp_path, monkeypatch):
    models = tmp_path / "models"
    (models / "Stable-diffusion").mkdir(parents=True)
    (models / "Lora").mkdir()
    ckpt = models / "Stable-diffusion" / "tiny_xl.safetensors"
    ckpt.write_bytes((files["folder"] / "sdxl.safetensors").read_bytes())
    write_kohya(models / "Lora" / "detail.safetensors", files["sdxl"], ["mid_block.attentions.0.proj_in"],
                [("te2", "encoder.layers.0.self_attn.q_proj")])
    out = tmp_path / "out.png"
    args = ["generate", "1girl, <lora:detail:0.6>", "-c", str(ckpt), "--steps", "2", "--size", "32x32",
            "--device", "cpu", "-o", str(out)]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    info = parse_infotext(png_text_chunks(out)["parameters"])
    assert info.params["Lora hashes"] == f"detail: {addnet_hash(models / 'Lora' / 'detail.safetensors')}"
    assert info.params["Model"] == "tiny_xl"
    # The same LoRA from a folder named in promptkit.toml, with the checkpoint elsewhere.
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / "x.safetensors").write_bytes(ckpt.read_bytes())
    (tmp_path / "promptkit.toml").write_text('lora-dirs = ["models/Lora"]\nprofile = "kivotos-xl-2"\n')
    monkeypatch.chdir(tmp_path)
    args[3] = str(other / "x.safetensors")
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert parse_infotext(png_text_chunks(out)["parameters"]).params["Sampler"] == "Euler a"  # kivotos' sampler
    missing = CliRunner().invoke(cli, [*args[:1], "1girl <lora:detial:1>", *args[2:]], catch_exceptions=False)
    assert missing.exit_code == 2 and "near names: detail" in missing.output
    assert len(missing.output.strip().splitlines()) == 1


def test_generation_error_hierarchy():
    assert issubclass(ModelFileError, GenerationError) and issubclass(LoraError, GenerationError)


def test_lora_arguments_read_as_a1111_reads_them():
    cases = {"<lora:a>": (1.0, 1.0, None), "<lora:a:0.5>": (0.5, 0.5, None), "<lora:a:0.5:1.2>": (0.5, 1.2, None),
             "<lora:a:te=0.3>": (0.3, 0.3, None), "<lora:a:1:unet=0>": (1.0, 0.0, None),
             "<lora:a:1:1:8>": (1.0, 1.0, 8), "<lora:a:0.7:dyn=4>": (0.7, 0.7, 4), "<lyco:a:0.2>": (0.2, 0.2, None)}
    for text, (te, unet, dyn) in cases.items():
        (request,) = requested_networks(f"1girl, {text}")
        assert (request.name, request.te, request.unet, request.dyn) == ("a", te, unet, dyn), text


def test_dyn_keeps_the_first_ranks_and_cascade_refuses_loras(files, tmp_path):
    pipe = files["sd1"]
    expected = write_kohya(tmp_path / "r.safetensors", pipe, SD1_UNET[:1], [], rank=4, alpha=4.0)
    (request,) = requested_networks("<lora:r:1:dyn=2>")
    network = read_lora(tmp_path / "r.safetensors", request, ModuleIndex(pipe))
    (up, down, alpha), = expected.values()
    module = pipe.unet.get_submodule(SD1_UNET[0])
    before = module.weight.detach().clone()
    with AppliedLoras([network]):
        got = module.weight.detach() - before
    assert torch.allclose(got, alpha / 4 * up[:, :2] @ down[:2], atol=1e-6)  # scale keeps the full rank
    assert torch.equal(module.weight, before)
    cascade = Runner.from_pipeline(files["cascade"], "stable-cascade")
    cascade.lora_dirs = [tmp_path]
    with pytest.raises(LoraError, match="Stable Cascade"):
        cascade.generate("1girl <lora:r:1>", steps=2, size=(128, 128))


def test_early_sd1_checkpoints_without_the_text_model_wrapper(files, tmp_path):
    """SD 1.x files saved with transformers < 4.18 store cond_stage_model.transformer.embeddings.* directly."""
    pipe = files["sd1"]
    old = {k.replace("cond_stage_model.transformer.text_model.", "cond_stage_model.transformer."): v
           for k, v in lc.ldm_state_dict(pipe, "sd1").items()}
    runner = Runner.from_single_file(_save(tmp_path / "sd-v1-early.safetensors", old))
    assert same_weights(runner.pipeline.text_encoder, pipe.text_encoder)


def test_infotext_replay_loads_the_loras_and_checks_their_hashes(files, tmp_path):
    pipe = files["sd1"]
    write_kohya(tmp_path / "style.safetensors", pipe, SD1_UNET, SD1_TE, seed=4)
    runner = _runner_with_loras(pipe, "sd15", tmp_path)
    first = runner.generate("1girl, <lora:style:0.7>", negative="lowres", seed=3, steps=2, size=(32, 32),
                            output_type="latent")
    again = runner.generate_from_infotext(first.infotext, output_type="latent")
    assert torch.equal(finite(again.images), finite(first.images))
    assert again.params["Lora hashes"] == first.params["Lora hashes"]
    wrong = first.infotext.replace(first.params["Lora hashes"].split(": ")[1], "0123456789ab")
    with pytest.raises(LoraError, match="hash 0123456789ab and style.safetensors is"):
        runner.generate_from_infotext(wrong, output_type="latent")
    with pytest.warns(UserWarning, match="hash 0123456789ab"):
        runner.generate_from_infotext(wrong, check_model_hash=False, output_type="latent")
