"""Cross-attention export: long tables, protein/patch importance, NIfTI maps, planted check."""
