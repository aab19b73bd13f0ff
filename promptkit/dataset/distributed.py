"""The same caption normalization on a Ray cluster, through Ray Data (optional extra: ``promptkit[ray]``).

Two inputs:

- a folder of caption files: the list of files is spread over Ray workers, each rewrites its files in place
  atomically (the folder must be on storage every node sees, e.g. NFS);
- a caption table (Parquet or JSONL files with a text column): read with Ray Data, normalized with
  ``map_batches``, written as Parquet or JSONL to ``output``.

Point it at a cluster with ``address="ray://head:10001"`` (or ``RAY_ADDRESS``); with no address a local Ray
instance is started on this machine. Each worker builds its own normalizer (tag databases are opened per
process), so results are identical to a single-process run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .files import find_captions, process_files
from .normalize import NormalizeOptions


# Each normalizing actor asks for half a CPU, so that read and write tasks can still be scheduled on a small
# node whose cores the actors would otherwise hold (a resource deadlock on a 2-core machine).
ACTOR_CPUS = 0.5


class _NormalizeColumn:
    """Ray Data callable class: normalizes one text column of each batch."""

    def __init__(self, options: NormalizeOptions, column: str, sources: list[str] | None) -> None:
        from . import NormalizerFactory

        self.normalize = NormalizerFactory(options, sources)()
        self.column = column

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        out = dict(batch)
        out[self.column] = [self.normalize(str(text)) for text in batch[self.column]]
        return out


class _NormalizeFiles:
    """Ray Data callable class: rewrites the caption files named in each batch."""

    def __init__(self, options: NormalizeOptions, write: bool, backup: bool, sources: list[str] | None) -> None:
        from . import NormalizerFactory

        self.factory = NormalizerFactory(options, sources)
        self.normalizer = self.factory()
        self.write = write
        self.backup = backup

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        paths = [Path(str(p)) for p in batch["path"]]
        results = list(process_files(paths, lambda: self.normalizer, write=self.write, backup=self.backup, workers=1))
        return {"path": [r.path for r in results], "changed": [r.changed for r in results],
                "written": [r.written for r in results], "error": [r.error or "" for r in results]}


def _ensure_ray(address: str | None, num_cpus: int | None):
    import ray

    if not ray.is_initialized():
        if address:
            ray.init(address=address)
        else:
            ray.init(num_cpus=num_cpus, include_dashboard=False, ignore_reinit_error=True,
                     log_to_driver=False, _node_ip_address="127.0.0.1")
    return ray


def normalize_files_with_ray(root: str | Path, options: NormalizeOptions, write: bool = True, backup: bool = False,
                             address: str | None = None, workers: int = 2, batch_size: int = 256,
                             extensions: tuple[str, ...] = (".txt", ".caption"),
                             sources: list[str] | None = None) -> list[dict[str, Any]]:
    """Normalize a folder of caption files on Ray workers; returns one record per file, in file order."""
    ray = _ensure_ray(address, None)
    paths = [str(p) for p in find_captions(root, extensions)]
    ds = ray.data.from_items([{"path": p} for p in paths])
    ds = ds.map_batches(_NormalizeFiles, fn_constructor_args=(options, write, backup, sources),
                        batch_size=batch_size, concurrency=workers, num_cpus=ACTOR_CPUS)
    rows = ds.take_all()
    order = {p: i for i, p in enumerate(paths)}
    return sorted(rows, key=lambda r: order[r["path"]])


def normalize_table_with_ray(source: str | Path | list[str], output: str | Path, options: NormalizeOptions,
                             column: str = "text", address: str | None = None, workers: int = 2,
                             batch_size: int = 1024, sources: list[str] | None = None) -> None:
    """Normalize the ``column`` of a Parquet or JSONL caption table and write the result to ``output``."""
    ray = _ensure_ray(address, None)
    paths = [str(p) for p in source] if isinstance(source, list) else [str(source)]
    jsonl = all(p.endswith((".jsonl", ".json")) for p in paths)
    ds = ray.data.read_json(paths) if jsonl else ray.data.read_parquet(paths)
    ds = ds.map_batches(_NormalizeColumn, fn_constructor_args=(options, column, sources), batch_size=batch_size,
                        concurrency=workers, batch_format="numpy", num_cpus=ACTOR_CPUS)
    if jsonl:
        ds.write_json(str(output))
    else:
        ds.write_parquet(str(output))
