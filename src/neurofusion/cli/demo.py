"""neurofusion demo-cohort: write the embedded demo cohort (BIDS scans, NPX table, truth)."""

from __future__ import annotations

import argparse

HELP = "Generate the synthetic demo cohort: BIDS whole-head T1w scans, an Olink NPX table and truth.json."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="output folder (gets bids/, olink_explore_npx.csv, truth.json)")
    parser.add_argument("--n-subjects", type=int, default=60, help="participants sub-001 .. sub-NNN (default 60)")
    parser.add_argument("--n-without-scan", type=int, default=2, help="the last N participant IDs get no scan (default 2)")
    parser.add_argument("--n-without-proteins", type=int, default=2,
                        help="N other participants get no protein measurement (default 2)")
    parser.add_argument("--seed", type=int, default=7, help="random seed; same settings + seed -> same bytes (default 7)")
    parser.add_argument("--threads", type=int, default=1, help="worker processes rendering scans (default 1)")


def run(args: argparse.Namespace) -> int:
    import time

    from ..demo.cohort import generate_cohort
    from ..demo.settings import DemoSettings
    from ..runtime import set_threads

    workers = set_threads(args.threads, torch=False)  # the generator never uses torch
    settings = DemoSettings(n_subjects=args.n_subjects, n_without_scan=args.n_without_scan,
                            n_without_proteins=args.n_without_proteins)
    start = time.perf_counter()
    truth = generate_cohort(args.out, settings, seed=args.seed, workers=workers, log=lambda m: print(m, flush=True))
    n_ad = sum(s["diagnosis"] == "AD" for s in truth["subjects"].values())
    print(f"demo cohort: {settings.n_subjects} subjects ({n_ad} AD), "
          f"{settings.n_subjects - len(truth['without_scan'])} scans, written to {args.out} "
          f"in {time.perf_counter() - start:.1f} s", flush=True)
    return 0
