"""Does pretraining the builtin encoder on the test subjects' scans help the models it feeds?

`pretrain_encoder` learns from every scan of the cohort, test folds included: it sees no
label, no fold and no protein, but the test subjects' images shape the features their
predictions are made from (transductive self-supervision). This script measures what that
is worth on a finished run. For each fold k it pretrains the encoder again, with the run's
own settings (read from its encoder.pt), on the patches of the subjects outside fold k only,
embeds every subject with it, trains the embedding-fed variants of fold k with the run's
model config, and evaluates the out-of-fold predictions of the three folds' encoders
exactly as `neurofusion evaluate` does for the workflow. It prints the AUC of each variant
both ways: the run's own (transductive) against the fold-restricted encoders.

    .venv/bin/python benchmarks/probe_pretrain_scope.py --results results --out /tmp/scope

Every step is the workflow's own command (`neurofusion pretrain-encoder`, `embed`, `train`,
`evaluate`) run as a subprocess; the cost is one pretraining per fold (3x the run's).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import torch

from neurofusion.embeddings.patchfiles import find_patch_files, without_failure_records
from neurofusion.runtime import cpu_description

EMBEDDING_VARIANTS = ("baseline_fusion", "fusion", "baseline_mri", "mri")  # baseline_fusion first: fusion's linear start


def _run(cmd: list[str], log: Path) -> None:
    with open(log, "w") as out:
        proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        sys.exit(f"probe_pretrain_scope: {cmd[1]} failed (rc {proc.returncode}); see {log}")


def _auc(metrics: Path, variants) -> dict[str, tuple[float, float, float]]:
    table = pd.read_csv(metrics, sep="\t")
    table = table[(table["metric"] == "auc") & table["variant"].isin(variants)]
    return {r.variant: (r.mean, r.ci_low, r.ci_high) for r in table.itertuples()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--results", default="results", help="a finished run's results folder")
    ap.add_argument("--model-config", default="config/model.yaml", help="the model config the run trained with")
    ap.add_argument("--out", required=True, help="work folder for the fold-restricted encoders and models")
    ap.add_argument("--classes", nargs="+", default=["CN", "AD"])
    ap.add_argument("--threads", type=int, default=2, help="pretraining and embedding threads (the run's: 2)")
    args = ap.parse_args(argv)

    results, out = Path(args.results), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    nf = [sys.executable, "-m", "neurofusion"]
    ckpt = torch.load(results / "embeddings" / "encoder.pt", map_location="cpu", weights_only=True)
    pre = ckpt["pretrain"]["config"]
    cohort = pd.read_parquet(results / "cohort" / "participants.parquet")
    grid = results / "patches" / "grid.parquet"
    patch_files, _ = without_failure_records(find_patch_files(results / "patches"))
    shared = ["--cohort", str(results / "cohort" / "participants.parquet"), "--grid", str(grid),
              "--proteins", str(results / "proteins" / "matrix.parquet"),
              "--catalog", str(results / "proteins" / "catalog.parquet"), "--config", args.model_config]
    print(f"probe_pretrain_scope: {results}, {len(cohort)} participants, {cohort['fold'].nunique()} folds; "
          f"pretraining {pre['epochs']} epochs of {pre['patches_per_epoch']} patches (the run's settings); "
          f"{cpu_description()}")

    predictions = []
    for fold in sorted(cohort["fold"].unique()):
        work = out / f"fold-{fold}"
        patches_dir = work / "patches"
        patches_dir.mkdir(parents=True, exist_ok=True)
        outside = set(cohort.loc[cohort["fold"] != fold, "participant_id"])
        for f in patch_files:
            if f.parent.name in outside and not (patches_dir / f.parent.name).exists():
                os.symlink(f.parent.resolve(), patches_dir / f.parent.name)
        encoder = work / "encoder.pt"
        if not encoder.exists():
            _run([*nf, "pretrain-encoder", "--patches-dir", str(patches_dir), "--grid", str(grid), "--out", str(encoder),
                  "--history", str(work / "history.tsv"), "--epochs", str(pre["epochs"]),
                  "--batch-size", str(pre["batch_size"]), "--lr", str(pre["lr"]), "--width", str(pre["width"]),
                  "--layout", str(pre.get("layout", "full")),
                  "--seed", str(pre["seed"]), "--patches-per-epoch", str(pre["patches_per_epoch"]),
                  "--max-patches", str(pre["max_patches"]), "--intensity-jitter", str(pre["intensity_jitter"]),
                  "--threads", str(args.threads), "--device", "cpu"], work / "pretrain.log")
        shard = work / "shard-000.parquet"
        if not shard.exists():
            _run([*nf, "embed", "--encoder", "builtin", "--weights", str(encoder), "--patches", *map(str, patch_files),
                  "--grid", str(grid), "--out", str(shard), "--threads", str(args.threads), "--device", "cpu"],
                 work / "embed.log")
        for variant in EMBEDDING_VARIANTS:
            target = work / "train" / variant
            if not (target / "predictions.parquet").exists():
                start = (["--linear-start", str(work / "train" / "baseline_fusion" / "model.pt")]
                         if variant == "fusion" else [])
                _run([*nf, "train", *shared, "--embeddings", str(shard), "--variant", variant, "--fold", str(fold),
                      "--out-dir", str(target), "--threads", "1", "--device", "cpu", *start], work / f"{variant}.log")
            predictions.append(target / "predictions.parquet")
        print(f"  fold {fold}: encoder from {len(outside & {f.parent.name for f in patch_files})} subjects' patches",
              flush=True)

    evaluated = out / "eval"
    _run([*nf, "evaluate", "--predictions", *map(str, predictions), "--classes", *args.classes,
          "--out-dir", str(evaluated)], out / "evaluate.log")
    own, scoped = _auc(results / "eval" / "metrics.tsv", EMBEDDING_VARIANTS), _auc(evaluated / "metrics.tsv", EMBEDDING_VARIANTS)
    print(f"{'variant':16s} {'AUC, encoder from every scan (the run)':>40s} {'AUC, encoder per fold (test fold unseen)':>42s}")
    for variant in EMBEDDING_VARIANTS:
        a, b = own[variant], scoped[variant]
        print(f"{variant:16s} {a[0]:>14.3f} [{a[1]:.3f}, {a[2]:.3f}]{'':13s} {b[0]:>14.3f} [{b[1]:.3f}, {b[2]:.3f}]")
    return 0


if __name__ == "__main__":
    from neurofusion.kernels import choose_cpu_kernels

    choose_cpu_kernels()  # the subprocesses inherit the steps' kernels (they choose them again)
    raise SystemExit(main())
