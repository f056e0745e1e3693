"""``neurofusion ceiling``: truth-informed readouts beside the models (cohorts with a truth.json)."""

from __future__ import annotations

HELP = ("Score readouts that know where the signal was planted (truth.json) on the variants' subjects "
        "and folds: ceiling.tsv.")


def add_arguments(parser) -> None:
    parser.add_argument("--cohort", required=True, help="results/cohort/participants.parquet")
    parser.add_argument("--embeddings", required=True, nargs="+", help="embedding shards (who has MRI, as in training)")
    parser.add_argument("--grid", required=True, help="results/patches/grid.parquet")
    parser.add_argument("--proteins", required=True, help="results/proteins/matrix.parquet")
    parser.add_argument("--catalog", required=True, help="results/proteins/catalog.parquet")
    parser.add_argument("--truth", required=True, help="truth.json naming the planted region(s) and proteins")
    parser.add_argument("--preprocess-dir", required=True,
                        help="results/preprocess (reads sub-*/anat/*_desc-preproc_T1w.nii.gz)")
    parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap repeats for CIs (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    parser.add_argument("--out", required=True, help="ceiling.tsv (variant, metric, mean, ci_low, ci_high, n)")
    parser.add_argument("--readouts", required=True, help="per-subject readouts (TSV)")


def run(args) -> int:
    from ..errors import NeurofusionError
    from ..evaluation.ceiling import write_ceiling
    from ..runtime import set_threads
    from ..training.data import load_sources

    if args.bootstrap < 0:
        raise NeurofusionError(f"--bootstrap {args.bootstrap} is negative", fix="give 0 (no CIs) or a number of repeats")
    set_threads(1)
    src = load_sources(args.cohort, args.embeddings, args.grid, args.proteins, args.catalog)
    metrics = write_ceiling(src, args.preprocess_dir, args.truth, args.bootstrap, args.seed, args.out,
                            args.readouts)
    print(f"ceiling: {args.bootstrap} bootstrap repeats -> {args.out}")
    for row in metrics[metrics["metric"] == "auc"].itertuples(index=False):
        print(f"  {row.variant}: AUC {row.mean:.3f} [{row.ci_low:.3f}, {row.ci_high:.3f}] n={row.n}")
    return 0
