"""`neurofusion train` in-process, on contract-shaped Parquet files."""

import pandas as pd
import pytest

from neurofusion.cli import main

from .conftest import make_sources, write_stage_files

CONFIG = """
model: {hidden_dim: 16, num_heads: 2, num_self_layers: 1, num_cross_layers: 1, coord_hidden: 8}
training: {epochs: 3, batch_size: 8}
"""


@pytest.fixture
def stage_files(tmp_path):
    pytest.importorskip("neurofusion.imaging.grid", reason="the grid reader (imaging stage) is not built yet")
    paths = write_stage_files(make_sources(), tmp_path / "in")
    paths["config"] = tmp_path / "model.yaml"
    paths["config"].write_text(CONFIG)
    return paths


def argv(paths, out, variant="fusion", fold=0):
    return ["train", "--cohort", str(paths["cohort"]), "--embeddings", str(paths["embeddings"]),
            "--grid", str(paths["grid"]), "--proteins", str(paths["proteins"]), "--catalog", str(paths["catalog"]),
            "--config", str(paths["config"]), "--variant", variant, "--fold", str(fold), "--out-dir", str(out),
            "--threads", "1", "--device", "cpu"]


def test_train_writes_the_three_outputs(stage_files, tmp_path, capsys):
    out = tmp_path / "train" / "mri" / "fold-2"
    assert main(argv(stage_files, out, "mri", 2)) == 0
    for name in ("model.pt", "history.tsv", "predictions.parquet"):
        assert (out / name).is_file()
    pred = pd.read_parquet(out / "predictions.parquet")
    assert (pred["variant"] == "mri").all() and (pred["fold"] == 2).all()
    assert "epoch   3" in capsys.readouterr().err   # progress goes to the log


def test_bad_config_exits_2_and_writes_nothing(stage_files, tmp_path, capsys):
    stage_files["config"].write_text("model: {hidden_dim: 30, num_heads: 4}\n")
    out = tmp_path / "out"
    assert main(argv(stage_files, out)) == 2
    assert "divisible" in capsys.readouterr().err
    assert not (out / "model.pt").exists() and not (out / "predictions.parquet").exists()


def _outputs(folder):
    return {name: (folder / name).read_bytes() for name in ("model.pt", "history.tsv", "predictions.parquet")}


def test_several_variants_in_one_call_give_the_bytes_of_one_call_each(stage_files, tmp_path, capsys):
    """The workflow trains a fold's variants in one process: baselines first, and a transformer's
    linear start takes the fit from the baseline model.pt just written, as --linear-start would."""
    stage_files["config"].write_text(CONFIG.replace("batch_size: 8}", "batch_size: 8, linear_start: true}"))
    variants = ["fusion", "baseline_mri", "mri", "baseline_fusion"]
    together = [tmp_path / "together" / v for v in variants]
    args = argv(stage_files, together[0])
    at = args.index("--variant")
    args[at + 1:at + 2] = variants
    at = args.index("--out-dir")
    args[at + 1:at + 2] = [str(p) for p in together]
    assert main(args) == 0
    log = capsys.readouterr().err
    for variant in ("fusion", "mri"):
        assert f"taken from {tmp_path / 'together' / f'baseline_{variant}' / 'model.pt'}" in log, log
    alone = tmp_path / "alone"
    for variant in ("baseline_mri", "baseline_fusion", "fusion", "mri"):
        extra = [] if variant.startswith("baseline_") else \
            ["--linear-start", str(alone / f"baseline_{variant}" / "model.pt")]
        assert main(argv(stage_files, alone / variant, variant) + extra) == 0
    for variant, folder in zip(variants, together):
        assert _outputs(folder) == _outputs(alone / variant), variant


def test_bad_variant_lists_are_refused_before_training(stage_files, tmp_path, capsys):
    """One --out-dir per --variant, each variant once, --linear-start with one variant only and
    --shuffle-labels for the transformers only; nothing is written when refused."""
    out = tmp_path / "out"
    cases = [
        (["--variant", "fusion", "mri", "--out-dir", str(out / "a")], "2 --variant but 1 --out-dir"),
        (["--variant", "mri", "mri", "--out-dir", str(out / "a"), str(out / "b")], "lists a variant twice"),
        (["--variant", "fusion", "mri", "--out-dir", str(out / "a"), str(out / "b"), "--linear-start", "m.pt"],
         "--linear-start names one baseline model.pt"),
        (["--variant", "fusion", "baseline_mri", "--out-dir", str(out / "a"), str(out / "b"), "--shuffle-labels", "0"],
         "--shuffle-labels is for the transformer variants"),
    ]
    for extra, expected in cases:
        assert main(argv(stage_files, out / "ignored") + extra) == 2, extra
        assert expected in capsys.readouterr().err, extra
    assert not out.exists()
