"""``neurofusion patches``: cut preprocessed images into the grid's patches (.npy float16)."""

from __future__ import annotations

HELP = ("Cut template-space brains into the grid's patches: float16 [P, S, S, S] .npy (memory-mappable); "
        "several images in one process take one --out path each, in the same order.")


def add_arguments(parser) -> None:
    parser.add_argument("--in", dest="image", required=True, nargs="+",
                        help="preprocessed template-space image(s) (.nii.gz)")
    parser.add_argument("--grid", required=True, help="grid.parquet from `neurofusion patch-grid`")
    parser.add_argument("--out", required=True, nargs="+", help="patch array(s) to write (.npy), one per --in image")


def run(args) -> int:
    from ..imaging.patches import write_patch_batch

    for out, patches in zip(args.out, write_patch_batch(args.image, args.grid, args.out)):
        if patches is None:
            print(f"{out}: failure record (preprocessing excluded this subject), no patches")
        else:
            print(f"{out}: {patches.shape[0]} patches of {patches.shape[1]}^3 voxels, float16")
    return 0
