"""Build the lint audit set from ../shared/corpus (run once; its output, prompts.jsonl, is committed).

Each text is linted with the profile its author would pick, judged from its source (the model card,
the model named in its infotext, the tool it was written for). A third of the texts, chosen by a hash
of their identity and not by content, is held out: nobody tuning the linter reads them or their findings;
they are judged once, at the end, to check that what was built holds on prompts nobody looked at.

    python tests/audit/build_audit_set.py ../shared/corpus/real_prompts.jsonl > tests/audit/prompts.jsonl

A second held-out split, ``fresh``, was drawn later the same way from the texts not yet in the set, after the
first held-out split had been judged and so had been seen (``--fresh`` appends it; a third of each source's
quota, other seed):

    python tests/audit/build_audit_set.py ../shared/corpus/real_prompts.jsonl --fresh >> tests/audit/prompts.jsonl
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import sys

# source repository -> (profile, positives to take, negatives to take, why this profile)
SOURCES = {
    "krea-ai/open-prompts": ("sd15", 20, 0, "Lexica-era SD 1.x natural-language prompts"),
    "thisjam/sd-webui-oldsix-prompt": ("sd15-anime", 20, 0, "Chinese A1111 prompt extension for NAI-derived anime SD1.5 models"),
    "YinanWusoymilk/hf-readme": ("sd15-anime", 16, 10, "model cards of SD1.5 anime models (Counterfeit, Replicant, SomethingV2, animix)"),
    "Sam77v/Main-Files-For-A1111": ("sd15", 8, 6, "A1111 styles.csv for SD1.5 general models"),
    "wyrde/wyrde-comfyui-workflows": ("sd15", 8, 3, "ComfyUI example workflows on SD1.5 checkpoints"),
    "NoCrypt/webui-settings": ("sd15-anime", 3, 4, "styles.csv of an anime-model author"),
    "1230young/RPG_layered": ("sdxl-base", 5, 0, "RPG demos on SDXL checkpoints (albedobase, dynavision, RealVis)"),
    "minienglish1/sdxl-trainer": ("sdxl-base", 6, 0, "sample prompts of an SDXL trainer"),
    "damian0815/compel": ("sd15", 6, 0, "compel's documentation prompts (SD1.5 in its demos)"),
    "anyin233/ComfyUI-Workflows-ZHO": ("sdxl-base", 4, 2, "ComfyUI workflows for newer natural-language models"),
    "Firxp011/npu-convert-action": ("sd15-anime", 4, 3, "anime SD1.5 test prompts"),
    "GaseousIce/a1111-styles.csv": ("sd15", 3, 3, "A1111 styles.csv"),
    "hnmr293/sd-webui-cutoff": ("sd15", 2, 0, "extension README on SD1.5"),
    "yuyan124/awesome-stable-diffusion-prompts": ("sd15", 3, 0, "infotexts from v1-5-pruned and chilloutmix"),
    "24mlight/sd": ("sd15-anime", 1, 1, "infotext from anything-v4.5"),
    "Caroline520f/SEIJA": ("sd15-anime", 2, 1, "anime SD1.5 infotext and styles"),
    "Tsukreya/sd-webui-cfgs": ("sd15-anime", 0, 1, "styles.csv negative of an anime setup"),
    "lanner0403/WAI-NSFW-illustrious-character-select": ("illustrious-xl", 1, 1, "settings of an Illustrious (WAI) tool"),
    "ljleb/sd-webui-neutral-prompt": ("sd15", 1, 0, "extension README on SD1.5"),
}
DIALECTS = {"a1111": "a1111", "plain": "a1111", "comfy": "comfy", "novelai": "novelai", "compel": "compel"}
PHOTOREAL = re.compile(r"photoreal|chilloutmix", re.I)


def held_out(key: str) -> bool:
    """One text in three, by a hash of its identity (corpus index and field), not by what it says."""
    return int(hashlib.sha256(key.encode()).hexdigest(), 16) % 3 == 0


def main(corpus_path: str, fresh: bool = False) -> None:
    records = [json.loads(line) for line in open(corpus_path, encoding="utf-8")]
    rng = random.Random(20261201)
    taken: set[str] = set()
    if fresh:
        from pathlib import Path

        here = Path(__file__).resolve().parent / "prompts.jsonl"
        taken = {json.loads(line)["id"] for line in here.read_text(encoding="utf-8").splitlines() if line.strip()}
        rng = random.Random(20261202)
    by_source: dict[str, list[int]] = {}
    for index, record in enumerate(records):
        by_source.setdefault(record["source"].split(":")[0], []).append(index)
    for source, (profile, n_pos, n_neg, why) in SOURCES.items():
        indices = by_source.get(source, [])
        positives = [i for i in indices if (records[i]["prompt"] or "").strip() and f"{i}:prompt" not in taken]
        negatives = [i for i in indices if (records[i]["negative_prompt"] or "").strip()
                     and f"{i}:negative_prompt" not in taken]
        if fresh:
            n_pos, n_neg = -(-n_pos // 3), -(-n_neg // 3)
        picks = [(i, "prompt") for i in sorted(rng.sample(positives, min(n_pos, len(positives))))]
        picks += [(i, "negative_prompt") for i in sorted(rng.sample(negatives, min(n_neg, len(negatives))))]
        for index, field in picks:
            record = records[index]
            prof = profile
            if prof.startswith("sd15") and PHOTOREAL.search(record["source"] + (record["params"] or "")):
                prof = "sd15"
            key = f"{index}:{field}"
            print(json.dumps({
                "id": key, "corpus_index": index, "field": field, "source": record["source"],
                "profile": prof, "dialect": DIALECTS[record["syntax_hint"]], "negative": field == "negative_prompt",
                "split": "fresh" if fresh else "heldout" if held_out(key) else "dev", "why_profile": why, "text": record[field],
            }, ensure_ascii=False))


if __name__ == "__main__":
    main(sys.argv[1], fresh="--fresh" in sys.argv[2:])
