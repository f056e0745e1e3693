"""Read any supported export into the common long form, choosing the reader by content."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import NeurofusionError
from .detect import Sniffed, sniff
from .generic import read_annotation, read_generic_wide
from .measurements import Measurements
from .olink_long import read_olink_long
from .olink_wide import read_olink_wide


def sniff_all(paths: list[str | Path]) -> list[Sniffed]:
    seen, out = set(), []
    for p in paths:
        key = Path(p).resolve()
        if key in seen:
            raise NeurofusionError("listed twice", path=p, fix="list each protein table once")
        seen.add(key)
        out.append(sniff(p))
    return out


def merged_annotation(sniffed: list[Sniffed]) -> pd.DataFrame | None:
    """All side tables among the inputs, as one (column -> uniprot/gene/panel/lod) table."""
    frames = [read_annotation(s) for s in sniffed if s.layout == "annotation"]
    if not frames:
        return None
    merged = pd.concat(frames, ignore_index=True)
    dup = merged["column"].duplicated()
    if dup.any():
        raise NeurofusionError(f"protein column {merged['column'][dup].iloc[0]!r} is described in two side tables",
                               path=sniffed[0].path, fix="describe each protein column once")
    return merged


def read_measurements(sniffed: Sniffed, annotation: pd.DataFrame | None) -> Measurements:
    """One export -> Measurements (a stream of batches in the common long form)."""
    if sniffed.layout == "olink_long":
        return read_olink_long(sniffed)
    if sniffed.layout == "olink_wide":
        return read_olink_wide(sniffed)
    if sniffed.layout == "generic_wide":
        return read_generic_wide(sniffed, annotation)
    raise ValueError(sniffed.layout)
