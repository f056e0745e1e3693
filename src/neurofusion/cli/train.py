"""neurofusion train: model variants (the fusion model, its ablations, the baselines) on one fold."""

from __future__ import annotations

import sys
from pathlib import Path

HELP = ("Train the fusion model, its ablations or the baselines on one fold: model.pt, history.tsv, "
        "predictions.parquet per variant.")
VARIANTS = ["fusion", "mri", "protein", "baseline_fusion", "baseline_mri", "baseline_protein"]


def add_arguments(parser) -> None:
    parser.add_argument("--cohort", required=True, help="results/cohort/participants.parquet")
    parser.add_argument("--embeddings", required=True, nargs="+", help="embedding shards (shard-NNN.parquet)")
    parser.add_argument("--grid", required=True, help="results/patches/grid.parquet")
    parser.add_argument("--proteins", required=True, help="results/proteins/matrix.parquet")
    parser.add_argument("--catalog", required=True, help="results/proteins/catalog.parquet")
    parser.add_argument("--config", required=True, help="model/training settings (config/model.yaml)")
    parser.add_argument("--variant", required=True, nargs="+", choices=VARIANTS,
                        help="fusion, mri, protein (the transformer) or baseline_<...> (logistic regression "
                             "on the same inputs, folds and scalers); several are trained one after another "
                             "in this process (the inputs are read once), baselines first")
    parser.add_argument("--fold", required=True, type=int, help="test fold (from participants.parquet)")
    parser.add_argument("--out-dir", required=True, nargs="+",
                        help="folder for model.pt, history.tsv, predictions.parquet: one per --variant, in order")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"],
                        help="auto: CUDA when visible, else CPU")
    parser.add_argument("--shuffle-labels", type=int, default=None, metavar="SEED",
                        help="sanity-check control: train on the training folds' labels permuted with this seed")
    parser.add_argument("--linear-start", default=None, metavar="MODEL_PT",
                        help="with one transformer --variant: this fold's baseline_<variant> model.pt, whose "
                             "regression the linear start takes when fitted on the same inputs (it would refit "
                             "the same one otherwise). With several variants, a transformer takes the model.pt "
                             "of its baseline_<variant> trained in the same call")


def training_order(variants: list[str], out_dirs: list[str]) -> list[tuple[str, str]]:
    """(variant, out_dir) pairs, baselines first: a transformer's linear start may take its
    baseline's regression from the model.pt that baseline has just written."""
    from ..errors import NeurofusionError

    if len(out_dirs) != len(variants):
        raise NeurofusionError(f"{len(variants)} --variant but {len(out_dirs)} --out-dir",
                               fix="give one --out-dir per --variant, in the same order")
    if len(set(variants)) != len(variants):
        raise NeurofusionError(f"--variant lists a variant twice: {' '.join(variants)}", fix="name each variant once")
    pairs = list(zip(variants, out_dirs))
    return [p for p in pairs if p[0].startswith("baseline_")] + [p for p in pairs if not p[0].startswith("baseline_")]


def run(args) -> int:
    from ..errors import NeurofusionError
    from ..runtime import set_threads
    from ..training.data import load_sources
    from ..training.settings import load_baseline_settings, load_settings

    pairs = training_order(args.variant, args.out_dir)
    baselines = [v for v, _ in pairs if v.startswith("baseline_")]
    if baselines and (args.shuffle_labels is not None or args.linear_start is not None):
        flag = "--shuffle-labels" if args.shuffle_labels is not None else "--linear-start"
        raise NeurofusionError(f"{flag} is for the transformer variants (fusion, mri, protein), not {baselines[0]}",
                               fix="leave it out for baseline variants")
    if args.linear_start is not None and len(pairs) > 1:
        raise NeurofusionError("--linear-start names one baseline model.pt, for one --variant",
                               fix="train the variants one per call, or add their baseline_<variant> to this call")
    model_settings, training = load_settings(args.config)
    threads = args.threads
    if training.cpu_threads and args.device != "cuda":
        threads = min(threads, training.cpu_threads)
    set_threads(threads)
    src = load_sources(args.cohort, args.embeddings, args.grid, args.proteins, args.catalog)
    baseline_cfg = load_baseline_settings(args.config)
    written: dict[str, Path] = {}
    for variant, out_dir in pairs:
        if variant.startswith("baseline_"):
            from ..training.baseline import train_baseline

            result = train_baseline(src, model_settings, training, baseline_cfg, variant, args.fold, out_dir)
            a, b = result["platt"]
            print(f"{variant} fold {args.fold}: C = {result['C']:.3g} by inner CV on {result['n_train']} "
                  f"subjects, Platt scaling a = {a:.3g}, b = {b:.3g}; {result['n_test']} test predictions -> {out_dir}")
            written[variant] = Path(out_dir) / "model.pt"
            continue
        from ..training.train import train_fold

        linear_from = args.linear_start if args.linear_start is not None else written.get(f"baseline_{variant}")
        if linear_from is not None and not training.linear_start:
            if args.linear_start is not None:
                print(f"note: --linear-start {args.linear_start} is not used: training.linear_start is off in "
                      f"{args.config}", file=sys.stderr)
            linear_from = None
        print(f"{variant} fold {args.fold}{' (shuffled labels)' if args.shuffle_labels is not None else ''} "
              f"-> {out_dir}", file=sys.stderr, flush=True)
        train_fold(src, model_settings, training, variant, args.fold, out_dir, device=args.device,
                   shuffle_labels=args.shuffle_labels, baseline_cfg=baseline_cfg if training.linear_start else None,
                   linear_from=linear_from)
    return 0
