"""The summary step end to end on tiny evaluation + attention outputs built here."""

import re

import numpy as np
import pandas as pd
import pytest

from neurofusion.attention.export import Accumulated, write_summaries
from neurofusion.attention.maps import map_name
from neurofusion.attention.planted import PlantedTruth
from neurofusion.cli import main

FIGURES = ["roc", "calibration", "confusion", "training_curves", "ablation"]


def write_predictions(root, classes, n=45, folds=3):
    """predictions.parquet per variant x fold; fusion separates the classes best."""
    rng = np.random.default_rng(0)
    labels = np.arange(n) % len(classes)
    paths = []
    for variant, strength in {"fusion": 2.0, "mri": 1.0, "protein": 0.4}.items():
        logits = rng.normal(size=(n, len(classes))) + strength * np.eye(len(classes))[labels]
        probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        for fold in range(folds):
            idx = np.flatnonzero(np.arange(n) % folds == fold)
            frame = pd.DataFrame({"participant_id": [f"sub-{i:03d}" for i in idx], "fold": fold, "variant": variant,
                                  "label": [classes[k] for k in labels[idx]], "label_index": labels[idx]})
            for c, name in enumerate(classes):
                frame[f"prob_{name}"] = probs[idx, c]
            path = root / variant / f"fold-{fold}" / "predictions.parquet"
            path.parent.mkdir(parents=True)
            frame.to_parquet(path)
            paths.append(str(path))
    return paths


def build_run(root, classes):
    """train/<variant>/fold-k/{predictions.parquet,history.tsv}, eval/, attention/fusion/, cohort."""
    paths = write_predictions(root / "train", classes)
    assert main(["evaluate", "--predictions", *paths, "--classes", *classes, "--bootstrap", "100",
                 "--seed", "0", "--out-dir", str(root / "eval")]) == 0
    for path in paths:
        epochs = np.arange(1, 6)
        pd.DataFrame({"epoch": epochs, "train_loss": 1 / epochs, "val_loss": 1.2 / epochs,
                      "val_auc": 0.5 + epochs / 12, "lr": 1e-3}).to_csv(
            root / "train" / path.split("/train/")[1].replace("predictions.parquet", "history.tsv"), sep="\t",
            index=False)
    labels = np.arange(45) % len(classes)
    cohort = pd.DataFrame({"participant_id": [f"sub-{i:03d}" for i in range(45)],
                           "label": [classes[k] for k in labels], "label_index": labels, "fold": np.arange(45) % 3,
                           "has_mri": True, "has_proteins": True})
    cohort.to_parquet(root / "participants.parquet")
    pd.DataFrame({"participant_id": ["sub-900", "sub-901"], "reason": ["registration failed: Dice 0.71 < 0.85",
                                                                      "no diagnosis"]}).to_csv(
        root / "excluded.tsv", sep="\t", index=False)
    (root / "model.yaml").write_text("model:\n  hidden_dim: 32\n")
    write_attention(root / "attention" / "fusion", classes, labels)


def write_attention(folder, classes, labels):
    """Importance tables and maps of a 4x4x4-patch grid on the 2 mm template."""
    from nilearn.datasets import load_mni152_template

    template = load_mni152_template(resolution=2)
    affine, shape = template.affine, template.shape
    rows = []
    for pid, (a, b, c) in enumerate(np.ndindex(4, 4, 4)):
        i0, j0, k0 = 10 + 20 * a, 10 + 24 * b, 10 + 20 * c
        centre = affine @ np.array([i0 + 9.5, j0 + 11.5, k0 + 9.5, 1.0])
        rows.append(dict(patch_id=pid, i0=i0, j0=j0, k0=k0, i1=i0 + 20, j1=j0 + 24, k1=k0 + 20,
                         x_mm=centre[0], y_mm=centre[1], z_mm=centre[2], brain_fraction=1.0))
    grid = pd.DataFrame(rows)
    meta = {"shape": list(shape), "affine": affine.tolist()}
    rng = np.random.default_rng(1)
    n, k, p = len(labels), 12, len(grid)
    acc = Accumulated(participant_ids=[f"sub-{i:03d}" for i in range(n)], labels=list(labels),
                      protein_scores=[rng.dirichlet(np.ones(k), size=n)], patch_scores=[rng.dirichlet(np.ones(p), size=n)],
                      patch_ids=grid["patch_id"].to_numpy(), protein_ids=[f"OID{i:05d}" for i in range(k)],
                      protein_present=[None], patch_present=[None])
    acc.patch_scores[0][labels == len(classes) - 1, 21] += 0.2
    catalog = pd.DataFrame({"protein_id": acc.protein_ids, "gene": [f"G{i}" for i in range(k)],
                            "category": ["amyloid_pathway", "tau_pathway", "inflammation", "other"] * 3})
    names = ["protein_importance.tsv", "patch_importance.parquet", *[map_name(f"class-{c}") for c in classes],
             map_name("desc-difference"), "planted_check.json"]
    folder.mkdir(parents=True)
    truth = PlantedTruth(regions=[(grid.loc[21, ["x_mm", "y_mm", "z_mm"]].to_numpy(float), 10.0)], proteins=["G3"])
    write_summaries(acc, classes, grid, meta, catalog, truth, {n: folder / n for n in names})


@pytest.fixture
def binary_run(tmp_path):
    build_run(tmp_path, ["CN", "AD"])
    return tmp_path


def run_summary(root, out, *extra):
    return main(["summary", "--eval-dir", str(root / "eval"), "--train-dir", str(root / "train"),
                 "--attention-dirs", str(root / "attention" / "fusion"), "--cohort", str(root / "participants.parquet"),
                 "--excluded", str(root / "excluded.tsv"), "--model-config", str(root / "model.yaml"),
                 "--dpi", "40", "--top-proteins", "5", "--out", str(out), *extra])


@pytest.mark.slow
def test_summary_page_is_self_contained_and_complete(binary_run):
    out = binary_run / "eval" / "summary.html"
    # the workflow passes its merged config: here one naming a builtin encoder pretrained elsewhere
    settings = "embedding:\n  encoder:\n    builtin: /lab/encoders/big_cohort.pt\n"
    assert run_summary(binary_run, out, "--settings-yaml", settings) == 0
    for name in FIGURES + ["attention_fusion_map", "attention_fusion_proteins"]:
        png = binary_run / "eval" / "figures" / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    page = out.read_text()
    assert len(re.findall(r'src="data:image/png;base64,', page)) == 7
    assert not re.search(r'(src|href)="(http|/|\.)', page)
    metrics = pd.read_csv(binary_run / "eval" / "metrics.tsv", sep="\t")
    auc = metrics[(metrics["variant"] == "fusion") & (metrics["metric"] == "auc")].iloc[0]
    assert f"{auc['mean']:.3f} [{auc['ci_low']:.3f}, {auc['ci_high']:.3f}]" in page
    assert "fusion − mri: ΔAUC" in page and "Planted-signal check" in page
    assert "registration failed" in page and "hidden_dim: 32" in page and "nilearn" in page
    assert "a builtin encoder pretrained elsewhere (<code>embedding.encoder.builtin: /lab/encoders/big_cohort.pt" in page


@pytest.mark.slow
def test_summary_is_reproducible_and_three_classes_work(tmp_path):
    build_run(tmp_path, ["CN", "MCI", "AD"])
    assert run_summary(tmp_path, tmp_path / "a" / "summary.html") == 0
    assert run_summary(tmp_path, tmp_path / "b" / "summary.html") == 0
    assert (tmp_path / "a" / "summary.html").read_bytes() == (tmp_path / "b" / "summary.html").read_bytes()
    assert (tmp_path / "a" / "figures" / "roc.png").read_bytes() == (tmp_path / "b" / "figures" / "roc.png").read_bytes()


def test_missing_evaluation_is_a_one_line_error(tmp_path, capsys):
    build_run(tmp_path, ["CN", "AD"])
    (tmp_path / "eval" / "curves.parquet").unlink()
    assert run_summary(tmp_path, tmp_path / "out" / "summary.html") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "curves.parquet" in err
    assert not (tmp_path / "out" / "summary.html").exists()


def test_cohort_wording_says_who_is_in_and_who_is_scored():
    from neurofusion.report.summary import cohort_section

    cohort = pd.DataFrame({"participant_id": [f"sub-{i:03d}" for i in range(44)], "label": ["CN", "AD"] * 22,
                           "label_index": [0, 1] * 22, "fold": np.arange(44) % 3,
                           "has_mri": [True] * 42 + [False] * 2, "has_proteins": [True] * 40 + [False] * 2 + [True] * 2})
    excluded = pd.DataFrame({"participant_id": ["sub-040", "sub-041", "sub-042", "sub-043", "sub-099"],
                             "scope": ["proteins", "proteins", "mri", "mri", "cohort"],
                             "reason": ["no protein measurements"] * 2 + ["no T1w scan found"] * 2 + ["no diagnosis"]})
    metrics = pd.DataFrame({"variant": ["fusion", "mri", "protein"], "metric": "auc", "mean": 0.7,
                            "ci_low": 0.6, "ci_high": 0.8, "n": 40})
    text = re.sub(r"<[^>]+>", "", cohort_section(cohort, excluded, ["CN", "AD"], metrics))
    assert "Cohort: 44 subjects with a label in CN, AD" in text and "1 subject left out of it" in text
    assert "40 have both MRI and proteins, 2 MRI only, 2 proteins only" in text
    assert "Scored: 40 subjects (the metrics' n), in every variant. The other 4 lack one modality" in text


def test_planted_regions_are_described_one_by_one():
    from neurofusion.report.summary import planted_html

    check = {"available": True, "classes": ["CN", "AD"], "n_proteins": 3, "proteins": [],
             "region": {"enrichment": {"all": 1.07}, "n_patches_inside": 2,
                        "regions": [{"centre_mm": [-26.0, -22.0, -14.0], "radius_mm": 16.0,
                                     "patches": "1 patch centre inside"},
                                    {"centre_mm": [26.0, -22.0, -14.0], "radius_mm": 16.0,
                                     "patches": "no patch centre inside: the nearest patch (18.2 mm away) stands in"}]}}
    text = re.sub(r"<[^>]+>", " ", planted_html(check))
    assert "region 1 at (-26, -22, -14) mm, radius 16 mm: 1 patch centre inside" in text
    assert "region 2 at (26, -22, -14) mm, radius 16 mm: no patch centre inside: the nearest patch" in text
    assert "within 16 mm; 1 patch" not in text


def test_the_page_says_what_the_encoder_was_pretrained_on():
    """Under the headline table: every scan (test folds' included), or one encoder per fold
    without its subjects; nothing for a user's encoder, whose shards carry no pretraining record."""
    from neurofusion.report.summary import encoder_sentence

    cohort = encoder_sentence([{"epochs_run": 20, "epochs_planned": 20, "stopped_by_max_seconds": False}])
    assert "pretrained without labels on every scan, the test folds' included" in cohort
    fold = encoder_sentence([{"scope": "fold", "left_out_fold": k, "pretrained_on": n} for k, n in ((1, 27), (0, 28))])
    assert "one builtin encoder per fold" in fold and "(subjects per encoder: fold 0: 28, fold 1: 27)" in fold
    assert encoder_sentence([None]) == encoder_sentence([]) == ""


def test_the_page_says_when_the_builtin_encoder_was_pretrained_elsewhere():
    """`embedding.encoder: {builtin: PATH}`: the merged config names the checkpoint, and the page
    says this run pretrained none, instead of "on every scan" (its shards do carry an outcome)."""
    import yaml

    from neurofusion.report.summary import _builtin_elsewhere, encoder_sentence

    outcome = [{"epochs_run": 20, "epochs_planned": 20, "stopped_by_max_seconds": False}]
    settings = yaml.safe_dump({"embedding": {"encoder": {"builtin": "/lab/encoders/adni<all>.pt"}}})
    text = encoder_sentence(outcome, _builtin_elsewhere(settings))
    assert "pretrained elsewhere" in text and "/lab/encoders/adni&lt;all&gt;.pt" in text
    assert "on every scan" not in text
    for other in ({"embedding": {"encoder": "builtin"}}, {"embedding": {"encoder": {"torchscript": "m.pt"}}},
                  {"embedding": None}, None):
        assert _builtin_elsewhere(yaml.safe_dump(other) if other is not None else None) is None
    assert _builtin_elsewhere("embedding: [unclosed") is None
    assert encoder_sentence(outcome, None) == encoder_sentence(outcome)


def test_the_controls_are_shown_beside_their_yardsticks():
    from neurofusion.report.summary import attribution_check_table, controls_yardstick

    similarity = {"mri": {"median": -0.031, "q25": -0.1, "q75": 0.07, "n_subjects": 40},
                  "protein": {"median": 0.26, "q25": 0.2, "q75": 0.33, "n_subjects": 40}}
    region = {"headline": 2.95, "headline_map": "difference"}
    check = {"inputs": {"region_enrichment": 3.52, "protein_median_rank": 2.0},
             "methods": {"occlusion": {"trained": {"region": {"headline": 8.37, "headline_map": "AD"}},
                                       "randomised": {"region": region, "rank_similarity": similarity},
                                       "verdict": {"region": False}}}}
    row = attribution_check_table(check).iloc[0]
    assert row["rank ρ with the trained map, randomised (patches / proteins)"] == "-0.03 / 0.26"
    similarity["mri"]["median"] = -0.002                   # shown as 0.00, not -0.00
    assert attribution_check_table(check).iloc[0, -2] == "0.00 / 0.26"
    text = controls_yardstick(check, ["CN", "AD"])
    assert "is 3.52× enriched in the planted region and ranks the planted proteins at median 2.0" in text
    assert "Spearman" in text
    assert controls_yardstick({"methods": {"occlusion": {"trained": {}}}}, ["CN", "AD"]) == ""  # an older export
