"""The attribution methods and controls by name: import-free, so every command's start-up can read them."""

METHODS = ("occlusion", "relevance", "integrated")  # attribution.py
CONTROLS = ("randomised", "shuffled")               # attribution_summary.py
