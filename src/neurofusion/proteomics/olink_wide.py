"""Olink Target 96 / 48 wide exports (NPX Manager, `;`- or `,`-separated text or .xlsx).

Layout, top to bottom (first column = row label):

    <title rows: project, "NPX data" or "Quantified data">
    Panel        | Olink Target 96 Inflammation | ...          | ...
    Assay        | IL8    | VEGFA  | ... | QC Warning | Plate ID
    Uniprot ID   | P10145 | P15692 | ...
    OlinkID      | OID... | OID... | ...
    (Unit)       (Quantified exports only)
    <blank>
    sample ID    | 3.21   | 7.9    | ... | Pass       | Plate1      <- one row per sample
    <blank>
    LOD                | 1.1 | ...            (or Max LOD / Plate LOD rows)
    Missing Data freq. | 0.02 | ...

With several panels, each panel's assay columns follow one another and the
`QC Warning` / `Plate ID` columns come last, one per panel in panel order.
"""

from __future__ import annotations

import csv

import numpy as np
import pyarrow as pa

from ..errors import NeurofusionError
from .columns import normalise_name
from .detect import Sniffed, cell_text, wide_header_row, xlsx_rows
from .measurements import Measurements, make_batch, sparse_text
from .numbers import parse_numbers, to_numbers

BOTTOM_LABELS = {"lod", "maxlod", "platelod", "missingdatafreq", "normalization", "assaywarning",
                 "lloq", "uloq", "lowestquantifiablelevel", "platelql"}
CONTROL_ASSAYS = {"incctrl", "incctrl1", "incctrl2", "detctrl", "extctrl"}


def _rows(sniffed: Sniffed) -> list[list]:
    if sniffed.container == "xlsx":
        return xlsx_rows(sniffed.path)
    with open(sniffed.path, newline="", encoding="utf-8-sig", errors="replace") as fh:
        return [list(r) for r in csv.reader(fh, delimiter=sniffed.delimiter)]


def _at(row: list, j: int):
    return row[j] if j < len(row) else None


def _blank(row: list) -> bool:
    return not any(cell_text(c) for c in row)


def _split_body(rows: list[list], start: int, path) -> tuple[list[int], dict[str, list[tuple[int, list]]]]:
    """Indices of sample rows, and bottom rows (index, cells) grouped by normalised label."""
    samples, bottom, i = [], {}, start
    while i < len(rows) and _blank(rows[i]):
        i += 1
    while i < len(rows) and not _blank(rows[i]) and normalise_name(cell_text(rows[i][0])) not in BOTTOM_LABELS:
        if not cell_text(rows[i][0]):
            raise NeurofusionError(f"row {i + 1} has values but no sample ID in the first column", path=path,
                                   fix="fill in the sample ID or delete the row")
        samples.append(i)
        i += 1
    for k in range(i, len(rows)):
        label = normalise_name(cell_text(rows[k][0])) if rows[k] else ""
        if label in BOTTOM_LABELS:
            bottom.setdefault(label, []).append((k, rows[k]))
    return samples, bottom


def _columns(rows, top: int, path):
    """Classify columns: protein columns per panel, QC Warning / Plate ID columns in order."""
    panel_row, assay_row, uniprot_row, oid_row = (rows[top + k] for k in range(4))
    proteins, qc_cols, plate_cols, panels, last_panel = [], [], [], [], ""
    for j in range(1, len(assay_row)):
        assay = cell_text(assay_row[j])
        key = normalise_name(assay)
        panel = cell_text(_at(panel_row, j)) or last_panel
        if key == "qcwarning":
            qc_cols.append(j)
        elif key == "plateid":
            plate_cols.append(j)
        elif not assay or key in CONTROL_ASSAYS or key.startswith("qcdeviation"):
            continue
        else:
            last_panel = panel
            if panel not in panels:
                panels.append(panel)
            proteins.append((j, panel, assay, cell_text(_at(uniprot_row, j)), cell_text(_at(oid_row, j))))
    if not proteins:
        raise NeurofusionError("Olink wide export has no assay columns under the `Assay` row", path=path,
                               fix="export the NPX data again from NPX Manager")
    return proteins, panels, _per_panel(qc_cols, panels, panel_row, "QC Warning", path), \
        _per_panel(plate_cols, panels, panel_row, "Plate ID", path)


def _per_panel(cols: list[int], panels: list[str], panel_row, what: str, path) -> dict[str, int]:
    if not cols:
        return {}
    named = {cell_text(_at(panel_row, j)): j for j in cols if cell_text(_at(panel_row, j)) in panels}
    if len(named) == len(panels):
        return named
    if len(cols) == 1:
        return {p: cols[0] for p in panels}
    if len(cols) != len(panels):
        raise NeurofusionError(f"{len(cols)} `{what}` columns for {len(panels)} panels", path=path,
                               fix=f"keep one `{what}` column per panel, in panel order")
    return dict(zip(panels, cols))


def _lod(bottom, j: int, plates: np.ndarray, plate_order: list[str], path, decimal: str) -> np.ndarray:
    """LOD per sample row for column j: LOD, else Max LOD, else Plate LOD (per plate)."""
    def number(k, row, label):
        return to_numbers([_at(row, j)], path=path, column=f"{label} (field {j + 1})", first_line=k + 1,
                          decimal=decimal)[0]

    for label, name in (("lod", "LOD"), ("maxlod", "Max LOD")):
        if label in bottom:
            return np.full(len(plates), number(*bottom[label][0], name))
    if "platelod" in bottom:
        per_row = [number(k, row, "Plate LOD") for k, row in bottom["platelod"]]
        if len(per_row) == len(plate_order) and len(plate_order) > 1:
            lookup = dict(zip(plate_order, per_row))
            return np.array([lookup.get(p, np.nan) for p in plates])
        return np.full(len(plates), np.nanmax(per_row) if per_row else np.nan)
    return np.full(len(plates), np.nan)


def read_olink_wide(sniffed: Sniffed) -> Measurements:
    path = sniffed.path
    rows = _rows(sniffed)
    text_rows = [[cell_text(c) for c in r[:1]] for r in rows]
    top = wide_header_row(text_rows)
    titles = " ".join(cell_text(c) for r in rows[:top] for c in r)
    scale = "linear" if "quantified" in titles.lower() else "log2"
    start = top + 4
    if start < len(rows) and normalise_name(cell_text(_at(rows[start], 0))) == "unit":
        scale, start = "linear", start + 1
    samples, bottom = _split_body(rows, start, path)
    if not samples:
        raise NeurofusionError("Olink wide export has no sample rows after the `OlinkID` row", path=path,
                               fix="export the NPX data again from NPX Manager")
    proteins, panels, qc_of, plate_of = _columns(rows, top, path)
    sample_rows = [rows[i] for i in samples]
    if samples[-1] - samples[0] + 1 != len(samples):
        raise NeurofusionError("sample rows are not contiguous", path=path, fix="remove blank rows between samples")
    sample_ids = [cell_text(r[0]) for r in sample_rows]
    n = len(sample_ids)
    parts = {k: [] for k in ("sample_id", "protein_id", "uniprot", "assay", "panel", "plate_id",
                             "qc_warning", "lod", "value")}
    decimal = sniffed.decimal if sniffed.container == "text" else "."
    problems: dict[int, str] = {}  # long row -> why its cell is not a number
    for panel in panels:
        plates = np.array([cell_text(_at(r, plate_of[panel])) if panel in plate_of else "" for r in sample_rows],
                          dtype=object)
        plate_order = list(dict.fromkeys(p for p in plates if p))
        qc = [cell_text(_at(r, qc_of[panel])) if panel in qc_of else None for r in sample_rows]
        for j, p, assay, uniprot, oid in (c for c in proteins if c[1] == panel):
            values, bad = parse_numbers([_at(r, j) for r in sample_rows], column=assay, decimal=decimal)
            problems.update({len(parts["sample_id"]) + i: text for i, text in bad.items()})
            parts["value"].append(values)
            parts["lod"].append(_lod(bottom, j, plates, plate_order, path, decimal))
            parts["sample_id"] += sample_ids
            parts["protein_id"] += [oid or assay] * n
            parts["uniprot"] += [uniprot or None] * n
            parts["assay"] += [assay] * n
            parts["panel"] += [p or None] * n
            parts["plate_id"] += [x or None for x in plates]
            parts["qc_warning"] += qc
    total = len(parts["sample_id"])
    columns = {k: pa.array(v, pa.string()) for k, v in parts.items() if k not in ("lod", "value")}
    columns["lod"] = pa.array(np.concatenate(parts["lod"]))
    columns["value"] = pa.array(np.concatenate(parts["value"]))
    columns["problem"] = sparse_text(total, problems)
    lines = np.tile(np.asarray(samples) + 1, len(parts["value"]))
    fields = np.repeat([c[0] + 1 for p in panels for c in proteins if c[1] == p], n)
    return Measurements(path, "olink_wide", scale, [make_batch(columns, total)],
                        lambda i: f"row {lines[i]}, field {fields[i]}")
