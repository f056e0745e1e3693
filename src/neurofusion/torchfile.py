"""Writing torch files whose bytes depend on their content only."""

from __future__ import annotations

import os

import torch


def save_torch(obj, path: str | os.PathLike) -> None:
    """``torch.save`` with the same bytes for the same object, whatever the file is called.

    Given a path, torch.save names the zip's root folder after the file; the atomic
    writers' temporary names are random, so the bytes (and every hash of the file) would
    change on each run. Through an open file the root folder is always ``archive``.
    """
    with open(path, "wb") as f:
        torch.save(obj, f)
