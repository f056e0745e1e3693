"""imaging/brain_extraction.py: deepbet's two networks, on the grids the step chooses."""

import numpy as np

from neurofusion.imaging.brain_extraction import extract_brain, network_shapes
from neurofusion.imaging.phantom import synthetic_head


def test_1mm_keeps_deepbets_grids_and_2mm_a_coarser_brain_grid_multiple_of_32():
    assert network_shapes(1.0) == ((128, 128, 128), (256, 256, 256))  # deepbet's own
    box, brain = network_shapes(2.0)
    assert box == (128, 128, 128) and all(n < 256 for n in brain)
    assert all(n % 32 == 0 for n in box + brain)  # the networks pool five times


def test_the_defaults_are_the_grids_it_runs_on_and_another_box_grid_changes_the_mask():
    head = np.asarray(synthetic_head(2.0, rotation_deg=(8.0, -4.0, 6.0), seed=5).dataobj, dtype=np.float32)
    box, brain = network_shapes(2.0)
    default = extract_brain(head, 2.0)
    assert default.mean() > 0.025  # a brain, not a speck
    assert np.array_equal(default, extract_brain(head, 2.0, shape=brain, bbox_shape=box))
    assert not np.array_equal(default, extract_brain(head, 2.0, shape=brain, bbox_shape=(64, 64, 64)))
