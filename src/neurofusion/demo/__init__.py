"""Embedded demo cohort: synthetic whole-head T1w scans, an Olink NPX table and the truth.

Entry point: :func:`neurofusion.demo.cohort.generate_cohort` (CLI ``neurofusion demo-cohort``).
"""
