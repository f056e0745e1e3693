"""Text cells -> numbers; a cell that is neither a number nor a missing marker is a bad cell."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import NeurofusionError

# Cells that mean "no value" in vendor exports (besides empty cells).
MISSING_TEXT = {"", "na", "nan", "n/a", "#n/a", "null", "none", "no data", "> uloq", "< lloq", "-"}
FIX = "correct the cell, or leave it empty (or NA) for a missing value"


def parse_numbers(values, *, column: str, decimal: str = ".") -> tuple[np.ndarray, dict[int, str]]:
    """Object/str/number cells -> (float64, NaN for missing markers and bad cells; {position: problem}).

    A problem reads ``column NPX: 'abc' is not a number``; the reader puts it in the
    ``problem`` column of the measurements, where the QC step applies the on_error policy.
    """
    series = pd.Series(values, dtype=object)
    text = series.map(lambda v: v if isinstance(v, str) else None)
    is_text = text.notna().to_numpy()
    out = np.full(len(series), np.nan)
    if (~is_text).any():
        out[~is_text] = pd.to_numeric(series[~is_text], errors="coerce").to_numpy(dtype=float)
    problems: dict[int, str] = {}
    if is_text.any():
        cells = text[is_text].str.strip()
        missing = cells.str.lower().isin(MISSING_TEXT).to_numpy()
        cleaned = cells.str.lstrip("#")
        if decimal == ",":
            cleaned = cleaned.str.replace(",", ".", regex=False)
        parsed = pd.to_numeric(cleaned.where(~missing), errors="coerce").to_numpy(dtype=float)
        bad = np.flatnonzero(~missing & np.isnan(parsed))
        position = np.flatnonzero(is_text)
        problems = {int(position[b]): f"column {column}: {cells.iloc[b]!r} is not a number" for b in bad}
        out[is_text] = parsed
    return out, problems


def to_numbers(values, *, path, column: str, first_line: int, decimal: str = ".",
               what: str = "row") -> np.ndarray:
    """Object/str/number cells -> float64; missing markers -> NaN.

    ``first_line`` is the file line (or sheet row) of ``values[0]``; a cell that is
    neither a number nor a missing marker raises a one-line error naming it. For cells
    that describe a whole column (a LOD row), where no single participant is to blame.
    """
    out, problems = parse_numbers(values, column=column, decimal=decimal)
    if problems:
        where = min(problems)
        raise NeurofusionError(f"{what} {first_line + where}, {problems[where]}", path=path, fix=FIX)
    return out
