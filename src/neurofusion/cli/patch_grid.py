"""``neurofusion patch-grid``: the cohort-wide grid of template patches (grid.parquet)."""

from __future__ import annotations

HELP = "Write the fixed grid of cubic template-space patches shared by every subject (grid.parquet)."


def add_arguments(parser) -> None:
    parser.add_argument("--resolution", type=float, default=2.0, help="template grid spacing in mm (default 2)")
    parser.add_argument("--size-mm", type=float, default=28.0, help="patch edge in mm (default 28: 14^3 voxels at 2 mm)")
    parser.add_argument("--stride-mm", type=float, default=28.0, help="distance between patch starts in mm (default 28)")
    parser.add_argument("--min-brain-fraction", type=float, default=0.35,
                        help="keep a patch when the template brain fills at least this fraction (default 0.35)")
    parser.add_argument("--out", required=True, help="grid.parquet to write")


def run(args) -> int:
    from ..imaging.grid import build_grid, write_grid

    table, meta = build_grid(args.resolution, args.size_mm, args.stride_mm, args.min_brain_fraction)
    write_grid(args.out, table, meta)
    size = meta["patch_size_voxels"]
    print(f"{args.out}: {len(table)} patches of {size}^3 voxels at {meta['resolution']:g} mm "
          f"(brain fraction {table['brain_fraction'].min():.2f}-{table['brain_fraction'].max():.2f})")
    return 0
