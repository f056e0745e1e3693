"""The `proteins` step: exports -> proteins.parquet, catalog.parquet, matrix.parquet, unmapped.tsv, qc.tsv.

Steps: sniff every input; read each export into the common long form; drop controls and
unmatched samples and apply the on_error / WARN / LOD policies (qc.py); leave out every
protein row of a participant with a bad cell (on_error: exclude; listed in qc.tsv as
``excluded_participant``, where the cohort step finds them); merge files and check that
each assay has one UniProt ID; categorize (categories.py); average replicates on the
participants x proteins grid (aggregate.py); write all five outputs or none.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import NeurofusionError
from ..io import all_or_nothing
from .aggregate import Cells, combine
from .categories import CategoryTable, build_catalog
from .matrix import ProteinMatrix, write_matrix
from .numbers import FIX
from .qc import LOD_POLICIES, ON_ERROR, WARN_POLICIES, FileRows, drop_participants, select_rows
from .qc_log import QcLog
from .readers import merged_annotation, read_measurements, sniff_all
from .samples import SampleMatcher, read_participants

OUTPUT_NAMES = ("proteins.parquet", "catalog.parquet", "matrix.parquet", "unmapped.tsv", "qc.tsv")
CATALOG_SCHEMA = pa.schema([
    ("protein_index", pa.int32()), ("protein_id", pa.string()), ("uniprot", pa.string()),
    ("gene", pa.string()), ("assay", pa.string()), ("panel", pa.string()), ("category", pa.string()),
    ("category_id", pa.int32()), ("position_in_category", pa.int32()),
])
DICT = pa.dictionary(pa.int32(), pa.string())
LONG_SCHEMA = pa.schema([
    ("participant_id", DICT), ("protein_id", DICT), ("uniprot", DICT), ("gene", DICT), ("assay", DICT),
    ("panel", DICT), ("category", DICT), ("value", pa.float64()), ("below_lod", pa.bool_()),
    ("qc_warning", pa.bool_()), ("source_file", DICT),
])


@dataclass
class Settings:
    categories: Path
    participants: Path | None = None
    id_column: str = "participant_id"
    sample_id_regex: str | None = None
    warn_policy: str = "flag"
    lod_policy: str = "keep"
    category_names: list[str] | None = None
    on_error: str = "stop"  # a bad cell: stop, or exclude its participant's proteins


def build_proteins(tables: list[str | Path], out_dir: str | Path, settings: Settings, log: QcLog | None = None) -> dict:
    """Run the whole step; returns a small summary dict. Raises NeurofusionError on bad input."""
    log = log or QcLog()
    out_dir = Path(out_dir)
    # the outputs are claimed first: any error below removes them all, stale ones included
    with all_or_nothing(*(out_dir / n for n in OUTPUT_NAMES)) as (long_p, cat_p, mat_p, unm_p, qc_p):
        files, catalog, names, cells = _compute(tables, settings, log)
        # statistics only for the plain columns: over dictionary strings they cost more than the write
        pq.write_table(_long_table(cells, names, catalog, [f.path.name for f in files]), long_p,
                       write_statistics=["value", "below_lod", "qc_warning"])
        pq.write_table(pa.Table.from_pandas(catalog[CATALOG_SCHEMA.names], schema=CATALOG_SCHEMA,
                                            preserve_index=False), cat_p)
        write_matrix(_matrix(cells, names, catalog), mat_p)
        _unmapped(catalog).to_csv(unm_p, sep="\t", index=False, lineterminator="\n")
        log.write(qc_p)
    return {"participants": len(names), "proteins": len(catalog), "measurements": int((cells.count > 0).sum())}


def _compute(tables, settings: Settings, log: QcLog):
    if settings.warn_policy not in WARN_POLICIES or settings.lod_policy not in LOD_POLICIES \
            or settings.on_error not in ON_ERROR:
        raise NeurofusionError(f"unknown policy warn={settings.warn_policy!r} lod={settings.lod_policy!r} "
                               f"on_error={settings.on_error!r}",
                               fix=f"use warn_policy in {WARN_POLICIES}, lod_policy in {LOD_POLICIES} "
                                   f"and on_error in {ON_ERROR}")
    category_table = CategoryTable.load(settings.categories, settings.category_names)
    participants = read_participants(settings.participants, settings.id_column) if settings.participants else None
    matcher = SampleMatcher(participants, settings.sample_id_regex)
    sniffed = sniff_all(tables)
    annotation = merged_annotation(sniffed)
    data = [s for s in sniffed if s.layout != "annotation"]
    if not data:
        raise NeurofusionError("only side tables were given, no protein data", path=sniffed[0].path if sniffed else None,
                               fix="list the protein exports in `proteomics:`")
    files: list[FileRows] = []
    for s in data:
        files.append(select_rows(read_measurements(s, annotation), matcher, settings.warn_policy,
                                 settings.lod_policy, log, settings.on_error))
    _exclude_failed(files, log)
    proteins = _merge_proteins(files)
    catalog = build_catalog(proteins, category_table)
    names = sorted({p for f in files for p in f.participants})
    cells = _cells(files, names, catalog)
    _log_replicates(cells, names, files, log)
    _log_summary(log, files, names, catalog, cells, category_table.names, participants)
    return files, catalog, names, cells


def _exclude_failed(files: list[FileRows], log: QcLog) -> None:
    """A participant with a bad cell in any file loses its protein rows in every file, with the reason logged."""
    first: dict[str, str] = {}
    cells: dict[str, int] = {}
    for f in files:
        for pid, (where, n) in f.failed.items():
            first.setdefault(pid, f"{f.path.name} {where}")
            cells[pid] = cells.get(pid, 0) + n
    if not first:
        return
    for f in files:
        removed = drop_participants(f, set(first))
        if removed:
            log.add("dropped", f"excluded_participant:{f.path.name}", removed,
                    "rows of participants with a bad cell (excluded_participant)")
    for pid in sorted(first):
        more = f" ({cells[pid]} bad cells)" if cells[pid] > 1 else ""
        log.add("excluded_participant", pid, cells[pid], first[pid] + more)
        log.say(f"{pid}: protein measurements excluded: {first[pid]}{more}")
    if not any(f.participants for f in files):
        pid = min(first)
        raise NeurofusionError(f"every participant has a bad cell, e.g. {pid}: {first[pid]}",
                               fix="check the decimal mark and the separator; " + FIX)


def _merge_proteins(files: list[FileRows]) -> pd.DataFrame:
    """One row per protein_id with at least one kept measurement; UniProt must agree across files."""
    frames = []
    for f in files:
        used = np.bincount(f.protein, minlength=len(f.proteins)) > 0
        frames.append(f.proteins[used].assign(file=f.path.name))
    merged = pd.concat(frames, ignore_index=True)
    for pid, group in merged[merged["uniprot"].notna()].groupby("protein_id", sort=False):
        if group["uniprot"].nunique() > 1:
            a, b = group.drop_duplicates("uniprot").iloc[:2].itertuples()
            raise NeurofusionError(
                f"assay {pid} has UniProt {a.uniprot} in {a.file} ({a.where}) but {b.uniprot} "
                f"in {b.file} ({b.where})", path=b.file,
                fix="one assay must have one UniProt ID: correct the export")
    first = merged.groupby("protein_id", sort=True).first()  # first non-null of each field
    return first.reset_index()[["protein_id", "uniprot", "assay", "panel"]]


def _cells(files: list[FileRows], names: list[str], catalog: pd.DataFrame) -> Cells:
    index_of = {pid: i for i, pid in enumerate(catalog["protein_id"])}
    where = {p: i for i, p in enumerate(names)}
    parts = {k: [] for k in ("participant", "protein", "value", "below", "warn", "source")}
    for i, f in enumerate(files):
        parts["participant"].append(np.array([where[p] for p in f.participants], np.int32)[f.participant])
        parts["protein"].append(np.array([index_of.get(p, -1) for p in f.proteins["protein_id"]],
                                         np.int32)[f.protein])
        parts["value"].append(f.value)
        parts["below"].append(f.below_lod)
        parts["warn"].append(f.qc_warning)
        parts["source"].append(np.full(len(f.value), i, np.int32))
        f.value = f.below_lod = f.qc_warning = f.participant = f.protein = None  # free as we go
    joined = {k: v[0] if len(v) == 1 else np.concatenate(v) for k, v in parts.items()}
    parts.clear()
    return combine(joined["participant"], joined["protein"], joined["value"], joined["below"], joined["warn"],
                   joined["source"], len(names), len(catalog))


def _dictionary(indices: np.ndarray, values: list) -> pa.DictionaryArray:
    """Per-row codes into ``values`` (may repeat or be None) -> dictionary array with unique values."""
    codes, uniques = pd.factorize(pd.Series(values, dtype=object), sort=True)
    row_codes = codes.astype(np.int32)[indices]
    mask = row_codes < 0
    return pa.DictionaryArray.from_arrays(pa.array(row_codes, pa.int32(), mask=mask if mask.any() else None),
                                          pa.array(list(uniques), pa.string()))


def _long_table(cells: Cells, names: list[str], catalog: pd.DataFrame, files: list[str]) -> pa.Table:
    idx = np.flatnonzero(cells.count > 0)                       # measured cells, participant-major
    participant = (idx // cells.k).astype(np.int32)
    protein = (idx % cells.k).astype(np.int32)
    value, below, warn, source = cells.value[idx], cells.below_lod[idx], cells.qc_warning[idx], cells.source[idx]
    del idx
    columns = [pa.DictionaryArray.from_arrays(pa.array(participant), pa.array(names, pa.string()))]
    for col in ("protein_id", "uniprot", "gene", "assay", "panel", "category"):
        columns.append(_dictionary(protein, catalog[col].tolist()))
    columns += [pa.array(value, mask=np.isnan(value)), pa.array(below), pa.array(warn),
                pa.DictionaryArray.from_arrays(pa.array(source), pa.array(files, pa.string()))]
    return pa.Table.from_arrays(columns, schema=LONG_SCHEMA)


def _matrix(cells: Cells, names: list[str], catalog: pd.DataFrame) -> ProteinMatrix:
    shape = (cells.n, cells.k)
    return ProteinMatrix(names, cells.value.reshape(shape).astype(np.float32), cells.below_lod.reshape(shape),
                         cells.qc_warning.reshape(shape), catalog["protein_id"].tolist())


def _unmapped(catalog: pd.DataFrame) -> pd.DataFrame:
    fell = catalog[catalog["matched_by"] == "none"]
    out = fell[["protein_id", "uniprot", "gene", "assay", "panel", "category"]].copy()
    out["reason"] = "no UniProt, gene or alias match in the category table"
    return out


def _log_replicates(cells: Cells, names: list[str], files: list[FileRows], log: QcLog) -> None:
    repeated = np.flatnonzero(cells.count > 1)
    if not repeated.size:
        return
    per_participant = np.bincount(repeated // cells.k, minlength=cells.n)
    seen: dict[str, list[str]] = {}
    for f in files:
        for pid, raw in f.sample_ids.items():
            seen.setdefault(pid, []).extend(f"{r} ({f.path.name})" for r in raw)
    for i in np.flatnonzero(per_participant):
        pid = names[i]
        detail = f"up to {int(cells.count.reshape(cells.n, cells.k)[i].max())} measurements per protein " \
                 f"averaged; samples: {', '.join(seen.get(pid, []))}"
        log.add("replicate", pid, int(per_participant[i]), detail)
        log.say(f"{pid}: replicate measurements of {int(per_participant[i])} proteins averaged ({detail})")


def _log_summary(log, files, names, catalog, cells, categories, participants) -> None:
    measured = int((cells.count > 0).sum())
    log.add("summary", "files", len(files), ", ".join(f.path.name for f in files))
    log.add("summary", "participants", len(names), "with at least one protein value")
    log.add("summary", "proteins", len(catalog), "")
    log.add("summary", "measurements", measured, "participant x protein cells with a measurement")
    values = cells.value.reshape(cells.n, cells.k)
    missing = np.isnan(values)
    log.add("summary", "missing_fraction", float(missing.mean()) if missing.size else 0.0,
            "of the participants x proteins matrix")
    if participants is not None:
        absent = sorted(participants - set(names))
        log.add("summary", "participants_without_proteins", len(absent), ", ".join(absent[:50]))
    counts = catalog["category"].value_counts()
    for name in categories:
        log.add("category", name, int(counts.get(name, 0)), "proteins")
    frac = missing.mean(axis=0) if cells.n else np.zeros(cells.k)
    for pid, f, n_miss in zip(catalog["protein_id"], frac, missing.sum(axis=0)):
        log.add("missingness", pid, float(f), f"{int(n_miss)}/{cells.n} participants without a value")
