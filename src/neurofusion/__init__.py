"""neurofusion: brain MRI + protein assays -> cross-attention fusion model for AD."""

__version__ = "0.1.0"

TEMPLATE_SPACE = "MNI152NLin2009aSym"
