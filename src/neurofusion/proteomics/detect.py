"""Tell an export's format from its content: container, delimiter, decimal mark, layout.

Layouts:
  olink_long    one row per sample x assay (Olink Explore / NPX Signature long export)
  olink_wide    Olink Target 96/48 wide export: title rows, then Panel / Assay /
                Uniprot ID / OlinkID rows, sample rows, then LOD / Missing Data freq. rows
  annotation    a side table: one row per protein column of a generic table
                (column + uniprot and/or gene [+ panel, lod])
  generic_wide  first column the participant, one column per protein
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import NeurofusionError
from .columns import looks_like_olink_long, normalise_name

HEAD_BYTES = 256 * 1024
HEAD_ROWS = 40
DELIMITERS = (";", "\t", ",")  # preference order on ties
WIDE_ROWS = ("panel", "assay", ("uniprotid", "uniprot"), ("olinkid",))
ANNOTATION_KEYS = ("column", "protein_column", "feature")


@dataclass
class Sniffed:
    path: Path
    container: str              # text | parquet | xlsx
    layout: str                 # olink_long | olink_wide | annotation | generic_wide
    delimiter: str | None = None
    decimal: str = "."
    head: list[list[str]] = field(default_factory=list)  # first rows as text cells


def cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def wide_header_row(rows: list[list[str]]) -> int | None:
    """Index of the `Panel` row of an Olink wide export, or None."""
    firsts = [normalise_name(r[0]) if r else "" for r in rows]
    for i in range(len(firsts) - 3):
        if all(firsts[i + k] in ((want,) if isinstance(want, str) else want)
               for k, want in enumerate(WIDE_ROWS)):
            return i
    return None


def is_annotation_header(header: list[str]) -> bool:
    names = {normalise_name(h) for h in header if h}
    has_key = any(normalise_name(k) in names for k in ANNOTATION_KEYS)
    return has_key and bool(names & {"uniprot", "gene"}) and len(names) <= 8


def layout_of(rows: list[list[str]]) -> str:
    if wide_header_row(rows) is not None:
        return "olink_wide"
    header = next((r for r in rows if any(r)), [])
    if looks_like_olink_long(header):
        return "olink_long"
    if is_annotation_header(header):
        return "annotation"
    return "generic_wide"


def _split(lines: list[str], delimiter: str) -> list[list[str]]:
    return [[c.strip() for c in row] for row in csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter)]


def _delimiter_score(lines: list[str], delimiter: str) -> int:
    rows = _split(lines, delimiter)
    for row in rows:  # the Assay row of a wide export is the widest honest line
        if row and normalise_name(row[0]) == "assay":
            return len(row)
    return len(rows[0]) if rows else 0


def sniff_delimiter(lines: list[str]) -> str:
    scores = {d: _delimiter_score(lines, d) for d in DELIMITERS}
    best = max(scores.values())
    return next(d for d in DELIMITERS if scores[d] == best)


def sniff_decimal(rows: list[list[str]], delimiter: str) -> str:
    if delimiter == ",":
        return "."
    cells = [c for r in rows[1:] for c in r]
    comma = sum(bool(re.fullmatch(r"-?\d+,\d+(e-?\d+)?", c, re.I)) for c in cells)
    dot = sum(bool(re.fullmatch(r"-?\d*\.\d+(e-?\d+)?", c, re.I)) for c in cells)
    return "," if comma > dot else "."  # majority: version strings like 6.0 may keep a dot


def _text_head(path: Path) -> list[str]:
    with open(path, "rb") as fh:
        raw = fh.read(HEAD_BYTES)
        complete = fh.read(1) == b""
    text = raw.decode("utf-8-sig", errors="replace")
    lines = text.splitlines()
    if not complete and lines:
        lines = lines[:-1]  # the last line may be cut
    return [ln for ln in lines[:HEAD_ROWS]]


def xlsx_rows(path: Path, max_rows: int | None = None) -> list[list]:
    """Cells of the first worksheet (values, not formulas), trailing empty cells trimmed."""
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a broken workbook
        raise NeurofusionError(f"cannot open as an Excel workbook ({exc})", path=path,
                               fix="save it again as .xlsx from Excel or export it as CSV")
    try:
        sheet = book.worksheets[0]
        rows = []
        for row in sheet.iter_rows(max_row=max_rows, values_only=True):
            row = list(row)
            while row and (row[-1] is None or (isinstance(row[-1], str) and not row[-1].strip())):
                row.pop()
            rows.append(row)
        return rows
    finally:
        book.close()


def sniff(path: str | Path) -> Sniffed:
    """Open the start of ``path`` and say what it is."""
    path = Path(path)
    if not path.is_file():
        raise NeurofusionError("protein table not found", path=path,
                               fix="check the `proteomics:` list in your config")
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic == b"PAR1":
        import pyarrow.parquet as pq

        header = pq.read_schema(path).names
        layout = "olink_long" if looks_like_olink_long(header) else (
            "annotation" if is_annotation_header(header) else "generic_wide")
        return Sniffed(path, "parquet", layout, head=[header])
    if magic == b"PK\x03\x04":
        rows = [[cell_text(c) for c in r] for r in xlsx_rows(path, HEAD_ROWS)]
        return Sniffed(path, "xlsx", layout_of(rows), head=rows)
    if magic[:2] in (b"\xd0\xcf",):
        raise NeurofusionError("old binary Excel (.xls) is not supported", path=path,
                               fix="save it as .xlsx or CSV")
    lines = _text_head(path)
    if not any(ln.strip() for ln in lines):
        raise NeurofusionError("the file is empty", path=path, fix="export the table again")
    delimiter = sniff_delimiter(lines)
    rows = _split(lines, delimiter)
    return Sniffed(path, "text", layout_of(rows), delimiter, sniff_decimal(rows, delimiter), rows)
