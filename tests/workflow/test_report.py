"""`snakemake --report report.html` after the tiny run: one self-contained HTML file
with every figure the rules flag with report() embedded in it."""

import re

import pytest

from .conftest import TINY_CONFIG

pytestmark = pytest.mark.slow

FIGURES = ["roc.png", "calibration.png", "confusion.png", "training_curves.png", "ablation.png",
           "attention_fusion_map.png", "attention_fusion_proteins.png", "attribution_fusion_maps.png"]


def embedded_images(html: str) -> set[str]:
    """File names of the PNGs embedded as data URIs."""
    return set(re.findall(r"data:image/png;[^,]*?filename=([^;,]+);base64,", html))


def test_report_embeds_every_figure(tiny_run, tmp_path):
    report = tmp_path / "report.html"
    out = tiny_run.snakemake("--report", str(report))
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    images = embedded_images(report.read_text(errors="replace"))
    missing = [name for name in FIGURES if name not in images]
    assert not missing, f"{report} lacks the figures {missing}; it has {sorted(images)}"
    qc = [name for name in images if name.endswith("_desc-qc_T1w.png")]
    n_scans = TINY_CONFIG["demo_cohort"]["n_subjects"] - TINY_CONFIG["demo_cohort"]["n_without_scan"]
    assert len(qc) == n_scans, f"one preprocessing QC picture per scanned subject expected, got {len(qc)}"


def test_results_carry_baselines_and_ceilings(tiny_run):
    """The baselines went through train -> evaluate -> summary, and the demo's truth.json gave ceilings
    on the same subjects."""
    import pandas as pd

    results = tiny_run.results
    metrics = pd.read_csv(results / "eval" / "metrics.tsv", sep="\t")
    auc = metrics[metrics["metric"] == "auc"].set_index("variant")
    assert {"fusion", "mri", "protein", "baseline_fusion", "baseline_mri", "baseline_protein"} <= set(auc.index)
    comparison = pd.read_csv(results / "eval" / "comparison.tsv", sep="\t")
    assert {"fusion-baseline_fusion", "mri-baseline_mri", "protein-baseline_protein"} <= set(comparison["comparison"])
    for fold in range(TINY_CONFIG["cohort"]["folds"]):
        ours = pd.read_csv(results / "train" / "baseline_fusion" / f"fold-{fold}" / "subjects.tsv", sep="\t")
        theirs = pd.read_csv(results / "train" / "fusion" / f"fold-{fold}" / "subjects.tsv", sep="\t")
        assert ours.equals(theirs)
    ceiling = pd.read_csv(results / "eval" / "ceiling.tsv", sep="\t")
    assert list(ceiling.columns) == ["variant", "metric", "mean", "ci_low", "ci_high", "n"]
    ceiling_auc = ceiling[ceiling["metric"] == "auc"].set_index("variant")
    assert set(ceiling_auc.index) == {"ceiling_mri", "ceiling_protein", "ceiling_fusion"}
    assert (ceiling_auc["n"] == auc.loc["mri", "n"]).all()          # the variants' subjects
    readouts = pd.read_csv(results / "eval" / "ceiling_readouts.tsv", sep="\t")
    scored = pd.read_parquet(results / "train" / "mri" / "fold-0" / "predictions.parquet")
    assert set(scored["participant_id"]) == set(readouts.loc[readouts["fold"] == 0, "participant_id"])
    page = (results / "eval" / "summary.html").read_text()
    assert "What the data allows" in page and "fusion − baseline_fusion: ΔAUC" in page
    print("\n" + pd.concat([auc[["mean", "ci_low", "ci_high", "n"]],
                            ceiling_auc[["mean", "ci_low", "ci_high", "n"]]]).round(3).to_string())


def test_attribution_maps_and_their_controls_are_exported(tiny_run):
    """Every method's maps (per class and the difference) for the trained model and both controls,
    the protein table with one score column per method, and the planted check per method."""
    import json

    import pandas as pd

    folder = tiny_run.results / "attention" / "fusion"
    methods = ("occlusion", "relevance", "integrated")
    for method in methods:
        for control in ("", "_control-randomised", "_control-shuffled"):
            for kind in ("class-CN", "class-AD", "desc-difference"):
                assert (folder / f"attribution_space-MNI152NLin2009aSym_method-{method}{control}_{kind}.nii.gz").exists()
    assert len(list((tiny_run.results / "train_shuffled" / "fusion").glob("fold-*/model.pt"))) == TINY_CONFIG["cohort"]["folds"]
    proteins = pd.read_csv(folder / "protein_attribution.tsv", sep="\t")
    assert {"attention", *methods} <= set(proteins.columns)
    check = json.loads((folder / "planted_check.json").read_text())
    assert "region" in check and set(check["attribution"]["methods"]) == set(methods)
    for entry in check["attribution"]["methods"].values():
        assert {"trained", "randomised", "shuffled"} <= set(entry)
        trained = entry["trained"]
        if trained["region"].get("all_zero"):   # relevance, when the selected model is its linear path
            assert trained["median_rank"] is None and trained["all_zero"] and not any(entry["verdict"].values())
        else:
            assert trained["region"]["headline"] is not None and trained["median_rank"] >= 1
    assert not check["attribution"]["methods"]["occlusion"]["trained"]["region"].get("all_zero")
    page = (tiny_run.results / "eval" / "summary.html").read_text()
    assert "Attribution: what drives the fusion model" in page and "The planted check supports" in page
    # what the controls are read against: the inputs' own class difference and the maps' rank similarity
    inputs = check["attribution"]["inputs"]
    assert inputs["region_enrichment"] > 0 and inputs["protein_median_rank"] >= 1
    assert f"is {inputs['region_enrichment']:.2f}× enriched in the planted region" in page
    similarity = check["attribution"]["methods"]["occlusion"]["shuffled"]["rank_similarity"]
    shown = [f"{round(similarity[m]['median'], 2) + 0.0:.2f}" for m in ("mri", "protein")]  # no "-0.00"
    assert " / ".join(shown) in page
