"""export-attention end to end: train a tiny fusion model per fold, then replay its test subjects."""

import json

import nibabel as nib
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

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

    # attribution beside the raw attention: every method, per class and difference, with its controls
    methods = ("occlusion", "relevance", "integrated")
    for method in methods:
        for control in ("", "_control-randomised"):
            for name in ("class-CN", "class-AD", "desc-difference"):
                image = nib.load(out / f"attribution_space-MNI152NLin2009aSym_method-{method}{control}_{name}.nii.gz")
                assert image.shape == tuple(meta["shape"]) and np.allclose(image.affine, meta["affine"])
    assert not list(out.glob("*control-shuffled*"))  # no shuffled-label models were given
    table = pd.read_csv(out / "protein_attribution.tsv", sep="\t")
    assert {"attention", *methods, *(f"{m}_randomised" for m in methods), "occlusion_rank"} <= set(table.columns)
    assert len(table) == K and (table[list(methods)] >= 0).all().all()
    per_subject = pd.read_parquet(out / "attribution.parquet")
    assert set(per_subject["model"]) == {"trained", "randomised"} and set(per_subject["method"]) == set(methods)
    assert len(per_subject) == (N - 1) * (P + K) * 3 * 2
    assert not per_subject.loc[~per_subject["present"], "value"].any()
    attribution = check["attribution"]
    assert set(attribution["methods"]) == set(methods) and attribution["region"]["patch_ids_inside"] == [3]
    for entry in attribution["methods"].values():
        assert {"trained", "randomised", "verdict"} == set(entry)
        assert entry["trained"]["region"]["headline"] > 0 and 1 <= entry["trained"]["median_rank"] <= K
        for similarity in entry["randomised"].get("rank_similarity", {}).values():  # relevance may be 0 everywhere
            assert -1 <= similarity["q25"] <= similarity["median"] <= similarity["q75"] <= 1
            assert 1 <= similarity["n_subjects"] <= N - 1
    assert set(attribution["methods"]["occlusion"]["randomised"]["rank_similarity"]) == {"mri", "protein"}
    # the controls' yardstick: the inputs' own class difference, per token, beside the methods. The
    # fixture moves patch 3 and NEFL in AD: inputs taken from other subjects or labels would lose them
    patch_table = pd.read_parquet(out / "patch_attribution.parquet")
    assert patch_table.loc[patch_table["input_difference"].idxmax(), "patch_id"] == 3
    assert table.loc[table["input_difference"].idxmax(), "gene"] == "NEFL"
    assert attribution["inputs"]["region_enrichment"] > 2 and attribution["inputs"]["protein_ranks"] == [1]
    assert attribution["integrated_max_abs_delta"] < 0.05  # integrated gradients' completeness on real data

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


@pytest.mark.slow
def test_single_modality_attribution_shuffled_control_and_subject_maps(stage_inputs):
    """The mri variant: no raw cross-attention, but every attribution method, the shuffled-label
    control (trained through `train --shuffle-labels`) and per-subject maps in native space."""
    import SimpleITK as sitk

    root = stage_inputs
    checkpoints, shuffled = [], []
    for fold in (0, 1):
        for kind, seed, into in (("mri", [], checkpoints), ("mri_shuffled", ["--shuffle-labels", "5"], shuffled)):
            out = root / "train" / kind / f"fold-{fold}"
            assert main(["train", *stage_args(root), "--config", str(root / "model.yaml"), "--variant", "mri",
                         "--fold", str(fold), "--out-dir", str(out), "--device", "cpu", *seed]) == 0
            into.append(str(out / "model.pt"))
    import torch
    saved = torch.load(shuffled[0], weights_only=True)
    assert saved["label_permutation_seed"] == 5
    real = pd.read_parquet(root / "train" / "mri" / "fold-0" / "predictions.parquet")
    control = pd.read_parquet(root / "train" / "mri_shuffled" / "fold-0" / "predictions.parquet")
    assert (real["label"].to_numpy() == control["label"].to_numpy()).all()  # the test fold keeps true labels

    # sub-001 has a native scan: the template grid moved 10 mm along x; its xfm maps template -> scan
    from nilearn.datasets import load_mni152_template
    template = load_mni152_template(resolution=2)
    affine = template.affine.copy()
    affine[0, 3] += 10.0
    scan = np.random.default_rng(1).uniform(1, 2, template.shape).astype(np.float32)
    nib.save(nib.Nifti1Image(scan, affine), root / "sub-001_T1w.nii.gz")
    # the head sits 20 mm further along RAS x in the scanner than in the template (ITK's LPS mirrors x)
    sitk.WriteTransform(sitk.AffineTransform((1, 0, 0, 0, 1, 0, 0, 0, 1), (-20.0, 0.0, 0.0)),
                        str(root / "sub-001_xfm.mat"))
    out, subjects = root / "attention" / "mri", root / "attention" / "mri" / "subjects"
    assert main(["export-attention", "--checkpoints", *checkpoints, *stage_args(root), "--truth",
                 str(root / "truth.json"), "--device", "cpu", "--out-dir", str(out), "--shuffled-checkpoints",
                 *shuffled, "--methods", "occlusion", "integrated", "--subjects-dir", str(subjects),
                 "--scans", str(root / "sub-001_T1w.nii.gz"), "--transforms", str(root / "sub-001_xfm.mat")]) == 0
    assert not (out / "attention.parquet").exists() and not (out / "protein_attribution.tsv").exists()
    for control in ("", "_control-randomised", "_control-shuffled"):
        assert (out / f"attribution_space-MNI152NLin2009aSym_method-occlusion{control}_class-AD.nii.gz").exists()
    check = json.loads((out / "planted_check.json").read_text())["attribution"]
    assert set(check["methods"]["occlusion"]) == {"trained", "randomised", "shuffled", "verdict"}
    assert "proteins" not in check["methods"]["occlusion"]["trained"]  # the mri model has no protein tokens
    # one template-space map per test subject and method; native space where the scan was given
    assert sorted(p.name for p in subjects.iterdir()) == [f"sub-{i:03d}" for i in range(1, N)]
    tpl = nib.load(subjects / "sub-002" / "sub-002_space-MNI152NLin2009aSym_method-occlusion_attribution.nii.gz")
    assert np.allclose(tpl.affine, meta_affine(root)) and not list((subjects / "sub-002").glob("*space-T1w*"))
    values = pd.read_parquet(out / "patch_attribution.parquet")
    native = nib.load(subjects / "sub-001" / "sub-001_space-T1w_method-integrated_attribution.nii.gz")
    assert np.allclose(native.affine, affine)
    in_template = np.asarray(nib.load(subjects / "sub-001" /
                                      "sub-001_space-MNI152NLin2009aSym_method-integrated_attribution.nii.gz").dataobj)
    # scan voxel i lies at template x + 10 mm, which holds template point x - 10 mm: template voxel i - 5
    assert np.allclose(np.asarray(native.dataobj)[25:65], in_template[20:60], atol=1e-5)
    assert np.abs(in_template).max() > 0 and len(values) == P


def meta_affine(root):
    return json.loads(pq.read_schema(root / "grid.parquet").metadata[b"neurofusion.grid"])["affine"]


@pytest.mark.slow
def test_export_attention_of_an_ensemble(stage_inputs):
    """Checkpoints of several members (training.ensemble) export like single models: the
    members' mean attention, still a softmax per query, and every attribution method."""
    root = stage_inputs
    (root / "model.yaml").write_text((root / "model.yaml").read_text().replace(
        "patience: 2}", "patience: 2, ensemble: 2, linear_start: true}"))
    checkpoints = []
    for fold in (0, 1):
        out = root / "train" / "fusion" / f"fold-{fold}"
        assert main(["train", *stage_args(root), "--config", str(root / "model.yaml"), "--variant", "fusion",
                     "--fold", str(fold), "--out-dir", str(out), "--device", "cpu"]) == 0
        assert torch.load(out / "model.pt", weights_only=True)["ensemble"] == 2
        checkpoints.append(str(out / "model.pt"))
    out = root / "attention" / "fusion"
    assert main(["export-attention", "--checkpoints", *checkpoints, *stage_args(root), "--truth",
                 str(root / "truth.json"), "--device", "cpu", "--out-dir", str(out)]) == 0
    attention = pd.read_parquet(out / "attention.parquet")
    sums = attention.groupby(["participant_id", "layer", "direction", "query_index"], observed=True)["weight"].sum()
    assert np.allclose(sums, 1.0, atol=1e-4)
    attribution = json.loads((out / "planted_check.json").read_text())["attribution"]
    assert set(attribution["methods"]) == {"occlusion", "relevance", "integrated"}
    assert attribution["integrated_max_abs_delta"] < 0.05


def test_each_fold_is_replayed_on_its_own_encoders_embeddings(stage_inputs):
    """embedding.pretrain.scope: fold. Each fold's model was trained on the shards of its own
    encoder; the export picks them by the encoder checksum its model.pt records, gives each fold
    what an export of that fold alone gives, and refuses shards of an encoder no model was trained on."""
    from neurofusion.embeddings.store import read_embeddings, write_embedding_shard

    root = stage_inputs
    base = read_embeddings(root / "shard-000.parquet")
    rng = np.random.default_rng(1)
    shards = {}
    for fold, sha in ((0, "a" * 64), (1, "b" * 64)):
        shards[fold] = root / "embeddings" / f"fold-{fold}" / "shard-000.parquet"
        shards[fold].parent.mkdir(parents=True)
        values = base.values + rng.normal(scale=0.5, size=base.values.shape).astype(np.float32)
        write_embedding_shard(shards[fold], base.participant_ids, base.patch_ids, values, encoder="test",
                              checkpoint_sha256=sha)
    checkpoints = {}
    for fold in (0, 1):
        args = stage_args(root)
        args[args.index("--embeddings") + 1] = str(shards[fold])
        out = root / "train" / "fusion" / f"fold-{fold}"
        assert main(["train", *args, "--config", str(root / "model.yaml"), "--variant", "fusion",
                     "--fold", str(fold), "--out-dir", str(out), "--device", "cpu"]) == 0
        checkpoints[fold] = str(out / "model.pt")

    def export(folds, shard_paths, out):
        args = stage_args(root)
        at = args.index("--embeddings")
        args[at + 1:at + 2] = [str(p) for p in shard_paths]
        return main(["export-attention", "--checkpoints", *[checkpoints[f] for f in folds], *args,
                     "--methods", "occlusion", "--device", "cpu", "--out-dir", str(out)])

    assert export((0, 1), [shards[0], shards[1]], root / "both") == 0
    both = pd.read_parquet(root / "both" / "attention.parquet")
    for fold in (0, 1):
        assert export((fold,), [shards[fold]], root / f"only-{fold}") == 0
        alone = pd.read_parquet(root / f"only-{fold}" / "attention.parquet")
        mine = both[both["fold"] == fold].reset_index(drop=True)
        pd.testing.assert_frame_equal(mine, alone, check_categorical=False)
    assert export((0, 1), [shards[0]], root / "wrong") == 2
    assert not (root / "wrong" / "attention.parquet").exists()
