"""Cohort: who is in the study, with which label, modalities and test fold.

``participants`` imports only pandas: the workflow checks the participants table with it
while Snakemake parses, so the cohort builder (scikit-learn, pyarrow) loads on first use.
"""

from .participants import normalise_id, participants_problems, read_participants

__all__ = ["build_cohort", "assign_folds", "normalise_id", "participants_problems", "read_participants"]


def __getattr__(name):
    if name == "build_cohort":
        from .build import build_cohort

        return build_cohort
    if name == "assign_folds":
        from .folds import assign_folds

        return assign_folds
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
