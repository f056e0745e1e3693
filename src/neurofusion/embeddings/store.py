"""Embedding shards on disk: one Parquet file per shard of subjects, and the reader that
gathers shards into one ``[N, P, E]`` array for training.

Layout of a shard (docs/dev/CONTRACTS.md):

    participant_id  string                       rows sorted by participant, then patch
    patch_id        int32
    embedding       fixed_size_list<float32|float16>[E]

    schema metadata  b"neurofusion.embedding" -> JSON
        {"encoder": name, "width": E, "checkpoint_sha256": hex or null, "dtype": "float32"|"float16"}

The reader memory-maps each shard and copies it once, straight into the preallocated
output array, so the cohort is never held in RAM twice.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import NeurofusionError
from ..io import atomic_output

METADATA_KEY = b"neurofusion.embedding"
DTYPES = ("float32", "float16")
# metadata keys that must agree between shards read together
_SHARED_KEYS = ("encoder", "width", "checkpoint_sha256")


@dataclass
class EmbeddingSet:
    """Embeddings of N participants x P patches x E features."""

    participant_ids: list[str]
    patch_ids: np.ndarray  # [P] int, ascending
    values: np.ndarray  # [N, P, E] float32
    metadata: dict = field(default_factory=dict)

    @property
    def width(self) -> int:
        return int(self.values.shape[-1])


def shard_metadata(encoder: str, width: int, checkpoint_sha256: str | None, dtype: str) -> dict:
    if dtype not in DTYPES:
        raise NeurofusionError(f"embedding dtype {dtype!r} is not supported", fix="use float32 or float16")
    return {"encoder": str(encoder), "width": int(width),
            "checkpoint_sha256": checkpoint_sha256, "dtype": dtype}


def write_embedding_shard(
    path: str | os.PathLike,
    participant_ids: Sequence[str],
    patch_ids: np.ndarray,
    values: np.ndarray,
    *,
    encoder: str,
    checkpoint_sha256: str | None,
    dtype: str = "float32",
    pretrain: dict | None = None,
) -> None:
    """Write one shard atomically.

    ``values`` is ``[N, P, E]`` for ``participant_ids`` (N) x ``patch_ids`` (P); rows
    come out sorted by participant, then patch, whatever the input order. ``pretrain``
    (builtin encoder) records how its pretraining ended, e.g. stopped by a time limit.
    """
    values = np.asarray(values)
    patch_ids = np.asarray(patch_ids, dtype=np.int64)
    n, p, e = values.shape  # [N, P, E]
    if len(participant_ids) != n or patch_ids.shape != (p,):
        raise ValueError(f"values {values.shape} do not match {len(participant_ids)} participants x {patch_ids.shape} patches")
    if len(set(participant_ids)) != n:
        raise ValueError("participant_ids must be unique within a shard")
    meta = shard_metadata(encoder, e, checkpoint_sha256, dtype)
    if pretrain is not None:
        meta["pretrain"] = pretrain

    subj_order = np.argsort(np.asarray(participant_ids, dtype=object), kind="stable")
    patch_order = np.argsort(patch_ids, kind="stable")
    ordered = values[subj_order][:, patch_order].astype(dtype, copy=False)  # [N, P, E]
    flat = np.ascontiguousarray(ordered).reshape(-1)  # [N*P*E]

    pid_col = np.repeat(np.asarray(participant_ids, dtype=object)[subj_order], p)  # [N*P]
    patch_col = np.tile(patch_ids[patch_order].astype(np.int32), n)  # [N*P]
    emb_col = pa.FixedSizeListArray.from_arrays(pa.array(flat), e)
    table = pa.table({
        "participant_id": pa.array(pid_col.tolist(), type=pa.string()),
        "patch_id": pa.array(patch_col, type=pa.int32()),
        "embedding": emb_col,
    })
    table = table.replace_schema_metadata({METADATA_KEY: json.dumps(meta, sort_keys=True).encode()})
    with atomic_output(path) as tmp:
        pq.write_table(table, tmp, compression="zstd", row_group_size=max(p, 1) * 64)


def read_shard_metadata(path: str | os.PathLike) -> dict:
    """The ``neurofusion.embedding`` metadata of one shard (reads only the footer)."""
    try:
        schema = pq.read_schema(path)
    except FileNotFoundError:
        raise NeurofusionError("embedding shard not found", path=path, fix="rerun the embed_patches step")
    except (pa.ArrowInvalid, OSError) as exc:
        raise NeurofusionError(f"not a readable Parquet file ({exc})", path=path,
                               fix="delete it and rerun the embed_patches step")
    for col in ("participant_id", "patch_id", "embedding"):
        if col not in schema.names:
            raise NeurofusionError(f"column {col!r} is missing", path=path, fix="rerun the embed_patches step")
    raw = (schema.metadata or {}).get(METADATA_KEY)
    if raw is None:
        raise NeurofusionError("no 'neurofusion.embedding' metadata: not an embedding shard", path=path,
                               fix="rerun the embed_patches step")
    return json.loads(raw)


def _read_shard_table(path: Path, columns: list[str] | None = None) -> pa.Table:
    try:
        return pq.read_table(path, columns=columns, memory_map=True)
    except (pa.ArrowInvalid, OSError) as exc:
        raise NeurofusionError(f"not a readable Parquet file ({exc})", path=path,
                               fix="delete it and rerun the embed_patches step")


def _shard_index(path: Path, table: pa.Table) -> tuple[list[str], np.ndarray]:
    """Participants (in file order) and the patch ids each one has; checks the row layout."""
    pids = np.asarray(table.column("participant_id").to_pylist(), dtype=object)  # [rows]
    patches = table.column("patch_id").to_numpy().astype(np.int64)  # [rows]
    if not len(pids):  # a shard whose every scan preprocessing excluded
        return [], np.zeros(0, np.int64)
    change = np.flatnonzero(pids[1:] != pids[:-1]) + 1
    starts = np.concatenate([[0], change])
    subjects = [str(pids[i]) for i in starts]
    if len(set(subjects)) != len(subjects) or subjects != sorted(subjects):
        raise NeurofusionError("rows are not grouped and sorted by participant_id", path=path,
                               fix="rerun the embed_patches step")
    counts = np.diff(np.concatenate([starts, [len(pids)]]))
    if len(subjects) and (counts != counts[0]).any():
        bad = subjects[int(np.flatnonzero(counts != counts[0])[0])]
        raise NeurofusionError(f"has {counts.max()} patches for some participants but not all",
                               path=path, subject=bad, fix="rerun the embed_patches step")
    p = int(counts[0]) if len(subjects) else 0
    grid = patches.reshape(len(subjects), p) if p else patches.reshape(0, 0)  # [n, P]
    if len(subjects) and not (grid == grid[0]).all():
        raise NeurofusionError("participants have different patch_id lists", path=path,
                               fix="rerun the embed_patches step")
    patch_ids = grid[0] if len(subjects) else np.zeros(0, np.int64)
    if (np.diff(patch_ids) <= 0).any():
        raise NeurofusionError("patch_id is not strictly ascending within a participant", path=path,
                               fix="rerun the embed_patches step")
    return subjects, patch_ids


def _embedding_values(path: Path, table: pa.Table, n: int, p: int, width: int) -> np.ndarray:
    """The embedding column as ``[n, P, E]`` (a view of the memory map where possible)."""
    col = table.column("embedding").combine_chunks()
    if not pa.types.is_fixed_size_list(col.type) or col.type.list_size != width:
        raise NeurofusionError(f"embedding column is {col.type}, expected a fixed-size list of {width}",
                               path=path, fix="rerun the embed_patches step")
    if col.null_count:
        raise NeurofusionError("embedding column has missing values", path=path, fix="rerun the embed_patches step")
    flat = col.values.to_numpy(zero_copy_only=False)  # [n*P*E]
    return flat.reshape(n, p, width)


def read_embeddings(
    paths: Sequence[str | os.PathLike] | str | os.PathLike,
    participant_ids: Sequence[str] | None = None,
    out: np.ndarray | None = None,
) -> EmbeddingSet:
    """Gather shards into ``EmbeddingSet(values [N, P, E] float32)``.

    Without ``participant_ids`` every participant of every shard is returned, sorted by
    id; with it, exactly those participants in that order (an unknown id is an error).
    All shards must come from the same encoder and share the same patch ids.
    ``out`` may be a preallocated float32 ``[N, P, E]`` array, e.g. an ``np.memmap`` on
    disk for a cohort larger than RAM; it is filled and returned as ``values``.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    paths = [Path(p) for p in paths]
    if not paths:
        raise NeurofusionError("no embedding shards given", fix="pass at least one shard-NNN.parquet")

    metas = [read_shard_metadata(p) for p in paths]
    for path, meta in zip(paths[1:], metas[1:]):
        for key in _SHARED_KEYS:
            if meta.get(key) != metas[0].get(key):
                raise NeurofusionError(
                    f"{key} is {meta.get(key)!r} here but {metas[0].get(key)!r} in {paths[0]}",
                    path=path, fix="re-embed all shards with the same encoder")
    width = int(metas[0]["width"])

    # pass 1: which participant lives where (reads only the two small columns)
    where: dict[str, tuple[int, int]] = {}  # participant -> (shard index, row block)
    patch_ids = None
    for i, path in enumerate(paths):
        table = _read_shard_table(path, columns=["participant_id", "patch_id"])
        subjects, shard_patches = _shard_index(path, table)
        if patch_ids is None and subjects:
            patch_ids = shard_patches
        elif subjects and not np.array_equal(shard_patches, patch_ids):
            raise NeurofusionError("patch ids differ from the other shards", path=path,
                                   fix="re-embed all shards from the same patch grid")
        for j, s in enumerate(subjects):
            if s in where:
                raise NeurofusionError(f"also present in {paths[where[s][0]]}", path=path, subject=s,
                                       fix="each participant must be in exactly one shard")
            where[s] = (i, j)
    if patch_ids is None:
        patch_ids = np.zeros(0, np.int64)

    if participant_ids is None:
        wanted = sorted(where)
    else:
        wanted = [str(s) for s in participant_ids]
        missing = [s for s in wanted if s not in where]
        if missing:
            shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
            raise NeurofusionError(f"{len(missing)} participant(s) have no embeddings: {shown}",
                                   path=paths[0] if len(paths) == 1 else f"{paths[0].parent}/*.parquet",
                                   fix="check the participant list or rerun embed_patches for them")

    # pass 2: one copy of each needed shard straight into the output array
    p = len(patch_ids)
    shape = (len(wanted), p, width)
    if out is not None and (out.shape != shape or out.dtype != np.float32):
        raise ValueError(f"out must be float32 {shape}, got {out.dtype} {out.shape}")
    values = np.empty(shape, dtype=np.float32) if out is None else out  # [N, P, E]
    by_shard: dict[int, list[tuple[int, int]]] = {}
    for out_row, s in enumerate(wanted):
        shard, block = where[s]
        by_shard.setdefault(shard, []).append((out_row, block))
    for shard, rows in sorted(by_shard.items()):
        path = paths[shard]
        table = _read_shard_table(path)
        n_here = table.num_rows // max(p, 1)
        shard_values = _embedding_values(path, table, n_here, p, width)  # [n, P, E]
        for out_row, block in rows:  # row by row: no second temporary copy of the shard
            values[out_row] = shard_values[block]
        del table, shard_values

    meta = dict(metas[0])
    dtypes = {m.get("dtype") for m in metas}
    meta["dtype"] = dtypes.pop() if len(dtypes) == 1 else "mixed"
    return EmbeddingSet(participant_ids=wanted, patch_ids=patch_ids, values=values, metadata=meta)
