"""Which scans share one preprocessing process (``preprocess.scans_per_job``).

A ``neurofusion preprocess`` process spends ~3 s before its first scan is done that later
scans in the same process do not pay: imports (torch, SimpleITK, scipy, matplotlib), loading
deepbet's two TorchScript networks and their first run, matplotlib's first figure. On the demo
a cold process took 6.7 s a scan and a warm one 3.7 s, with byte-identical outputs.

Batches must be stable, or batching would break the workflow's promise that only what changed
reruns: if batches were consecutive runs of k scans in sorted order, adding one subject would
shift every batch after it, and Snakemake would redo all of them. So the boundaries are
content-defined (as in rsync's or restic's chunking): a batch ends after a scan whose label
hashes to 0 modulo k, or when it reaches 2k scans. Adding, removing or changing one scan then
changes only the batch it falls in (it may split or merge with its neighbour); every other
batch keeps the same scans. Batches hold k scans on average.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence


def _ends_batch(label: str, k: int) -> bool:
    return int.from_bytes(hashlib.sha256(label.encode("utf-8")).digest()[:8], "big") % k == 0


def scan_batches(labels: Sequence[str], scans_per_job: int) -> list[list[str]]:
    """``labels`` (sorted or not) cut into batches in sorted order; every label in exactly one.

    ``scans_per_job`` 1 gives one batch per scan. A batch is named by its first label, which
    stays its name as long as that scan and the one before it do not change.
    """
    k = int(scans_per_job)
    if k < 1:
        raise ValueError(f"scans_per_job must be at least 1, got {scans_per_job!r}")
    ordered = sorted(labels)
    if len(set(ordered)) != len(ordered):
        raise ValueError("scan labels must be unique")
    batches: list[list[str]] = []
    current: list[str] = []
    for label in ordered:
        current.append(label)
        if k == 1 or _ends_batch(label, k) or len(current) >= 2 * k:
            batches.append(current)
            current = []
    if current:
        batches.append(current)
    return batches
