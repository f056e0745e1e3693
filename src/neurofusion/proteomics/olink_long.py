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
from .measurements import DICT, Measurements, lines_from, make_batch
from .numbers import to_numbers

NUMERIC_KEYS = ("value", "lod")
EXTRA_NULLS = ["No Data", "no data", "NA", "na"]


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


def _locate_bad_number(sniffed: Sniffed, skip: int, column: str) -> NeurofusionError:
    """Re-read one column as text to find the cell Arrow could not convert (error path only)."""
    table = pcsv.read_csv(
        sniffed.path,
        read_options=pcsv.ReadOptions(skip_rows=skip),
        parse_options=pcsv.ParseOptions(delimiter=sniffed.delimiter),
        convert_options=pcsv.ConvertOptions(include_columns=[column], column_types={column: pa.string()}),
    )
    values = table.column(0).to_numpy(zero_copy_only=False)
    try:
        to_numbers(values, path=sniffed.path, column=column, first_line=skip + 2,
                   decimal=sniffed.decimal, what="line")
    except NeurofusionError as exc:
        return exc
    return NeurofusionError(f"column {column} could not be read as numbers", path=sniffed.path,
                            fix="check the decimal mark and the separator")


def _text_batches(sniffed: Sniffed, found: dict[str, str], skip: int) -> Iterator[pa.RecordBatch]:
    wanted = list(dict.fromkeys(found.values()))
    types = {col: (pa.float64() if key in NUMERIC_KEYS else DICT) for key, col in found.items()}
    convert = pcsv.ConvertOptions(
        include_columns=wanted, column_types=types, strings_can_be_null=True,
        null_values=list(pcsv.ConvertOptions().null_values) + EXTRA_NULLS,
        decimal_point=sniffed.decimal)
    try:
        reader = pcsv.open_csv(sniffed.path, read_options=pcsv.ReadOptions(skip_rows=skip),
                               parse_options=pcsv.ParseOptions(delimiter=sniffed.delimiter),
                               convert_options=convert)
        for batch in reader:
            yield _canonical(batch, found)
    except pa.ArrowInvalid as exc:
        text = str(exc).splitlines()[0]
        m = re.search(r"column #(\d+).*conversion error", text)
        if m:
            header = sniffed.head[skip]
            index = int(m.group(1))
            column = header[index] if index < len(header) else wanted[0]
            raise _locate_bad_number(sniffed, skip, column) from None
        raise NeurofusionError(f"cannot be read as a `{sniffed.delimiter}`-separated table: {text}",
                               path=sniffed.path, fix="every row needs the same number of fields as the header")


def _canonical(batch: pa.RecordBatch, found: dict[str, str]) -> pa.RecordBatch:
    columns = {("protein_id" if key == "olink_id" else key): batch.column(col) for key, col in found.items()}
    return make_batch(columns, batch.num_rows)


def _parquet_batches(sniffed: Sniffed, found: dict[str, str]) -> Iterator[pa.RecordBatch]:
    source = pq.ParquetFile(sniffed.path)
    first = 0
    for batch in source.iter_batches(columns=list(dict.fromkeys(found.values())), batch_size=65536):
        for key in NUMERIC_KEYS:
            col = found.get(key)
            kind = batch.schema.field(col).type if col else None
            if col and not (pa.types.is_floating(kind) or pa.types.is_integer(kind) or pa.types.is_null(kind)):
                values = to_numbers(batch.column(col).to_numpy(zero_copy_only=False), path=sniffed.path,
                                    column=col, first_line=first + 1, what="row")
                batch = batch.set_column(batch.schema.get_field_index(col), col, pa.array(values))
        first += batch.num_rows
        yield _canonical(batch, found)


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
            arrays[col] = pa.array(to_numbers(frame[col].to_numpy(), path=sniffed.path, column=col,
                                              first_line=skip + 2, what="sheet row"))
        else:
            arrays[col] = pa.array([None if v is None else str(v).strip() for v in frame[col]], pa.string())
    return [_canonical(pa.RecordBatch.from_pydict(arrays), found)], found, scale, skip + 1


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
