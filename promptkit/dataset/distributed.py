"""The same caption normalization on a Ray cluster, through Ray Data (optional extra: ``promptkit[ray]``).

Two inputs:

- a folder of caption files: the list of files is spread over Ray workers, each rewrites its files in place
  atomically (the folder must be on storage every node sees, e.g. NFS);
- a caption table (Parquet or JSONL files with a text column): read with Ray Data, normalized with
  ``map_batches``, written as Parquet or JSONL to ``output``.

Point it at a cluster with ``address="ray://head:10001"`` (or ``RAY_ADDRESS``); with no address a local Ray
instance is started on this machine. Each worker builds its own normalizer (tag databases are opened per
process), so results are identical to a single-process run.

Folders go through :func:`map_files_with_ray`, which runs the local pool's per-shard code
(:func:`.files.run_shard`) inside Ray Data actors: ``lint_files_with_ray`` and ``normalize_files_with_ray`` give
what ``promptkit dataset lint`` and ``normalize`` give, in the same order.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from .files import CAPTION_EXTENSIONS, _RewriteJob, iter_captions, run_shard
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


class _Shard:
    """Ray Data callable class: the local path's per-shard code (:func:`.files.run_shard`) with the per-file
    function that ``job()`` builds once per actor (tag databases are opened per process, as in a local pool).
    Results travel pickled, so the driver gets exactly what :func:`.files.map_files` yields."""

    def __init__(self, job: Callable[[], Callable[[Path], Any]]) -> None:
        self.function = job()

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        return {"result": [pickle.dumps(r) for r in run_shard(self.function, [str(p) for p in batch["path"]])]}


def _ensure_ray(address: str | None, num_cpus: int | None):
    import os

    import ray

    address = address or os.environ.get("RAY_ADDRESS")
    if not ray.is_initialized():
        if address:
            ray.init(address=address)
        else:
            ray.init(num_cpus=num_cpus, include_dashboard=False, ignore_reinit_error=True,
                     log_to_driver=False, _node_ip_address="127.0.0.1")
    return ray


def map_files_with_ray(paths: Iterable[str | Path], job: Callable[[], Callable[[Path], Any]],
                       address: str | None = None, workers: int = 2, batch_size: int = 256) -> Iterator[Any]:
    """:func:`.files.map_files` on Ray workers: the same results, in path order, streamed to the caller.

    ``workers`` actors each build ``job()`` once and run the shards Ray Data hands them."""
    ray = _ensure_ray(address, None)
    ray.data.DataContext.get_current().execution_options.preserve_order = True  # results in file order
    ds = ray.data.from_items([{"path": str(p)} for p in paths])
    ds = ds.map_batches(_Shard, fn_constructor_args=(job,), batch_size=batch_size, concurrency=workers,
                        num_cpus=ACTOR_CPUS)
    for batch in ds.iter_batches(batch_size=batch_size, batch_format="numpy"):
        for data in batch["result"]:
            yield pickle.loads(data)


def lint_files_with_ray(root: str | Path, profile: str | None = None, address: str | None = None,
                        workers: int = 2, batch_size: int = 256, extensions: tuple[str, ...] = CAPTION_EXTENSIONS,
                        suggest: bool = True, sources: list[str] | None = None) -> Iterator[tuple]:
    """``promptkit dataset lint`` on Ray workers: (path, error, findings) per caption file, in file order."""
    from .analyze import AnalyzeJob, _default_profile

    job = AnalyzeJob("lint", profile or _default_profile(), suggest=suggest, sources=sources)
    return map_files_with_ray(iter_captions(root, extensions), job, address, workers, batch_size)


def normalize_files_with_ray(root: str | Path, options: NormalizeOptions, write: bool = True, backup: bool = False,
                             address: str | None = None, workers: int = 2, batch_size: int = 256,
                             extensions: tuple[str, ...] = CAPTION_EXTENSIONS,
                             sources: list[str] | None = None) -> list[dict[str, Any]]:
    """Normalize a folder of caption files on Ray workers; returns one record per file, in file order."""
    from . import NormalizerFactory

    job = _RewriteJob(NormalizerFactory(options, sources), write, backup, fsync=False)
    return [{"path": r.path, "changed": r.changed, "written": r.written, "error": r.error or ""}
            for r in map_files_with_ray(iter_captions(root, extensions), job, address, workers, batch_size)]


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
