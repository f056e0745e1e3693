"""``neurofusion export-attention``: cross-attention of each fold's test subjects -> tables and NIfTI maps."""

from __future__ import annotations

from ..attention.methods import METHODS  # import-free: every command's start-up imports this

HELP = "Replay test subjects through each fold's model and export cross-attention (Parquet, TSV, NIfTI maps)."


def add_arguments(parser) -> None:
    parser.add_argument("--checkpoints", nargs="+", required=True, metavar="MODEL_PT",
                        help="one model.pt per fold (results/train/<variant>/fold-<k>/model.pt)")
    parser.add_argument("--cohort", required=True, help="results/cohort/participants.parquet")
    parser.add_argument("--embeddings", nargs="+", required=True, help="embedding shards")
    parser.add_argument("--grid", required=True, help="results/patches/grid.parquet")
    parser.add_argument("--proteins", required=True, help="results/proteins/matrix.parquet")
    parser.add_argument("--catalog", required=True, help="results/proteins/catalog.parquet")
    parser.add_argument("--truth", default=None, help="truth.json of a planted signal (demo): adds the planted check")
    parser.add_argument("--per-head", action="store_true", help="keep one weight per attention head (head column)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda")
    parser.add_argument("--out-dir", required=True, help="results/attention/<variant>")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS),
                        help="attribution methods beside the raw attention")
    parser.add_argument("--ig-steps", type=int, default=32, help="integrated gradients: steps of the integral")
    parser.add_argument("--randomise-seed", type=int, default=0,
                        help="seed of the randomised-weights control (sanity check)")
    parser.add_argument("--no-randomised", action="store_true", help="skip the randomised-weights control")
    parser.add_argument("--shuffled-checkpoints", nargs="+", default=[], metavar="MODEL_PT",
                        help="one model.pt per fold trained on shuffled labels (neurofusion train --shuffle-labels)")
    parser.add_argument("--subjects-dir", default=None,
                        help="write one map per test subject and method here (template and native space)")
    parser.add_argument("--scans", nargs="*", default=[], help="native T1w scans (sub-<label>_...), for --subjects-dir")
    parser.add_argument("--transforms", nargs="*", default=[], help="the subjects' xfm.mat files, for --subjects-dir")
    parser.add_argument("--interpolation", default="linear", choices=["linear", "nearest"],
                        help="resampling of the native-space maps")


def run(args) -> int:
    from ..attention.export import export_attention
    from ..runtime import pick_device, set_threads

    set_threads(args.threads)
    device = str(pick_device(args.device))
    summary = export_attention(args.checkpoints, args.cohort, args.embeddings, args.grid, args.proteins,
                               args.catalog, args.out_dir, truth_path=args.truth, per_head=args.per_head,
                               device=device, batch_size=args.batch_size, methods=args.methods,
                               shuffled_checkpoints=args.shuffled_checkpoints,
                               randomise_seed=None if args.no_randomised else args.randomise_seed,
                               ig_steps=args.ig_steps, subjects_dir=args.subjects_dir, scans=args.scans,
                               transforms=args.transforms, interpolation=args.interpolation)
    print(f"export-attention: {summary['n_subjects']} test subjects -> {args.out_dir}")
    for row in summary["skipped"]:
        print(f"  skipped {row['participant_id']}: {row['reason']}")
    if summary["top_proteins"]:
        print(f"  most attended proteins: {', '.join(summary['top_proteins'])}")
    planted = summary["planted"]
    if planted.get("available"):
        if "region" in planted:
            print(f"  planted region enrichment: {planted['region']['enrichment']}")
        for p in planted.get("proteins", []):
            print(f"  planted protein {p['name']}: rank {p.get('rank', 'not found')}")
    attribution = planted.get("attribution", {})
    for method, entry in attribution.get("methods", {}).items():
        for kind, one in entry.items():
            if kind == "verdict":
                continue
            region = one.get("region", {}).get("headline")
            rank = one.get("median_rank")
            print(f"  {method} ({kind}): region enrichment {'n/a' if region is None else f'{region:.2f}'}, "
                  f"planted proteins' median rank {'n/a' if rank is None else rank}")
    return 0
