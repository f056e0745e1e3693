"""neurofusion embed: one Parquet shard of patch embeddings for a group of subjects."""

from __future__ import annotations

HELP = "Embed the patches of a shard of subjects with one encoder (builtin, intensity, torchscript, monai)."

# MONAI options, settable as --monai-<key> (config: embedding.encoder.monai.<key>); see
# neurofusion.embeddings.monai_encoder.MonaiSpec for meanings and defaults.
MONAI_KEYS = ("img_size", "patch_size", "hidden_size", "mlp_dim", "num_layers", "num_heads", "proj_type",
              "qkv_bias", "pool", "feature_size", "depths", "window_size", "use_v2", "resize", "key_prefix")


def add_arguments(parser) -> None:
    parser.add_argument("--encoder", required=True, choices=["builtin", "intensity", "torchscript", "monai"])
    parser.add_argument("--weights", help="encoder file: encoder.pt (builtin), TorchScript file, MONAI state dict")
    parser.add_argument("--monai-name", default="vit", choices=["vit", "swin_unetr"])
    group = parser.add_argument_group("MONAI network options (lists as 96,96,96 or [96, 96, 96])")
    for key in MONAI_KEYS:
        group.add_argument(f"--monai-{key.replace('_', '-')}", dest=f"monai_{key}", nargs="+", metavar="V")
    parser.add_argument("--patches", nargs="+", required=True, help="patch arrays, one per subject")
    parser.add_argument("--grid", required=True, help="results/patches/grid.parquet")
    parser.add_argument("--out", required=True, help="shard Parquet to write")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float16"])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])


def monai_options(args) -> dict:
    opts = {"name": args.monai_name}
    for key in MONAI_KEYS:
        value = getattr(args, f"monai_{key}")
        if value is not None:
            opts[key] = value
    return opts


def run(args) -> int:
    import numpy as np

    from ..embeddings.embed import encode_arrays
    from ..embeddings.encoders import load_encoder
    from ..embeddings.patchfiles import (check_unique_participants, open_patch_array, read_grid_patch_ids,
                                         without_failure_records)
    from ..embeddings.store import write_embedding_shard
    from ..errors import NeurofusionError
    from ..runtime import pick_device, set_threads

    set_threads(args.threads)
    if args.batch_size < 1:
        raise NeurofusionError("--batch-size must be at least 1")
    patch_ids, grid_meta = read_grid_patch_ids(args.grid)
    check_unique_participants(list(args.patches))
    files, skipped = without_failure_records(list(args.patches))
    if skipped:  # scans preprocessing excluded: not in the shard, the cohort step says why
        print(f"left out {len(skipped)} subject(s) whose scan preprocessing excluded: {', '.join(sorted(skipped))}",
              flush=True)
    participants = check_unique_participants(files)
    arrays = [open_patch_array(f, len(patch_ids)) for f in files]  # each [P, S, S, S]
    sides = {a.shape[-1] for a in arrays} or {int(grid_meta.get("patch_size_voxels")
                                               or round(grid_meta["size_mm"] / grid_meta["resolution"]))}
    if len(sides) > 1:
        raise NeurofusionError(f"patch arrays have different sizes {sorted(sides)}", path=files[0],
                               fix="rerun the patches step for every subject")
    device = pick_device(args.device)
    encoder = load_encoder(args.encoder, args.weights, patch_size=sides.pop(),
                           monai_options=monai_options(args) if args.encoder == "monai" else None)
    print(f"{encoder.name}: {encoder.width}-d embeddings of {len(files)} subjects x {len(patch_ids)} patches "
          f"on {device}", flush=True)
    flat = (encode_arrays(encoder, arrays, batch_size=args.batch_size, device=device, names=participants)
            if arrays else np.zeros((0, encoder.width), np.float32))  # a shard whose every scan failed
    values = flat.reshape(len(files), len(patch_ids), encoder.width)  # [N, P, E]
    write_embedding_shard(args.out, participants, patch_ids, values, encoder=encoder.name,
                          checkpoint_sha256=encoder.checkpoint_sha256, dtype=args.dtype,
                          pretrain=encoder.pretrain)
    print(f"wrote {args.out}", flush=True)
    return 0
