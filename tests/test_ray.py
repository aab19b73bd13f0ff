"""Caption normalization on a local Ray instance started by the test (loopback only)."""

from __future__ import annotations

import json
import os

import pytest

ray = pytest.importorskip("ray")
pytest.importorskip("pyarrow")

from promptkit.dataset import CaptionNormalizer, NormalizeOptions, normalize_captions  # noqa: E402
from promptkit.dataset.distributed import normalize_files_with_ray, normalize_table_with_ray  # noqa: E402

OPTIONS = NormalizeOptions(underscores_to_spaces=True, resolve_aliases=True, remove_duplicates=True,
                           split_series=True, profile="sotediffusion-wuerstchen3")
CAPTIONS = [
    "1girl, kazusa_(blue_archive), long_hair, hires, long_hair",
    "best_quality, solo, smile, newest, general",
    "2girls, multiple_girls, highres, ^_^, outdoors",
] * 20


@pytest.fixture(scope="module")
def local_ray():
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    yield ray
    ray.shutdown()


def test_table_normalization_equals_single_process(local_ray, tmp_path):
    source = tmp_path / "captions.jsonl"
    source.write_text("".join(json.dumps({"id": i, "text": c}) + "\n" for i, c in enumerate(CAPTIONS)))
    normalize_table_with_ray(str(source), tmp_path / "out", OPTIONS, workers=2, batch_size=16)
    rows = {}
    for part in (tmp_path / "out").glob("*.json*"):
        for line in part.read_text().splitlines():
            row = json.loads(line)
            rows[row["id"]] = row["text"]
    expected = normalize_captions(CAPTIONS, OPTIONS)
    assert [rows[i] for i in range(len(CAPTIONS))] == expected


def test_file_normalization_equals_single_process(local_ray, tmp_path):
    for i, caption in enumerate(CAPTIONS):
        (tmp_path / f"{i:03d}.txt").write_text(caption + "\n", encoding="utf-8")
    records = normalize_files_with_ray(tmp_path, OPTIONS, workers=2, batch_size=8)
    assert [r["path"] for r in records] == sorted(str(p) for p in tmp_path.glob("*.txt"))
    normalizer = CaptionNormalizer(OPTIONS)
    for i, caption in enumerate(CAPTIONS):
        assert (tmp_path / f"{i:03d}.txt").read_text(encoding="utf-8") == normalizer(caption) + "\n"
    again = normalize_files_with_ray(tmp_path, OPTIONS, workers=2, batch_size=8)
    assert not any(r["written"] for r in again)  # normalizing twice changes nothing


def test_folder_lint_on_ray_equals_the_local_run(local_ray, tmp_path):
    """Ray actors run the local pool's per-shard code: the same (path, error, findings), in file order."""
    from promptkit.dataset.analyze import AnalyzeJob
    from promptkit.dataset.distributed import lint_files_with_ray
    from promptkit.dataset.files import iter_captions, map_files

    for i, caption in enumerate(CAPTIONS[:12]):
        (tmp_path / f"{i:03d}.txt").write_text(caption + "\n", encoding="utf-8")
    (tmp_path / "005.txt").write_bytes(b"1girl, \xff smile\n")  # reported for that file, the others go on
    local = list(map_files(iter_captions(tmp_path), AnalyzeJob("lint", "illustrious-xl"), workers=1))
    assert list(lint_files_with_ray(tmp_path, "illustrious-xl", workers=2, batch_size=4)) == local
    assert local[5][1].startswith("not UTF-8") and sum(bool(findings) for _, _, findings in local) >= 8
