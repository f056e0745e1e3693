"""Sample IDs -> participants: controls, the `sub-` prefix, an optional regex, matching."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import NeurofusionError

KEEP, CONTROL_ID, UNMATCHED, INVALID_ID = 0, 1, 2, 3
# CONTROL_*, NEGATIVE_CONTROL_*, PLATE_CONTROL_*, SAMPLE_CONTROL_*, Neg Ctrl, IPC 1 ...
CONTROL_ID_PATTERN = re.compile(
    r"^(?:(?:sample|negative|neg|plate|positive|pos|inter[ _-]?plate)[ _-]?)?(?:control|ctrl)(?:[ _-]|$)"
    r"|^ipc(?:[ _-]?\d+)?$", re.IGNORECASE)
BIDS_LABEL = re.compile(r"^[A-Za-z0-9]+$")


def is_control_type(sample_type: str | None) -> bool:
    """Olink Sample_Type values other than SAMPLE: CONTROL, NEGATIVE_CONTROL, PLATE_CONTROL, ..."""
    return bool(sample_type) and "control" in sample_type.lower()


def bids_id(label: str) -> str:
    label = label.strip()
    return label if label.startswith("sub-") else f"sub-{label}"


def read_participants(path: str | Path, id_column: str) -> set[str]:
    """Participant IDs of a BIDS participants table (TSV; CSV by extension), as `sub-XXX`."""
    path = Path(path)
    sep = "," if path.suffix.lower() == ".csv" else "\t"
    try:
        frame = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise NeurofusionError("participants table not found", path=path, fix="check `participants` in your config")
    if id_column not in frame.columns:
        raise NeurofusionError(f"no column {id_column!r} (columns: {', '.join(frame.columns)})", path=path,
                               fix="set cohort.id_column in your config to the participant ID column")
    ids = [v.strip() for v in frame[id_column] if v.strip()]
    return {bids_id(v) for v in ids}


class SampleMatcher:
    """Decides, per distinct sample ID, whether it is a control, which participant it is, or neither."""

    def __init__(self, participants: set[str] | None = None, regex: str | None = None):
        self.participants = participants
        try:
            self.regex = re.compile(regex) if regex else None
        except re.error as exc:
            raise NeurofusionError(f"--sample-id-regex {regex!r} is not a valid regular expression ({exc})",
                                   fix="set proteins.sample_id_regex to a Python regex with one group")

    def label(self, sample_id: str) -> str | None:
        if self.regex is None:
            return sample_id.strip().removeprefix("sub-")
        m = self.regex.search(sample_id)
        if m is None:
            return None
        return (m.group(1) if m.groups() else m.group(0)).strip().removeprefix("sub-")

    def classify(self, sample_ids: list[str | None]) -> tuple[np.ndarray, list[str | None]]:
        """-> (status per ID: KEEP / CONTROL_ID / UNMATCHED / INVALID_ID, participant_id or None)."""
        status = np.full(len(sample_ids), KEEP, np.int8)
        participant: list[str | None] = [None] * len(sample_ids)
        for i, raw in enumerate(sample_ids):
            raw = raw.strip() if isinstance(raw, str) else ""  # None, NaN, pandas NA: no ID
            if CONTROL_ID_PATTERN.match(raw):
                status[i] = CONTROL_ID
                continue
            label = self.label(raw) if raw else None
            if label is None or not label:
                status[i] = UNMATCHED if raw else INVALID_ID
            elif self.participants is not None:
                pid = f"sub-{label}"
                if pid in self.participants:
                    participant[i] = pid
                else:
                    status[i] = UNMATCHED
            elif BIDS_LABEL.match(label):
                participant[i] = f"sub-{label}"
            else:
                status[i] = INVALID_ID
        return status, participant
