"""export-attention end to end: train a tiny fusion model per fold, then replay its test subjects."""

import json

import nibabel as nib
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from neurofusion.cli import main

CLASSES = ["CN", "AD"]
N, P, E, K = 16, 8, 8, 5


@pytest.fixture
def stage_inputs(tmp_path):
    """Cohort (2 folds), grid of 8 patches on the 2 mm template, embeddings, proteins, catalog,
    a tiny model config and a truth.json. sub-016 has no protein values (must be skipped)."""
    pytest.importorskip("neurofusion.imaging.grid")  # the training reader needs it
    pytest.importorskip("neurofusion.training.predict")
    from nilearn.datasets import load_mni152_template

    from neurofusion.embeddings.store import write_embedding_shard
    from neurofusion.proteomics.matrix import ProteinMatrix, write_matrix

    rng = np.random.default_rng(0)
    ids = [f"sub-{i:03d}" for i in range(1, N + 1)]
    labels = np.arange(N) % 2
    pd.DataFrame({"participant_id": ids, "label": [CLASSES[k] for k in labels], "label_index": labels.astype(np.int32),
                  "fold": ((np.arange(N) // 2) % 2).astype(np.int32), "has_mri": True,
                  "has_proteins": [True] * (N - 1) + [False]}).to_parquet(tmp_path / "participants.parquet")

    template = load_mni152_template(resolution=2)
    affine = template.affine
    rows = []
    for pid, (a, b, c) in enumerate(np.ndindex(2, 2, 2)):
        i0, j0, k0 = 30 + 12 * a, 40 + 12 * b, 30 + 12 * c
        centre = affine @ np.array([i0 + 5.5, j0 + 5.5, k0 + 5.5, 1.0])
        rows.append(dict(patch_id=pid, i0=i0, j0=j0, k0=k0, i1=i0 + 12, j1=j0 + 12, k1=k0 + 12,
                         x_mm=centre[0], y_mm=centre[1], z_mm=centre[2], brain_fraction=1.0))
    grid = pd.DataFrame(rows).astype({c: np.int32 for c in ["patch_id", "i0", "j0", "k0", "i1", "j1", "k1"]})
    grid["brain_fraction"] = grid["brain_fraction"].astype(np.float32)
    meta = {"space": "MNI152NLin2009aSym", "resolution": 2.0, "shape": list(template.shape),
            "affine": affine.tolist(), "size_mm": 24.0, "stride_mm": 24.0, "min_brain_fraction": 0.35}
    table = pa.Table.from_pandas(grid, preserve_index=False)
    pq.write_table(table.replace_schema_metadata({b"neurofusion.grid": json.dumps(meta).encode()}),
                   tmp_path / "grid.parquet")

    emb = rng.normal(size=(N, P, E)).astype(np.float32)
    emb[labels == 1, 3] += 2.0  # AD signal in patch 3
    write_embedding_shard(tmp_path / "shard-000.parquet", ids, np.arange(P), emb, encoder="test",
                          checkpoint_sha256=None)
    genes = ["APP", "MAPT", "GFAP", "NEFL", "ALB"]
    categories = ["amyloid_pathway", "tau_pathway", "inflammation", "neurodegeneration", "other"]
    pd.DataFrame({"protein_index": np.arange(K, dtype=np.int32), "protein_id": [f"OID{i:05d}" for i in range(K)],
                  "uniprot": [f"P{i:05d}" for i in range(K)], "gene": genes, "assay": genes, "panel": "Neurology",
                  "category": categories, "category_id": np.arange(K, dtype=np.int32),
                  "position_in_category": np.zeros(K, np.int32)}).to_parquet(tmp_path / "catalog.parquet")
    values = rng.normal(size=(N - 1, K)).astype(np.float32)
    values[labels[: N - 1] == 1, 3] += 2.0  # NEFL up in AD
    write_matrix(ProteinMatrix(ids[: N - 1], values, np.zeros((N - 1, K), bool), np.zeros((N - 1, K), bool),
                               [f"OID{i:05d}" for i in range(K)]), tmp_path / "matrix.parquet")
    (tmp_path / "model.yaml").write_text(
        "model: {hidden_dim: 16, num_heads: 2, num_self_layers: 1, num_cross_layers: 2, coord_hidden: 8}\n"
        "training: {epochs: 2, batch_size: 4, warmup_epochs: 0, val_fraction: 0.25, patience: 2}\n")
    centre = grid.loc[3, ["x_mm", "y_mm", "z_mm"]].to_numpy(float).tolist()
    (tmp_path / "truth.json").write_text(json.dumps({"mri_region": {"centers_mm": [centre], "radius_mm": 6.0},
                                                     "planted_proteins": ["NEFL"]}))
    return tmp_path


def stage_args(root):
    return ["--cohort", str(root / "participants.parquet"), "--embeddings", str(root / "shard-000.parquet"),
            "--grid", str(root / "grid.parquet"), "--proteins", str(root / "matrix.parquet"),
            "--catalog", str(root / "catalog.parquet")]


@pytest.mark.slow
def test_export_attention_from_trained_checkpoints(stage_inputs):
    root = stage_inputs
    checkpoints = []
    for fold in (0, 1):
        out = root / "train" / "fusion" / f"fold-{fold}"
        assert main(["train", *stage_args(root), "--config", str(root / "model.yaml"), "--variant", "fusion",
                     "--fold", str(fold), "--out-dir", str(out), "--device", "cpu"]) == 0
        checkpoints.append(str(out / "model.pt"))
    out = root / "attention" / "fusion"
    assert main(["export-attention", "--checkpoints", *checkpoints, *stage_args(root), "--truth",
                 str(root / "truth.json"), "--device", "cpu", "--out-dir", str(out)]) == 0

    attention = pd.read_parquet(out / "attention.parquet")
    assert set(attention["participant_id"]) == {f"sub-{i:03d}" for i in range(1, N)}  # sub-016: no proteins
    assert len(attention) == (N - 1) * 2 * 2 * P * K  # subjects x layers x directions x P x K
    cohort = pd.read_parquet(root / "participants.parquet").set_index("participant_id")
    assert (attention["fold"].to_numpy() == cohort.loc[attention["participant_id"].astype(str), "fold"].to_numpy()).all()
    sums = attention.groupby(["participant_id", "layer", "direction", "query_index"], observed=True)["weight"].sum()
    assert np.allclose(sums, 1.0, atol=1e-4)  # each query's softmax over keys
    info = json.loads(pq.read_schema(out / "attention.parquet").metadata[b"neurofusion.attention"])
    assert info["skipped"][0]["participant_id"] == "sub-016"

    proteins = pd.read_csv(out / "protein_importance.tsv", sep="\t")
    assert sorted(proteins["gene"]) == sorted(["APP", "MAPT", "GFAP", "NEFL", "ALB"])
    assert np.isclose(proteins["attention_all"].sum(), 1.0, atol=1e-4)  # mean of softmax rows over K proteins
    meta = json.loads(pq.read_schema(root / "grid.parquet").metadata[b"neurofusion.grid"])
    for name in ("class-CN", "class-AD", "desc-difference"):
        image = nib.load(out / f"attention_space-MNI152NLin2009aSym_{name}.nii.gz")
        assert image.shape == tuple(meta["shape"]) and np.allclose(image.affine, meta["affine"])
        data = np.asarray(image.dataobj)
        assert np.count_nonzero(data) <= P * 12**3 and data[30:54, 40:64, 30:54].any()
    check = json.loads((out / "planted_check.json").read_text())
    assert check["region"]["patch_ids_inside"] == [3]
    assert check["proteins"][0]["found"] and 1 <= check["proteins"][0]["rank"] <= K

    # per head: one row per head (2), same mean; a rerun gives the same bytes
    heads = root / "attention" / "per_head"
    assert main(["export-attention", "--checkpoints", *checkpoints, *stage_args(root), "--per-head",
                 "--device", "cpu", "--out-dir", str(heads)]) == 0
    per_head = pd.read_parquet(heads / "attention.parquet")
    assert len(per_head) == 2 * len(attention) and set(per_head["head"]) == {0, 1}
    keys = ["participant_id", "layer", "direction", "query_index", "key_index"]
    mean = per_head.groupby(keys, observed=True)["weight"].mean().sort_index()
    assert np.allclose(mean.to_numpy(), attention.set_index(keys)["weight"].sort_index().to_numpy(), atol=1e-5)
    assert json.loads((heads / "planted_check.json").read_text())["available"] is False
    again = pd.read_csv(heads / "protein_importance.tsv", sep="\t")
    assert np.allclose(again["attention_all"], proteins["attention_all"], atol=1e-6)


def test_unusable_truth_fails_before_inference_and_writes_nothing(tmp_path, capsys):
    root = tmp_path  # the other inputs need not exist: truth.json is read first
    (root / "truth.json").write_text('{"seed": 1}')
    out = root / "attention"
    code = main(["export-attention", "--checkpoints", str(root / "fold-0" / "model.pt"), *stage_args(root),
                 "--truth", str(root / "truth.json"), "--device", "cpu", "--out-dir", str(out)])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert "truth.json" in err and len(err.splitlines()) == 1
    assert not out.exists() or not any(out.iterdir())
