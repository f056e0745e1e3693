"""Evaluation of test-fold predictions: metrics, bootstrap CIs, paired comparisons, curves."""
