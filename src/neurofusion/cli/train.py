"""neurofusion train: one model variant on one cross-validation fold."""

from __future__ import annotations

import sys

HELP = "Train the fusion model (or an ablation, or a baseline) on one fold: model.pt, history.tsv, predictions.parquet."
VARIANTS = ["fusion", "mri", "protein", "baseline_fusion", "baseline_mri", "baseline_protein"]


def add_arguments(parser) -> None:
    parser.add_argument("--cohort", required=True, help="results/cohort/participants.parquet")
    parser.add_argument("--embeddings", required=True, nargs="+", help="embedding shards (shard-NNN.parquet)")
    parser.add_argument("--grid", required=True, help="results/patches/grid.parquet")
    parser.add_argument("--proteins", required=True, help="results/proteins/matrix.parquet")
    parser.add_argument("--catalog", required=True, help="results/proteins/catalog.parquet")
    parser.add_argument("--config", required=True, help="model/training settings (config/model.yaml)")
    parser.add_argument("--variant", required=True, choices=VARIANTS,
                        help="fusion, mri, protein (the transformer) or baseline_<...> (logistic regression "
                             "on the same inputs, folds and scalers)")
    parser.add_argument("--fold", required=True, type=int, help="test fold (from participants.parquet)")
    parser.add_argument("--out-dir", required=True, help="folder for model.pt, history.tsv, predictions.parquet")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"],
                        help="auto: CUDA when visible, else CPU")
    parser.add_argument("--shuffle-labels", type=int, default=None, metavar="SEED",
                        help="sanity-check control: train on the training folds' labels permuted with this seed")
    parser.add_argument("--linear-start", default=None, metavar="MODEL_PT",
                        help="this fold's baseline_<variant> model.pt: the transformer's linear start takes its "
                             "regression when fitted on the same inputs (it would refit the same one otherwise)")


def run(args) -> int:
    from ..runtime import set_threads
    from ..training.data import load_sources
    from ..training.settings import load_settings
    from ..training.train import train_fold

    model_settings, training = load_settings(args.config)
    threads = args.threads
    if training.cpu_threads and args.device != "cuda":
        threads = min(threads, training.cpu_threads)
    set_threads(threads)
    src = load_sources(args.cohort, args.embeddings, args.grid, args.proteins, args.catalog)
    if args.variant.startswith("baseline_"):
        from ..errors import NeurofusionError
        from ..training.baseline import train_baseline

        if args.shuffle_labels is not None or args.linear_start is not None:
            flag = "--shuffle-labels" if args.shuffle_labels is not None else "--linear-start"
            raise NeurofusionError(f"{flag} is for the transformer variants (fusion, mri, protein), not {args.variant}",
                                   fix="leave it out for baseline variants")
        from ..training.settings import load_baseline_settings

        result = train_baseline(src, model_settings, training, load_baseline_settings(args.config), args.variant,
                                args.fold, args.out_dir)
        a, b = result["platt"]
        print(f"{args.variant} fold {args.fold}: C = {result['C']:.3g} by inner CV on {result['n_train']} "
              f"subjects, Platt scaling a = {a:.3g}, b = {b:.3g}; {result['n_test']} test predictions -> {args.out_dir}")
        return 0
    from ..training.settings import load_baseline_settings

    if args.linear_start is not None and not training.linear_start:
        print(f"note: --linear-start {args.linear_start} is not used: training.linear_start is off in {args.config}",
              file=sys.stderr)
    train_fold(src, model_settings, training, args.variant, args.fold, args.out_dir, device=args.device,
               shuffle_labels=args.shuffle_labels,
               baseline_cfg=load_baseline_settings(args.config) if training.linear_start else None,
               linear_from=args.linear_start)
    return 0
