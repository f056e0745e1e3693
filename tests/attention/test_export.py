import json

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from neurofusion.attention.export import (Accumulated, checkpoint_fold, long_table, split_by_modalities,
                                          write_summaries)
from neurofusion.attention.maps import map_name
from neurofusion.attention.planted import PlantedTruth
from neurofusion.errors import NeurofusionError

CLASSES = ["CN", "AD"]


@pytest.fixture
def grid_and_meta():
    """Three 4-voxel patches along i on a 12x4x4 grid of 2 mm voxels, centred on mm 0."""
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    affine[:3, 3] = [-11.0, -3.0, -3.0]
    rows = []
    for pid in range(3):
        i0 = 4 * pid
        centre = affine @ np.array([i0 + 1.5, 1.5, 1.5, 1.0])
        rows.append(dict(patch_id=pid + 10, i0=i0, j0=0, k0=0, i1=i0 + 4, j1=4, k1=4,
                         x_mm=centre[0], y_mm=centre[1], z_mm=centre[2], brain_fraction=1.0))
    meta = {"space": "MNI152NLin2009aSym", "resolution": 2.0, "shape": [12, 4, 4], "affine": affine.tolist()}
    return pd.DataFrame(rows), meta


@pytest.fixture
def attention_arrays():
    """4 subjects (2 CN, 2 AD), 2 heads, 3 patches, 2 proteins, 2 cross layers.

    AD subjects' protein tokens look at patch 1 (the middle one); CN subjects' spread evenly."""
    rng = np.random.default_rng(0)
    labels = np.array([0, 0, 1, 1])
    layers = []
    for _ in range(2):
        m2p = rng.dirichlet(np.ones(2), size=(4, 2, 3))  # [N, H, P, K]
        m2p[labels == 1, :, :, 0] = 0.9
        m2p[labels == 1, :, :, 1] = 0.1
        p2m = np.full((4, 2, 2, 3), 1 / 3)  # [N, H, K, P]
        p2m[labels == 1] = [0.1, 0.8, 0.1]
        layers.append({"mri_to_protein": m2p, "protein_to_mri": p2m})
    return labels, layers


def test_long_table_resolves_ids_and_keeps_every_weight(attention_arrays):
    _, layers = attention_arrays
    ids = ["sub-01", "sub-02", "sub-03", "sub-04"]
    per_head = long_table(ids, 2, layers, [10, 11, 12], ["P1", "P2"]).to_pandas()
    assert len(per_head) == 2 * 2 * (4 * 2 * 3 * 2)
    assert {"participant_id", "fold", "layer", "direction", "head", "query_index", "key_index", "weight",
            "patch_id", "protein_id"} == set(per_head.columns)
    row = per_head[(per_head["participant_id"] == "sub-03") & (per_head["layer"] == 1)
                   & (per_head["direction"] == "protein_to_mri") & (per_head["head"] == 1)
                   & (per_head["query_index"] == 0) & (per_head["key_index"] == 1)]
    assert len(row) == 1 and row["weight"].iloc[0] == pytest.approx(0.8)
    assert row["patch_id"].iloc[0] == 11 and row["protein_id"].iloc[0] == "P1" and row["fold"].iloc[0] == 2
    mean_heads = [{k: v.mean(axis=1) for k, v in layer.items()} for layer in layers]
    averaged = long_table(ids, 0, mean_heads, [10, 11, 12], ["P1", "P2"]).to_pandas()
    assert "head" not in averaged.columns and len(averaged) == len(per_head) // 2
    m2p = averaged[averaged["direction"] == "mri_to_protein"]
    assert set(m2p["patch_id"]) == {10, 11, 12} and (m2p["query_index"] + 10 == m2p["patch_id"]).all()


def test_summaries_maps_and_planted_check(attention_arrays, grid_and_meta, tmp_path):
    labels, layers = attention_arrays
    grid, meta = grid_and_meta
    from neurofusion.attention.importance import received_attention

    acc = Accumulated(participant_ids=["a", "b", "c", "d"], labels=list(labels),
                      protein_scores=[received_attention([b["mri_to_protein"] for b in layers])],
                      patch_scores=[received_attention([b["protein_to_mri"] for b in layers])],
                      patch_ids=np.array([10, 11, 12]), protein_ids=["P1", "P2"])
    acc.protein_present, acc.patch_present = [None], [None]
    catalog = pd.DataFrame({"protein_id": ["P1", "P2"], "gene": ["NEFL", "GFAP"], "category": ["other", "other"]})
    names = ["protein_importance.tsv", "patch_importance.parquet", map_name("class-CN"), map_name("class-AD"),
             map_name("desc-difference"), "planted_check.json"]
    paths = {n: tmp_path / n for n in names}
    truth = PlantedTruth(regions=[(np.array([0.0, 0.0, 0.0]), 3.0)], proteins=["NEFL"])
    write_summaries(acc, CLASSES, grid, meta, catalog, truth, paths)

    proteins = pd.read_csv(paths["protein_importance.tsv"], sep="\t")
    assert proteins.loc[0, "gene"] == "NEFL" and proteins.loc[0, "attention_AD"] == pytest.approx(0.9)
    ad = np.asarray(nib.load(paths[map_name("class-AD")]).dataobj)
    assert ad.shape == (12, 4, 4) and np.allclose(nib.load(paths[map_name("class-AD")]).affine, meta["affine"])
    assert np.allclose(ad[4:8], 0.8) and np.allclose(ad[:4], 0.1)
    diff = np.asarray(nib.load(paths[map_name("desc-difference")]).dataobj)
    assert np.allclose(diff[4:8], 0.8 - 1 / 3)
    check = json.loads(paths["planted_check.json"].read_text())
    assert check["region"]["patch_ids_inside"] == [11]
    assert check["region"]["enrichment"]["AD"] == pytest.approx(8.0)
    assert check["region"]["enrichment"]["CN"] == pytest.approx(1.0)
    assert check["proteins"][0]["rank"] == 1


def test_checkpoint_fold_from_path():
    assert checkpoint_fold("results/train/fusion/fold-3/model.pt") == 3
    with pytest.raises(NeurofusionError):
        checkpoint_fold("model.pt")


def test_subjects_without_both_modalities_are_written_down(tmp_path):
    cohort = pd.DataFrame({"participant_id": ["sub-1", "sub-2", "sub-3"], "fold": 0, "has_mri": [True, True, False],
                           "has_proteins": [True, True, True], "label": "CN", "label_index": 0})
    pd.DataFrame({"participant_id": ["sub-1", "sub-3"]}).to_parquet(tmp_path / "shard-000.parquet")
    pd.DataFrame({"participant_id": ["sub-1", "sub-2", "sub-3"]}).to_parquet(tmp_path / "matrix.parquet")
    usable, skipped = split_by_modalities(cohort, [tmp_path / "shard-000.parquet"], tmp_path / "matrix.parquet")
    assert list(usable["participant_id"]) == ["sub-1"]
    assert [s["participant_id"] for s in skipped] == ["sub-2", "sub-3"]
    assert all("MRI embeddings" in s["reason"] for s in skipped)
