"""`neurofusion proteins`: protein assay exports -> QC'd, categorized Parquet tables."""

from __future__ import annotations

HELP = "Read protein assay exports (Olink NPX long/wide, generic wide tables) into QC'd, categorized Parquet."


def add_arguments(parser) -> None:
    parser.add_argument("--table", nargs="+", action="extend", required=True, metavar="FILE",
                        help="protein exports and side tables (repeatable); format detected from content")
    parser.add_argument("--categories", required=True, metavar="TSV",
                        help="category table: uniprot, gene, aliases, category, evidence")
    parser.add_argument("--participants", metavar="FILE",
                        help="participants table; when given, sample IDs must match it (others are reported)")
    parser.add_argument("--id-column", default="participant_id", help="participant ID column of --participants")
    parser.add_argument("--sample-id-regex", metavar="RE",
                        help="regex whose first group extracts the participant label from a sample ID")
    parser.add_argument("--warn-policy", choices=["flag", "drop"], default="flag",
                        help="rows with a QC_Warning/Assay_Warning WARN: keep with a flag, or drop")
    parser.add_argument("--lod-policy", choices=["keep", "lod", "half_lod", "missing"], default="keep",
                        help="values below LOD: keep, set to LOD, to LOD/2 (LOD-1 on the log2 NPX scale), or missing")
    parser.add_argument("--on-error", choices=["exclude", "stop"], default="stop",
                        help="a value cell that is not a number: stop, or exclude that participant's proteins "
                             "(listed in qc.tsv as excluded_participant)")
    parser.add_argument("--category-names", nargs="+", metavar="NAME",
                        help="ordered category list (category_id = position); default: the eight pathway categories")
    parser.add_argument("--threads", type=int, help="Arrow threads for reading (default: all cores)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")


def run(args) -> int:
    import pyarrow as pa

    from ..proteomics.build import Settings, build_proteins

    if args.threads:
        pa.set_cpu_count(max(1, args.threads))
    settings = Settings(categories=args.categories, participants=args.participants, id_column=args.id_column,
                        sample_id_regex=args.sample_id_regex, warn_policy=args.warn_policy,
                        lod_policy=args.lod_policy, category_names=args.category_names,
                        on_error=args.on_error)
    summary = build_proteins(args.table, args.out, settings)
    print(f"neurofusion proteins: {summary['participants']} participants x {summary['proteins']} proteins, "
          f"{summary['measurements']} measurements -> {args.out}")
    return 0
