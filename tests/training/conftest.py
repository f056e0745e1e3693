"""Tiny synthetic stage inputs for the training tests, built in memory or in tmp_path.

A cohort of N subjects, 3 folds, two classes; MRI: 12 patches x 8 features, the class
shifts feature 0 of patches 0-2 (the MRI signal); proteins: 6 in 2 categories, the class
shifts protein 1 (the protein signal). Some protein values are missing.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from neurofusion.training.data import Sources

P, E, K = 12, 8, 6


def make_sources(n: int = 36, seed: int = 0, mri_signal: float = 2.0, prot_signal: float = 2.0,
                 P: int = P, E: int = E, K: int = K) -> Sources:
    rng = np.random.default_rng(seed)
    ids = [f"sub-{i:03d}" for i in range(1, n + 1)]
    label_index = np.arange(n) % 2
    fold = (np.arange(n) // 2) % 3
    cohort = pd.DataFrame({
        "participant_id": ids, "label": np.where(label_index == 1, "AD", "CN"),
        "label_index": label_index.astype(np.int32), "fold": fold.astype(np.int32),
        "has_mri": True, "has_proteins": True, "age": rng.normal(70, 5, n)})
    emb = rng.normal(size=(n, P, E)).astype(np.float32)
    emb[:, :3, 0] += mri_signal * label_index[:, None]
    values = rng.normal(size=(n, K)).astype(np.float32) * 2 + 5
    values[:, 1] += prot_signal * 2 * label_index
    values[rng.random((n, K)) < 0.1] = np.nan
    below = rng.random((n, K)) < 0.1
    grid = pd.DataFrame({"patch_id": np.arange(P, dtype=np.int32),
                         "x_mm": np.linspace(-60, 60, P), "y_mm": np.resize([-20.0, 20.0], P),
                         "z_mm": np.resize([0.0, 30.0, 50.0], P), "brain_fraction": np.float32(0.9)})
    catalog = pd.DataFrame({
        "protein_index": np.arange(K, dtype=np.int32), "protein_id": [f"P{j}" for j in range(K)],
        "uniprot": [f"Q{j}" for j in range(K)], "gene": [f"G{j}" for j in range(K)], "assay": "x",
        "panel": "neuro", "category": ["tau_pathway", "amyloid_pathway"] * (K // 2),
        "category_id": np.array([1, 0] * (K // 2), np.int32),
        "position_in_category": np.array([j // 2 for j in range(K)], np.int32)})
    embeddings = SimpleNamespace(participant_ids=ids, patch_ids=np.arange(P), values=emb,
                                 metadata={"encoder": "test", "width": E}, width=E)
    matrix = SimpleNamespace(participant_ids=ids, values=values, below_lod=below,
                             qc_warning=np.zeros((n, K), bool), protein_ids=list(catalog["protein_id"]))
    return Sources(cohort=cohort, classes=["CN", "AD"], embeddings=embeddings, grid=grid,
                   grid_meta={"space": "MNI152NLin2009aSym", "resolution": 2.0}, matrix=matrix, catalog=catalog)


def write_stage_files(src: Sources, folder) -> dict:
    """The same data as the Parquet files of docs/dev/CONTRACTS.md (for CLI tests)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {k: folder / f"{k}.parquet" for k in ("cohort", "embeddings", "grid", "proteins", "catalog")}
    src.cohort.to_parquet(paths["cohort"], index=False)
    emb = src.embeddings
    n, P, E = emb.values.shape
    K = src.matrix.values.shape[1]
    table = pa.table({
        "participant_id": np.repeat(emb.participant_ids, P).tolist(),
        "patch_id": pa.array(np.tile(np.arange(P), n), pa.int32()),
        "embedding": pa.FixedSizeListArray.from_arrays(pa.array(emb.values.reshape(-1)), E)})
    meta = {"encoder": "test", "width": E, "checkpoint_sha256": None, "dtype": "float32"}
    pq.write_table(table.replace_schema_metadata({b"neurofusion.embedding": json.dumps(meta).encode()}),
                   paths["embeddings"])
    g = pa.Table.from_pandas(src.grid.assign(
        i0=0, j0=0, k0=0, i1=1, j1=1, k1=1), preserve_index=False)
    gmeta = {"space": "MNI152NLin2009aSym", "resolution": 2.0, "shape": [10, 10, 10],
             "affine": np.eye(4).tolist(), "size_mm": 24, "stride_mm": 24, "min_brain_fraction": 0.35}
    pq.write_table(g.replace_schema_metadata({b"neurofusion.grid": json.dumps(gmeta).encode()}), paths["grid"])
    m = src.matrix
    pq.write_table(pa.table({
        "participant_id": m.participant_ids,
        "values": pa.FixedSizeListArray.from_arrays(pa.array(m.values.reshape(-1)), K),
        "below_lod": pa.FixedSizeListArray.from_arrays(pa.array(m.below_lod.reshape(-1)), K),
        "qc_warning": pa.FixedSizeListArray.from_arrays(pa.array(m.qc_warning.reshape(-1)), K)}), paths["proteins"])
    src.catalog.to_parquet(paths["catalog"], index=False)
    return paths


SMALL_MODEL = {"hidden_dim": 16, "num_heads": 2, "num_self_layers": 1, "num_cross_layers": 1,
               "dropout": 0.1, "coord_hidden": 8}


@pytest.fixture
def sources() -> Sources:
    return make_sources()


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models: one intra-op thread is faster and steadier on a shared 2-core machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
