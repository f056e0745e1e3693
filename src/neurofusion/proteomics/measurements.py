"""The one long form every reader produces: one row per (sample, assay) measurement.

Readers yield record batches (so a 30 M-row export is never held whole) with columns
  sample_id, sample_type, protein_id, uniprot, assay, panel, plate_id,
  qc_warning, assay_warning   dictionary<int32, string> (null = not given; the
                              dictionary may differ from batch to batch)
  problem                     dictionary<int32, string>: null, or why the row's value or
                              LOD cell is bad (``column NPX: 'abc' is not a number``);
                              the row's value is then NaN and the QC step applies the
                              on_error policy (qc.py)
  lod, value                  float64 (null/NaN = not given / not measured)
Row numbers count over all batches in file order (row i = i-th data row).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

DICT = pa.dictionary(pa.int32(), pa.string())
TEXT_COLUMNS = ("sample_id", "sample_type", "protein_id", "uniprot", "assay", "panel", "plate_id",
                "qc_warning", "assay_warning", "problem")
NUMBER_COLUMNS = ("lod", "value")
SCHEMA = pa.schema([(c, DICT) for c in TEXT_COLUMNS] + [(c, pa.float64()) for c in NUMBER_COLUMNS])


@dataclass
class Measurements:
    path: Path
    kind: str            # olink_long | olink_wide | generic_wide
    scale: str           # log2 (NPX) | linear (concentrations): how half_lod is taken
    batches: Iterable[pa.RecordBatch]  # SCHEMA; iterate once
    locate: Callable[[int], str] | None = None  # row -> "line 12" / "row 8, field 3"

    def where(self, row: int) -> str:
        return self.locate(int(row)) if self.locate else f"data row {int(row) + 1}"


def lines_from(offset: int) -> Callable[[int], str]:
    """Locator for a long table whose data row 0 is on file line ``offset + 1``."""
    return lambda row: f"line {row + offset + 1}"


def to_dictionary(array) -> pa.Array:
    """Any string-like (chunked) array -> one dictionary<int32, string> array."""
    if isinstance(array, pa.ChunkedArray):  # combining unifies per-chunk dictionaries
        array = array.combine_chunks() if array.num_chunks != 1 else array.chunk(0)
    if pa.types.is_dictionary(array.type):
        if array.type.value_type != pa.string():
            array = pa.DictionaryArray.from_arrays(array.indices, array.dictionary.cast(pa.string()))
        if array.type.index_type != pa.int32():
            array = pa.DictionaryArray.from_arrays(array.indices.cast(pa.int32()), array.dictionary)
        return array
    if not pa.types.is_string(array.type) and not pa.types.is_large_string(array.type):
        array = array.cast(pa.string())
    array = pc.utf8_trim_whitespace(array.cast(pa.string()))
    array = pc.if_else(pc.equal(array, ""), pa.scalar(None, pa.string()), array)
    return pc.dictionary_encode(array)


def expand_dictionary(entry_values: list, entry_of_row: np.ndarray) -> pa.DictionaryArray:
    """Row i gets entry_values[entry_of_row[i]]; the dictionary holds each value once (None -> null)."""
    import pandas as pd

    codes_, uniques = pd.factorize(pd.Series(entry_values, dtype=object))
    row_codes = codes_.astype(np.int32)[entry_of_row]
    mask = row_codes < 0
    return pa.DictionaryArray.from_arrays(pa.array(row_codes, pa.int32(), mask=mask if mask.any() else None),
                                          pa.array([str(u) for u in uniques], pa.string()))


def sparse_text(n: int, cells: dict[int, str]) -> pa.Array:
    """n rows, null except row -> text for the rows in ``cells`` (the `problem` column)."""
    if not cells:
        return null_dictionary(n)
    import pandas as pd

    row_codes = np.full(n, -1, np.int32)
    entry, uniques = pd.factorize(pd.Series(list(cells.values()), dtype=object))
    row_codes[np.fromiter(cells, np.int64, len(cells))] = entry
    return pa.DictionaryArray.from_arrays(pa.array(row_codes, pa.int32(), mask=row_codes < 0),
                                          pa.array([str(u) for u in uniques], pa.string()))


def null_dictionary(n: int) -> pa.Array:
    return pa.DictionaryArray.from_arrays(pa.nulls(n, pa.int32()), pa.array([], pa.string()))


def constant_dictionary(n: int, text: str | None) -> pa.Array:
    if text is None:
        return null_dictionary(n)
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, np.int32)), pa.array([text]))


def indices(array: pa.Array) -> np.ndarray:
    """Dictionary array -> int32 codes, -1 for null (zero-copy when there are no nulls)."""
    idx = array.indices
    if idx.null_count:
        idx = pc.fill_null(idx, -1)
    return idx.to_numpy(zero_copy_only=False).astype(np.int32, copy=False)


def codes(array: pa.Array) -> tuple[np.ndarray, list]:
    """Dictionary array -> (int32 codes with -1 for null, list of dictionary values)."""
    indices = array.indices
    if indices.null_count:
        indices = pc.fill_null(indices, -1)
    return indices.to_numpy(zero_copy_only=False).astype(np.int32, copy=False), array.dictionary.to_pylist()


def make_batch(columns: dict[str, pa.Array], n: int) -> pa.RecordBatch:
    """Fill the columns a reader did not have with nulls and order them as SCHEMA.

    Entries are popped from ``columns`` as they are converted, so a caller that hands
    over its only references frees each source column as soon as it is copied.
    """
    arrays = []
    for field in SCHEMA:
        col = columns.pop(field.name, None)
        if col is None:
            col = null_dictionary(n) if field.type == DICT else pa.nulls(n, pa.float64())
        elif field.type == DICT:
            col = to_dictionary(col)
        else:
            if isinstance(col, pa.ChunkedArray):
                col = col.combine_chunks()
            col = col.cast(pa.float64())
        arrays.append(col)
    return pa.RecordBatch.from_arrays(arrays, schema=SCHEMA)
