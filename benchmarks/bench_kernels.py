"""What the portable CPU kernels (kernels.py) and fused AdamW cost, against native kernels.

    .venv/bin/python benchmarks/bench_kernels.py [--rounds 3] [--only "pretraining epoch" ...]

Every `neurofusion` step asks torch and oneDNN for their AVX2 kernels and MKL for its
vendor-independent branch (MKL_CBWR=COMPATIBLE), so that any x86-64 machine computes the
same bits (README, "Same inputs, same outputs"). On a CPU with more than AVX2 that costs
speed. This benchmark times the demo's torch work under three kernel settings, each in a
fresh process (the libraries read their settings once, at import):

  native     NEUROFUSION_CPU_KERNELS=native: everything the CPU has (the baseline)
  avx2       torch and oneDNN on AVX2, MKL on its own choice of branch (MKL_CBWR=AUTO)
  portable   the steps' default: AVX2, and MKL's COMPATIBLE branch

Workloads, at the demo's sizes and thread counts: one epoch of the encoder's contrastive
pretraining (2,048 patches of 14^3, batches of 64, 2 threads), the embedding pass over a demo
cohort's patches (44 x 94, 2 threads), brain extraction of one 2 mm whole head (deepbet,
1 thread), and 60 AdamW steps of the fusion transformer at config/model.yaml's sizes
(1 thread), with fused (the steps' optimiser) and unfused AdamW. Each mode runs in --rounds
fresh processes, the modes taking turns; a time is the best of them (each after a warm-up).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

MODES = {
    "native": {"NEUROFUSION_CPU_KERNELS": "native"},
    "avx2": {"NEUROFUSION_CPU_KERNELS": "portable", "MKL_CBWR": "AUTO"},
    "portable": {"NEUROFUSION_CPU_KERNELS": "portable"},
}
WORKLOADS = ("pretraining epoch", "embedding pass", "brain extraction", "transformer, fused AdamW",
             "transformer, unfused AdamW")


def _best(fn, repeats: int) -> float:
    fn()  # warm-up: first-call allocations, oneDNN's kernel generation
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _pretraining():
    import numpy as np

    from neurofusion.embeddings.pretrain import PretrainConfig, pretrain_builtin
    from neurofusion.runtime import set_threads

    patches = np.random.default_rng(1).standard_normal((44 * 94, 14, 14, 14)).astype(np.float16)

    def run():
        set_threads(2)
        pretrain_builtin(patches, PretrainConfig(epochs=1, seed=0))

    return run


def _embedding():
    import torch

    from neurofusion.embeddings.builtin import BuiltinConfig, BuiltinEncoder
    from neurofusion.runtime import set_threads

    torch.manual_seed(0)
    encoder = BuiltinEncoder(BuiltinConfig()).eval()
    x = torch.randn(44 * 94, 1, 14, 14, 14, generator=torch.Generator().manual_seed(2))

    def run():
        set_threads(2)
        with torch.inference_mode():
            for batch in x.split(64):
                encoder(batch)

    return run


def _brain_extraction():
    import numpy as np

    from neurofusion.imaging.brain_extraction import extract_brain
    from neurofusion.imaging.phantom import synthetic_head
    from neurofusion.runtime import set_threads

    head = np.asarray(synthetic_head(2.0, rotation_deg=(9.0, -5.0, 7.0), seed=11).dataobj, dtype=np.float32)

    def run():
        set_threads(1)
        extract_brain(head, 2.0)

    return run


def _transformer(fused: bool):
    import torch

    from neurofusion.model import FusionConfig
    from neurofusion.model.ensemble import build_model
    from neurofusion.runtime import set_threads

    b, p, k, e = 8, 94, 40, 64
    g = torch.Generator().manual_seed(4)
    inputs = (torch.randn(b, p, e, generator=g), torch.randn(b, p, 3, generator=g) * 40,
              torch.ones(b, p, dtype=torch.bool), torch.randn(b, k, generator=g),
              (torch.rand(b, k, 2, generator=g) > 0.8).float(), torch.arange(k) % 8, torch.arange(k) // 8,
              torch.ones(b, k, dtype=torch.bool))
    labels = torch.arange(b) % 2
    cfg = FusionConfig(embed_dim=e, num_categories=8, max_position=16, num_flags=2, num_classes=2, hidden_dim=32,
                       num_heads=4, num_self_layers=1, num_cross_layers=1, coord_hidden=16,
                       linear_features=e * p + 3 * k, variant="fusion")

    def run():
        set_threads(1)
        torch.manual_seed(0)
        model = build_model(cfg)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01, fused=fused,
                                foreach=None if fused else False)
        for _ in range(60):
            loss = torch.nn.functional.cross_entropy(model(*inputs)["logits"], labels)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    return run


BUILDERS = {
    "pretraining epoch": _pretraining,
    "embedding pass": _embedding,
    "brain extraction": _brain_extraction,
    "transformer, fused AdamW": lambda: _transformer(True),
    "transformer, unfused AdamW": lambda: _transformer(False),
}


def child(workloads: list[str], repeats: int) -> None:
    from neurofusion.kernels import choose_cpu_kernels

    choose_cpu_kernels()  # before torch loads, as the command-line entry point does
    import torch

    torch.manual_seed(0)
    times = {name: _best(BUILDERS[name](), repeats) for name in workloads}
    print(json.dumps({"times": times, "capability": torch.backends.cpu.get_cpu_capability()}))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=1, help="timed runs per process, after a warm-up")
    ap.add_argument("--rounds", type=int, default=3, help="processes per kernel mode, taking turns")
    ap.add_argument("--only", nargs="+", choices=WORKLOADS, default=list(WORKLOADS), metavar="WORKLOAD")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(args.only, args.repeats)
        return 0

    from neurofusion.kernels import PORTABLE_X86, VARIABLE, choose_cpu_kernels

    choose_cpu_kernels()  # this process's line below then names the steps' own kernels
    from neurofusion.runtime import cpu_description

    print(f"cpu: {cpu_description()}", flush=True)  # ratios hold for this CPU
    # the modes take turns, round after round, so a slow spell of a shared machine falls on all
    # of them; each time is the best over the rounds
    results: dict[str, dict] = {}
    for round_ in range(1, args.rounds + 1):
        for mode, settings in MODES.items():
            # what kernels.py sets is cleared for each child, so a setting of the caller's does not leak in
            env = {k: v for k, v in os.environ.items() if k not in PORTABLE_X86 and k != VARIABLE}
            env.update(settings, OMP_WAIT_POLICY="PASSIVE")
            proc = subprocess.run([sys.executable, __file__, "--child", "--repeats", str(args.repeats), "--only",
                                   *args.only], env=env, capture_output=True, text=True)
            if proc.returncode:
                print(f"bench_kernels: the {mode} run failed:\n{proc.stderr[-3000:]}", file=sys.stderr)
                return 1
            got = json.loads(proc.stdout.strip().splitlines()[-1])
            print(f"round {round_} {mode:9s} torch kernels {got['capability']}: "
                  + ", ".join(f"{name} {t:.2f} s" for name, t in got["times"].items()), flush=True)
            best = results.setdefault(mode, got)
            best["times"] = {name: min(t, best["times"][name]) for name, t in got["times"].items()}

    native = results["native"]["times"]
    print(f"\n{'workload':28s} {'native':>8s} {'avx2':>8s} {'portable':>9s}  portable / native")
    for name in args.only:
        row = [results[mode]["times"][name] for mode in MODES]
        print(f"{name:28s} {row[0]:7.2f}s {row[1]:7.2f}s {row[2]:8.2f}s  {row[2] / native[name]:.2f}x")
    if {"transformer, fused AdamW", "transformer, unfused AdamW"} <= set(args.only):
        for mode in MODES:
            t = results[mode]["times"]
            print(f"on {mode} kernels, fused AdamW (the steps') takes "
                  f"{t['transformer, fused AdamW'] / t['transformer, unfused AdamW']:.2f}x the time of unfused AdamW")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
