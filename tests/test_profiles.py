"""Profiles: the bundled ones validate and say what their model cards say; users' files load and fail clearly."""

from __future__ import annotations

import pytest

from promptkit.profiles import ProfileError, all_profiles, bundled_ids, load_profile

SEEDS = ["spacediffusion-xl-vpred", "sotediffusion-wuerstchen3", "kivotos-xl-2", "sygil-diffusion", "bigasp-v2.5"]
FAMILIES = ["animagine-xl-3.1", "illustrious-xl", "noobai-xl-vpred", "noobai-xl-eps", "pony-v6", "sd15", "sdxl-base"]


def test_every_seed_model_and_family_has_a_profile():
    assert set(SEEDS + FAMILIES) <= set(bundled_ids())
    for profile in all_profiles():
        assert profile.title and profile.samplers and profile.steps.min <= profile.steps.default
        for w, h in profile.resolutions:
            assert w % profile.resolution_multiple == 0 and h % profile.resolution_multiple == 0


def test_model_card_facts():
    space = load_profile("spacediffusion-xl-vpred")
    assert (space.architecture, space.prediction_type, space.clip_skip) == ("sdxl-vpred", "v_prediction", 2)
    assert (space.cfg.min, space.cfg.max) == (5.0, 7.5) and (1280, 1280) in space.resolutions
    sote = load_profile("sotediffusion-wuerstchen3")
    assert sote.architecture == "cascade" and sote.max_chunks == 1 and sote.resolution_multiple == 128
    assert [s.name for s in sote.ordering][:5] == ["aesthetic", "quality", "date", "custom", "rating"]
    assert (sote.decoder_steps, sote.decoder_cfg) == (10, 2.0)
    kivotos = load_profile("kivotos-xl-2")
    assert kivotos.steps.default == 28 and kivotos.cfg_fried == 10 and kivotos.samplers == ["Euler a"]
    assert kivotos.presets.positive == "masterpiece, best quality, very aesthetic, absurdres"
    assert kivotos.ladder_of("very_aesthetic") == "aesthetic"
    bigasp = load_profile("bigasp-v2.5")
    assert (bigasp.architecture, bigasp.samplers, bigasp.flow_shift) == ("sdxl-flow", ["Euler"], 6.0)
    assert "species" in load_profile("sygil-diffusion").namespaces
    assert "score_9" in load_profile("pony-v6").keep_underscores


def test_user_profile_extends_a_bundled_one(tmp_path):
    path = tmp_path / "my-merge.toml"
    path.write_text('extends = "kivotos-xl-2"\ntitle = "My merge"\ncfg = { min = 4, max = 6, default = 5 }\n')
    profile = load_profile(str(path))
    assert profile.id == "my-merge" and profile.cfg.default == 5 and profile.samplers == ["Euler a"]


@pytest.mark.parametrize("content, message", [
    ('title = "x"\narchitecture = "sd3"\n', "architecture"),
    ('title = "x"\narchitecture = "sdxl"\ncfg = { min = 5, max = 6, default = 9 }\n', "outside"),
    ('title = "x"\narchitecture = "sdxl"\ncolour = "blue"\n', "colour"),
    ('title = "x"\narchitecture = "sdxl"\nordering = [{ name = "a", match = ["qualty"] }]\n', "qualty"),
])
def test_invalid_profiles_are_explained(tmp_path, content, message):
    path = tmp_path / "bad.toml"
    path.write_text(content)
    with pytest.raises(ProfileError, match=message):
        load_profile(str(path))


def test_unknown_profile_lists_the_bundled_ones():
    with pytest.raises(ProfileError, match="kivotos-xl-2"):
        load_profile("kivotos")
