"""Text cells -> numbers, with an error that names the first bad cell."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import NeurofusionError

# Cells that mean "no value" in vendor exports (besides empty cells).
MISSING_TEXT = {"", "na", "nan", "n/a", "#n/a", "null", "none", "no data", "> uloq", "< lloq", "-"}


def to_numbers(values, *, path, column: str, first_line: int, decimal: str = ".",
               what: str = "row") -> np.ndarray:
    """Object/str/number cells -> float64; missing markers -> NaN.

    ``first_line`` is the file line (or sheet row) of ``values[0]``; a cell that is
    neither a number nor a missing marker raises a one-line error naming it.
    """
    series = pd.Series(values, dtype=object)
    text = series.map(lambda v: v if isinstance(v, str) else None)
    is_text = text.notna().to_numpy()
    out = np.full(len(series), np.nan)
    if (~is_text).any():
        out[~is_text] = pd.to_numeric(series[~is_text], errors="coerce").to_numpy(dtype=float)
    if is_text.any():
        cells = text[is_text].str.strip()
        missing = cells.str.lower().isin(MISSING_TEXT).to_numpy()
        cleaned = cells.str.lstrip("#")
        if decimal == ",":
            cleaned = cleaned.str.replace(",", ".", regex=False)
        parsed = pd.to_numeric(cleaned.where(~missing), errors="coerce").to_numpy(dtype=float)
        bad = np.flatnonzero(~missing & np.isnan(parsed))
        if bad.size:
            where = np.flatnonzero(is_text)[bad[0]]
            raise NeurofusionError(
                f"{what} {first_line + where}, column {column}: {cells.iloc[bad[0]]!r} is not a number",
                path=path, fix="correct the cell, or leave it empty (or NA) for a missing value")
        out[is_text] = parsed
    return out
