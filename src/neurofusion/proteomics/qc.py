"""Which measurements stay, with which flags: controls, unmatched IDs, bad cells, WARN and LOD policies.

Works on dictionary codes, so every per-row step is one vectorised NumPy operation and
per-ID decisions are taken once per distinct value.

A bad cell (a value or LOD that is neither a number nor a missing marker: the reader's
``problem`` column) stops the step under ``on_error: stop``. Under ``exclude`` its row is
dropped and its participant is named in ``FileRows.failed``; the build step then drops
that participant's other protein rows too, in every file. A file in which every
participant has a bad cell stops the step either way: then the table is what is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import NeurofusionError
from .measurements import Measurements, codes, indices
from .numbers import FIX
from .vocab import Vocab
from .qc_log import QcLog
from .samples import CONTROL_ID, INVALID_ID, UNMATCHED, SampleMatcher, is_control_type

WARN_POLICIES = ("flag", "drop")
LOD_POLICIES = ("keep", "lod", "half_lod", "missing")
ON_ERROR = ("exclude", "stop")
PASS_VALUES = {"pass", "ok", "passed", "na", "none", ""}
# row reason codes
R_KEEP, R_TYPE, R_CONTROL, R_UNMATCHED, R_INVALID, R_NO_ID, R_WARN, R_BAD = range(8)
REASONS = {R_TYPE: "control_sample_type", R_CONTROL: "control_sample_id", R_UNMATCHED: "unmatched_sample",
           R_INVALID: "invalid_sample_id", R_NO_ID: "missing_sample_id", R_WARN: "qc_warning",
           R_BAD: "bad_value"}


@dataclass
class FileRows:
    """The kept measurements of one file, coded against file-local lists."""
    path: Path
    participants: list[str]          # local participant code -> participant_id
    proteins: pd.DataFrame           # local protein code -> protein_id, uniprot, assay, panel, where
    participant: np.ndarray          # [n] int32
    protein: np.ndarray              # [n] int32
    value: np.ndarray                # [n] float64, NaN = missing
    below_lod: np.ndarray            # [n] bool
    qc_warning: np.ndarray           # [n] bool
    sample_ids: dict[str, list[str]]  # participant_id -> raw sample IDs seen
    failed: dict[str, tuple[str, int]] = field(default_factory=dict)  # participant -> (first bad cell, bad cells)


def _lookup(entries: np.ndarray, row_codes: np.ndarray, missing) -> np.ndarray:
    """entries[row_codes], with code -1 (null) giving ``missing``."""
    return np.append(entries, np.asarray([missing], dtype=entries.dtype))[row_codes]


def _flags(dictionary: list) -> np.ndarray:
    """Per dictionary entry: does this QC_Warning / Assay_Warning value flag the row?"""
    return np.array([v is not None and v.strip().lower() not in PASS_VALUES for v in dictionary], bool)


class _Proteins:
    """Proteins as they appear: global codes, annotation from the first row, one UniProt each."""

    def __init__(self, m: Measurements):
        self.m = m
        self.ids, self.uniprots = Vocab(), Vocab()
        self.uniprot = np.empty(0, np.int32)  # global protein -> global UniProt code (-1 none yet)
        self.seen = np.empty(0, bool)
        self.assay: list = []
        self.panel: list = []
        self.where: list = []

    def codes(self, batch, row0: int) -> np.ndarray:
        """-> global protein code per row [n] int32; raises on an assay with two UniProt IDs."""
        p_idx = indices(batch.column("protein_id"))
        if (p_idx < 0).any():
            r = row0 + int(np.flatnonzero(p_idx < 0)[0])
            raise NeurofusionError(f"{self.m.where(r)}: empty assay ID (OlinkID / Assay)", path=self.m.path,
                                   fix="fill in the assay's OlinkID, or delete the row")
        p_glob, _ = self.ids.codes_of(batch.column("protein_id").dictionary)
        grow = len(self.ids) - len(self.uniprot)
        if grow:
            self.uniprot = np.concatenate([self.uniprot, np.full(grow, -1, np.int32)])
            self.seen = np.concatenate([self.seen, np.zeros(grow, bool)])
            for lst in (self.assay, self.panel, self.where):
                lst.extend([None] * grow)
        u_idx = indices(batch.column("uniprot"))
        u_glob, _ = self.uniprots.codes_of(batch.column("uniprot").dictionary)
        u = _lookup(u_glob, u_idx, -1)                                  # [n] UniProt per row
        first = np.full(len(p_glob), -1, np.int64)
        first[p_idx[::-1]] = np.arange(len(p_idx) - 1, -1, -1)          # first row of each entry
        expected = u[first][p_idx]                                      # [n]
        bad = np.flatnonzero((u != expected) & (u >= 0) & (expected >= 0))
        if bad.size:
            r = int(bad[0])
            self._conflict(p_glob[p_idx[r]], u[r], row0 + r, expected[r], self.m.where(row0 + first[p_idx[r]]))
        seen = np.flatnonzero(first >= 0)
        g, ub = p_glob[seen], u[first[seen]]
        known = self.uniprot[g]
        clash = np.flatnonzero((known >= 0) & (ub >= 0) & (known != ub))
        if clash.size:
            i = clash[0]
            self._conflict(g[i], ub[i], row0 + first[seen[i]], known[i], self.where[g[i]])
        fill = (known < 0) & (ub >= 0)
        self.uniprot[g[fill]] = ub[fill]
        for i in np.flatnonzero(~self.seen[g]):  # proteins seen for the first time
            row = int(first[seen[i]])
            self.seen[g[i]] = True
            self.assay[g[i]] = batch.column("assay")[row].as_py()
            self.panel[g[i]] = batch.column("panel")[row].as_py()
            self.where[g[i]] = self.m.where(row0 + row)
        return p_glob[p_idx]

    def _conflict(self, protein, uniprot, row, other, other_where):
        raise NeurofusionError(
            f"{self.m.where(row)}, column UniProt: assay {self.ids.values[protein]} has UniProt "
            f"{self.uniprots.values[uniprot]} here but {self.uniprots.values[other]} at {other_where}",
            path=self.m.path, fix="one assay (OlinkID) must have one UniProt ID: correct the export")

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame({
            "protein_id": self.ids.values,
            "uniprot": [self.uniprots.values[c] if c >= 0 else None for c in self.uniprot],
            "assay": self.assay, "panel": self.panel, "where": self.where})


class _Samples:
    """Distinct sample IDs as they appear, each classified once by the matcher."""

    def __init__(self, matcher: SampleMatcher):
        self.matcher = matcher
        self.ids = Vocab()
        self.status = np.empty(0, np.int8)
        self.participant: list[str | None] = []

    def codes(self, batch) -> np.ndarray:
        """-> global sample code per row [n] int32 (-1 = no sample ID)."""
        s_idx = indices(batch.column("sample_id"))
        g, _ = self.ids.codes_of(batch.column("sample_id").dictionary)
        if len(self.ids) > len(self.status):
            status, participant = self.matcher.classify(self.ids.values[len(self.status):])
            self.status = np.concatenate([self.status, status])
            self.participant += participant
        return _lookup(g, s_idx, -1)


def apply_lod_policy(value: np.ndarray, lod: np.ndarray, below: np.ndarray, policy: str, scale: str) -> np.ndarray:
    """Values below LOD: keep as measured, set to LOD, to half LOD (LOD - 1 on the log2 NPX scale), or missing."""
    if policy == "keep" or not below.any():
        return value
    if policy == "lod":
        replacement = lod
    elif policy == "half_lod":
        replacement = lod - 1.0 if scale == "log2" else lod / 2.0
    else:
        replacement = np.nan
    return np.where(below, replacement, value)


def _grow_add(total: np.ndarray, add: np.ndarray) -> np.ndarray:
    if len(add) > len(total):
        total = np.concatenate([total, np.zeros(len(add) - len(total), total.dtype)])
    total[: len(add)] += add
    return total


def _problems(batch) -> tuple[np.ndarray, list]:
    """Rows of the batch with a bad cell, and the problem of each (the reader's ``problem`` column)."""
    column = batch.column("problem")
    if column.null_count == len(column):
        return np.empty(0, np.int64), []
    row_codes, texts = codes(column)
    rows = np.flatnonzero(row_codes >= 0)
    return rows, [texts[c] for c in row_codes[rows]]


def select_rows(m: Measurements, matcher: SampleMatcher, warn_policy: str, lod_policy: str, log: QcLog,
                on_error: str = "stop") -> FileRows:
    """Stream the file's batches; keep real samples' rows, flagged and LOD-handled, as compact arrays."""
    samples, proteins = _Samples(matcher), _Proteins(m)
    status_to_reason = np.array([R_KEEP, R_CONTROL, R_UNMATCHED, R_INVALID], np.int8)
    kept = {k: [] for k in ("sample", "protein", "value", "below", "warn")}
    reasons = np.zeros(len(REASONS) + 1, np.int64)
    dropped_per_sample = np.zeros(0, np.int64)
    type_per_sample = np.zeros(0, np.int64)
    bad_samples: dict[int, list] = {}  # sample code -> [first bad cell with its place, bad cells]
    row0 = n_below = n_warn = 0
    for batch in m.batches:
        n = batch.num_rows
        if n == 0:
            continue
        bad_rows, bad_texts = _problems(batch)
        if bad_rows.size and on_error == "stop":
            raise NeurofusionError(f"{m.where(row0 + bad_rows[0])}, {bad_texts[0]}", path=m.path, fix=FIX)
        row_p = proteins.codes(batch, row0)                                       # [n]
        row_s = samples.codes(batch)                                              # [n]
        reason = _lookup(status_to_reason[samples.status], row_s, R_NO_ID)        # [n] int8
        st_idx, st_dict = codes(batch.column("sample_type"))
        control_type = _lookup(np.array([is_control_type(v) for v in st_dict], bool), st_idx, False)
        reason[control_type] = R_TYPE
        if bad_rows.size:  # a participant's row only: controls and unmatched rows go anyway
            mine = reason[bad_rows] == R_KEEP
            reason[bad_rows[mine]] = R_BAD
            _note_bad(bad_samples, m, row0, row_s, bad_rows[mine], [t for t, x in zip(bad_texts, mine) if x])
        q_idx, q_dict = codes(batch.column("qc_warning"))
        a_idx, a_dict = codes(batch.column("assay_warning"))
        warn = _lookup(_flags(q_dict), q_idx, False) | _lookup(_flags(a_dict), a_idx, False)
        if warn_policy == "drop":
            reason[(reason == R_KEEP) & warn] = R_WARN
        reasons += np.bincount(reason, minlength=len(reasons))
        keep = reason == R_KEEP
        has_id = row_s >= 0
        dropped = ~keep & has_id & (reason != R_BAD)  # bad cells are listed per participant (build.py)
        dropped_per_sample = _grow_add(dropped_per_sample, np.bincount(row_s[dropped], minlength=len(samples.ids)))
        type_per_sample = _grow_add(type_per_sample, np.bincount(row_s[control_type & has_id], minlength=len(samples.ids)))
        value = batch.column("value").to_numpy(zero_copy_only=False)[keep]
        lod = batch.column("lod").to_numpy(zero_copy_only=False)[keep]
        below = value < lod                                                       # NaN -> False
        kept["value"].append(apply_lod_policy(value, lod, below, lod_policy, m.scale))
        kept["below"].append(below)
        kept["warn"].append(warn[keep])
        kept["sample"].append(row_s[keep])
        kept["protein"].append(row_p[keep])
        n_below += int(below.sum())
        n_warn += int(warn[keep].sum())
        row0 += n
    if row0 == 0:
        raise NeurofusionError("the table has no data rows", path=m.path, fix="export the table again")
    _log_drops(m, log, reasons, samples, dropped_per_sample, type_per_sample)
    columns = {k: (v[0] if len(v) == 1 else np.concatenate(v)) for k, v in kept.items()}
    kept.clear()
    present = np.bincount(columns["sample"], minlength=len(samples.ids)) > 0  # sample IDs with kept rows
    failed = _failed_participants(bad_samples, samples)
    if failed and {samples.participant[i] for i in np.flatnonzero(present)} <= set(failed):
        first = next(iter(failed.values()))[0]
        raise NeurofusionError(f"{first}, and every sample of the file has such a cell", path=m.path,
                               fix="check the decimal mark and the separator; " + FIX)
    n_keep = row0 - int(reasons[1:].sum())
    if n_keep == 0:
        counts = ", ".join(f"{REASONS[r]}: {c}" for r, c in enumerate(reasons) if c and r)
        raise NeurofusionError(f"no real samples left ({counts})", path=m.path,
                               fix="check --participants / cohort.id_column / proteins.sample_id_regex "
                                   "against the sample IDs, or remove the file from `proteomics:`")
    names = sorted({samples.participant[i] for i in np.flatnonzero(present)})
    local = {p: i for i, p in enumerate(names)}
    to_local = np.array([local[p] if present[i] else -1 for i, p in enumerate(samples.participant)], np.int32)
    sample_ids: dict[str, list[str]] = {}
    for i in np.flatnonzero(present):
        sample_ids.setdefault(samples.participant[i], []).append(samples.ids.values[i])
    protein_frame = proteins.frame()
    log.add("file", m.path.name, n_keep, f"{m.kind}, {row0} rows read, {len(samples.ids)} sample IDs, "
                                         f"{len(protein_frame)} assays")
    log.add("flagged", f"below_lod:{m.path.name}", n_below, f"lod_policy={lod_policy}")
    log.add("flagged", f"qc_warning:{m.path.name}", n_warn, f"warn_policy={warn_policy}")
    return FileRows(m.path, names, protein_frame, to_local[columns.pop("sample")], columns.pop("protein"),
                    columns.pop("value"), columns.pop("below"), columns.pop("warn"), sample_ids, failed)


def _note_bad(bad_samples: dict[int, list], m: Measurements, row0: int, row_s: np.ndarray, rows: np.ndarray,
              texts: list) -> None:
    """Count each sample's bad cells; keep the place and problem of its first."""
    for row, text in zip(rows, texts):
        entry = bad_samples.setdefault(int(row_s[row]), [None, 0])
        if entry[0] is None:
            entry[0] = f"{m.where(row0 + row)}, {text}"
        entry[1] += 1


def _failed_participants(bad_samples: dict[int, list], samples: _Samples) -> dict[str, tuple[str, int]]:
    """participant -> (its first bad cell, bad cells), over all of its sample IDs, in file order."""
    failed: dict[str, tuple[str, int]] = {}
    for code, (first, count) in bad_samples.items():
        pid = samples.participant[code]
        seen = failed.get(pid)
        failed[pid] = (seen[0], seen[1] + count) if seen else (first, count)
    return failed


def drop_participants(rows: FileRows, excluded: set[str]) -> int:
    """Remove every kept row of the ``excluded`` participants from ``rows``; -> rows removed."""
    gone = [i for i, p in enumerate(rows.participants) if p in excluded]
    if not gone:
        return 0
    stay = np.ones(len(rows.participants), bool)
    stay[gone] = False
    renumber = np.where(stay, np.cumsum(stay) - 1, -1).astype(np.int32)
    keep = stay[rows.participant]
    rows.participants = [p for p in rows.participants if p not in excluded]
    rows.participant = renumber[rows.participant[keep]]
    rows.protein, rows.value = rows.protein[keep], rows.value[keep]
    rows.below_lod, rows.qc_warning = rows.below_lod[keep], rows.qc_warning[keep]
    rows.sample_ids = {p: v for p, v in rows.sample_ids.items() if p not in excluded}
    return int((~keep).sum())


def _log_drops(m, log, reasons, samples: _Samples, dropped_per_sample, type_per_sample) -> None:
    for r, name in REASONS.items():
        if reasons[r]:
            log.add("dropped", f"{name}:{m.path.name}", int(reasons[r]), "rows")
    sections = {CONTROL_ID: "control_sample", UNMATCHED: "unmatched_sample", INVALID_ID: "invalid_sample"}
    for i in np.flatnonzero(dropped_per_sample):
        raw, status = samples.ids.values[i], samples.status[i]
        if type_per_sample[i] or status == CONTROL_ID:
            log.add("control_sample", raw, int(dropped_per_sample[i]), m.path.name)
        elif status in sections:
            log.add(sections[status], raw, int(dropped_per_sample[i]), m.path.name)
        else:
            log.add("dropped_sample", raw, int(dropped_per_sample[i]), f"{m.path.name}: QC warning rows")
