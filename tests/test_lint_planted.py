"""Planted mistakes: what users really get wrong, each with the finding the default rule set must produce.

Every entry is (profile, prompt, negative?, rule code, the exact span reported, the fix's text or None).
The issue's examples are here, and more, across the model families. A second list holds correct prompts
that real users write (embeddings, placeholders, negative weights, the profiles' own presets) on which the
default rules must stay silent.
"""

from __future__ import annotations

import pytest

from promptkit.linter import lint_prompt
from promptkit.linter.diagnostics import apply_edits

LONG = ", ".join(["long hair", "blue eyes", "smile", "sky", "night", "city", "rain", "umbrella"] * 8)

PLANTED = [
    # kivotos-xl-2 (Animagine derivative, Danbooru tags)
    ("kivotos-xl-2", "1girl, kazusa (blue archive), smile", False, "PK206", "kazusa (blue archive)",
     "kazusa \\(blue archive\\)"),
    ("kivotos-xl-2", "1girl, kazusa_(blue_archive), smile", False, "PK206", "kazusa_(blue_archive)",
     "kazusa \\(blue archive\\)"),
    ("kivotos-xl-2", "1girl, kazusa, smile", False, "PK213", "kazusa", "kazusa \\(blue archive\\)"),
    ("kivotos-xl-2", "1grl, smile", False, "PK201", "1grl", "1girl"),
    ("kivotos-xl-2", "1girl, long hiar", False, "PK201", "long hiar", "long hair"),
    ("kivotos-xl-2", "masterpeice, 1girl", False, "PK201", "masterpeice", "masterpiece"),
    ("kivotos-xl-2", "lowres, worstquality", True, "PK201", "worstquality", "worst quality"),
    ("kivotos-xl-2", "1girl, score_9", False, "PK301", "score_9", None),
    ("kivotos-xl-2", "1girl, break, smile", False, "PK109", "break", "BREAK"),
    ("kivotos-xl-2", "1girl, smile BREAKsky", False, "PK109", "BREAK", " BREAK "),
    ("kivotos-xl-2", "1girl, solo, 2girls", False, "PK205", "solo", None),
    ("kivotos-xl-2", "smile, 1girl, kazusa \\(blue archive\\)", False, "PK303", "1girl", None),
    ("kivotos-xl-2", "1girl, vertin (reverse:1999)", False, "PK207", "vertin (reverse:1999)",
     "vertin \\(reverse:1999\\)"),
    ("kivotos-xl-2", "1girl, (smile, looking at viewer", False, "PK101", "(", None),
    ("kivotos-xl-2", "1girl, smile)", False, "PK101", ")", ""),
    ("kivotos-xl-2", "(masterpiece:2.5), 1girl", False, "PK103", "(masterpiece:2.5)", None),
    ("kivotos-xl-2", "{{masterpiece}}, 1girl", False, "PK106", "{{masterpiece}}", "(masterpiece:1.1025)"),
    ("kivotos-xl-2", "cat | dog, [day:night:0.5]", False, "PK107", "|", None),
    ("kivotos-xl-2", "1girl, smile\nNegative prompt: lowres\nSteps: 28, Sampler: Euler a, CFG scale: 6, Seed: 1", False,
     "PK110", "Negative prompt: lowres\nSteps: 28, Sampler: Euler a, CFG scale: 6, Seed: 1", None),
    ("kivotos-xl-2", "1girl, long hair, smile, long hair", False, "PK204", "long hair", "1girl, long hair, smile"),
    ("kivotos-xl-2", "1girl, (smile:1.2), looking at viewer, (smile:1.2)", False, "PK204", "smile",
     "1girl, (smile:1.2), looking at viewer"),  # the removal takes its brackets: no "(:1.2)" left behind
    ("kivotos-xl-2", "1girl, pony tail", False, "PK202", "pony tail", "ponytail"),
    ("kivotos-xl-2", "safe, explicit, 1girl", False, "PK304", "explicit", None),
    ("kivotos-xl-2", "1girl, twintails braids", False, "PK212", "twintails braids", "twintails, braids"),
    ("kivotos-xl-2", "1girl, smile()frown", False, "PK104", "()", "smile, frown"),
    ("kivotos-xl-2", "1girl, long_hair, blue_eyes", False, "PK208", "long_hair", "long hair"),
    # animagine-xl-3.1
    ("animagine-xl-3.1", "1girl, hatsune miku (vocaloid)", False, "PK206", "hatsune miku (vocaloid)",
     "hatsune miku, vocaloid"),
    ("animagine-xl-3.1", "owres, bad anatomy", True, "PK201", "owres", "lowres"),
    # illustrious-xl, noobai, spacediffusion
    ("illustrious-xl", "masterpiece, 1girl, (smile:1,2)", False, "PK102", ":1,2", None),
    ("illustrious-xl", "masterpiece, 1girl, (smile::1.2), (open mouth::1.1), smile", False, "PK204", "smile",
     "masterpiece, 1girl, (smile::1.2), (open mouth::1.1)"),  # '::' hides nothing
    ("illustrious-xl", "masterpiece, 1girl, score_8_up", False, "PK301", "score_8_up", None),
    ("noobai-xl-eps", "masterpiece, 1girl, score_9", False, "PK301", "score_9", None),
    ("noobai-xl-eps", "1girl, 1girl, solo", False, "PK204", "1girl", "1girl, solo"),
    ("spacediffusion-xl-vpred", "masterpiece, 1girl, smiel", False, "PK201", "smiel", "smile"),
    # pony-v6
    ("pony-v6", "score 9, score_8_up, 1girl", False, "PK208", "score 9", "score_9"),
    ("pony-v6", "score_9, 1girl, (smile:2.4)", False, "PK103", "(smile:2.4)", None),
    # sd15, sd15-anime
    ("sd15", "beautiful landscape, flower earings", False, "PK201", "flower earings", "flower earrings"),
    ("sd15", "a castle BREAKin the sky", False, "PK109", "BREAK", " BREAK "),
    ("sd15", "a cat | a dog, [day:night:0.5]", False, "PK107", "|", None),
    ("sd15", "portrait of a knight, (armor:-1)", False, "PK103", "(armor:-1)", None),
    ("sd15-anime", "lowres, bad anatomy, EasyNegative, lowers", True, "PK201", "lowers", "lowres"),
    ("sd15-anime", "masterpiece, best quality, 1girl, playing guiter", False, "PK201", "playing guiter",
     "playing guitar"),
    ("sd15-anime", "2boy, lowres", True, "PK202", "2boy", "2boys"),
    ("sd15-anime", "masterpiece, 1girl, off-the-shoulder_sweater", False, "PK201", "off-the-shoulder_sweater",
     "off-shoulder_sweater"),
    ("sd15-anime", "lowres, blacktongue", True, "PK201", "blacktongue", "black tongue"),
    # sdxl-base, bigasp (natural language first)
    ("sdxl-base", "1girl, pony tail, smile", False, "PK202", "pony tail", "ponytail"),
    ("sdxl-base", "a photo of a cat BREAK a dog, [day:night:0.5] | rain", False, "PK107", "|", None),
    ("bigasp-v2.5", "photo of a woman, {{best quality}}", False, "PK106", "{{best quality}}", "(best quality:1.1025)"),
    ("bigasp-v2.5", "a photo of a woman, (detailed skin:2.4)", False, "PK103", "(detailed skin:2.4)", None),
    # sotediffusion (Stable Cascade: 77 tokens)
    ("sotediffusion-wuerstchen3", LONG, False, "PK305", None, None),
    ("sotediffusion-wuerstchen3", "1girl, score_9, very aesthetic", False, "PK301", "score_9", None),
    # typos inside phrases (issue 11, round 2), full-width and NovelAI syntax in Chinese A1111 prompts
    ("sd15-anime", "low quality lowres wort quality, low quality lowres missing fngers", True, "PK201",
     "wort quality", "low quality lowres worst quality, low quality lowres missing fngers"),
    ("sd15-anime", "low quality lowres lowers, bad hands", True, "PK201", "lowers", "low quality lowres lowres, bad hands"),
    ("sd15", "a beatiful girl in a snowy villiage", False, "PK215", "beatiful", "a beautiful girl in a snowy villiage"),
    ("sdxl-base", "photo of a hansome man, studio lighting", False, "PK215", "hansome", None),
    ("sd15-anime", "（（杰作）），（女孩：1.1）", False, "PK112", "（（杰作））", "((杰作))，(女孩:1.1)"),
    ("sd15-anime", "1girl, {{{半闭眼}}}", False, "PK106", "{{{半闭眼}}}", "1girl, (半闭眼:1.157625)"),
    # sygil (namespaces)
    ("sygil-diffusion", "specie:seal, ocean", False, "PK209", "specie", None),
]

QUIET = [
    ("kivotos-xl-2", "nsfw, (low quality, worst quality:1.2), very displeasing, 3d, watermark, signature, ugly, "
                     "poorly drawn", True),  # the profile's own preset negative
    ("kivotos-xl-2", "1girl, kazusa \\(blue archive\\), blue archive, smile, masterpiece, best quality", False),
    ("sd15-anime", "(worst quality:2), (low quality:2), EasyNegative, bad-hands-5, ng_deepnegative_v1_75t, "
                   "verybadimagenegative_v1.2, badhandv4", True),
    ("sd15-anime", "nsfw, lowres, bad anatomy, bad hands, text, error, missing fingers, extra digit, fewer digits, "
                   "cropped, worst quality, low quality, normal quality, jpeg artifacts, signature, watermark, "
                   "username, blurry", True),  # NovelAI's own negative
    ("sd15", "{prompt}, cinematic lighting, __haircolor__, {red|blue} dress", False),  # styles.csv, wildcards
    ("sd15", "lowres, low quality, ugly, cute, style, orange, straight, man, general", True),
    ("sd15", "a photo of a cat sitting on a wooden table in the sun, highly detailed, 8k", False),
    ("sdxl-base", "best quality, realistic BREAK\nblue sky BREAK\ngreen hair twintail BREAK\nblue sky", False),
    # round 2: real words and names are not typos; stray colons and styles in negatives are harmless
    ("sd15-anime", "solo, beautiful girl, gleaming eye, perfect eye", False),
    ("sd15-anime", "lowres, glans, bar_censor, (bad anatomy::1.2), (deformed::1.2), low quality lowres graffiti", True),
    ("sd15", "an abstract, simplified icon, the best quality", False),
    ("sd15", "painted by sparth and craig mullins, art by beeple and josan gonzales, yoshitaka amano", False),
    ("illustrious-xl", "masterpiece, very aesthetic, 1girl", False),
    ("sdxl-base", "bokeh, depth of field, (style: anime), 16:9", False),
    ("illustrious-xl", "masterpiece, best quality, 1girl, kazusa \\(blue archive\\), general", False),
    ("pony-v6", "score_9, score_8_up, score_7_up, source_anime, rating_safe, 1girl", False),
    ("kivotos-xl-2", "re:zero kara hajimeru isekai seikatsu, (nier:automata), ^_^, >_<", False),
    ("kivotos-xl-2", "1girl, smile, <lora:detail:0.7>, (masterpiece, best quality:1.2)", False),
]


def _fixed(text, diagnostic):
    return apply_edits(text, list(diagnostic.fix.edits)) if diagnostic.fix else None


@pytest.mark.parametrize("profile, text, negative, code, span, fix", PLANTED,
                         ids=[f"{p[3]}-{p[0]}-{i}" for i, p in enumerate(PLANTED)])
def test_planted_mistake_is_caught(profile, text, negative, code, span, fix):
    report = lint_prompt(text, profile, negative=negative, extend_select=[code])  # opt-in rules (PK303) too
    found = [d for d in report.diagnostics if d.code == code and (span is None or text[d.start:d.end] == span)]
    assert found, [(d.code, text[d.start:d.end], d.message) for d in report.diagnostics]
    if fix is not None:
        assert found[0].fix is not None, found[0]
        after = _fixed(text, found[0])
        assert after == fix or text[found[0].start:found[0].end] == span and fix in after, (after, fix)


def test_at_least_forty_planted_mistakes_across_profiles():
    assert len(PLANTED) >= 40
    assert {p[0] for p in PLANTED} >= {"kivotos-xl-2", "animagine-xl-3.1", "illustrious-xl", "noobai-xl-eps",
                                       "pony-v6", "sd15", "sdxl-base", "bigasp-v2.5", "sotediffusion-wuerstchen3"}


@pytest.mark.parametrize("profile, text, negative", QUIET, ids=[f"{q[0]}-{i}" for i, q in enumerate(QUIET)])
def test_correct_prompts_stay_quiet(profile, text, negative):
    report = lint_prompt(text, profile, negative=negative)
    assert not report.diagnostics, [(d.code, text[d.start:d.end], d.message) for d in report.diagnostics]
