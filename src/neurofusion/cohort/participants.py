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


def _is_empty(value) -> bool:
    return value is None or (isinstance(value, float) and pd.isna(value)) or str(value).strip() == ""


def _check_columns(table: pd.DataFrame, path: Path, id_column: str, label_column: str) -> list[str]:
    return [
        f"{path}: no column {column!r} (columns: {', '.join(map(str, table.columns))}; add it or set "
        f"`{key}` in your config to the right column)"
        for column, key in ((id_column, "cohort.id_column"), (label_column, "label_column"))
        if column not in table.columns
    ]


def _check_rows(table: pd.DataFrame, path: Path, id_column: str, label_column: str) -> tuple[list[str], list]:
    """Problem lines of the ID column and the normalised ID of every row (None where unusable).

    Rows are numbered as a spreadsheet shows them: the header is row 1.
    """
    lines, ids = [], []
    first_row: dict[str, tuple[int, str, str]] = {}  # normalised id -> (row, ID as written, label)
    labels = table[label_column].tolist() if label_column in table.columns else [None] * len(table)
    for row, (raw, label) in enumerate(zip(table[id_column].tolist(), labels), start=2):
        norm = None if _is_empty(raw) else normalise_id(raw)
        ids.append(norm)
        if _is_empty(raw):
            lines.append(f"{path} row {row}: empty {id_column} (fill it in or remove the row)")
            continue
        if norm is None:
            lines.append(f"{path} row {row}: {id_column} {str(raw)!r} has characters BIDS labels do not allow "
                         "(use letters and digits only, e.g. sub-001)")
            continue
        label = "" if _is_empty(label) else str(label).strip()
        if norm not in first_row:
            first_row[norm] = (row, str(raw).strip(), label)
            continue
        seen_row, seen_raw, seen_label = first_row[norm]
        written = f" (written {seen_raw!r} there, {str(raw).strip()!r} here)" if seen_raw != str(raw).strip() else ""
        conflict = (f" with a different {label_column} ({seen_label!r} there, {label!r} here)"
                    if label != seen_label else "")
        lines.append(f"{path} row {row}: {norm} is already listed in row {seen_row}{written}{conflict} "
                     "(keep one row per participant)")
    return lines, ids


def participants_problems(path, id_column: str = "participant_id", label_column: str = "diagnosis") -> list[str]:
    """Every problem of a participants table that stops the cohort step, one line each.

    A line names the file, the row (header = row 1) and what to do: a missing ID or label
    column, an empty ID, an ID with characters BIDS does not allow, and an ID listed twice
    (``01`` and ``sub-01`` are the same participant), saying when the two rows disagree on
    the label. An unreadable file raises :class:`NeurofusionError`. The workflow calls this
    while it parses, so these problems stop a run before any job; the cohort step calls it
    through :func:`read_participants`, so the two cannot disagree.
    """
    path = Path(path)
    table = _read_table(path)
    lines = _check_columns(table, path, id_column, label_column)
    if id_column in table.columns:
        lines += _check_rows(table, path, id_column, label_column)[0]
    return lines


def read_participants(path, id_column: str = "participant_id", label_column: str = "diagnosis") -> pd.DataFrame:
    """Return the table with ``participant_id`` normalised to ``sub-<label>`` and unique.

    Raises one one-line :class:`NeurofusionError` listing every problem that
    :func:`participants_problems` finds.
    """
    path = Path(path)
    table = _read_table(path)
    problems = _check_columns(table, path, id_column, label_column)
    ids = []
    if id_column in table.columns:
        row_problems, ids = _check_rows(table, path, id_column, label_column)
        problems += row_problems
    if problems:
        listed = "; ".join(line.removeprefix(f"{path}").lstrip(": ") for line in problems)
        raise NeurofusionError(f"{len(problems)} problem(s) in the participants table: {listed}", path=path)
    table = table.rename(columns={id_column: "participant_id"}) if id_column != "participant_id" else table.copy()
    table["participant_id"] = ids
    return table.reset_index(drop=True)
