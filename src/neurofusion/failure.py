"""Failure records: what a per-subject step writes where it could not make an output.

With ``preprocess.on_error: exclude`` a scan that cannot be read or registered does not
stop the workflow. Its preprocessing job succeeds and writes, in place of each image
output (brain, mask, transform) and later of its patch array, a small text file:

    neurofusion failure record
    <the one-line reason>

Snakemake sees every declared output, so the DAG stays the same and a fixed scan reruns
exactly that subject's chain. Every step that reads such a file first asks
:func:`failure_reason` and skips the subject; the cohort step excludes it with the reason
from its metrics JSON (``qc_pass: false``, ``failed: true``).
"""

from __future__ import annotations

import os
from pathlib import Path

from .io import atomic_output

MARK = b"neurofusion failure record\n"


def failure_record_bytes(reason: str) -> bytes:
    return MARK + " ".join(str(reason).split()).encode() + b"\n"


def write_failure_record(path: str | os.PathLike, reason: str) -> None:
    """Write the failure record of ``reason`` to ``path``, atomically."""
    with atomic_output(path) as tmp:
        Path(tmp).write_bytes(failure_record_bytes(reason))


def failure_reason(path: str | os.PathLike) -> str | None:
    """The reason of a failure record; None for any other file (or no file)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(MARK))
            if head != MARK:
                return None
            return fh.read(64_000).decode(errors="replace").strip()
    except OSError:
        return None
