"""imaging/patches.py: every patch is its box of the image; wrong grids are refused."""

import nibabel as nib
import numpy as np
import pytest

from neurofusion.cli import main
from neurofusion.imaging.grid import build_grid, write_grid
from neurofusion.imaging.template import load_template


@pytest.fixture
def grid_file(tmp_path):
    table, meta = build_grid(2.0, 28.0, 28.0, 0.35)
    path = tmp_path / "grid.parquet"
    write_grid(path, table, meta)
    return path, table


@pytest.fixture
def image_file(tmp_path):
    """A template-space image whose voxels all differ (so a misplaced box cannot pass)."""
    tpl = load_template(2.0)
    data = np.random.default_rng(1).normal(size=tpl.shape).astype(np.float32)
    path = tmp_path / "sub-001_desc-preproc_T1w.nii.gz"
    nib.save(nib.Nifti1Image(data, tpl.affine), str(path))
    return path, data


def test_every_patch_equals_its_box(grid_file, image_file, tmp_path):
    (grid_path, table), (image_path, data) = grid_file, image_file
    out = tmp_path / "p" / "patches.npy"
    assert main(["patches", "--in", str(image_path), "--grid", str(grid_path), "--out", str(out)]) == 0
    patches = np.load(out, mmap_mode="r")
    assert isinstance(patches, np.memmap) and patches.dtype == np.float16
    assert patches.shape == (len(table), 14, 14, 14)
    for row in table.itertuples():
        box = data[row.i0:row.i1, row.j0:row.j1, row.k0:row.k1].astype(np.float16)
        np.testing.assert_array_equal(patches[row.patch_id], box)


def test_image_off_the_grid_is_refused_without_output(grid_file, tmp_path, capsys):
    grid_path, _ = grid_file
    wrong = tmp_path / "one_mm.nii.gz"
    nib.save(nib.Nifti1Image(np.ones((40, 40, 40), np.float32), np.eye(4)), str(wrong))
    out = tmp_path / "p" / "patches.npy"
    assert main(["patches", "--in", str(wrong), "--grid", str(grid_path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert str(wrong) in err and "--resolution" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_failure_record_in_gives_failure_record_out(grid_file, tmp_path):
    from neurofusion.failure import failure_reason, write_failure_record

    grid_path, _ = grid_file
    image = tmp_path / "sub-002_desc-preproc_T1w.nii.gz"
    write_failure_record(image, "sub-002_T1w.nii.gz: no brain found")
    out = tmp_path / "p" / "sub-002_desc-patches.npy"
    assert main(["patches", "--in", str(image), "--grid", str(grid_path), "--out", str(out)]) == 0
    assert failure_reason(out) == "sub-002_T1w.nii.gz: no brain found"
    assert failure_reason(grid_path) is None


def _second_image(tmp_path, name="sub-003_desc-preproc_T1w.nii.gz"):
    tpl = load_template(2.0)
    path = tmp_path / name
    nib.save(nib.Nifti1Image(np.random.default_rng(3).normal(size=tpl.shape).astype(np.float32), tpl.affine), str(path))
    return path


def test_a_batch_gives_every_image_the_bytes_it_gets_alone(grid_file, image_file, tmp_path):
    """Several images in one process (one job per preprocessing batch in the workflow), a failure
    record among them: each output has the bytes of a call for that image alone."""
    from neurofusion.failure import write_failure_record

    (grid_path, _), (first, _) = grid_file, image_file
    failed = tmp_path / "sub-002_desc-preproc_T1w.nii.gz"
    write_failure_record(failed, "sub-002_T1w.nii.gz: no brain found")
    images = [first, failed, _second_image(tmp_path)]
    batch = [tmp_path / "batch" / f"{i}.npy" for i in range(3)]
    assert main(["patches", "--in", *map(str, images), "--grid", str(grid_path), "--out", *map(str, batch)]) == 0
    for image, out in zip(images, batch):
        alone = tmp_path / "alone" / out.name
        assert main(["patches", "--in", str(image), "--grid", str(grid_path), "--out", str(alone)]) == 0
        assert out.read_bytes() == alone.read_bytes(), image.name


def test_a_batch_stopped_by_one_image_leaves_no_output_of_any(grid_file, image_file, tmp_path, capsys):
    (grid_path, _), (first, _) = grid_file, image_file
    wrong = tmp_path / "one_mm.nii.gz"
    nib.save(nib.Nifti1Image(np.ones((40, 40, 40), np.float32), np.eye(4)), str(wrong))
    outs = [tmp_path / "p" / "a.npy", tmp_path / "p" / "b.npy"]
    assert main(["patches", "--in", str(first), str(wrong), "--grid", str(grid_path), "--out", *map(str, outs)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(wrong) in err[0]
    assert not [p for p in (tmp_path / "p").rglob("*") if p.is_file()]  # a.npy was written, and is gone


def test_a_batch_needs_one_out_path_per_image(grid_file, image_file, tmp_path, capsys):
    (grid_path, _), (first, _) = grid_file, image_file
    code = main(["patches", "--in", str(first), str(_second_image(tmp_path)), "--grid", str(grid_path),
                 "--out", str(tmp_path / "p" / "a.npy")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "1 patch arrays to write for 2 images" in err[0]
    assert not (tmp_path / "p").exists()
