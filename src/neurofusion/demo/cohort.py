"""Generate the whole demo cohort into one folder, all or nothing.

    OUT/bids/dataset_description.json, participants.tsv, participants.json
    OUT/bids/sub-XXX/anat/sub-XXX_T1w.nii.gz   (all but the last n_without_scan IDs)
    OUT/olink_explore_npx.csv                  (';'-separated Olink Explore long table)
    OUT/truth.json                             (what was planted; keys below)

truth.json keys:
    format, seed, space, classes, settings      how it was made (DemoSettings as a dict)
    mri_region        {"centers_mm": [[x, y, z], ...], "radius_mm": r, "effect": ...} (template mm)
    planted_proteins  [gene symbols] whose NPX moves with protein severity
    planted_protein_details  [{gene, uniprot, olink_id, panel, direction "up"/"down", npx_per_unit_severity}]
    expected_auc      {"mri_severity", "protein_severity", "both"}: AUC of the planted severities
    without_scan, without_proteins   [participant_id]
    npx               {replicate_subjects, unprefixed_subjects, qc_warning {participant: panel},
                       assay_warning, low_abundance_assays, control_sample_types}
    subjects          {participant_id: {diagnosis, age, sex, site, mri_severity, protein_severity,
                       has_scan, has_proteins, scan: null | {orientation, voxel_size_mm, shape,
                       native_affine, native_to_template (voxel -> template mm, 4x4),
                       template_to_scanner, warp, warp_max_displacement_mm, bias, gain,
                       noise_sigma, atrophy_fraction}}}

Randomness: one stream for the cohort table, one per subject's scan, one for the assay
table, all derived from the seed, so the same settings and seed give the same bytes.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from .. import TEMPLATE_SPACE, __version__
from ..errors import NeurofusionError
from ..io import all_or_nothing
from .anatomy import build_head_model
from .assays import ASSAYS, PLANTED, olink_id
from .proteins import CONTROLS, make_npx_table, write_npx_csv
from .scans import ScanPlan, nifti_gz_bytes, plan_scan, render_scan
from .settings import DemoSettings
from .subjects import DIAGNOSES, Subject, draw_subjects, expected_auc

TRUTH_FORMAT = "neurofusion-demo-truth/1"
_STREAM_COHORT, _STREAM_SCAN, _STREAM_PROTEINS = 0, 1, 2


def check_settings(settings: DemoSettings) -> None:
    n = settings.n_subjects
    if n < 4 or n > 999:
        raise NeurofusionError(f"--n-subjects {n} is out of range", fix="use 4 to 999 (IDs are sub-001 .. sub-999)")
    if settings.n_without_scan < 0 or settings.n_without_scan > n - 2:
        raise NeurofusionError(f"--n-without-scan {settings.n_without_scan} is out of range",
                               fix=f"use 0 to {n - 2} for {n} subjects")
    with_scan = n - settings.n_without_scan
    if settings.n_without_proteins < 0 or settings.n_without_proteins > with_scan:
        raise NeurofusionError(f"--n-without-proteins {settings.n_without_proteins} is out of range",
                               fix=f"use 0 to {with_scan} (they are drawn among the {with_scan} subjects with a scan)")
    measured = n - settings.n_without_proteins
    needed = settings.replicate_count + max(settings.n_unprefixed_samples, settings.n_warn_samples)
    if measured < needed:
        raise NeurofusionError(f"{measured} subjects with proteins are too few for the demo's assay features",
                               fix=f"use at least {needed + settings.n_without_proteins} subjects")


def _scan_rng(seed: int, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, _STREAM_SCAN, index])


def _render_one(job: tuple[int, int, float, DemoSettings]) -> tuple[ScanPlan, bytes]:
    """Plan and render subject ``index``'s scan; returns (plan, .nii.gz bytes)."""
    seed, index, mri_severity, settings = job
    head = build_head_model()
    rng = _scan_rng(seed, index)
    plan = plan_scan(mri_severity, head.bounds_mm, settings, rng)
    data = render_scan(plan, head, settings, rng)
    return plan, nifti_gz_bytes(data, plan.grid.affine)


def render_scans(subjects: list[Subject], settings: DemoSettings, seed: int, workers: int = 1):
    """Yield (subject, plan, bytes) for each subject with a scan, in ID order."""
    jobs = [(seed, i, s.mri_severity, settings) for i, s in enumerate(subjects) if s.has_scan]
    with_scan = [s for s in subjects if s.has_scan]
    build_head_model()                         # build (and cache) once, before any fork
    if workers <= 1:
        results = map(_render_one, jobs)
        yield from ((s, *r) for s, r in zip(with_scan, results))
        return
    import multiprocessing

    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork")) as pool:
        yield from ((s, *r) for s, r in zip(with_scan, pool.map(_render_one, jobs)))


def participants_tsv(subjects: list[Subject]) -> str:
    lines = ["participant_id\tdiagnosis\tage\tsex\tsite"]
    lines += [f"{s.participant_id}\t{s.diagnosis}\t{s.age}\t{s.sex}\t{s.site}" for s in subjects]
    return "\n".join(lines) + "\n"


def participants_json() -> dict:
    return {
        "participant_id": {"Description": "BIDS participant label"},
        "diagnosis": {"Description": "clinical group", "Levels": {"CN": "cognitively normal", "AD": "Alzheimer's disease"}},
        "age": {"Description": "age at scan", "Units": "year"},
        "sex": {"Description": "sex", "Levels": {"F": "female", "M": "male"}},
        "site": {"Description": "acquisition site"},
    }


def dataset_description() -> dict:
    return {
        "Name": "neurofusion demo cohort (synthetic)",
        "BIDSVersion": "1.9.0",
        "DatasetType": "raw",
        "License": "CC0",
        "Authors": ["neurofusion demo generator"],
        "GeneratedBy": [{"Name": "neurofusion demo-cohort", "Version": __version__,
                         "Description": "MNI152 2009a brain (nilearn) in a synthetic head; planted AD signal, see truth.json"}],
    }


def truth_document(subjects, plans: dict[str, ScanPlan], npx, settings: DemoSettings, seed: int) -> dict:
    assay_index = {a.gene: i for i, a in enumerate(ASSAYS)}
    return {
        "format": TRUTH_FORMAT,
        "seed": seed,
        "space": TEMPLATE_SPACE,
        "classes": list(DIAGNOSES),
        "settings": settings.to_json(),
        "mri_region": {
            "centers_mm": [list(c) for c in settings.atrophy_centers_mm],
            "radius_mm": settings.atrophy_radius_mm,
            "effect": "tissue replaced by CSF (darker), fraction atrophy_fraction at the centres, cosine taper to 0 at radius_mm",
        },
        "planted_proteins": list(PLANTED),
        "planted_protein_details": [
            {"gene": g, "uniprot": ASSAYS[assay_index[g]].uniprot, "olink_id": olink_id(assay_index[g]),
             "panel": ASSAYS[assay_index[g]].panel, "direction": "up" if d > 0 else "down",
             "npx_per_unit_severity": settings.protein_effect_npx}
            for g, d in PLANTED.items()
        ],
        "expected_auc": expected_auc(settings),
        "without_scan": [s.participant_id for s in subjects if not s.has_scan],
        "without_proteins": [s.participant_id for s in subjects if not s.has_proteins],
        "npx": {
            "replicate_subjects": npx.replicate_subjects,
            "unprefixed_subjects": npx.unprefixed_subjects,
            "qc_warning": npx.warn_subjects,
            "assay_warning": npx.warn_assay,
            "low_abundance_assays": npx.low_abundance_assays,
            "control_sample_types": sorted({kind for _, kind, _ in CONTROLS}),
        },
        "subjects": {
            s.participant_id: {
                "diagnosis": s.diagnosis, "age": s.age, "sex": s.sex, "site": s.site,
                "mri_severity": s.mri_severity, "protein_severity": s.protein_severity,
                "has_scan": s.has_scan, "has_proteins": s.has_proteins,
                "scan": plans[s.participant_id].to_json() if s.participant_id in plans else None,
            }
            for s in subjects
        },
    }


def _remove_stale_scans(bids: Path, keep: set[Path]) -> list[Path]:
    """Scans of an earlier, larger demo in the same folder would be taken for subjects."""
    stale = [p for p in sorted(bids.glob("sub-*/anat/sub-*_T1w.nii*")) if p not in keep]
    for p in stale:
        p.unlink()
    return stale


def _make_readable(paths) -> None:
    """Temporary files are created private (0600); give the outputs the usual umask mode."""
    umask = os.umask(0)
    os.umask(umask)
    for p in paths:
        os.chmod(p, 0o666 & ~umask)


def generate_cohort(out: str | os.PathLike, settings: DemoSettings, seed: int, workers: int = 1, log=print) -> dict:
    """Write the demo cohort under ``out``; returns the truth document."""
    check_settings(settings)
    if seed < 0:
        raise NeurofusionError(f"--seed {seed} is negative", fix="use a seed >= 0")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise NeurofusionError("--out exists and is not a folder", path=out, fix="give a folder path")
    bids = out / "bids"
    subjects = draw_subjects(settings, np.random.default_rng([seed, _STREAM_COHORT]))
    npx = make_npx_table(subjects, settings, np.random.default_rng([seed, _STREAM_PROTEINS]))
    scan_paths = {s.participant_id: bids / s.participant_id / "anat" / f"{s.participant_id}_T1w.nii.gz"
                  for s in subjects if s.has_scan}
    fixed = [bids / "participants.tsv", bids / "participants.json", bids / "dataset_description.json",
             out / "olink_explore_npx.csv", out / "truth.json"]
    plans: dict[str, ScanPlan] = {}
    with all_or_nothing(*fixed, *scan_paths.values()) as tmps:
        tmp_of = dict(zip([*fixed, *scan_paths.values()], tmps))
        for k, (subject, plan, data) in enumerate(render_scans(subjects, settings, seed, workers), start=1):
            tmp_of[scan_paths[subject.participant_id]].write_bytes(data)
            plans[subject.participant_id] = plan
            log(f"[{k}/{len(scan_paths)}] {subject.participant_id} {subject.diagnosis} {plan.grid.orientation} "
                f"{'x'.join(f'{v:g}' for v in plan.grid.voxel_size)} mm {plan.grid.shape}")
        tmp_of[fixed[0]].write_text(participants_tsv(subjects))
        tmp_of[fixed[1]].write_text(json.dumps(participants_json(), indent=2) + "\n")
        tmp_of[fixed[2]].write_text(json.dumps(dataset_description(), indent=2) + "\n")
        write_npx_csv(npx.table, tmp_of[fixed[3]])
        truth = truth_document(subjects, plans, npx, settings, seed)
        tmp_of[fixed[4]].write_text(json.dumps(truth, indent=2, sort_keys=True) + "\n")
    _make_readable([*fixed, *scan_paths.values()])
    for p in _remove_stale_scans(bids, set(scan_paths.values())):
        log(f"removed stale scan {p} (not part of this cohort)")
    return truth
