"""The QC record written to qc.tsv: counts, dropped rows by reason, replicates, missingness.

qc.tsv columns: section, item, value, detail. Sections:
  summary          files, samples, participants, proteins, rows read / kept
  file             one row per input file (layout, rows read, rows kept)
  dropped          rows dropped per reason (control sample type, control ID, unmatched,
                   bad_value, excluded_participant, ...)
  control_sample / unmatched_sample / invalid_sample   one row per dropped sample ID
  excluded_participant   one row per participant whose proteins were all left out for a
                   bad cell (on_error: exclude): value = bad cells, detail = the first
                   (`<file> line 5, column NPX: 'abc' is not a number`); the cohort step
                   copies it to excluded.tsv
  flagged          rows kept with a flag (below LOD, QC warning)
  replicate        one row per participant whose measurements were averaged
  category         proteins per category
  missingness      one row per protein: fraction of participants without a value
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import pandas as pd


@dataclass
class QcLog:
    rows: list[tuple[str, str, object, str]] = field(default_factory=list)
    quiet: bool = False

    def add(self, section: str, item: str, value, detail: str = "") -> None:
        self.rows.append((section, str(item), value, detail))

    def say(self, message: str) -> None:
        """A line for the step's log (stderr), e.g. about averaged replicates."""
        if not self.quiet:
            print(f"neurofusion proteins: {message}", file=sys.stderr)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=["section", "item", "value", "detail"])

    def write(self, path) -> None:
        frame = self.frame()
        frame["value"] = frame["value"].map(_fmt)
        frame.to_csv(path, sep="\t", index=False, lineterminator="\n")


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
