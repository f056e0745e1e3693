"""The planted-signal check: does attention land where the demo (or a user) planted signal?

``truth.json`` names a planted MRI region (centres and a radius in template mm) and planted
proteins (gene symbols or protein IDs). The demo writes (src/neurofusion/demo/cohort.py)

    "mri_region": {"centers_mm": [[x, y, z], ...], "radius_mm": r, ...}
    "planted_proteins": ["GENE", ...]

The reader also accepts, anywhere in the file, a dict with one centre (``centre_mm`` /
``center_mm``) and ``radius_mm``, and protein lists under ``proteins``/``genes`` whose
items are strings or dicts with ``gene``/``symbol``/``protein_id``.

Enrichment = mean patch attention (from protein tokens) over patches whose centres lie in
a planted region / mean over all other patches; > 1 means attention concentrates there.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import NeurofusionError
from ..io import read_json

CENTRE_KEYS = ("centre_mm", "center_mm", "centre", "center", "centre_mni", "center_mni")
CENTRES_KEYS = ("centres_mm", "centers_mm", "centres", "centers")
RADIUS_KEYS = ("radius_mm", "radius")
PROTEIN_KEYS = ("planted_proteins", "proteins", "planted_genes", "genes", "gene_symbols")
PROTEIN_ITEM_KEYS = ("gene", "symbol", "gene_symbol", "protein_id", "protein", "name", "uniprot")


@dataclass
class PlantedTruth:
    regions: list[tuple[np.ndarray, float]] = field(default_factory=list)  # (centre [3] mm, radius mm)
    proteins: list[str] = field(default_factory=list)


def read_truth(path) -> PlantedTruth:
    """Planted regions and proteins from a truth.json (the demo's, or a user's)."""
    data = read_json(path)
    truth = PlantedTruth()
    _collect(data, truth, path)
    truth.proteins = list(dict.fromkeys(truth.proteins))
    if not truth.regions and not truth.proteins:
        raise NeurofusionError(
            "no planted region (centers_mm or centre_mm + radius_mm) or planted protein list found", path=path,
            fix='give e.g. {"mri_region": {"centers_mm": [[x, y, z]], "radius_mm": r}, "planted_proteins": ["GENE"]}',
        )
    return truth


def _collect(node, truth: PlantedTruth, path) -> None:
    """Walk the JSON: dicts holding a centre (or centres) and a radius are regions; lists
    under a protein key are planted proteins."""
    if isinstance(node, dict):
        radius = next((node[k] for k in RADIUS_KEYS if k in node), None)
        centre = next((node[k] for k in CENTRE_KEYS if k in node), None)
        centres = next((node[k] for k in CENTRES_KEYS if k in node), None)
        if radius is not None and centre is not None:
            truth.regions.append(_region(centre, radius, path))
        if radius is not None and isinstance(centres, list):
            truth.regions += [_region(c, radius, path) for c in centres]
        for key, value in node.items():
            if key in PROTEIN_KEYS and isinstance(value, list):
                truth.proteins += [name for name in map(_protein_name, value) if name]
            elif key not in CENTRE_KEYS + CENTRES_KEYS + RADIUS_KEYS:
                _collect(value, truth, path)
    elif isinstance(node, list):
        for item in node:
            _collect(item, truth, path)


def _protein_name(item) -> str | None:
    if isinstance(item, str):
        return item
    if isinstance(item, dict):
        return next((item[k] for k in PROTEIN_ITEM_KEYS if isinstance(item.get(k), str)), None)
    return None


def _region(centre, radius, path) -> tuple[np.ndarray, float]:
    try:
        c = np.asarray(centre, dtype=np.float64).reshape(3)
        r = float(radius)
    except (TypeError, ValueError):
        raise NeurofusionError(f"planted region centre {centre!r} / radius {radius!r} is not 3 numbers + 1 number",
                               path=path, fix="write the centre as [x, y, z] in template mm")
    if not np.isfinite(c).all() or not r > 0:
        raise NeurofusionError(f"planted region radius {radius!r} must be a positive number", path=path,
                               fix="fix the radius in truth.json")
    return c, r


def patches_in_regions(patches: pd.DataFrame, truth: PlantedTruth) -> tuple[np.ndarray, list[str]]:
    """(bool [P]: patch counted as inside, how each region was matched).

    A patch is inside when its centre (x_mm, y_mm, z_mm) lies in a planted sphere. A sphere
    smaller than the patch spacing may hold no patch centre; it then takes the patch whose
    centre is nearest to the sphere's centre, and says so."""
    centres = patches[["x_mm", "y_mm", "z_mm"]].to_numpy(dtype=np.float64)
    inside = np.zeros(len(patches), dtype=bool)
    how = []
    for centre, radius in truth.regions:
        distance = np.linalg.norm(centres - centre, axis=1)
        hit = distance <= radius
        if hit.any():
            k = int(hit.sum())
            how.append(f"{k} patch centre{'' if k == 1 else 's'} inside")
        elif len(distance):
            hit = distance == distance.min()
            how.append(f"no patch centre inside: the nearest patch ({distance.min():.1f} mm away) stands in")
        inside |= hit
    return inside, how


def enrichment(values: np.ndarray, inside: np.ndarray) -> float | None:
    if not inside.any() or inside.all():
        return None
    outside = float(np.nanmean(values[~inside]))
    return float(np.nanmean(values[inside]) / outside) if outside > 0 else None


def planted_check(patches: pd.DataFrame, proteins: pd.DataFrame, truth: PlantedTruth,
                  classes) -> dict:
    """The JSON written to planted_check.json (patches/proteins: importance tables)."""
    result: dict = {"available": True, "classes": list(classes)}
    columns = ["attention_all"] + [f"attention_{c}" for c in classes] + ["difference"]
    if truth.regions:
        inside, how = patches_in_regions(patches, truth)
        result["region"] = {
            "regions": [{"centre_mm": c.tolist(), "radius_mm": r, "patches": h} for (c, r), h in zip(truth.regions, how)],
            "n_patches_inside": int(inside.sum()),
            "n_patches_outside": int((~inside).sum()),
            "patch_ids_inside": patches.loc[inside, "patch_id"].astype(int).tolist(),
            "enrichment": {col.removeprefix("attention_"): enrichment(patches[col].to_numpy(), inside)
                           for col in columns if col != "difference"},
            "mean_difference_inside": float(patches.loc[inside, "difference"].mean()) if inside.any() else None,
            "mean_difference_outside": float(patches.loc[~inside, "difference"].mean()) if (~inside).any() else None,
        }
    if truth.proteins:
        result["proteins"] = [_protein_rank(name, proteins) for name in truth.proteins]
        result["n_proteins"] = int(len(proteins))
    return result


def _protein_rank(name: str, proteins: pd.DataFrame) -> dict:
    wanted = name.strip().lower()
    hit = proteins[(proteins["gene"].astype(str).str.lower() == wanted)
                   | (proteins["protein_id"].astype(str).str.lower() == wanted)]
    if hit.empty:
        return {"name": name, "found": False}
    row = hit.sort_values("rank").iloc[0]
    return {"name": name, "found": True, "protein_id": str(row["protein_id"]), "rank": int(row["rank"]),
            "rank_difference": int(row["rank_difference"]), "attention_all": float(row["attention_all"]),
            "difference": float(row["difference"])}
