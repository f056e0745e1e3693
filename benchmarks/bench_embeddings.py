"""Patch-embedding throughput per encoder, through the same batched path `neurofusion embed` uses.

    .venv/bin/python benchmarks/bench_embeddings.py                 # CPU, demo patch size (12^3)
    .venv/bin/python benchmarks/bench_embeddings.py --device cuda   # GPU: patches/s and % of bf16 peak

Encoders: intensity (baseline, no weights), builtin (the pretrained CNN's architecture, random
weights: same cost), torchscript (the builtin CNN scripted), MONAI ViT-B (768-d, 12 layers,
96^3 input after resampling, as BrainIAC) and, with --swin, SwinUNETR's encoder (feature 48).
Ratios: each encoder against the intensity baseline, and batched against an unbatched
loop (one patch per call) for the builtin CNN, all measured in this run.
For CUDA, FLOPs per patch are counted with torch.utils.flop_counter, and achieved TFLOP/s
are divided by the dense bf16 peak of the GPU (table below, or --peak-tflops).
"""

from __future__ import annotations

from neurofusion.kernels import choose_cpu_kernels  # before numpy/torch load: the steps' kernels

choose_cpu_kernels()  # AVX2 kernels unless NEUROFUSION_CPU_KERNELS=native, as every step

import argparse
import os
import sys
import time
import warnings

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))

from neurofusion.runtime import cpu_description
from neurofusion.embeddings.builtin import BuiltinConfig, BuiltinEncoder  # noqa: E402
from neurofusion.embeddings.embed import encode_arrays  # noqa: E402
from neurofusion.embeddings.encoders import LoadedEncoder  # noqa: E402
from neurofusion.embeddings.intensity import IntensityEncoder  # noqa: E402
from neurofusion.embeddings.monai_encoder import MonaiEncoder, _build_backbone, parse_monai_options  # noqa: E402

# dense bf16 tensor-core peak, TFLOP/s (vendor datasheets, no sparsity)
BF16_PEAK_TFLOPS = {
    "H200": 989.0, "H100 SXM": 989.0, "H100 NVL": 835.0, "H100 PCIe": 756.0, "H100": 989.0, "GH200": 989.0,
    "B200": 2250.0, "B100": 1750.0, "A100": 312.0, "A800": 312.0, "L40S": 362.0, "L40": 181.0,
    "L4": 121.0, "A10G": 70.0, "A10": 125.0, "A6000": 155.0, "RTX 4090": 165.0, "RTX 3090": 71.0,
}


def peak_for(name: str) -> float | None:
    for key in sorted(BF16_PEAK_TFLOPS, key=len, reverse=True):  # most specific first
        if key.lower() in name.lower():
            return BF16_PEAK_TFLOPS[key]
    return None


def make_arrays(n_subjects: int, n_patches: int, side: int, seed: int = 0) -> list[np.ndarray]:
    """Smooth z-scored 'brain' patches, zero outside a random blob: float16 [P, S, S, S] each."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_subjects):
        x = rng.normal(size=(n_patches, side, side, side)).astype(np.float32)
        x = (x + np.roll(x, 1, 1) + np.roll(x, 1, 2) + np.roll(x, 1, 3)) / 2  # a little spatial correlation
        mask = rng.random((n_patches, 1, 1, 1)) < 0.9
        out.append((x * mask).astype(np.float16))
    return out


def vit_b(width: int = 768, layers: int = 12) -> LoadedEncoder:
    spec = parse_monai_options({"name": "vit", "img_size": "96", "patch_size": "16", "hidden_size": str(width),
                                "mlp_dim": str(4 * width), "num_layers": str(layers), "num_heads": "12"})
    module = MonaiEncoder(spec, _build_backbone(spec, "cls"), "cls").eval()
    return LoadedEncoder(module, module.name, module.width, None)


def swin() -> LoadedEncoder:
    spec = parse_monai_options({"name": "swin_unetr", "img_size": "96", "feature_size": "48"})
    module = MonaiEncoder(spec, _build_backbone(spec, "mean"), "mean").eval()
    return LoadedEncoder(module, module.name, module.width, None)


def scripted_builtin(width: int) -> LoadedEncoder:
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        module = torch.jit.script(BuiltinEncoder(BuiltinConfig(width=width)).eval())
    return LoadedEncoder(module, "torchscript", width, None, autocast=False)


def builtin(width: int) -> LoadedEncoder:
    torch.manual_seed(0)
    module = BuiltinEncoder(BuiltinConfig(width=width)).eval()
    return LoadedEncoder(module, "builtin", width, None)


def timed(encoder: LoadedEncoder, arrays, batch_size: int, device: str, repeats: int) -> float:
    """Best-of-``repeats`` seconds for one full pass (after one warm-up batch)."""
    encode_arrays(encoder, [arrays[0][:batch_size]], batch_size=batch_size, device=device)
    best = float("inf")
    for _ in range(repeats):
        if device == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        encode_arrays(encoder, arrays, batch_size=batch_size, device=device)
        if device == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t)
    return best


def flops_per_patch(encoder: LoadedEncoder, side: int) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.zeros(2, 1, side, side, side)
    module = encoder.module.cpu()
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        module(x)
    return counter.get_total_flops() / 2


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--subjects", type=int, default=8, help="subjects for the small encoders")
    ap.add_argument("--patches", type=int, default=100, help="patches per subject (demo: ~100)")
    ap.add_argument("--side", type=int, default=12, help="patch side in voxels (demo: 24 mm at 2 mm = 12)")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--width", type=int, default=64, help="builtin embedding width")
    ap.add_argument("--vit-patches", type=int, default=None,
                    help="patches through ViT-B (default 4 on CPU, 2048 on CUDA)")
    ap.add_argument("--vit-batch-size", type=int, default=None, help="default 4 on CPU, 128 on CUDA")
    ap.add_argument("--swin", action="store_true", help="also time SwinUNETR's encoder (feature size 48)")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--peak-tflops", type=float, default=None, help="override the GPU's dense bf16 peak")
    args = ap.parse_args(argv)
    print(f"cpu: {cpu_description()}", flush=True)  # ratios hold for this CPU

    torch.set_num_threads(args.threads)
    cuda = args.device == "cuda"
    if cuda and not torch.cuda.is_available():
        print("--device cuda: no CUDA device visible", file=sys.stderr)
        return 2
    gpu = torch.cuda.get_device_name() if cuda else None
    peak = args.peak_tflops or (peak_for(gpu) if gpu else None)
    vit_n = args.vit_patches or (2048 if cuda else 4)
    vit_bs = args.vit_batch_size or (128 if cuda else 4)
    arrays = make_arrays(args.subjects, args.patches, args.side)
    n_small = args.subjects * args.patches
    print(f"device {gpu or 'cpu'}  threads {args.threads}  torch {torch.__version__}  patch {args.side}^3  "
          f"batch {args.batch_size}" + (f"  bf16 peak {peak} TFLOP/s" if peak else ""))

    rows = []  # (name, width, batch, patches, seconds, flops/patch)
    cases = [("intensity (baseline)", LoadedEncoder(IntensityEncoder(), "intensity", 35, None), arrays, args.batch_size),
             ("builtin CNN", builtin(args.width), arrays, args.batch_size),
             ("torchscript (builtin)", scripted_builtin(args.width), arrays, args.batch_size)]
    vit_arrays = [make_arrays(1, vit_n, args.side, seed=1)[0]]
    cases.append(("MONAI ViT-B 96^3", vit_b(), vit_arrays, vit_bs))
    if args.swin:
        cases.append(("MONAI SwinUNETR-48 96^3", swin(), vit_arrays, vit_bs))
    for name, enc, arrs, bs in cases:
        flops = flops_per_patch(enc, args.side)
        seconds = timed(enc, arrs, bs, args.device, args.repeats if sum(map(len, arrs)) < 50_000 else 1)
        rows.append((name, enc.width, bs, sum(map(len, arrs)), seconds, flops))

    # unbatched baseline: the builtin CNN one patch per call, on a subset
    loop_n = min(n_small, 256 if not cuda else 1024)
    loop_s = timed(builtin(args.width), [arrays[0][:loop_n] if loop_n <= len(arrays[0])
                                         else np.concatenate(arrays)[:loop_n]], 1, args.device, 1)

    base_rate = rows[0][3] / rows[0][4]
    head = (f"{'encoder':26s} {'E':>4s} {'batch':>5s} {'patches':>7s} {'seconds':>8s} {'patches/s':>10s} "
            f"{'vs intensity':>12s} {'GFLOP/patch':>11s} {'TFLOP/s':>8s}")
    if cuda:
        head += f" {'% bf16 peak':>11s}"
    print(head)
    for name, width, bs, n, s, flops in rows:
        rate = n / s
        tflops = flops * rate / 1e12
        line = (f"{name:26s} {width:4d} {bs:5d} {n:7d} {s:8.3f} {rate:10.1f} {rate / base_rate:11.3g}x "
                f"{flops / 1e9:11.3f} {tflops:8.3f}")
        if cuda:
            line += f" {100 * tflops / peak:10.2f}%" if peak else "          ?"
        print(line)
    batched_rate = rows[1][3] / rows[1][4]
    print(f"builtin CNN unbatched loop: {loop_n} patches in {loop_s:.3f} s = {loop_n / loop_s:.1f} patches/s; "
          f"batched ({args.batch_size}) is {batched_rate / (loop_n / loop_s):.1f}x faster")
    demo = 58 * 100
    vit_rate = rows[3][3] / rows[3][4]
    print(f"at these rates the demo cohort (58 x 100 patches) takes: builtin {demo / batched_rate:.1f} s, "
          f"intensity {demo / base_rate:.1f} s, ViT-B {demo / vit_rate:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
