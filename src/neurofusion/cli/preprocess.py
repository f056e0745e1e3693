"""``neurofusion preprocess``: one whole-head T1w scan -> template-space brain, mask, transform, QC."""

from __future__ import annotations

from pathlib import Path

HELP = ("Skull-strip, bias-correct and affinely register T1w scans to the MNI152 2009a brain template "
        "(one scan, or several in one process: each of --t1w/--out/--mask/--xfm/--qc/--metrics/--timings "
        "then takes one path per scan, in the same order).")
BATCH_ARGS = ("out", "mask", "xfm", "qc", "metrics", "timings")


def add_arguments(parser) -> None:
    parser.add_argument("--t1w", required=True, nargs="+", help="whole-head T1w scan (.nii or .nii.gz, any orientation)")
    parser.add_argument("--out", required=True, nargs="+", help="template-space brain (.nii.gz), robust z-score, 0 outside")
    parser.add_argument("--mask", required=True, nargs="+", help="template-space brain mask (.nii.gz, uint8)")
    parser.add_argument("--xfm", required=True, nargs="+", help="forward affine transform, ITK/ANTs .mat (template -> subject points)")
    parser.add_argument("--qc", default=None, nargs="+", help="QC picture (.png): three planes with the template outline")
    parser.add_argument("--metrics", default=None, nargs="+", help="metrics (.json): Dice, similarity, volume, qc_pass "
                                                         "(no times: the same bytes on any machine)")
    parser.add_argument("--timings", default=None, nargs="+", help="wall and CPU seconds per step (.json), for benchmarks; "
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
    from ..errors import NeurofusionError
    from ..imaging.preprocess import PreprocessOutputs, preprocess_t1w
    from ..imaging.registration import SEED

    n = len(args.t1w)
    for name in BATCH_ARGS:
        given = getattr(args, name)
        if given is not None and len(given) != n:
            raise NeurofusionError(f"--{name} has {len(given)} paths for {n} scans in --t1w",
                                   fix=f"give --{name} one path per scan, in the order of --t1w")
    done: list[PreprocessOutputs] = []
    for i, t1w in enumerate(args.t1w):
        def pick(name):
            given = getattr(args, name)
            return None if given is None else given[i]

        outputs = PreprocessOutputs(image=pick("out"), mask=pick("mask"), transform=pick("xfm"), qc_png=pick("qc"),
                                    metrics=pick("metrics"), timings=pick("timings"))
        try:
            metrics = preprocess_t1w(t1w, outputs, resolution=args.resolution, min_dice=args.min_dice,
                                     seed=SEED if args.seed is None else args.seed, threads=threads,
                                     template_dir=args.template_dir, on_error=args.on_error)
        except BaseException:
            # one process, one job: a scan that stops it takes the batch's earlier outputs with it
            for earlier in done:
                for path in earlier.paths():
                    Path(path).unlink(missing_ok=True)
            raise
        done.append(outputs)
        _report(t1w, metrics)
    return 0


def _report(t1w: str, metrics: dict) -> None:
    if metrics.get("failed"):
        print(f"{t1w}: preprocessing FAILED, subject excluded (on_error exclude): {metrics['qc_reason']}", flush=True)
        return
    status = "pass" if metrics["qc_pass"] else f"FAIL ({metrics['qc_reason']})"
    steps = " ".join(f"{k} {v:.1f}s" for k, v in metrics["seconds"].items())
    print(f"{t1w}: Dice {metrics['dice']:.3f}, r {metrics['correlation']:.3f}, "
          f"brain mask {metrics['brain_mask_volume_ml']:.0f} mL, QC {status}; {steps}", flush=True)
