"""neurofusion pretrain-encoder: self-supervised pretraining of the built-in patch encoder."""

from __future__ import annotations

HELP = "Pretrain the built-in 3D patch encoder on the cohort's patches, without labels (contrastive)."


def add_arguments(parser) -> None:
    parser.add_argument("--patches-dir", required=True, help="folder holding sub-*/*_desc-patches.npy")
    parser.add_argument("--grid", required=True, help="results/patches/grid.parquet")
    parser.add_argument("--out", required=True, help="encoder checkpoint to write (encoder.pt)")
    parser.add_argument("--history", required=True, help="per-epoch loss table to write (TSV)")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--width", type=int, default=64, help="embedding size E")
    parser.add_argument("--layout", default="full", choices=["full", "strided"],
                        help="the encoder's layout (embeddings/builtin.py): strided is 2.3-2.5x faster a step")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-seconds", type=float, default=None,
                        help="optional wall-clock cap; a run it stops is not reproducible (recorded in the checkpoint)")
    parser.add_argument("--patches-per-epoch", type=int, default=2048,
                        help="random patches drawn per epoch (all when fewer)")
    parser.add_argument("--max-patches", type=int, default=200_000,
                        help="at most this many patches are read into memory (evenly across subjects)")
    parser.add_argument("--intensity-jitter", type=float, default=0.0,
                        help="views' intensity scale/offset range j (0: views keep the patch's intensity level)")
    parser.add_argument("--cohort", default=None,
                        help="results/cohort/participants.parquet, with --leave-out-fold: pretrain on the other folds only")
    parser.add_argument("--leave-out-fold", type=int, default=None, metavar="K",
                        help="leave out every patch of fold K's subjects (embedding.pretrain.scope: fold), so the "
                             "encoder that feeds fold K's models never saw its test scans")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])


def run(args) -> int:
    import pandas as pd

    from ..embeddings.builtin import save_builtin
    from ..embeddings.patchfiles import (check_unique_participants, find_patch_files, open_patch_array,
                                         read_grid_patch_ids, without_failure_records)
    from ..embeddings.pretrain import PretrainConfig, pretrain_builtin, sample_patches
    from ..errors import NeurofusionError
    from ..io import all_or_nothing
    from ..runtime import pick_device, seed_everything, set_threads

    set_threads(args.threads)
    seed_everything(args.seed)
    for flag in ("epochs", "batch_size", "width", "patches_per_epoch", "max_patches"):
        if getattr(args, flag) < 1:
            raise NeurofusionError(f"--{flag.replace('_', '-')} must be at least 1")
    if not 0.0 <= args.intensity_jitter < 1.0:
        raise NeurofusionError(f"--intensity-jitter {args.intensity_jitter:g} is outside [0, 1)")
    if (args.cohort is None) != (args.leave_out_fold is None):
        raise NeurofusionError("--cohort and --leave-out-fold go together",
                               fix="give both (pretrain on the other folds' subjects) or neither (on every scan)")
    patch_ids, _ = read_grid_patch_ids(args.grid)
    files, skipped = without_failure_records(find_patch_files(args.patches_dir))
    if skipped:
        print(f"left out {len(skipped)} subject(s) whose scan preprocessing excluded: {', '.join(sorted(skipped))}",
              flush=True)
    scope = None
    if args.leave_out_fold is not None:
        files, scope = outside_fold(files, args.cohort, args.leave_out_fold)
        print(f"left out fold {scope['left_out_fold']}: {scope['left_out_subjects']} subject(s) with patches "
              f"(its test subjects); {len(files)} subject(s) of the other folds remain", flush=True)
    if not files:
        raise NeurofusionError("every patch array here is a failure record: no scan could be preprocessed",
                               path=args.patches_dir, fix="see results/cohort/excluded.tsv or the preprocess logs")
    check_unique_participants(files)
    arrays = [open_patch_array(f, len(patch_ids)) for f in files]
    sides = {a.shape[-1] for a in arrays}
    if len(sides) > 1:
        raise NeurofusionError(f"patch arrays have different sizes {sorted(sides)}", path=args.patches_dir,
                               fix="rerun the patches step for every subject")
    patches = sample_patches(arrays, args.max_patches, args.seed)  # [M, S, S, S]
    print(f"pretraining on {len(patches)} patches of {patches.shape[-1]}^3 from {len(files)} subjects", flush=True)

    cfg = PretrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, width=args.width,
                         layout=args.layout, seed=args.seed, max_seconds=args.max_seconds,
                         intensity_jitter=args.intensity_jitter,
                         patches_per_epoch=args.patches_per_epoch, max_patches=args.max_patches)
    encoder, history, summary = pretrain_builtin(patches, cfg, pick_device(args.device),
                                                 log=lambda line: print(line, flush=True))
    summary["subjects"] = len(files)
    if scope is not None:
        summary.update(scope)
    with all_or_nothing(args.out, args.history) as (tmp_model, tmp_history):
        save_builtin(tmp_model, encoder, summary)
        pd.DataFrame(history).to_csv(tmp_history, sep="\t", index=False, float_format="%.6g")
    print(f"loss {summary['first_loss']:.4f} -> {summary['final_loss']:.4f} in {summary['epochs_run']} epochs; "
          f"wrote {args.out}", flush=True)
    return 0


def outside_fold(files, cohort_path, fold: int):
    """The patch files of the cohort's subjects outside ``fold``, and what was left out.

    A subject with patches but no row in the cohort table (excluded at the cohort step)
    is left out too: pretraining then learns from exactly the subjects that the models
    of ``fold`` may train on.
    """
    import pandas as pd

    from ..embeddings.patchfiles import participant_id_from_path
    from ..errors import NeurofusionError

    try:
        cohort = pd.read_parquet(cohort_path, columns=["participant_id", "fold"])
    except FileNotFoundError:
        raise NeurofusionError("cohort table not found", path=cohort_path, fix="run the cohort step first")
    except Exception as exc:  # pyarrow raises several types for a damaged or foreign file
        raise NeurofusionError(f"cannot read the cohort table's participant_id and fold ({type(exc).__name__})",
                               path=cohort_path, fix="rerun the cohort step")
    folds = sorted(int(f) for f in cohort["fold"].unique())
    if fold not in folds:
        raise NeurofusionError(f"--leave-out-fold {fold} is not a fold of the cohort (folds {folds})",
                               path=cohort_path, fix="pass a fold the cohort step assigned")
    fold_of = dict(zip(cohort["participant_id"].astype(str), cohort["fold"].astype(int)))
    fold_of_file = [fold_of.get(participant_id_from_path(f)) for f in files]  # None: not in the cohort
    kept = [f for f, k in zip(files, fold_of_file) if k is not None and k != fold]
    left_out = [f for f, k in zip(files, fold_of_file) if k == fold]
    if not kept:
        raise NeurofusionError(f"no subject outside fold {fold} has patches to pretrain on", path=cohort_path,
                               fix="check the cohort's folds and the patches step")
    return kept, {"scope": "fold", "left_out_fold": fold, "left_out_subjects": len(left_out),
                  "pretrained_on": [participant_id_from_path(f) for f in kept]}
