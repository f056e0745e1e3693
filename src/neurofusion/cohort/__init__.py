"""Cohort: who is in the study, with which label, modalities and test fold."""

from .build import build_cohort
from .folds import assign_folds
from .participants import normalise_id, read_participants

__all__ = ["build_cohort", "assign_folds", "normalise_id", "read_participants"]
