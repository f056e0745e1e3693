"""Imaging: whole-head T1w -> template-space brain (preprocess) -> fixed grid of 3D patches.

Modules: nifti (robust reading), brain_extraction (deepbet), registration (SimpleITK affine, N4),
preprocess (the per-subject chain), qc (Dice, similarity, QC picture), template (MNI152 2009a
from nilearn), grid (the shared patch grid), patches (cutting a subject), phantom (synthetic
whole heads for tests and benchmarks).
"""
