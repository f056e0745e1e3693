"""imaging/template.py: the template written as NIfTI reads back as exactly nilearn's."""

import re
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from neurofusion.errors import NeurofusionError
from neurofusion.imaging.preprocess import REGISTRATION_RESOLUTION
from neurofusion.imaging.template import load_template, resolution_label, template_paths, write_template


@pytest.mark.parametrize("resolution", [2.0, 3.0])
def test_written_template_reads_back_identical(tmp_path, resolution):
    brain_path, mask_path = write_template(tmp_path, resolution)
    assert brain_path.name == f"tpl-MNI152NLin2009aSym_res-{resolution_label(resolution)}_desc-brain_T1w.nii.gz"
    assert nib.load(str(mask_path)).get_data_dtype() == np.uint8
    ref, got = load_template(resolution), load_template(resolution, str(tmp_path))
    assert got.brain.dtype == np.float32 and got.mask.dtype == bool
    np.testing.assert_array_equal(got.brain, ref.brain)
    np.testing.assert_array_equal(got.mask, ref.mask)
    np.testing.assert_array_equal(got.affine, ref.affine)


def test_resolution_labels_match_the_workflow():
    assert resolution_label(2) == "2" and resolution_label(1.5) == "1p5"
    assert template_paths("d", 1.5)[1] == Path("d/tpl-MNI152NLin2009aSym_res-1p5_desc-brain_mask.nii.gz")


def test_brain_and_mask_of_different_resolutions_are_refused(tmp_path):
    write_template(tmp_path, 2.0)
    _, mask3 = write_template(tmp_path / "other", 3.0)
    _, mask2 = template_paths(tmp_path, 2.0)
    mask2.write_bytes(mask3.read_bytes())
    with pytest.raises(NeurofusionError, match="do not form a 2 mm template"):
        load_template(2.0, str(tmp_path))


def test_workflow_registers_on_the_library_registration_resolution():
    common = (Path(__file__).resolve().parents[2] / "workflow" / "rules" / "common.smk").read_text()
    declared = float(re.search(r"^REGISTRATION_RESOLUTION = ([0-9.]+)", common, re.M).group(1))
    assert declared == REGISTRATION_RESOLUTION


def test_fractional_resolutions_are_refused_with_the_choices():
    with pytest.raises(NeurofusionError, match="whole number of mm"):
        load_template(1.5)
