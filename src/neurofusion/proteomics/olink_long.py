"""Olink long (NPX) exports: CSV/TXT with `;` or `,`, Parquet, or a long-form .xlsx."""

from __future__ import annotations

import re
from typing import Iterator

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from ..errors import NeurofusionError
from .columns import REQUIRED, accepted_names, resolve_long_columns
from .detect import Sniffed, xlsx_rows
from .measurements import DICT, Measurements, lines_from, make_batch, sparse_text
from .numbers import parse_numbers

NUMERIC_KEYS = ("value", "lod")
EXTRA_NULLS = ["No Data", "no data", "NA", "na"]
PROBLEM = "problem"  # the column _parsed adds to a batch


def _columns(sniffed: Sniffed, header: list[str]) -> tuple[dict[str, str], str]:
    found, scale = resolve_long_columns(header)
    missing = [k for k in REQUIRED if k not in found]
    if missing:
        names = "; ".join(f"{k if k != 'value' else 'NPX'} (accepted: {accepted_names(k)})" for k in missing)
        raise NeurofusionError(f"Olink long table lacks required column(s): {names}", path=sniffed.path,
                               fix="export the NPX table in long format from Olink software, or rename the column")
    return found, scale


def _first_data_row(head: list[list[str]]) -> int:
    return next((i for i, r in enumerate(head) if any(r)), 0)


def _csv_batches(sniffed: Sniffed, found: dict[str, str], skip: int, number_type) -> Iterator[pa.RecordBatch]:
    wanted = list(dict.fromkeys(found.values()))
    types = {col: (number_type if key in NUMERIC_KEYS else DICT) for key, col in found.items()}
    convert = pcsv.ConvertOptions(
        include_columns=wanted, column_types=types, strings_can_be_null=True,
        null_values=list(pcsv.ConvertOptions().null_values) + EXTRA_NULLS,
        decimal_point=sniffed.decimal)
    reader = pcsv.open_csv(sniffed.path, read_options=pcsv.ReadOptions(skip_rows=skip),
                           parse_options=pcsv.ParseOptions(delimiter=sniffed.delimiter),
                           convert_options=convert)
    yield from reader


def _text_batches(sniffed: Sniffed, found: dict[str, str], skip: int) -> Iterator[pa.RecordBatch]:
    """Arrow parses the numbers; at the first cell it cannot, the rest is read again as text.

    From the batch that failed on, value and LOD are parsed cell by cell (parse_numbers),
    so a bad cell becomes a row with a ``problem`` and the rows around it are still read.
    """
    done = 0
    try:
        for batch in _csv_batches(sniffed, found, skip, pa.float64()):
            yield _canonical(batch, found)
            done += batch.num_rows
        return
    except pa.ArrowInvalid as exc:
        text = str(exc).splitlines()[0]
        if not re.search(r"column #(\d+).*conversion error", text):
            raise _unreadable(sniffed, text) from None
    try:
        for batch in _csv_batches(sniffed, found, skip, pa.string()):
            if done >= batch.num_rows:
                done -= batch.num_rows
                continue
            batch, done = batch.slice(done), 0
            yield _canonical(_parsed(batch, found, sniffed.decimal), found)
    except pa.ArrowInvalid as exc:
        raise _unreadable(sniffed, str(exc).splitlines()[0]) from None


def _unreadable(sniffed: Sniffed, text: str) -> NeurofusionError:
    return NeurofusionError(f"cannot be read as a `{sniffed.delimiter}`-separated table: {text}",
                            path=sniffed.path, fix="every row needs the same number of fields as the header")


def _parsed(batch: pa.RecordBatch, found: dict[str, str], decimal: str = ".") -> pa.RecordBatch:
    """Value and LOD columns that are not numbers yet -> float64, and the ``problem`` column."""
    problems: dict[int, str] = {}
    for key in NUMERIC_KEYS:  # a row's bad value cell is named rather than its bad LOD cell
        col = found.get(key)
        kind = batch.schema.field(col).type if col else None
        if col and not (pa.types.is_floating(kind) or pa.types.is_integer(kind) or pa.types.is_null(kind)):
            values, bad = parse_numbers(batch.column(col).to_numpy(zero_copy_only=False), column=col,
                                        decimal=decimal)
            batch = batch.set_column(batch.schema.get_field_index(col), col, pa.array(values))
            for row, text in bad.items():
                problems.setdefault(row, text)
    if problems:
        batch = batch.append_column(PROBLEM, sparse_text(batch.num_rows, problems))
    return batch


def _canonical(batch: pa.RecordBatch, found: dict[str, str]) -> pa.RecordBatch:
    columns = {("protein_id" if key == "olink_id" else key): batch.column(col) for key, col in found.items()}
    if PROBLEM in batch.schema.names:
        columns["problem"] = batch.column(PROBLEM)
    return make_batch(columns, batch.num_rows)


def _parquet_batches(sniffed: Sniffed, found: dict[str, str]) -> Iterator[pa.RecordBatch]:
    source = pq.ParquetFile(sniffed.path)
    for batch in source.iter_batches(columns=list(dict.fromkeys(found.values())), batch_size=65536):
        yield _canonical(_parsed(batch, found), found)


def _xlsx_batches(sniffed: Sniffed) -> tuple[list[pa.RecordBatch], dict[str, str], str, int]:
    rows = xlsx_rows(sniffed.path)
    skip = next((i for i, r in enumerate(rows) if any(c is not None for c in r)), 0)
    header = [str(c).strip() if c is not None else "" for c in rows[skip]]
    found, scale = _columns(sniffed, header)
    body = [r + [None] * (len(header) - len(r)) for r in rows[skip + 1:] if any(c is not None for c in r)]
    frame = pd.DataFrame(body, columns=header, dtype=object) if body else pd.DataFrame(columns=header)
    arrays = {}
    for key, col in found.items():
        if key in NUMERIC_KEYS:
            arrays[col] = pa.array(frame[col].map(lambda v: v if v is None or isinstance(v, str) else repr(v)),
                                   pa.string())  # cells as text: _parsed finds the bad ones
        else:
            arrays[col] = pa.array([None if v is None else str(v).strip() for v in frame[col]], pa.string())
    return [_canonical(_parsed(pa.RecordBatch.from_pydict(arrays), found), found)], found, scale, skip + 1


def read_olink_long(sniffed: Sniffed) -> Measurements:
    """Streams the export batch by batch (text and Parquet); only the needed columns are read."""
    if sniffed.container == "xlsx":
        batches, found, scale, offset = _xlsx_batches(sniffed)
        return Measurements(sniffed.path, "olink_long", scale, batches, lines_from(offset))
    if sniffed.container == "parquet":
        found, scale = _columns(sniffed, sniffed.head[0])
        return Measurements(sniffed.path, "olink_long", scale, _parquet_batches(sniffed, found),
                            lambda row: f"row {row + 1}")
    skip = _first_data_row(sniffed.head)
    found, scale = _columns(sniffed, sniffed.head[skip])
    return Measurements(sniffed.path, "olink_long", scale, _text_batches(sniffed, found, skip), lines_from(skip + 1))
