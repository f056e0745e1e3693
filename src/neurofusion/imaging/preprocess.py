"""Whole-head T1w scan -> skull-stripped, bias-corrected, template-space brain (one subject).

    read (nibabel, RAS) -> deepbet brain mask -> N4 inside the mask (fit on a >= 6 mm grid)
      -> affine to the 2 mm template brain (SimpleITK, centre-of-mass start, 2 levels)
      -> resample onto the template grid at --resolution -> robust z-score in the brain
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import NeurofusionError
from ..io import all_or_nothing, write_json
from .nifti import Scan, load_scan, participant_id_from_path, save_nifti
from .registration import (SEED, AffineSettings, n4_bias_field, register_affine, resample_to_template,
                           resampled_to_spacing, smoothed_to, to_itk)
from .template import SPACE, check_resolution, load_template

REGISTRATION_RESOLUTION = 2.0  # the template grid the affine is fitted on, whatever the output grid
# N4 fits its bias field inside the brain on block means of at least this spacing, 2 fitting
# levels of 10 iterations (N4 costs ~1 us per coarse voxel per iteration). Measured against
# the demo's true bias fields (benchmarks/bench_n4.py, 20 scans; residual log-bias SD inside
# the brain mask, lower = better; uncorrected 0.046): 6 mm 2x10 0.031 in 0.39 s CPU, 4 mm 2x10
# 0.031 in 0.94 s, 4 mm 3x10 (the earlier default) 0.036 in 1.39 s, 6 mm 1x20 0.035; a third
# level's finer B-spline mesh starts fitting anatomy as bias. 8 mm 2x10 did as well here (0.031 in
# 0.22 s), but the demo's fields are quadratic; a real coil's field has more structure than 8 mm
# block means of a brain-sized box (~20 per axis) resolve comfortably.
N4_GRID_MM = 6.0
N4_ITERATIONS = (10, 10)
MIN_BRAIN_ML = 200.0  # less than this is no brain (wrong file, or extraction failed)


@dataclass
class PreprocessOutputs:
    image: str
    mask: str
    transform: str
    qc_png: str | None = None
    metrics: str | None = None
    timings: str | None = None  # seconds per step: the machine's, so kept out of ``metrics``

    def paths(self) -> list[str]:
        return [p for p in (self.image, self.mask, self.transform, self.qc_png, self.metrics, self.timings) if p]


@dataclass
class _Timer:
    """Wall-clock and process CPU seconds per step (CPU time is robust to a busy machine)."""

    seconds: dict[str, float] = field(default_factory=dict)
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    _wall: float = field(default_factory=time.perf_counter)
    _cpu: float = field(default_factory=time.process_time)

    def lap(self, name: str) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        self.seconds[name] = round(wall - self._wall, 3)
        self.cpu_seconds[name] = round(cpu - self._cpu, 3)
        self._wall, self._cpu = wall, cpu


def _brain_mask(scan: Scan, resolution: float) -> np.ndarray:
    from .brain_extraction import extract_brain

    try:
        mask = extract_brain(scan.data, resolution)
    except (AssertionError, ValueError, RuntimeError):
        mask = np.zeros(scan.data.shape, bool)
    volume_ml = mask.sum() * float(np.prod(scan.voxel_size)) / 1000.0
    if volume_ml < MIN_BRAIN_ML:
        raise NeurofusionError(f"no brain found (brain extraction gave {volume_ml:.0f} mL)", path=scan.path,
                               fix="check that the file is a T1-weighted head scan")
    return mask


def _brain_box(mask: np.ndarray, margin: int) -> tuple[slice, slice, slice]:
    idx = np.argwhere(mask)
    lo = np.maximum(idx.min(axis=0) - margin, 0)
    hi = np.minimum(idx.max(axis=0) + 1 + margin, mask.shape)
    return tuple(slice(int(a), int(b)) for a, b in zip(lo, hi))


def _block_mean(a: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """[X, Y, Z] -> [ceil(X/fx), ceil(Y/fy), ceil(Z/fz)] means of blocks (zero-padded at the far end)."""
    shape = tuple(int(np.ceil(n / f)) for n, f in zip(a.shape, factors))
    padded = np.pad(a, [(0, s * f - n) for s, f, n in zip(shape, factors, a.shape)])
    return padded.reshape(shape[0], factors[0], shape[1], factors[1], shape[2], factors[2]).mean(axis=(1, 3, 5))


def _bias_corrected(scan: Scan, mask: np.ndarray) -> np.ndarray:
    """float32 [X, Y, Z]: the scan divided by N4's bias field, fitted inside ``mask`` on a coarse grid.

    N4's cost grows with voxels x iterations and the field is smooth, so it is fitted on block
    means of the brain's bounding box (>= 6 mm voxels) and interpolated back to the native voxels.
    """
    from scipy import ndimage

    data = np.clip(scan.data, 0.0, None)
    box = _brain_box(mask, margin=2)
    factors = np.maximum(1, np.ceil(N4_GRID_MM / scan.voxel_size - 1e-6)).astype(int)  # 1.6 mm -> 4 (6.4 mm)
    weight = _block_mean(mask[box].astype(np.float32), factors)  # (x, y, z) on the coarse grid
    coarse = _block_mean(np.where(mask[box], data[box], 0.0), factors) / np.maximum(weight, 1e-6)
    coarse_mask = weight > 0.5
    coarse = np.maximum(coarse, 1e-3 * float(np.percentile(coarse[coarse_mask], 99)))
    affine = scan.affine.copy()
    affine[:3, :3] = affine[:3, :3] * factors
    field = n4_bias_field(coarse.astype(np.float32), coarse_mask, affine, N4_ITERATIONS, tolerance=1e-4)
    # native voxel i of the box sits at coarse coordinate (i - (f - 1) / 2) / f
    axes = [(np.arange(n) - (f - 1) / 2) / f for n, f in zip(data[box].shape, factors)]
    full = ndimage.map_coordinates(field, np.meshgrid(*axes, indexing="ij"), order=1, mode="nearest")
    corrected = data.copy()
    corrected[box] = data[box] / np.maximum(full, 1e-3)
    return corrected.astype(np.float32)


def _box_affine(affine: np.ndarray, box: tuple[slice, slice, slice]) -> np.ndarray:
    shifted = affine.copy()
    shifted[:3, 3] = affine[:3, :3] @ np.array([b.start for b in box]) + affine[:3, 3]
    return shifted


def _robust_zscore(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(x - median) / (1.4826 MAD) inside ``mask``, 0 outside; float32."""
    values = image[mask]
    median = float(np.median(values))
    mad = 1.4826 * float(np.median(np.abs(values - median)))
    scale = mad if mad > 0 else float(values.std()) or 1.0
    return np.where(mask, (image - median) / scale, 0.0).astype(np.float32)


ON_ERROR = ("exclude", "stop")


def preprocess_t1w(t1w: str, outputs: PreprocessOutputs, resolution: float = 2.0, min_dice: float = 0.85,
                   seed: int = SEED, threads: int = 1, template_dir: str | os.PathLike | None = None,
                   on_error: str = "stop") -> dict:
    """Run the whole chain for one scan, write every output (all or nothing) and return the metrics.

    ``on_error``: what a scan that cannot be read or registered does. ``stop`` raises its
    one-line :class:`NeurofusionError`; ``exclude`` writes a failure record instead (metrics
    with ``qc_pass: false``, ``failed: true`` and the reason, a QC picture saying why, and
    :mod:`neurofusion.failure` records in place of the image, mask and transform) and
    returns those metrics. A missing template is never the scan's fault: it always raises.
    """
    if on_error not in ON_ERROR:
        raise NeurofusionError(f"on_error {on_error!r} is not one of {', '.join(ON_ERROR)}",
                               fix="set preprocess.on_error to exclude or stop")
    resolution = check_resolution(resolution)
    timer = _Timer()
    reg_tpl = load_template(REGISTRATION_RESOLUTION, template_dir)
    tpl = load_template(resolution, template_dir)  # both before any work: a missing file fails fast
    timer.lap("template")
    workdir = tempfile.mkdtemp(prefix="nf-preproc-")
    try:
        try:
            scan, native_mask, image, mask, transform = _register(t1w, reg_tpl, tpl, resolution, seed, workdir, timer)
        except NeurofusionError as exc:
            if on_error == "stop":
                raise
            return _write_failure(t1w, outputs, str(exc), tpl, min_dice, seed, threads, timer)
        metrics = _metrics(scan, native_mask, image, mask, tpl, min_dice, seed, threads)
        with all_or_nothing(*outputs.paths()) as tmp:
            tmp_of = dict(zip(outputs.paths(), tmp))
            save_nifti(tmp_of[outputs.image], image, tpl.affine, np.float32)
            save_nifti(tmp_of[outputs.mask], mask, tpl.affine, np.uint8)
            shutil.copyfile(transform, tmp_of[outputs.transform])
            if outputs.qc_png:
                from .qc import save_qc_png

                verdict = "pass" if metrics["qc_pass"] else "FAIL"
                title = (f"{metrics['participant_id'] or os.path.basename(t1w)}   Dice {metrics['dice']:.3f}   "
                         f"r {metrics['correlation']:.2f}   QC {verdict}")
                save_qc_png(tmp_of[outputs.qc_png], image, mask, tpl.mask, title)
            timer.lap("write")
            _write_records(metrics, timer, outputs, tmp_of)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return metrics


def _register(t1w, reg_tpl, tpl, resolution, seed, workdir, timer):
    """read -> brain mask -> N4 -> affine -> resample: (scan, native mask, image, mask, transform file).

    Everything that can go wrong here is the scan's: ITK's own errors become one-line
    NeurofusionErrors naming the file.
    """
    scan = load_scan(t1w)
    timer.lap("read")
    native_mask = _brain_mask(scan, resolution)
    timer.lap("brain_extraction")
    try:
        corrected = _bias_corrected(scan, native_mask)
        timer.lap("bias_correction")
        fixed = to_itk(reg_tpl.brain, reg_tpl.affine)
        box = _brain_box(native_mask, margin=int(np.ceil(10.0 / scan.voxel_size.min())))  # brain + 10 mm
        box_affine = _box_affine(scan.affine, box)
        brain = np.where(native_mask[box], corrected[box], 0.0)
        moving = smoothed_to(to_itk(brain, box_affine), REGISTRATION_RESOLUTION)
        if min(moving.GetSpacing()) < 0.75 * REGISTRATION_RESOLUTION:
            moving = resampled_to_spacing(moving, REGISTRATION_RESOLUTION)
        transform = os.path.join(workdir, "fwd.mat")
        register_affine(fixed, moving, transform, AffineSettings(), seed=seed)
        timer.lap("registration")

        grid = to_itk(np.zeros(tpl.shape, np.float32), tpl.affine)
        subject = smoothed_to(to_itk(corrected[box], box_affine), resolution)
        warped = resample_to_template(subject, grid, transform)
        mask = resample_to_template(to_itk(native_mask[box].astype(np.float32), box_affine), grid, transform) > 0.5
    except RuntimeError as exc:  # SimpleITK raises RuntimeError for a fit it cannot do
        first = next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
        raise NeurofusionError(f"cannot be registered to the template ({first[:160]})", path=t1w,
                               fix="check that the file is a whole-head T1-weighted scan") from None
    if not mask.any():
        raise NeurofusionError("the registered brain falls outside the template grid", path=t1w,
                               fix="check the header's sform/qform orientation")
    image = _robust_zscore(warped, mask)
    timer.lap("resample")
    return scan, native_mask, image, mask, transform


def _write_records(metrics: dict, timer: _Timer, outputs: PreprocessOutputs, tmp_of: dict) -> None:
    """The metrics (the same bytes on every machine and run) and, apart, the times per step.

    Wall and CPU seconds depend on the machine and its load, so they never go into the
    metrics file: same inputs, same outputs. The returned metrics carry them for the log line.
    """
    if outputs.metrics:
        write_json(tmp_of[outputs.metrics], metrics)
    metrics["seconds"] = dict(timer.seconds, total=round(sum(timer.seconds.values()), 3))
    metrics["cpu_seconds"] = dict(timer.cpu_seconds, total=round(sum(timer.cpu_seconds.values()), 3))
    if outputs.timings:
        write_json(tmp_of[outputs.timings], {"participant_id": metrics["participant_id"],
                                             "seconds": metrics["seconds"], "cpu_seconds": metrics["cpu_seconds"]})


def _write_failure(t1w, outputs: PreprocessOutputs, reason: str, tpl, min_dice, seed, threads, timer) -> dict:
    """The failure record of a scan (``on_error: exclude``): every output, all or nothing."""
    from ..failure import failure_record_bytes
    from .qc import save_failure_png

    reason = " ".join(reason.split())
    metrics = {
        "participant_id": participant_id_from_path(t1w),
        "source": os.fspath(t1w),
        "space": SPACE,
        "resolution_mm": tpl.resolution,
        "min_dice": float(min_dice),
        "failed": True,
        "qc_pass": False,
        "qc_reason": reason,
        "seed": int(seed),
        "threads": int(threads),
    }
    with all_or_nothing(*outputs.paths()) as tmp:
        tmp_of = dict(zip(outputs.paths(), tmp))
        for path in (outputs.image, outputs.mask, outputs.transform):
            tmp_of[path].write_bytes(failure_record_bytes(reason))
        if outputs.qc_png:
            save_failure_png(tmp_of[outputs.qc_png], metrics["participant_id"] or os.path.basename(t1w), reason)
        timer.lap("write")
        _write_records(metrics, timer, outputs, tmp_of)
    return metrics


def brain_mask_volume_ml(mask: np.ndarray, affine: np.ndarray) -> float:
    """Volume of a native-space brain mask in mL: voxels x |det| of the affine (any shear).

    What it measures: deepbet's brain mask, i.e. brain tissue plus the CSF it encloses
    (ventricles, sulci), without the CSF outside the brain; it is not the intracranial
    volume. On the demo it is ~1,500-2,500 mL because the demo heads are nilearn's
    MNI152 2009a template brain (its mask alone is 1,883 mL: the template lives in the
    enlarged MNI space) scaled by 0.9-1.1 per axis; an adult brain scanned natively
    measures ~1,000-1,600 mL.
    """
    return float(np.count_nonzero(mask)) * abs(float(np.linalg.det(np.asarray(affine)[:3, :3]))) / 1000.0


def _metrics(scan, native_mask, image, mask, tpl, min_dice, seed, threads) -> dict:
    from .qc import correlation, dice

    overlap = dice(mask, tpl.mask)
    similarity = correlation(image, tpl.brain, tpl.mask)
    qc_pass = bool(overlap >= min_dice)
    reason = "" if qc_pass else f"registration Dice {overlap:.3f} with the template brain mask is below min_dice {min_dice:g}"
    return {
        "participant_id": participant_id_from_path(scan.path),
        "source": os.fspath(scan.path),  # as given: no output depends on where the project lives
        "space": SPACE,
        "resolution_mm": tpl.resolution,
        "shape": list(tpl.shape),
        "input_voxel_mm": [round(float(v), 4) for v in scan.voxel_size],
        "input_shape": list(scan.data.shape),
        "brain_mask_volume_ml": round(brain_mask_volume_ml(native_mask, scan.affine), 2),
        "dice": round(overlap, 4),
        "correlation": round(similarity, 4),
        "min_dice": float(min_dice),
        "qc_pass": qc_pass,
        "qc_reason": reason,
        "seed": int(seed),
        "threads": int(threads),
    }
