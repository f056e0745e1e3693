"""The summary's ceilings and baselines (report/yardsticks.py)."""

import numpy as np
import pandas as pd
import pytest

from neurofusion.cli import main
from neurofusion.report.yardsticks import baseline_choices, ceiling_of, ceiling_table

from .test_summary import build_run


def metric(variant, auc, n=40, low=None, high=None):
    return {"variant": variant, "metric": "auc", "mean": auc, "ci_low": auc - 0.1 if low is None else low,
            "ci_high": min(1.0, auc + 0.1) if high is None else high, "n": n}


def test_each_variant_stands_beside_its_readout():
    metrics = pd.DataFrame([metric("fusion", 0.80), metric("mri", 0.70), metric("baseline_protein", 0.60),
                            metric("other", 0.9)])
    ceiling = pd.DataFrame([metric("ceiling_fusion", 0.90), metric("ceiling_mri", 0.85),
                            metric("ceiling_protein", 0.75)])
    table = ceiling_table(metrics, ceiling, ["fusion", "mri", "baseline_protein", "other"]).set_index("variant")
    assert list(table.index) == ["fusion", "mri", "baseline_protein"]      # "other" has no readout
    assert table.loc["fusion", "gap"] == "-0.100"
    assert table.loc["mri", "gap"] == "-0.150"
    assert table.loc["baseline_protein", "readout AUC"].startswith("0.750")
    assert ceiling_of("baseline_mri") == "ceiling_mri"


def test_baseline_choices_come_from_the_best_history_row():
    h = pd.DataFrame({"epoch": [1, 2, 3], "val_auc": [0.6, 0.8, 0.7], "C": [0.01, 1.0, 100.0],
                      "best": [False, True, False]})
    table = baseline_choices({"baseline_mri": [(0, h)], "fusion": [(0, h.drop(columns="C"))]},
                             ["fusion", "baseline_mri"])
    assert table.to_dict("records") == [{"variant": "baseline_mri", "fold": 0, "C": "1", "inner-CV AUC": 0.8}]


@pytest.mark.slow
def test_summary_shows_ceilings_and_baselines(tmp_path):
    build_run(tmp_path, ["CN", "AD"])
    # a baseline beside the models: predictions, a penalty-path history, evaluated again
    src = tmp_path / "train" / "mri"
    for fold in range(3):
        pred = pd.read_parquet(src / f"fold-{fold}" / "predictions.parquet").assign(variant="baseline_mri")
        out = tmp_path / "train" / "baseline_mri" / f"fold-{fold}"
        out.mkdir(parents=True)
        pred.to_parquet(out / "predictions.parquet")
        pd.DataFrame({"epoch": [1, 2], "train_loss": [0.6, 0.4], "val_loss": [0.7, 0.6], "val_auc": [0.6, 0.7],
                      "lr": np.nan, "best": [False, True], "C": [0.1, 10.0]}).to_csv(out / "history.tsv", sep="\t",
                                                                                     index=False)
    paths = sorted(str(p) for p in (tmp_path / "train").glob("*/fold-*/predictions.parquet"))
    assert main(["evaluate", "--predictions", *paths, "--classes", "CN", "AD", "--bootstrap", "100",
                 "--seed", "0", "--out-dir", str(tmp_path / "eval")]) == 0
    pd.DataFrame([metric("ceiling_fusion", 0.95, 45), metric("ceiling_mri", 0.9, 45),
                  metric("ceiling_protein", 0.85, 45)]).to_csv(tmp_path / "eval" / "ceiling.tsv", sep="\t", index=False)
    out = tmp_path / "eval" / "summary.html"
    assert main(["summary", "--eval-dir", str(tmp_path / "eval"), "--train-dir", str(tmp_path / "train"),
                 "--attention-dirs", str(tmp_path / "attention" / "fusion"),
                 "--cohort", str(tmp_path / "participants.parquet"), "--excluded", str(tmp_path / "excluded.tsv"),
                 "--ceiling", str(tmp_path / "eval" / "ceiling.tsv"), "--dpi", "30", "--out", str(out)]) == 0
    page = out.read_text()
    assert "What the data allows" in page and "mean intensity in the planted region" in page
    metrics = pd.read_csv(tmp_path / "eval" / "metrics.tsv", sep="\t").query("metric == 'auc'").set_index("variant")
    assert f"{metrics.loc['baseline_mri', 'mean'] - 0.9:+.3f}" in page        # the baseline's gap
    assert "mri − baseline_mri: ΔAUC" in page
    assert "Baselines: penalty chosen per fold" in page
