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


def test_the_plain_profiles_hold_what_the_schema_validated():
    """Profiles are read as plain records (no pydantic at start-up): the same fields, in the same order, with
    the same values and the same JSON output as the pydantic schema that validates the files."""
    from promptkit.profiles import model, schema
    from promptkit.profiles.registry import _raw

    for plain, checked in [(model.Profile, schema.ProfileSchema), (model.Range, schema.RangeSchema),
                           (model.Slot, schema.SlotSchema), (model.Presets, schema.PresetsSchema)]:
        assert plain.FIELDS == tuple(checked.model_fields), plain
    for pid in bundled_ids():
        profile, validated = load_profile(pid), schema.ProfileSchema.model_validate(_raw(pid))
        assert profile.model_dump() == validated.model_dump(), pid
        assert profile.model_dump(mode="json") == validated.model_dump(mode="json"), pid
    kivotos = load_profile("kivotos-xl-2")
    assert isinstance(kivotos.steps, model.Range) and isinstance(kivotos.ordering[0], model.Slot)
    assert all(type(pair) is tuple for pair in kivotos.resolutions) and kivotos.resolutions
    with pytest.raises(AttributeError):
        kivotos.clip_skip = 3
    vpred = kivotos.model_copy(update={"prediction_type": "v_prediction"})
    assert (vpred.prediction_type, kivotos.prediction_type, vpred.ladder_of("best_quality")) == \
        ("v_prediction", "epsilon", "quality")


def _load_in_a_fresh_process(ref: str, cache) -> tuple[str, bool]:
    """(the profile's JSON, whether pydantic was imported) from a new interpreter using ``cache``."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    code = ("import json, sys\nfrom promptkit.profiles import ProfileError, load_profile\n"
            f"try:\n    print(json.dumps(load_profile({ref!r}).model_dump(mode='json'), sort_keys=True))\n"
            "except ProfileError as exc:\n    print('ProfileError:', exc)\n"
            "print('pydantic' in sys.modules)\n")
    env = {**os.environ, "PROMPTKIT_CACHE_DIR": str(cache), "PYTHONPATH": str(root)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    text, imported = out.stdout.rsplit("\n", 2)[:2]
    return text, imported == "True"


def test_a_profile_validated_once_is_read_back_without_pydantic_and_never_when_it_changed(tmp_path):
    cache, path = tmp_path / "cache", tmp_path / "mine.toml"
    path.write_text('extends = "animagine-xl-3.1"\ntitle = "Mine"\ncfg = { min = 4, max = 6, default = 5 }\n')
    first, imported = _load_in_a_fresh_process(str(path), cache)
    assert imported and '"title": "Mine"' in first  # validated by the schema, then remembered
    again, imported = _load_in_a_fresh_process(str(path), cache)
    assert (again, imported) == (first, False)
    for remembered in (cache / "profiles").glob("*.json"):
        remembered.write_text('{"id": "damaged"')  # a damaged cache file is validated afresh, not trusted
    again, imported = _load_in_a_fresh_process(str(path), cache)
    assert (again, imported) == (first, True)
    path.write_text('extends = "animagine-xl-3.1"\ntitle = "Mine"\ncfg = { min = 4, max = 6, default = 9 }\n')
    bad, _ = _load_in_a_fresh_process(str(path), cache)  # changed data is validated again, whatever was kept
    assert bad == f"ProfileError: profile {str(path)!r} is invalid: cfg: default 9.0 is outside 4.0..6.0"
    assert _load_in_a_fresh_process(str(path), cache)[0] == bad  # and an invalid profile is never remembered


def test_an_invalid_profile_is_one_line_naming_every_problem(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('title = "x"\narchitecture = "sdxl"\nclip_skip = "two"\ncolour = "blue"\n'
                    'steps = { min = 30, max = 20, default = 25 }\n')
    with pytest.raises(ProfileError) as caught:
        load_profile(str(path))
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"profile {str(path)!r} is invalid: clip_skip: ")
    assert message.endswith("got 'two'; steps: default 25.0 is outside 30.0..20.0; colour: not a profile setting")
