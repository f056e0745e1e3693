"""imaging/grid.py: the patch grid's boxes, centres, brain fractions and Parquet contract."""

import numpy as np
import pyarrow.parquet as pq
import pytest

from neurofusion.errors import NeurofusionError
from neurofusion.imaging.grid import COLUMNS, build_grid, read_grid, write_grid
from neurofusion.imaging.template import load_template


@pytest.fixture
def grid_2mm():
    return build_grid(2.0, 28.0, 28.0, 0.35)


def test_default_grid_has_about_100_patches(grid_2mm):
    table, meta = grid_2mm
    assert 80 <= len(table) <= 120
    assert meta["shape"] == [99, 117, 95] and meta["patch_size_voxels"] == 14
    assert (table["patch_id"].to_numpy() == np.arange(len(table))).all()


def test_boxes_are_cubes_inside_the_template(grid_2mm):
    table, meta = grid_2mm
    size = meta["patch_size_voxels"]
    for lo, hi, n in zip("ijk", ("i1", "j1", "k1"), meta["shape"]):
        assert (table[f"{lo}0"] >= 0).all() and (table[hi] <= n).all()
        assert (table[hi] - table[f"{lo}0"] == size).all()


def test_centres_map_to_the_box_centre_voxels(grid_2mm):
    table, meta = grid_2mm
    inv = np.linalg.inv(np.asarray(meta["affine"]))
    mm = table[["x_mm", "y_mm", "z_mm"]].to_numpy()
    vox = mm @ inv[:3, :3].T + inv[:3, 3]
    expected = (table[["i0", "j0", "k0"]].to_numpy() + table[["i1", "j1", "k1"]].to_numpy() - 1) / 2
    np.testing.assert_allclose(vox, expected, atol=1e-9)


def test_brain_fraction_is_the_template_mask_mean_in_the_box(grid_2mm):
    table, _ = grid_2mm
    mask = load_template(2.0).mask
    for row in table.itertuples():
        box = mask[row.i0:row.i1, row.j0:row.j1, row.k0:row.k1]
        assert row.brain_fraction == pytest.approx(box.mean(), abs=1e-6)
        assert row.brain_fraction >= 0.35


def test_parquet_round_trip_keeps_types_and_metadata(grid_2mm, tmp_path):
    table, meta = grid_2mm
    path = tmp_path / "grid.parquet"
    write_grid(path, table, meta)
    schema = pq.read_schema(path)
    assert str(schema.field("patch_id").type) == "int32" and str(schema.field("x_mm").type) == "double"
    assert str(schema.field("brain_fraction").type) == "float" and str(schema.field("k1").type) == "int32"
    back, back_meta = read_grid(path)
    assert list(back.columns) == COLUMNS
    assert back_meta["space"] == "MNI152NLin2009aSym" and back_meta["resolution"] == 2.0
    np.testing.assert_array_equal(back[["i0", "j1"]].to_numpy(), table[["i0", "j1"]].to_numpy())


def test_read_grid_rejects_other_parquet(tmp_path):
    import pandas as pd

    path = tmp_path / "other.parquet"
    pd.DataFrame({"a": [1]}).to_parquet(path)
    with pytest.raises(NeurofusionError, match="not a patch grid"):
        read_grid(path)


def test_cli_writes_the_grid(tmp_path):
    from neurofusion.cli import main

    out = tmp_path / "grid.parquet"
    assert main(["patch-grid", "--resolution", "2", "--size-mm", "28", "--stride-mm", "28",
                 "--min-brain-fraction", "0.35", "--out", str(out)]) == 0
    table, meta = read_grid(out)
    assert len(table) == len(build_grid(2.0, 28.0, 28.0, 0.35)[0]) and meta["size_mm"] == 28.0
