"""``neurofusion cohort``: participants + scans + proteins -> cohort table with folds."""

HELP = "Join participants, scan QC and protein samples, and assign stratified subject-level folds."


def add_arguments(p):
    p.add_argument("--participants", required=True, help="participants table (BIDS participants.tsv)")
    p.add_argument("--proteins", required=True, help="protein matrix.parquet from the proteins step")
    p.add_argument("--protein-qc", help="qc.tsv from the proteins step: whose proteins it left out, and why")
    p.add_argument("--metrics-dir", required=True, help="preprocessing folder holding sub-*/anat/*_desc-metrics.json")
    p.add_argument("--label-column", default="diagnosis")
    p.add_argument("--classes", nargs="+", required=True, help="ordered classes; with two, the last is positive")
    p.add_argument("--id-column", default="participant_id")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--out", required=True, help="participants.parquet to write")
    p.add_argument("--excluded", required=True, help="excluded.tsv to write")


def run(args) -> int:
    from ..cohort import build_cohort
    from ..io import all_or_nothing

    cohort, excluded = build_cohort(
        args.participants, args.proteins, args.metrics_dir, label_column=args.label_column,
        classes=args.classes, id_column=args.id_column, folds=args.folds, seed=args.seed,
        protein_qc=args.protein_qc,
    )
    with all_or_nothing(args.out, args.excluded) as (out, exc):
        cohort.to_parquet(out, index=False)
        excluded.to_csv(exc, sep="\t", index=False)
    counts = cohort.groupby(["fold", "label"]).size().unstack(fill_value=0)
    print(f"cohort: {len(cohort)} participants, {len(excluded)} exclusion notes")
    print(counts.to_string())
    return 0
