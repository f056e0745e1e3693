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
