"""``neurofusion preprocess``: one whole-head T1w scan -> template-space brain, mask, transform, QC."""

from __future__ import annotations

HELP = "Skull-strip, bias-correct and affinely register one T1w scan to the MNI152 2009a brain template."


def add_arguments(parser) -> None:
    parser.add_argument("--t1w", required=True, help="whole-head T1w scan (.nii or .nii.gz, any orientation)")
    parser.add_argument("--out", required=True, help="template-space brain (.nii.gz), robust z-score, 0 outside")
    parser.add_argument("--mask", required=True, help="template-space brain mask (.nii.gz, uint8)")
    parser.add_argument("--xfm", required=True, help="forward affine transform, ITK/ANTs .mat (template -> subject points)")
    parser.add_argument("--qc", default=None, help="QC picture (.png): three planes with the template outline")
    parser.add_argument("--metrics", default=None, help="metrics (.json): Dice, similarity, volume, qc_pass "
                                                         "(no times: the same bytes on any machine)")
    parser.add_argument("--timings", default=None, help="wall and CPU seconds per step (.json), for benchmarks; "
                                                         "the log line has them too")
    parser.add_argument("--resolution", type=float, default=2.0, help="template grid spacing in mm (default 2; 1 works)")
    parser.add_argument("--min-dice", type=float, default=0.85,
                        help="Dice with the template brain mask below which qc_pass is false (default 0.85)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for torch (brain extraction) and BLAS; ITK runs on 1 (default 1)")
    parser.add_argument("--seed", type=int, default=None, help="registration seed (default: fixed)")
    parser.add_argument("--template-dir", default=None,
                        help="folder written by `neurofusion template` (2 mm and --resolution); "
                             "default: build the template from nilearn in this process (~1 s slower)")
    parser.add_argument("--on-error", default="stop", choices=["exclude", "stop"],
                        help="a scan that cannot be read or registered: stop with its error (default), or "
                             "exclude it: succeed with a failure record (metrics qc_pass false and the reason, "
                             "marked placeholders for the image, mask and transform)")


def run(args) -> int:
    from ..runtime import set_threads

    # torch (deepbet), BLAS and ITK's resampling use --threads; the ITK fits (affine, N4) run on
    # one thread whatever this says, so that they repeat exactly (registration.one_itk_thread)
    threads = set_threads(args.threads)
    from ..imaging.preprocess import PreprocessOutputs, preprocess_t1w
    from ..imaging.registration import SEED

    outputs = PreprocessOutputs(image=args.out, mask=args.mask, transform=args.xfm, qc_png=args.qc,
                                metrics=args.metrics, timings=args.timings)
    metrics = preprocess_t1w(args.t1w, outputs, resolution=args.resolution, min_dice=args.min_dice,
                             seed=SEED if args.seed is None else args.seed, threads=threads,
                             template_dir=args.template_dir, on_error=args.on_error)
    if metrics.get("failed"):
        print(f"{args.t1w}: preprocessing FAILED, subject excluded (on_error exclude): {metrics['qc_reason']}")
        return 0
    status = "pass" if metrics["qc_pass"] else f"FAIL ({metrics['qc_reason']})"
    steps = " ".join(f"{k} {v:.1f}s" for k, v in metrics["seconds"].items())
    print(f"{args.t1w}: Dice {metrics['dice']:.3f}, r {metrics['correlation']:.3f}, "
          f"brain mask {metrics['brain_mask_volume_ml']:.0f} mL, QC {status}; {steps}")
    return 0
