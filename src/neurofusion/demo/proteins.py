"""The demo's Olink Explore-style NPX export: one ';'-separated long table.

Layout of each plate (96 wells): subject samples, one subject measured twice (same
SampleID, two wells), then 2 sample controls, 3 negative controls and 3 plate controls.
For subject s and assay a (NPX is log2-scale):

    NPX = base_a + sample_level_s + noise_a,s + [planted a] direction_a * effect * protein_severity_s

Quality features a reader must cope with: QC_Warning = WARN for a few samples in one
panel (and noisier values there), one assay with Assay_Warning = WARN, three
low-abundance assays with many values below LOD (reported, as Explore does), and a few
SampleIDs written without the ``sub-`` prefix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .assays import ASSAYS, PANEL_LOTS, PLANTED, olink_id
from .settings import DemoSettings
from .subjects import Subject

COLUMNS = ["SampleID", "Index", "OlinkID", "UniProt", "Assay", "MissingFreq", "Panel", "Panel_Lot_Nr",
           "PlateID", "QC_Warning", "LOD", "NPX", "Normalization", "Assay_Warning", "Sample_Type", "ExploreVersion"]
SAMPLES_PER_PLATE = 88
CONTROLS = (("CONTROL_SAMPLE", "CONTROL", 2), ("NEGATIVE_CONTROL", "NEGATIVE_CONTROL", 3), ("PLATE_CONTROL", "PLATE_CONTROL", 3))
N_LOW_ABUNDANCE = 3


@dataclass(frozen=True)
class NpxTable:
    table: pd.DataFrame
    replicate_subjects: list[str]
    unprefixed_subjects: list[str]
    warn_subjects: dict[str, str]      # participant -> panel with QC_Warning = WARN
    warn_assay: str                    # gene with Assay_Warning = WARN
    low_abundance_assays: list[str]


@dataclass(frozen=True)
class _Well:
    sample_id: str
    sample_type: str
    subject: Subject | None
    replicate: bool = False


def _wells(subjects: list[Subject], replicates: list[str], unprefixed: set[str], rng: np.random.Generator) -> list[list[_Well]]:
    """Plates of wells: shuffled subject samples (+ replicates), then the controls."""
    measured = [s for s in subjects if s.has_proteins]
    samples = [_Well(s.participant_id.removeprefix("sub-") if s.participant_id in unprefixed else s.participant_id, "SAMPLE", s)
               for s in measured]
    by_id = {s.participant_id: s for s in measured}
    samples += [_Well(pid, "SAMPLE", by_id[pid], replicate=True) for pid in replicates]
    order = rng.permutation(len(samples))
    samples = [samples[i] for i in order]
    plates = []
    for start in range(0, len(samples), SAMPLES_PER_PLATE):
        wells = samples[start:start + SAMPLES_PER_PLATE]
        for prefix, kind, count in CONTROLS:
            wells += [_Well(f"{prefix}_{k}", kind, None) for k in range(1, count + 1)]
        plates.append(wells)
    return plates


def make_npx_table(subjects: list[Subject], settings: DemoSettings, rng: np.random.Generator) -> NpxTable:
    n_assays = len(ASSAYS)
    base = rng.uniform(2.0, 11.0, n_assays)                       # [A] NPX
    sd = rng.uniform(0.5, 1.1, n_assays)                          # [A]
    planted = np.array([PLANTED.get(a.gene, 0) for a in ASSAYS])  # [A] -1 / 0 / +1
    sd = np.where(planted != 0, settings.protein_noise_planted, sd)
    neutral = np.flatnonzero(planted == 0)
    low = rng.choice(neutral, N_LOW_ABUNDANCE, replace=False)
    lod = base - rng.uniform(2.2, 3.0, n_assays) * sd
    lod[low] = base[low] + rng.uniform(-0.3, 0.3, N_LOW_ABUNDANCE) * sd[low]
    warn_assay = int(rng.choice(np.setdiff1d(neutral, low)))

    measured = [s.participant_id for s in subjects if s.has_proteins]
    replicates = sorted(rng.choice(measured, settings.replicate_count, replace=False).tolist())
    others = [p for p in measured if p not in replicates]
    unprefixed = sorted(rng.choice(others, settings.n_unprefixed_samples, replace=False).tolist())
    warn_ids = sorted(rng.choice(others, settings.n_warn_samples, replace=False).tolist())
    panels = sorted(PANEL_LOTS)
    warn_panel = {pid: panels[int(rng.integers(len(panels)))] for pid in warn_ids}

    subject_values: dict[str, np.ndarray] = {}
    for s in subjects:                       # drawn for everyone, so has_proteins does not shift the stream
        level = rng.normal(0.0, 0.15)
        values = base + level + sd * rng.standard_normal(n_assays)
        values += planted * settings.protein_effect_npx * s.protein_severity
        subject_values[s.participant_id] = values

    rows = []
    for plate_no, wells in enumerate(_wells(subjects, replicates, set(unprefixed), rng), start=1):
        plate_id = f"DEMO_PLATE_{plate_no}"
        for index, well in enumerate(wells, start=1):
            flag = np.zeros(n_assays, bool)
            if well.subject is not None:
                values = subject_values[well.subject.participant_id].copy()
                if well.replicate:
                    values += rng.normal(0.0, 0.15, n_assays)
                panel = warn_panel.get(well.subject.participant_id)
                if panel is not None:
                    flag = np.array([a.panel == panel for a in ASSAYS])
                    values += flag * rng.normal(0.0, 0.6, n_assays)
            elif well.sample_type == "NEGATIVE_CONTROL":
                values = lod - rng.uniform(0.5, 1.5, n_assays)
            else:
                values = base + rng.normal(0.0, 0.1, n_assays)
            rows.append((well, plate_id, index, values, flag))

    sample_rows = [(r[3] < lod) for r in rows if r[0].sample_type == "SAMPLE"]
    missing_freq = np.mean(sample_rows, axis=0) if sample_rows else np.zeros(n_assays)
    records = []
    for well, plate_id, index, values, flag in rows:
        for a, assay in enumerate(ASSAYS):
            records.append((
                well.sample_id, index, olink_id(a), assay.uniprot, assay.gene, f"{missing_freq[a]:.4f}",
                assay.panel, PANEL_LOTS[assay.panel], plate_id, "WARN" if flag[a] else "PASS",
                f"{lod[a]:.4f}", f"{values[a]:.4f}", "Intensity", "WARN" if a == warn_assay else "PASS",
                well.sample_type, settings.explore_version,
            ))
    return NpxTable(
        table=pd.DataFrame.from_records(records, columns=COLUMNS),
        replicate_subjects=replicates,
        unprefixed_subjects=unprefixed,
        warn_subjects=warn_panel,
        warn_assay=ASSAYS[warn_assay].gene,
        low_abundance_assays=[ASSAYS[i].gene for i in sorted(low)],
    )


def write_npx_csv(table: pd.DataFrame, path) -> None:
    """';'-separated, '.' decimals, LF line ends (values are pre-formatted strings)."""
    table.to_csv(path, sep=";", index=False, lineterminator="\n")
