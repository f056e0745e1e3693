"""What each imaging stage keeps of the planted MRI signal: a linear probe per stage.

On a finished demo run (a results folder with a truth.json), a cross-validated ridge
regression predicts each subject's planted MRI severity from what one stage hands on,
restricted to the planted region:

    preprocessed brain   mean intensity inside the planted spheres (the truth-informed readout)
    patch statistics     the non-learned intensity encoder's 35 statistics of each region patch
    patch mean           one number per region patch: its mean in-brain intensity
    embeddings           the run's embedding shards for the region patches (the encoder under test)

and prints the out-of-fold Pearson r and R^2 of each against the severity, so a lossy stage
(an encoder that learned invariance to the very intensity change atrophy causes) shows up
as a drop between two lines. The region patches are those whose box overlaps a planted
sphere. The baseline is the first line, measured in the same run.

    .venv/bin/python benchmarks/probe_embeddings.py --results results [--folds 5] [--seed 0]
"""

from __future__ import annotations

from neurofusion.kernels import choose_cpu_kernels  # before numpy/torch load: the steps' kernels

choose_cpu_kernels()  # AVX2 kernels unless NEUROFUSION_CPU_KERNELS=native, as every step

import argparse
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import torch
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import KFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from neurofusion.attention.planted import read_truth
from neurofusion.embeddings.intensity import IntensityEncoder
from neurofusion.embeddings.patchfiles import open_patch_array
from neurofusion.embeddings.store import read_embeddings
from neurofusion.io import read_json
from neurofusion.runtime import cpu_description


def region_patches(grid: pd.DataFrame, truth, voxel_mm: float, centre_only: bool = False) -> np.ndarray:
    """Rows of the patches whose box overlaps a planted sphere (nearest box point within the
    radius), or with ``centre_only`` the patch whose box holds each sphere's centre."""
    centres = grid[["x_mm", "y_mm", "z_mm"]].to_numpy(float)
    half = (grid["i1"] - grid["i0"]).to_numpy(float)[:, None] * voxel_mm / 2  # [P, 1]
    keep = np.zeros(len(grid), bool)
    for centre, radius in truth.regions:
        if centre_only:
            keep[np.argmin(np.linalg.norm(centres - centre, axis=1))] = True
        else:
            nearest = np.clip(centre, centres - half, centres + half)
            keep |= np.linalg.norm(nearest - centre, axis=1) <= radius
    return np.flatnonzero(keep)


def sphere_means(results: Path, subjects: list[str], truth) -> np.ndarray:
    """Mean preprocessed intensity inside the planted spheres, per subject."""
    out = []
    for pid in subjects:
        path = next((results / "preprocess" / pid / "anat").glob("*_desc-preproc_T1w.nii.gz"))
        img = nib.load(path)
        data = np.asarray(img.dataobj, dtype=np.float32)
        ijk = np.indices(data.shape).reshape(3, -1).T
        xyz = nib.affines.apply_affine(img.affine, ijk)
        inside = np.zeros(len(xyz), bool)
        for centre, radius in truth.regions:
            inside |= np.linalg.norm(xyz - centre, axis=1) <= radius
        out.append(float(data.reshape(-1)[inside].mean()))
    return np.asarray(out)[:, None]


def probe(features: np.ndarray, target: np.ndarray, folds: int, seed: int) -> tuple[float, float]:
    model = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 4, 30)))
    pred = cross_val_predict(model, features, target, cv=KFold(folds, shuffle=True, random_state=seed))
    r = float(np.corrcoef(pred, target)[0, 1])
    r2 = 1 - float(((pred - target) ** 2).sum() / ((target - target.mean()) ** 2).sum())
    return r, r2


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--truth", type=Path, help="default: RESULTS/demo/truth.json")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"cpu: {cpu_description()}", flush=True)  # ratios hold for this CPU
    truth_path = args.truth or args.results / "demo" / "truth.json"
    truth, doc = read_truth(truth_path), read_json(truth_path)
    grid = pd.read_parquet(args.results / "patches" / "grid.parquet")
    emb = read_embeddings(sorted((args.results / "embeddings").glob("shard-*.parquet")))
    subjects = [s for s in emb.participant_ids if s.removeprefix("sub-") in doc["subjects"]
                or s in doc["subjects"]]
    severity = np.asarray([doc["subjects"].get(s, doc["subjects"].get(s.removeprefix("sub-")))["mri_severity"]
                           for s in subjects], float)
    first = next((args.results / "preprocess" / subjects[0] / "anat").glob("*_desc-preproc_T1w.nii.gz"))
    voxel_mm = float(nib.load(first).header.get_zooms()[0])
    print(f"{len(subjects)} subjects; encoder {emb.metadata.get('encoder')} E={emb.width}")
    readout = sphere_means(args.results, subjects, truth)
    base, base_r2 = probe(readout, severity, args.folds, args.seed)
    print(f"{'stage':<58}{'features':>9}{'r':>8}{'R^2':>8}{'r / readout':>13}")
    print(f"{'preprocessed brain: mean in the planted spheres (readout)':<58}{1:>9}{base:>8.3f}"
          f"{base_r2:>8.3f}{1:>12.2f}x")
    for label, centre_only in (("patch holding each sphere centre", True), ("patches overlapping a sphere", False)):
        rows = region_patches(grid, truth, voxel_mm, centre_only)
        cols = np.searchsorted(emb.patch_ids, grid["patch_id"].to_numpy()[rows])
        patches = np.stack([open_patch_array(next((args.results / "patches" / s).glob("*_desc-patches.npy")),
                                             len(grid))[rows] for s in subjects])  # [N, R, S, S, S]
        n, r = patches.shape[:2]
        flat = torch.from_numpy(patches.reshape(n * r, 1, *patches.shape[2:]).astype(np.float32))
        with torch.no_grad():
            stats = IntensityEncoder()(flat).numpy().reshape(n, -1)  # [N, R * 35]
        inside = patches != 0
        mean = np.where(inside, patches, 0).sum(axis=(2, 3, 4)) / np.maximum(inside.sum(axis=(2, 3, 4)), 1)
        print(f"-- {label}: {r} patch(es), ids {grid['patch_id'].to_numpy()[rows].tolist()}")
        for name, x in ((f"patch mean intensity", mean),
                        (f"patch statistics (intensity encoder, 35 per patch)", stats),
                        (f"embeddings: {emb.metadata.get('encoder')} ({emb.width} per patch)",
                         emb.values[:, cols].reshape(n, -1))):
            corr, r2 = probe(x, severity, args.folds, args.seed)
            print(f"  {name:<56}{x.shape[1]:>9}{corr:>8.3f}{r2:>8.3f}{corr / base:>12.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
