"""``neurofusion evaluate``: metrics with bootstrap CIs, fusion-vs-ablation comparisons, curves."""

from __future__ import annotations

from pathlib import Path

HELP = "Score every variant's test-fold predictions: metrics with bootstrap CIs, paired comparisons, curves."


def add_arguments(parser) -> None:
    parser.add_argument("--predictions", nargs="+", required=True, metavar="PARQUET",
                        help="predictions.parquet of every variant x fold")
    parser.add_argument("--classes", nargs="+", required=True, help="class labels in config order (last = positive)")
    parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap repeats for CIs (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    parser.add_argument("--out-dir", required=True, help="writes metrics.tsv, per_fold.tsv, comparison.tsv, curves.parquet")


def run(args) -> int:
    from ..errors import NeurofusionError
    from ..evaluation.evaluate import evaluate, write_tables
    from ..evaluation.predictions import read_predictions
    from ..io import all_or_nothing

    if args.bootstrap < 0:
        raise NeurofusionError(f"--bootstrap {args.bootstrap} is negative", fix="give 0 (no CIs) or a number of repeats")
    table = read_predictions(args.predictions, args.classes)
    tables = evaluate(table, args.classes, args.bootstrap, args.seed)
    out = Path(args.out_dir)
    names = ["metrics.tsv", "per_fold.tsv", "comparison.tsv", "curves.parquet"]
    with all_or_nothing(*(out / n for n in names)) as tmps:
        write_tables(tables, *tmps)
    n_subjects = table.groupby("variant")["participant_id"].nunique().to_dict()
    print(f"evaluate: {len(table)} predictions ({n_subjects}), {args.bootstrap} bootstrap repeats -> {out}")
    auc = tables.metrics[tables.metrics["metric"] == "auc"]
    for row in auc.itertuples(index=False):
        print(f"  {row.variant}: AUC {row.mean:.3f} [{row.ci_low:.3f}, {row.ci_high:.3f}] n={row.n}")
    return 0
