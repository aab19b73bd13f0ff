"""Model-card truth: every example prompt of a seed's or base family's card lints clean under its own profile.

The prompts are copied from the cards (sources in each profile's TOML comments and here); ``negative`` marks a
card's negative prompt. A finding on one of these is a finding against the model's own author.
"""

from __future__ import annotations

import pytest

from promptkit.linter import format_prompt, lint_prompt

CARDS = [
    # Animagine XL 3.1 (huggingface.co/cagliostrolab/animagine-xl-3.1, README: diffusers example and negative)
    ("animagine-xl-3.1", "1girl, souryuu asuka langley, neon genesis evangelion, solo, upper body, v, smile, "
                         "looking at viewer, outdoors, night, masterpiece, best quality, very aesthetic, absurdres",
     False),
    ("animagine-xl-3.1", "1girl, souryuu asuka langley, neon genesis evangelion, rebuild of evangelion, lance of "
                         "longinus, cat hat, plugsuit, pilot suit, red bodysuit, sitting, crossed legs, black eye "
                         "patch, throne, looking down, from bottom, looking at viewer, outdoors, masterpiece, "
                         "best quality, very aesthetic, absurdres", False),
    ("animagine-xl-3.1", "1girl, cagliostro, granblue fantasy, solo, masterpiece, best quality, very aesthetic, "
                         "absurdres", False),
    ("animagine-xl-3.1", "nsfw, lowres, (bad), text, error, fewer, extra, missing, worst quality, jpeg artifacts, "
                         "low quality, watermark, unfinished, displeasing, oldest, early, chromatic aberration, "
                         "signature, extra digits, artistic error, username, scan, [abstract]", True),
    ("animagine-xl-3.1", "wings, nsfw, low quality, worst quality, normal quality,", True),
    # Animagine XL 4.0 (huggingface.co/cagliostrolab/animagine-xl-4.0: the diffusers example, the examples with
    # a rating after the series, and the negative)
    ("animagine-xl-4.0", "1girl, arima kana, oshi no ko, hoshimachi suisei, hoshimachi suisei \\(1st costume\\), "
                         "cosplay, looking at viewer, smile, outdoors, night, v, masterpiece, high score, great score, "
                         "absurdres", False),
    ("animagine-xl-4.0", "1girl, souryuu asuka langley, neon genesis evangelion, sensitive, solo, eyepatch, red "
                         "plugsuit, sitting on throne, crossed legs, head tilt, holding weapon, lance of longinus "
                         "\\(evangelion\\), cowboy shot, depth of field, faux traditional media, painterly, "
                         "impressionism, masterpiece, high score, great score, absurdres", False),
    ("animagine-xl-4.0", "1girl, firefly \\(honkai: star rail\\), honkai \\(series\\), honkai: star rail, safe, "
                         "casual, solo, looking at viewer, outdoors, smile, reaching towards viewer, night, "
                         "masterpiece, high score, great score, absurdres", False),
    ("animagine-xl-4.0", "lowres, bad anatomy, bad hands, text, error, missing finger, extra digits, fewer digits, "
                         "cropped, worst quality, low quality, low score, bad score, average score, signature, "
                         "watermark, username, blurry", True),
    # Kivotos XL 2.0 (huggingface.co/yodayo-ai/kivotos-xl-2.0; ../shared/CONVENTIONS.md)
    ("kivotos-xl-2", "1girl, kazusa \\(blue archive\\), blue archive, solo, masterpiece, best quality, "
                     "very aesthetic, absurdres", False),
    ("kivotos-xl-2", "masterpiece, best quality, very aesthetic, absurdres", False),
    ("kivotos-xl-2", "1girl, kazusa, blue archive, solo, masterpiece, best quality, very aesthetic, absurdres",
     False),
    ("kivotos-xl-2", "nsfw, (low quality, worst quality:1.2), very displeasing, 3d, watermark, signature, ugly, "
                     "poorly drawn", True),
    ("kivotos-xl-2", "nsfw, low quality, worst quality, very displeasing, 3d, watermark, signature, ugly, "
                     "poorly drawn", True),
    # Illustrious XL (../shared/CONVENTIONS.md; the family's prefix)
    ("illustrious-xl", "masterpiece, best quality, newest, absurdres, highres", False),
    # NoobAI XL (huggingface.co/Laxhar/noobai-XL-1.0 and noobai-XL-Vpred cards: prompt prefix and negative)
    ("noobai-xl-eps", "masterpiece, best quality, newest, absurdres, highres, safe,", False),
    ("noobai-xl-eps", "nsfw, worst quality, old, early, low quality, lowres, signature, username, logo, bad hands, "
                      "mutated hands, mammal, anthro, furry, ambiguous form, feral, semi-anthro", True),
    ("noobai-xl-vpred", "masterpiece, best quality, newest, absurdres, highres, safe,", False),
    ("noobai-xl-vpred", "very awa, masterpiece, best quality, year 2024, newest, highres, absurdres, 1girl, solo",
     False),
    # Pony Diffusion V6 XL (civitai.com/models/257749: the default template; source and rating tags)
    ("pony-v6", "score_9, score_8_up, score_7_up, score_6_up, score_5_up, score_4_up, just describe what you want, "
                "tag1, tag2", False),
    ("pony-v6", "score_9, score_8_up, score_7_up, score_6_up, score_5_up, score_4_up, source_pony, rating_safe, "
                "1girl, solo", False),
    ("pony-v6", "source_pony, blue hair, village background, 1boy, looking at viewer", False),
    # the five seeds (../shared/CONVENTIONS.md)
    ("spacediffusion-xl-vpred", "masterpiece, best quality, ultra-detailed, 1girl, solo, glowing eyes, cyberpunk city",
     False),
    ("sotediffusion-wuerstchen3", "newest, extremely aesthetic, best quality", False),
    ("sotediffusion-wuerstchen3", "very displeasing, worst quality, monochrome, realistic, oldest", True),
    ("bigasp-v2.5", "worst quality, low quality, normal quality, high quality, best quality, masterpiece quality",
     False),
    ("bigasp-v2.5", "low quality", True),
    ("sygil-diffusion", "species:seal, studio:dc, swimming, ocean", False),
]


@pytest.mark.parametrize("profile, text, negative", CARDS)
def test_card_examples_lint_clean(profile, text, negative):
    report = lint_prompt(text, profile, negative=negative, extend_select=["PK303"])  # the card's order too
    assert [(d.code, d.message) for d in report.diagnostics] == []


@pytest.mark.parametrize("profile, text, negative", [c for c in CARDS if not c[2]])
def test_fmt_keeps_card_examples(profile, text, negative):
    """The card's own order is the profile's order: fmt changes no tag's position."""
    out = format_prompt(text, profile)
    assert [t.strip() for t in out.split(",") if t.strip()] == [t.strip() for t in text.split(",") if t.strip()]
