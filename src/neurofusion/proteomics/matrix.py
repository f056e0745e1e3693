"""The participants x proteins matrix for training: values with missing, LOD and QC masks.

matrix.parquet: one row per participant: participant_id, values fixed_size_list<float32>[K]
(NaN = missing), below_lod and qc_warning fixed_size_list<bool>[K]; column k is
catalog.parquet's protein_index k. Schema metadata `neurofusion.proteins` holds the
protein IDs in column order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import NeurofusionError

META_KEY = b"neurofusion.proteins"


@dataclass
class ProteinMatrix:
    participant_ids: list[str]
    values: np.ndarray       # [N, K] float32, NaN = missing
    below_lod: np.ndarray    # [N, K] bool
    qc_warning: np.ndarray   # [N, K] bool
    protein_ids: list[str]   # [K], catalog order

    @property
    def missing(self) -> np.ndarray:  # [N, K] bool
        return np.isnan(self.values)


def _fixed(flat: np.ndarray, k: int, value_type) -> pa.Array:
    return pa.FixedSizeListArray.from_arrays(pa.array(flat.ravel(), value_type), k)


def matrix_table(m: ProteinMatrix) -> pa.Table:
    k = len(m.protein_ids)
    schema = pa.schema([
        ("participant_id", pa.string()),
        ("values", pa.list_(pa.float32(), k)),
        ("below_lod", pa.list_(pa.bool_(), k)),
        ("qc_warning", pa.list_(pa.bool_(), k)),
    ], metadata={META_KEY: json.dumps({"protein_ids": m.protein_ids}).encode()})
    return pa.Table.from_arrays([
        pa.array(m.participant_ids, pa.string()),
        _fixed(m.values.astype(np.float32, copy=False), k, pa.float32()),
        _fixed(m.below_lod, k, pa.bool_()),
        _fixed(m.qc_warning, k, pa.bool_()),
    ], schema=schema)


def write_matrix(m: ProteinMatrix, path: str | Path) -> None:
    pq.write_table(matrix_table(m), path)


def read_matrix(path: str | Path) -> ProteinMatrix:
    """matrix.parquet -> ProteinMatrix (values [N, K] float32, masks [N, K] bool)."""
    path = Path(path)
    if not path.is_file():
        raise NeurofusionError("protein matrix not found", path=path, fix="run the `proteins` step first")
    table = pq.read_table(path)
    meta = json.loads((table.schema.metadata or {}).get(META_KEY, b"{}"))
    k = table.schema.field("values").type.list_size
    n = table.num_rows

    def block(name, dtype):
        flat = table.column(name).combine_chunks().flatten().to_numpy(zero_copy_only=False)
        return np.asarray(flat, dtype=dtype).reshape(n, k)

    return ProteinMatrix(
        participant_ids=table.column("participant_id").to_pylist(),
        values=block("values", np.float32),
        below_lod=block("below_lod", bool),
        qc_warning=block("qc_warning", bool),
        protein_ids=list(meta.get("protein_ids", [])),
    )
