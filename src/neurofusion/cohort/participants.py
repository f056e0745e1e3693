"""Reading and validating a BIDS participants table."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ..errors import NeurofusionError

BIDS_LABEL = re.compile(r"^[A-Za-z0-9]+$")


def normalise_id(raw: str) -> str | None:
    """``001`` or ``sub-001`` -> ``sub-001``; ``None`` when the label is not a BIDS label."""
    label = str(raw).strip()
    if label.startswith("sub-"):
        label = label[4:]
    return f"sub-{label}" if BIDS_LABEL.match(label) else None


def _read_table(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise NeurofusionError("participants table not found", path=path,
                               fix="set `participants` in your config or add participants.tsv to the BIDS folder")
    text_sep = "," if path.suffix.lower() == ".csv" else "\t"
    try:
        if path.suffix.lower() == ".parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path, sep=text_sep, dtype=str, keep_default_na=False, na_values=["", "n/a", "NA"])
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise NeurofusionError(f"cannot parse the participants table ({first})", path=path,
                               fix="save it as a tab-separated file with a header row (BIDS participants.tsv)")


def read_participants(path, id_column: str = "participant_id", label_column: str = "diagnosis") -> pd.DataFrame:
    """Return the table with ``participant_id`` normalised to ``sub-<label>`` and unique.

    Raises a one-line :class:`NeurofusionError` naming the file, the row and the fix for a
    missing column, an ID with characters BIDS does not allow, or a duplicated ID.
    """
    path = Path(path)
    table = _read_table(path)
    for column, key in ((id_column, "cohort.id_column"), (label_column, "label_column")):
        if column not in table.columns:
            raise NeurofusionError(
                f"no column {column!r} (columns: {', '.join(map(str, table.columns))})", path=path,
                fix=f"add it or set `{key}` in your config to the right column",
            )
    table = table.rename(columns={id_column: "participant_id"}) if id_column != "participant_id" else table.copy()
    ids = []
    for row, raw in enumerate(table["participant_id"].tolist(), start=2):
        if raw is None or (isinstance(raw, float) and pd.isna(raw)) or str(raw).strip() == "":
            raise NeurofusionError(f"row {row}: empty participant ID", path=path, fix="fill in or remove the row")
        norm = normalise_id(raw)
        if norm is None:
            raise NeurofusionError(
                f"row {row}: participant ID {str(raw)!r} has characters BIDS labels do not allow",
                path=path, fix="use letters and digits only, e.g. sub-001",
            )
        ids.append(norm)
    table["participant_id"] = ids
    dupes = table["participant_id"][table["participant_id"].duplicated()].unique().tolist()
    if dupes:
        raise NeurofusionError(f"participant ID listed twice: {', '.join(dupes[:5])}", path=path,
                               fix="keep one row per participant")
    return table.reset_index(drop=True)
