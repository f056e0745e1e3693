"""``neurofusion summary``: evaluation and attention figures and one self-contained HTML page."""

from __future__ import annotations

from pathlib import Path

HELP = "Draw the evaluation and attention figures and write the self-contained HTML summary."


def add_arguments(parser) -> None:
    parser.add_argument("--eval-dir", required=True, help="folder with metrics.tsv, per_fold.tsv, comparison.tsv, curves.parquet")
    parser.add_argument("--train-dir", required=True, help="results/train (reads <variant>/fold-<k>/history.tsv)")
    parser.add_argument("--attention-dirs", nargs="*", default=[], help="results/attention/<variant> folders")
    parser.add_argument("--cohort", required=True, help="results/cohort/participants.parquet")
    parser.add_argument("--excluded", required=True, help="results/cohort/excluded.tsv")
    parser.add_argument("--model-config", nargs="*", default=[], help="model configuration file(s) shown verbatim")
    parser.add_argument("--settings", default=None, help="optional JSON/YAML of the run's settings, shown verbatim")
    parser.add_argument("--settings-yaml", default=None,
                        help="the workflow's merged configuration as YAML text, shown verbatim")
    parser.add_argument("--embedding-shard", default=None, nargs="+",
                        help="one embedding shard per encoder (one per fold with embedding.pretrain.scope: fold): "
                             "its metadata says whether pretraining hit a time limit (flagged)")
    parser.add_argument("--ceiling", default=None,
                        help="ceiling.tsv (truth-informed readouts): each AUC is shown beside its readout")
    parser.add_argument("--dpi", type=int, default=110, help="figure resolution")
    parser.add_argument("--top-proteins", type=int, default=15, help="proteins in the attention bar chart")
    parser.add_argument("--out", required=True, help="summary.html; figures go to figures/ beside it")


def run(args) -> int:
    from ..errors import NeurofusionError
    from ..report.summary import SummaryInputs, build_summary

    if args.dpi < 20 or args.top_proteins < 1:
        raise NeurofusionError(f"--dpi {args.dpi} / --top-proteins {args.top_proteins} out of range",
                               fix="use a dpi of at least 20 and at least one protein")
    inputs = SummaryInputs(
        eval_dir=Path(args.eval_dir), train_dir=Path(args.train_dir),
        attention_dirs=[Path(d) for d in args.attention_dirs], cohort=Path(args.cohort),
        excluded=Path(args.excluded), model_configs=[Path(p) for p in args.model_config],
        settings=Path(args.settings) if args.settings else None,
        settings_text=args.settings_yaml,
        embedding_shard=[Path(p) for p in args.embedding_shard] if args.embedding_shard else None,
        ceiling=Path(args.ceiling) if args.ceiling else None,
    )
    if inputs.attention_dirs:
        _freeze_collected_objects()
    result = build_summary(inputs, args.dpi, args.top_proteins, Path(args.out))
    print(f"summary: {len(result['figures'])} figures for {', '.join(result['variants'])} -> {args.out}")
    return 0


def _freeze_collected_objects() -> None:
    """Keep the imported libraries out of the garbage collector's walks.

    nilearn runs a full ``gc.collect()`` every time it reads an image's data (79 times for
    the demo's maps); each walks every object alive, matplotlib's and nilearn's included,
    which made ~9 of the demo summary's 14 s of CPU (benchmarks/bench_summary.py).
    ``gc.freeze()`` moves the objects that exist after the imports out of those walks. A
    reference cycle among them is then never collected, which costs nothing in a process
    that ends after one page; the page and figures are the same bytes.
    """
    import gc

    import matplotlib.pyplot  # noqa: F401  (the figures' backend, imported once here)
    from nilearn import plotting  # noqa: F401

    gc.freeze()
