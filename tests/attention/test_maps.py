import json

import nibabel as nib
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from neurofusion.attention.maps import load_grid, patch_volume, volume_image


@pytest.fixture(scope="module")
def template_meta():
    from nilearn.datasets import load_mni152_template

    template = load_mni152_template(resolution=2)
    return {"space": "MNI152NLin2009aSym", "resolution": 2.0, "shape": list(template.shape),
            "affine": template.affine.tolist()}


@pytest.fixture
def two_patch_grid(template_meta):
    """Two adjacent 6-voxel boxes and one overlapping the second."""
    affine = np.asarray(template_meta["affine"])
    boxes = [(10, 20, 30, 16, 26, 36), (16, 20, 30, 22, 26, 36), (19, 20, 30, 25, 26, 36)]
    rows = []
    for pid, (i0, j0, k0, i1, j1, k1) in enumerate(boxes):
        centre = affine @ np.array([(i0 + i1 - 1) / 2, (j0 + j1 - 1) / 2, (k0 + k1 - 1) / 2, 1.0])
        rows.append(dict(patch_id=pid, i0=i0, j0=j0, k0=k0, i1=i1, j1=j1, k1=k1,
                         x_mm=centre[0], y_mm=centre[1], z_mm=centre[2], brain_fraction=1.0))
    return pd.DataFrame(rows)


def test_map_has_template_geometry_and_fills_the_right_box(two_patch_grid, template_meta, tmp_path):
    volume = patch_volume(np.array([0.25, 0.5, 1.0]), [0, 1, 2], two_patch_grid, template_meta["shape"])
    path = tmp_path / "map.nii.gz"
    volume_image(volume, template_meta, "test").to_filename(path)
    image = nib.load(path)
    assert image.shape == tuple(template_meta["shape"])
    assert np.allclose(image.affine, template_meta["affine"])
    assert int(image.header["sform_code"]) == 4
    data = np.asarray(image.dataobj)
    assert np.all(data[10:16, 20:26, 30:36] == np.float32(0.25))
    assert np.all(data[16:19, 20:26, 30:36] == np.float32(0.5))
    assert np.all(data[19:22, 20:26, 30:36] == np.float32(0.75))  # overlap: mean of 0.5 and 1.0
    assert np.all(data[22:25, 20:26, 30:36] == np.float32(1.0))
    assert data.sum() == pytest.approx(216 * 0.25 + 108 * 0.5 + 108 * 0.75 + 108 * 1.0)
    # the box's centre voxel maps to the patch's centre in template mm
    centre_voxel = np.array([12.5, 22.5, 32.5, 1.0])
    assert np.allclose((image.affine @ centre_voxel)[:3], two_patch_grid.loc[0, ["x_mm", "y_mm", "z_mm"]].to_numpy(float))


def test_volume_shape_must_match_grid(template_meta):
    with pytest.raises(ValueError):
        volume_image(np.zeros((3, 3, 3), np.float32), template_meta)


def test_load_grid_reads_contract_metadata(two_patch_grid, template_meta, tmp_path):
    table = pa.Table.from_pandas(two_patch_grid, preserve_index=False)
    table = table.replace_schema_metadata({b"neurofusion.grid": json.dumps(template_meta).encode()})
    pq.write_table(table, tmp_path / "grid.parquet")
    grid, meta = load_grid(tmp_path / "grid.parquet")
    assert list(grid["patch_id"]) == [0, 1, 2] and meta["shape"] == template_meta["shape"]
