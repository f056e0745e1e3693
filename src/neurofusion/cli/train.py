"""neurofusion train: one model variant on one cross-validation fold."""

from __future__ import annotations

HELP = "train the fusion model (or an ablation) on one fold; writes model.pt, history.tsv, predictions.parquet"


def add_arguments(parser) -> None:
    parser.add_argument("--cohort", required=True, help="results/cohort/participants.parquet")
    parser.add_argument("--embeddings", required=True, nargs="+", help="embedding shards (shard-NNN.parquet)")
    parser.add_argument("--grid", required=True, help="results/patches/grid.parquet")
    parser.add_argument("--proteins", required=True, help="results/proteins/matrix.parquet")
    parser.add_argument("--catalog", required=True, help="results/proteins/catalog.parquet")
    parser.add_argument("--config", required=True, help="model/training settings (config/model.yaml)")
    parser.add_argument("--variant", required=True, choices=["fusion", "mri", "protein"])
    parser.add_argument("--fold", required=True, type=int, help="test fold (from participants.parquet)")
    parser.add_argument("--out-dir", required=True, help="folder for model.pt, history.tsv, predictions.parquet")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"],
                        help="auto: CUDA when visible, else CPU")


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
    train_fold(src, model_settings, training, args.variant, args.fold, args.out_dir, device=args.device)
    return 0
