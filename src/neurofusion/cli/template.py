"""``neurofusion template``: nilearn's MNI152 2009a brain and mask as NIfTI, once per cohort."""

from __future__ import annotations

HELP = "Write the template brain and mask at the given resolutions (read by every preprocessing job)."


def add_arguments(parser) -> None:
    parser.add_argument("--resolution", type=float, nargs="+", default=[2.0],
                        help="template grid spacing(s) in mm (default 2); preprocessing needs 2 mm "
                             "(registration) and its output resolution")
    parser.add_argument("--out-dir", required=True,
                        help="folder for tpl-MNI152NLin2009aSym_res-<r>_desc-brain_{T1w,mask}.nii.gz")


def run(args) -> int:
    from ..imaging.template import write_template

    for resolution in dict.fromkeys(args.resolution):
        brain, mask = write_template(args.out_dir, resolution)
        print(f"{resolution:g} mm: {brain}, {mask}")
    return 0
