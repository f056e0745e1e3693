"""Join participants, scans (preprocessing QC) and protein samples into the cohort table."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..errors import NeurofusionError
from .folds import assign_folds
from .participants import read_participants

METRICS_NAME = re.compile(r"^(sub-[A-Za-z0-9]+)(_ses-[A-Za-z0-9]+)?_.*desc-metrics\.json$")


def scan_qc(metrics_dir) -> dict[str, dict]:
    """participant_id -> preprocessing metrics, from ``sub-*/anat/*_desc-metrics.json``."""
    found: dict[str, dict] = {}
    root = Path(metrics_dir)
    for path in sorted(root.glob("sub-*/anat/*_desc-metrics.json")):
        m = METRICS_NAME.match(path.name)
        if not m:
            continue
        try:
            metrics = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise NeurofusionError(f"not valid JSON ({exc.msg})", path=path, subject=m.group(1),
                                   fix="delete it and rerun preprocessing for this subject")
        metrics["_path"] = str(path)
        found.setdefault(m.group(1), metrics)
    return found


def protein_availability(matrix_path) -> dict[str, int]:
    """participant_id -> number of proteins with a value, from the protein matrix."""
    path = Path(matrix_path)
    try:
        table = pq.read_table(path, columns=["participant_id", "values"])
    except (OSError, KeyError, ValueError) as exc:
        raise NeurofusionError(f"cannot read the protein matrix ({str(exc).splitlines()[0]})", path=path,
                               fix="rerun the proteins step")
    values = table.column("values").combine_chunks()
    flat = values.flatten()
    present = np.asarray(pc.invert(pc.is_nan(flat)).to_numpy(zero_copy_only=False))
    width = values.type.list_size if hasattr(values.type, "list_size") else 0
    counts = present.reshape(len(table), width).sum(axis=1) if width else np.zeros(len(table), int)
    return dict(zip(table.column("participant_id").to_pylist(), counts.tolist()))


def protein_exclusions(qc_path) -> dict[str, str]:
    """participant_id -> why the proteins step left out all of its proteins (a bad cell), from its qc.tsv."""
    path = Path(qc_path)
    try:
        qc = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise NeurofusionError(f"cannot read the protein QC record ({str(exc).splitlines()[0]})", path=path,
                               fix="rerun the proteins step")
    if not {"section", "item", "detail"} <= set(qc.columns):
        raise NeurofusionError("not a protein QC record (no section, item, detail columns)", path=path,
                               fix="rerun the proteins step")
    rows = qc[qc["section"] == "excluded_participant"]
    return dict(zip(rows["item"], rows["detail"]))


def build_cohort(participants, proteins, metrics_dir, *, label_column="diagnosis", classes=("CN", "AD"),
                 id_column="participant_id", folds=5, seed=42, protein_qc=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (cohort table, exclusions). Nobody is dropped without a written reason.

    A subject is in the cohort when its label is one of ``classes`` and it has at least
    one usable modality. Scans that failed registration QC, or could not be preprocessed at
    all (a failure record), count as no scan (written to the exclusions with scope ``mri``
    and the reason); proteins the proteins step left out for a bad cell (its ``qc.tsv``,
    ``protein_qc``) count as none (scope ``proteins``, with the file, row and cell);
    subjects with a scan or proteins but no row in the participants table are written
    down too.
    """
    classes = list(classes)
    table = read_participants(participants, id_column=id_column, label_column=label_column)
    qc = scan_qc(metrics_dir)
    prot = protein_availability(proteins)
    left_out = protein_exclusions(protein_qc) if protein_qc else {}
    excluded: list[tuple[str, str, str]] = []

    known = set(table["participant_id"])
    for pid in sorted(set(qc) - known):
        excluded.append((pid, "cohort", "has a T1w scan but no row in the participants table"))
    for pid in sorted((set(prot) | set(left_out)) - known):
        excluded.append((pid, "cohort", "has protein measurements but no row in the participants table"))

    rows = []
    for rec in table.to_dict("records"):
        pid = rec["participant_id"]
        label = rec[label_column]
        if label is None or (isinstance(label, float) and np.isnan(label)) or str(label).strip() == "":
            excluded.append((pid, "cohort", f"no value in column {label_column!r}"))
            continue
        label = str(label).strip()
        if label not in classes:
            excluded.append((pid, "cohort", f"label {label!r} is not one of classes {classes}"))
            continue
        has_mri = False
        if pid not in qc:
            excluded.append((pid, "mri", "no T1w scan found"))
        elif qc[pid].get("failed"):  # preprocess.on_error: exclude wrote a failure record
            reason = qc[pid].get("qc_reason") or "the scan could not be read or registered"
            excluded.append((pid, "mri", f"preprocessing failed: {reason}"))
        elif not qc[pid].get("qc_pass", True):
            reason = qc[pid].get("qc_reason") or "registration failed its quality threshold"
            excluded.append((pid, "mri", f"preprocessing QC failed: {reason}"))
        else:
            has_mri = True
        has_proteins = prot.get(pid, 0) > 0
        if not has_proteins:
            if pid in left_out:  # proteins.on_error: exclude, for a value cell that is not a number
                excluded.append((pid, "proteins", f"protein measurements excluded: {left_out[pid]}"))
            else:
                excluded.append((pid, "proteins", "no protein measurements" if pid not in prot
                                 else "all protein values missing"))
        if not (has_mri or has_proteins):
            excluded.append((pid, "cohort", "neither a usable scan nor protein measurements"))
            continue
        extra = {k: v for k, v in rec.items() if k not in ("participant_id", label_column)}
        rows.append({"participant_id": pid, "label": label, "label_index": classes.index(label),
                     "has_mri": has_mri, "has_proteins": has_proteins, **extra})

    if not rows:
        raise NeurofusionError("no participant is left in the cohort (see the reasons above)", path=participants,
                               fix="check label_column, classes and that scans/proteins match the participant IDs")
    cohort = pd.DataFrame(rows)
    cohort.insert(3, "fold", assign_folds(cohort["participant_id"], cohort["label"], folds, seed, source=participants))
    cohort = cohort.sort_values("participant_id", kind="stable").reset_index(drop=True)
    cohort["label_index"] = cohort["label_index"].astype("int32")
    cohort["fold"] = cohort["fold"].astype("int32")
    exclusions = pd.DataFrame(excluded, columns=["participant_id", "scope", "reason"])
    exclusions = exclusions.sort_values(["participant_id", "scope"], kind="stable").reset_index(drop=True)
    return cohort, exclusions
