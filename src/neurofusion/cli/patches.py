"""``neurofusion patches``: cut one preprocessed image into the grid's patches (.npy float16)."""

from __future__ import annotations

HELP = "Cut a template-space brain into the grid's patches: float16 [P, S, S, S] .npy (memory-mappable)."


def add_arguments(parser) -> None:
    parser.add_argument("--in", dest="image", required=True, help="preprocessed template-space image (.nii.gz)")
    parser.add_argument("--grid", required=True, help="grid.parquet from `neurofusion patch-grid`")
    parser.add_argument("--out", required=True, help="patch array to write (.npy)")


def run(args) -> int:
    from ..imaging.patches import write_patches

    patches = write_patches(args.image, args.grid, args.out)
    if patches is None:
        print(f"{args.out}: failure record (preprocessing excluded this subject), no patches")
        return 0
    print(f"{args.out}: {patches.shape[0]} patches of {patches.shape[1]}^3 voxels, float16")
    return 0
