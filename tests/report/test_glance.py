"""report/glance.py: the warnings at the top of the summary page."""

import numpy as np
import pandas as pd

from neurofusion.report.glance import glance_flags, predicted_classes


def metrics_table(aucs: dict[str, tuple[float, float, float]], n=40) -> pd.DataFrame:
    return pd.DataFrame([{"variant": v, "metric": "auc", "mean": m, "ci_low": lo, "ci_high": hi, "n": n}
                         for v, (m, lo, hi) in aucs.items()])


def comparison_table(rows) -> pd.DataFrame:
    return pd.DataFrame([{"comparison": f"fusion-{b}", "reference": "fusion", "baseline": b, "metric": "auc",
                          "delta": d, "ci_low": lo, "ci_high": hi, "p_value": p, "n": 40, "n_boot": 200}
                         for b, d, lo, hi, p in rows])


def write_fold(root, variant, fold, labels, prob_ad):
    path = root / variant / f"fold-{fold}" / "predictions.parquet"
    path.parent.mkdir(parents=True)
    pd.DataFrame({"participant_id": [f"sub-{fold}{i:02d}" for i in range(len(labels))], "fold": fold,
                  "variant": variant, "label": ["CN", "AD"] * (len(labels) // 2), "label_index": labels,
                  "prob_CN": 1 - np.asarray(prob_ad), "prob_AD": prob_ad}).to_parquet(path)


COHORT = pd.DataFrame({"participant_id": [f"sub-{i:03d}" for i in range(44)],
                       "has_mri": [True] * 42 + [False] * 2, "has_proteins": [True] * 40 + [False] * 2 + [True] * 2})
EXCLUDED = pd.DataFrame({"participant_id": ["sub-040", "sub-041", "sub-042", "sub-043", "sub-099"],
                         "scope": ["proteins", "proteins", "mri", "mri", "cohort"],
                         "reason": ["no protein measurements"] * 2 + ["no T1w scan found"] * 2 + ["no diagnosis"]})


def test_a_clean_run_has_no_warning(tmp_path):
    labels = [0, 1] * 4
    for fold in (0, 1):
        write_fold(tmp_path, "fusion", fold, labels, [0.2, 0.8] * 4)
    predictions = predicted_classes(tmp_path, ["fusion"], ["CN", "AD"])
    cohort = COHORT.assign(has_mri=True, has_proteins=True).head(40)
    page = glance_flags(metrics_table({"fusion": (0.9, 0.8, 0.97)}), comparison_table([]), predictions,
                        cohort, EXCLUDED.iloc[0:0], ["fusion"], {"stopped_by_max_seconds": False})
    assert "No warnings" in page and "<li>" not in page


def test_every_kind_of_problem_is_flagged(tmp_path):
    labels = [0, 1] * 4
    write_fold(tmp_path, "fusion", 0, labels, [0.2, 0.8] * 4)
    write_fold(tmp_path, "fusion", 1, labels, [0.3] * 8)  # everyone CN
    write_fold(tmp_path, "mri", 0, labels, [0.2, 0.8] * 4)
    write_fold(tmp_path, "mri", 1, labels, [0.9] * 8)  # everyone AD
    predictions = predicted_classes(tmp_path, ["fusion", "mri"], ["CN", "AD"])
    metrics = metrics_table({"fusion": (0.70, 0.55, 0.85), "mri": (0.60, 0.45, 0.75),
                             "protein": (0.80, 0.66, 0.92), "baseline_fusion": (0.88, 0.77, 0.96)})
    comparison = comparison_table([("mri", 0.10, -0.05, 0.25, 0.2), ("protein", -0.10, -0.3, 0.1, 0.3)])
    pretrain = {"stopped_by_max_seconds": True, "epochs_run": 3, "epochs_planned": 20, "max_seconds": 60}
    page = glance_flags(metrics, comparison, predictions, COHORT, EXCLUDED,
                        ["fusion", "mri", "protein", "baseline_fusion"], pretrain)
    items = page.split("<li>")[1:]
    degenerate = [i for i in items if "Degenerate fold" in i]
    assert len(degenerate) == 1 and "fold 1" in degenerate[0]
    assert "fusion (n = 8) predicts CN for everyone" in degenerate[0]
    assert "mri (n = 8) predicts AD for everyone" in degenerate[0]
    chance = [i for i in items if "CI includes chance" in i]
    assert len(chance) == 1 and "mri: AUC 0.600 [0.450, 0.750]" in chance[0]
    assert any("ahead of mri" in i and "CI includes 0" in i for i in items)
    assert any("does not beat protein" in i for i in items)
    assert any("does not beat its classical baseline" in i and "baseline_fusion 0.880" in i for i in items)
    assert any("stopped by its time limit (max_seconds 60) in epoch 3 of 20" in i for i in items)
    assert any("1 subject(s) left out of the cohort" in i for i in items)
    assert any("4 of the 44 cohort subjects are not scored" in i for i in items)


def test_baseline_in_the_paired_comparison_is_not_flagged_twice(tmp_path):
    metrics = metrics_table({"fusion": (0.7, 0.6, 0.8), "baseline_fusion": (0.8, 0.7, 0.9)})
    comparison = comparison_table([("baseline_fusion", -0.1, -0.2, -0.01, 0.04)])
    page = glance_flags(metrics, comparison, predicted_classes(tmp_path, [], ["CN", "AD"]),
                        COHORT.head(40), EXCLUDED.iloc[0:0], ["fusion", "baseline_fusion"])
    assert page.count("baseline_fusion") == 1 and "does not beat baseline_fusion: paired" in page


def test_scans_preprocessing_could_not_use_are_listed_with_their_reasons(tmp_path):
    excluded = pd.concat([EXCLUDED, pd.DataFrame({
        "participant_id": ["sub-007", "sub-009"], "scope": ["mri", "mri"],
        "reason": ["preprocessing failed: sub-007_T1w.nii.gz: not a readable NIfTI (truncated file)",
                   "preprocessing QC failed: registration Dice 0.610 is below min_dice 0.85"]})])
    labels = [0, 1] * 4
    write_fold(tmp_path, "fusion", 0, labels, [0.2, 0.8] * 4)
    predictions = predicted_classes(tmp_path, ["fusion"], ["CN", "AD"])
    page = glance_flags(metrics_table({"fusion": (0.9, 0.8, 0.97)}, n=44), comparison_table([]), predictions,
                        COHORT, excluded, ["fusion"])
    item = [i for i in page.split("<li>")[1:] if "could not be used" in i]
    assert len(item) == 1 and "2 scan(s) could not be used" in item[0]
    assert "sub-007 (preprocessing failed: sub-007_T1w.nii.gz: not a readable NIfTI (truncated file))" in item[0]
    assert "sub-009 (preprocessing QC failed: registration Dice 0.610" in item[0]
    assert "no T1w scan found" not in item[0]  # a missing scan is not a failed one


def test_participants_whose_proteins_were_left_out_are_listed_with_the_bad_cell(tmp_path):
    excluded = pd.concat([EXCLUDED, pd.DataFrame({
        "participant_id": ["sub-011"], "scope": ["proteins"],
        "reason": ["protein measurements excluded: npx.csv line 5, column NPX: 'abc' is not a number"]})])
    labels = [0, 1] * 4
    write_fold(tmp_path, "fusion", 0, labels, [0.2, 0.8] * 4)
    predictions = predicted_classes(tmp_path, ["fusion"], ["CN", "AD"])
    page = glance_flags(metrics_table({"fusion": (0.9, 0.8, 0.97)}, n=44), comparison_table([]), predictions,
                        COHORT, excluded, ["fusion"])
    item = [i for i in page.split("<li>")[1:] if "protein measurements of" in i]
    assert len(item) == 1 and "the protein measurements of 1 participant(s) could not be used" in item[0]
    assert "sub-011 (protein measurements excluded: npx.csv line 5, column NPX: &#x27;abc&#x27; is not a number)" \
        in item[0]
    assert "no protein measurements" not in item[0] and "scan(s)" not in page  # none measured is not a bad cell


def test_a_variant_that_kept_its_linear_start_everywhere_is_named():
    from neurofusion.report.glance import kept_the_start

    def history(best_epoch, first=0):
        epochs = list(range(first, 6))
        return pd.DataFrame({"epoch": epochs, "val_auc": 0.9, "best": [e <= best_epoch for e in epochs]})

    histories = {"fusion": [(0, history(0)), (1, history(0))],      # kept epoch 0 in both folds
                 "mri": [(0, history(0)), (1, history(3))],         # moved on in fold 1
                 "protein": [(0, history(2, first=1))],             # no linear start: epochs from 1
                 "baseline_fusion": [(0, history(2, first=1))]}    # a penalty path, not epochs
    findings = kept_the_start(histories, list(histories))
    assert len(findings) == 1 and findings[0].startswith("fusion: every fold kept epoch 0")
    assert kept_the_start(None, ["fusion"]) == []


def test_a_fold_encoder_stopped_by_its_time_limit_is_named():
    """embedding.pretrain.scope: fold gives one pretraining outcome per encoder: the one its
    time limit stopped is flagged with its fold, the others are not."""
    from neurofusion.report.glance import truncated_pretraining

    outcomes = [{"stopped_by_max_seconds": False, "scope": "fold", "left_out_fold": 0},
                {"stopped_by_max_seconds": True, "epochs_run": 5, "epochs_planned": 20, "max_seconds": 30,
                 "scope": "fold", "left_out_fold": 1, "pretrained_on": 28}]
    flags = truncated_pretraining(outcomes)
    assert len(flags) == 1 and flags[0].startswith("pretraining of fold 1's encoder (without that fold's subjects) "
                                                   "was stopped by its time limit (max_seconds 30) in epoch 5 of 20")
    assert truncated_pretraining([outcomes[0]]) == [] and truncated_pretraining(None) == []
