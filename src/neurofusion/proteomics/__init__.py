"""Proteomics: vendor assay exports -> QC'd, pathway-categorized protein tables.

Modules: detect (what a file is), olink_long / olink_wide / generic (readers into the
common long form of measurements.py), samples (IDs -> participants), qc (controls,
WARN / LOD policies), categories (pathway categories), aggregate (replicates, the
participants x proteins grid), matrix (matrix.parquet and read_matrix), build (the step).
"""

from .matrix import ProteinMatrix, read_matrix

__all__ = ["ProteinMatrix", "read_matrix"]
