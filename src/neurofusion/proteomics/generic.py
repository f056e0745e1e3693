"""Generic wide protein tables (CSV/TSV/Parquet/XLSX) and their optional side table.

Wide table: the first column names the sample/participant, every other column is one
protein (numeric cells). Columns named like Olink's Sample_Type / QC_Warning / PlateID
are read as such, not as proteins.

Side table (its own file, listed beside the wide tables): one row per protein column,
columns `column` plus `uniprot` and/or `gene`, optionally `panel` and `lod`.
Without it, a column named like a UniProt accession gives the UniProt ID, any other
name is taken as the gene symbol.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from ..errors import NeurofusionError
from .columns import OLINK_LONG_COLUMNS, normalise_name
from .detect import ANNOTATION_KEYS, Sniffed, cell_text, xlsx_rows
from .measurements import Measurements, expand_dictionary, make_batch, sparse_text
from .numbers import parse_numbers, to_numbers

UNIPROT = re.compile(r"^([OPQ][0-9][A-Z0-9]{3}[0-9]|[A-NR-Z][0-9]([A-Z][A-Z0-9]{2}[0-9]){1,2})(-\d+)?$")
META_KEYS = ("sample_type", "qc_warning", "assay_warning", "plate_id")


def _frame_text(sniffed: Sniffed) -> pa.Table:
    header = sniffed.head[0]
    text_cols = [header[0]] + [c for c in header[1:] if _meta_key(c)]
    try:
        return pcsv.read_csv(
            sniffed.path, parse_options=pcsv.ParseOptions(delimiter=sniffed.delimiter),
            convert_options=pcsv.ConvertOptions(
                column_types={c: pa.string() for c in text_cols}, decimal_point=sniffed.decimal,
                null_values=list(pcsv.ConvertOptions().null_values) + ["No Data"]))
    except pa.ArrowInvalid as exc:
        raise NeurofusionError(f"cannot be read as a `{sniffed.delimiter}`-separated table: "
                               f"{str(exc).splitlines()[0]}", path=sniffed.path,
                               fix="every row needs the same number of fields as the header")


def _frame_xlsx(sniffed: Sniffed) -> pa.Table:
    rows = [r for r in xlsx_rows(sniffed.path) if any(c is not None for c in r)]
    header = [str(c).strip() if c is not None else f"column{j + 1}" for j, c in enumerate(rows[0])]
    body = [list(r) + [None] * (len(header) - len(r)) for r in rows[1:]]
    cols = list(zip(*body)) if body else [[] for _ in header]
    arrays = {}
    for j, name in enumerate(header):
        values = list(cols[j])
        numeric = j > 0 and all(v is None or isinstance(v, (int, float)) for v in values)
        if j == 0:
            values = [cell_text(v) or None for v in values]
        arrays[name] = pa.array([None if v is None else float(v) for v in values], pa.float64()) if numeric \
            else pa.array([None if v is None else str(v) for v in values], pa.string())
    return pa.table(arrays)


def _read_any(sniffed: Sniffed) -> pa.Table:
    if sniffed.container == "parquet":
        return pq.read_table(sniffed.path)
    if sniffed.container == "xlsx":
        return _frame_xlsx(sniffed)
    return _frame_text(sniffed)


def _meta_key(name: str) -> str | None:
    norm = normalise_name(name)
    for key in META_KEYS:
        if norm in {normalise_name(n) for n in OLINK_LONG_COLUMNS[key]}:
            return key
    return None


def read_annotation(sniffed: Sniffed) -> pd.DataFrame:
    """Side table -> DataFrame(column, uniprot, gene, panel, lod), one row per protein column."""
    table = _read_any(sniffed)
    frame = pd.DataFrame({normalise_name(c): table.column(c).to_pylist() for c in table.column_names})
    key = next(normalise_name(k) for k in ANNOTATION_KEYS if normalise_name(k) in frame)
    out = pd.DataFrame({"column": frame[key].astype(str).str.strip()})
    for name in ("uniprot", "gene", "panel"):
        out[name] = frame[name].map(lambda v: str(v).strip() if v is not None and str(v).strip() else None) \
            if name in frame else None
    out["lod"] = to_numbers(frame["lod"].to_numpy(), path=sniffed.path, column="lod", first_line=2) \
        if "lod" in frame else np.nan
    dup = out["column"].duplicated()
    if dup.any():
        row = int(np.flatnonzero(dup.to_numpy())[0])
        raise NeurofusionError(f"row {row + 2}: column {out['column'].iloc[row]!r} is described twice",
                               path=sniffed.path, fix="keep one row per protein column")
    return out


def _numeric(table: pa.Table, name: str, decimal: str) -> tuple[np.ndarray, dict[int, str]]:
    col = table.column(name)
    if pa.types.is_floating(col.type) or pa.types.is_integer(col.type) or pa.types.is_null(col.type):
        return col.cast(pa.float64()).to_numpy(zero_copy_only=False), {}
    return parse_numbers(col.to_numpy(zero_copy_only=False), column=name, decimal=decimal)


def read_generic_wide(sniffed: Sniffed, annotation: pd.DataFrame | None) -> Measurements:
    path = sniffed.path
    table = _read_any(sniffed)
    names = table.column_names
    if len(names) < 2 or table.num_rows == 0:
        raise NeurofusionError("not a recognised protein table (need a sample ID column and protein columns)",
                               path=path, fix="use an Olink NPX export or a wide table: ID column, then one column per protein")
    meta = {key: name for name in names[1:] if (key := _meta_key(name))}
    proteins = [(j, name) for j, name in enumerate(names) if j > 0 and name not in meta.values()]
    n, m = table.num_rows, len(proteins)
    ids = pc.dictionary_encode(pc.utf8_trim_whitespace(table.column(names[0]).cast(pa.string()))).combine_chunks()
    rows = np.tile(np.arange(n, dtype=np.int32), m)  # long row i = sample i % n, protein i // n
    columns = {"sample_id": pa.DictionaryArray.from_arrays(pa.array(ids.indices.to_numpy(zero_copy_only=False)[rows]),
                                                           ids.dictionary)}
    for key, name in meta.items():
        columns[key] = pa.array(table.column(name).cast(pa.string()).to_numpy(zero_copy_only=False)[rows],
                                pa.string())
    decimal = sniffed.decimal if sniffed.container == "text" else "."
    values, problems = [], {}  # long row -> why its cell is not a number
    for k, (_, name) in enumerate(proteins):
        column, bad = _numeric(table, name, decimal)
        values.append(column)
        problems.update({k * n + i: text for i, text in bad.items()})
    columns["value"] = pa.array(np.concatenate(values))
    columns["problem"] = sparse_text(n * m, problems)
    info = _describe(proteins, annotation, path.stem)
    which = np.repeat(np.arange(m, dtype=np.int32), n)
    for key in ("protein_id", "uniprot", "assay", "panel"):
        columns[key] = expand_dictionary(info[key], which)
    columns["lod"] = pa.array(np.asarray(info["lod"], dtype=float)[which])
    fields = np.asarray([j + 1 for j, _ in proteins])
    return Measurements(path, "generic_wide", "linear", [make_batch(columns, n * m)],
                        lambda i: f"row {i % n + 2}, field {fields[i // n]}")


def _describe(proteins, annotation: pd.DataFrame | None, panel: str) -> dict[str, list]:
    lookup = annotation.set_index("column").to_dict("index") if annotation is not None else {}
    info = {k: [] for k in ("protein_id", "uniprot", "assay", "panel", "lod")}
    for _, name in proteins:
        row = lookup.get(name, {})
        uniprot = row.get("uniprot") or (name if UNIPROT.match(name) else None)
        info["protein_id"].append(name)
        info["uniprot"].append(uniprot)
        info["assay"].append(row.get("gene") or (None if UNIPROT.match(name) else name))
        info["panel"].append(row.get("panel") or panel)
        info["lod"].append(row.get("lod", np.nan) if row.get("lod") is not None else np.nan)
    return info
