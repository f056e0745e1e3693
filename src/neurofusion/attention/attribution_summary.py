"""Per-subject attributions -> per-token tables, class maps and the planted check per method.

Attributions are signed (score = positive-class log-odds). Per token and method:

    <method>               mean |attribution| over test subjects     (how much the token matters)
    <method>_<class>       mean attribution in that class            (which way it pushes)
    <method>_difference    last class minus first (e.g. AD - CN)
    <method>_rank          1 = largest <method>;  <method>_rank_difference by |difference|

Controls (``randomised``: same architecture, fresh weights; ``shuffled``: trained on permuted
labels) get the same columns with the control's name after the method: <method>_randomised, ...

Planted check per method (and control): the enrichment is mean |map| over the patches in
the planted region / mean |map| over the other patches, for the magnitude map (``all``),
each class map and the difference map; the headline is the larger of the positive class's
and the difference map's, as in the targets below. Planted proteins: rank by <method> and by
|difference|, and their median rank. What the controls are read against (sanity.py): the
per-subject rank similarity of each control's map to the trained one, and the same check on
``input_difference``, the inputs' own class difference per token.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from .importance import _nanmean, difference_name, rank_descending
from .methods import CONTROLS, METHODS
from .planted import PlantedTruth, patches_in_regions
from .sanity import INPUT_COLUMN
# the targets of the planted check (issue "attribution that finds what is there")
REGION_TARGET = 3.0         # headline enrichment of the trained model's map
CONTROL_CEILING = 1.3       # headline enrichment a randomised model must stay under
PROTEIN_RANK_TARGET = 5     # median rank of the planted proteins by the method's score


def column(method: str, kind: str = "trained", stat: str = "") -> str:
    name = method if kind == "trained" else f"{method}_{kind}"
    return f"{name}_{stat}" if stat else name


def token_columns(scores: np.ndarray, labels: np.ndarray, classes: Sequence[str], present, method: str,
                  kind: str = "trained") -> dict[str, np.ndarray]:
    """scores [N, X] signed; present [N, X] bool or None -> the columns of one method/model."""
    values = np.where(present, scores, np.nan) if present is not None else np.asarray(scores, np.float64)
    out = {column(method, kind): _nanmean(np.abs(values))}
    for c, name in enumerate(classes):
        out[column(method, kind, name)] = _nanmean(values[labels == c])
    out[column(method, kind, "difference")] = out[column(method, kind, classes[-1])] - out[column(method, kind, classes[0])]
    return out


def _add_ranks(table: pd.DataFrame, methods: Sequence[str]) -> None:
    for m in methods:
        table[column(m, stat="rank")] = rank_descending(table[m].to_numpy())
        table[column(m, stat="rank_difference")] = rank_descending(np.abs(table[column(m, stat="difference")].to_numpy()))


def attribution_tables(results: dict, labels, classes, methods, patch_ids=None, grid=None, protein_ids=None,
                       catalog=None, patch_present=None, protein_present=None, raw_protein=None,
                       input_difference=None):
    """(patch table or None, protein table or None).

    results: {kind: {method: {"mri": [N, P], "protein": [N, K]}}} with kind "trained" and any
    of CONTROLS; raw_protein: the raw attention's protein scores to show beside ([K] or None);
    input_difference: {"mri": [P], "protein": [K]}, the inputs' own class difference per token
    (sanity.FoldClassDifference), written as the column ``input_difference`` beside the methods'.
    """
    input_difference = input_difference or {}
    labels = np.asarray(labels)
    patch_cols, protein_cols = {}, {}
    for kind, per_method in results.items():
        for m in methods:
            got = per_method.get(m, {})
            if "mri" in got:
                patch_cols.update(token_columns(got["mri"], labels, classes, patch_present, m, kind))
            if "protein" in got:
                protein_cols.update(token_columns(got["protein"], labels, classes, protein_present, m, kind))
    patches = proteins = None
    if patch_cols:
        coords = grid.set_index("patch_id").loc[list(patch_ids), ["x_mm", "y_mm", "z_mm"]].reset_index()
        coords["patch_id"] = coords["patch_id"].astype(np.int32)
        if input_difference.get("mri") is not None:
            patch_cols[INPUT_COLUMN] = np.asarray(input_difference["mri"], np.float64)
        patches = pd.concat([coords, pd.DataFrame(patch_cols)], axis=1)
        _add_ranks(patches, methods)
    if protein_cols:
        info = catalog.set_index("protein_id")
        ids = list(protein_ids)
        head = {"protein_id": ids,
                "gene": [info["gene"].get(p, "") if "gene" in info else "" for p in ids],
                "category": [info["category"].get(p, "") if "category" in info else "" for p in ids]}
        if raw_protein is not None:
            head["attention"] = np.asarray(raw_protein, np.float64)
        if input_difference.get("protein") is not None:
            protein_cols[INPUT_COLUMN] = np.asarray(input_difference["protein"], np.float64)
        proteins = pd.concat([pd.DataFrame(head), pd.DataFrame(protein_cols)], axis=1)
        _add_ranks(proteins, methods)
        proteins = proteins.sort_values([column(methods[0], stat="rank"), "protein_id"], kind="stable")
        proteins = proteins.reset_index(drop=True)
    return patches, proteins


def magnitude_enrichment(values: np.ndarray, inside: np.ndarray) -> float | None:
    """mean |value| inside / mean |value| outside (None when undefined)."""
    v = np.abs(np.asarray(values, np.float64))
    if not inside.any() or inside.all():
        return None
    outside = float(np.nanmean(v[~inside]))
    return float(np.nanmean(v[inside]) / outside) if outside > 0 else None


def _region_check(patches, inside, classes, method, kind) -> dict:
    stats = {"all": column(method, kind), **{c: column(method, kind, c) for c in classes},
             "difference": column(method, kind, "difference")}
    enrichment = {k: magnitude_enrichment(patches[col].to_numpy(), inside) for k, col in stats.items()}
    candidates = [(enrichment[k], k) for k in (classes[-1], "difference") if enrichment[k] is not None]
    best = max(candidates) if candidates else (None, None)
    out = {"enrichment": enrichment, "headline": best[0], "headline_map": best[1]}
    if not any(np.any(patches[col].to_numpy() != 0) for col in stats.values()):
        out["all_zero"] = True   # e.g. relevance of a model whose selected epoch is its linear path
    return out


def _planted_rows(proteins, names) -> list[np.ndarray]:
    """Per planted protein name, the table rows whose gene or protein_id it is (any case)."""
    genes = proteins["gene"].astype(str).str.lower().to_numpy()
    ids = proteins["protein_id"].astype(str).str.lower().to_numpy()
    return [np.flatnonzero((genes == n.strip().lower()) | (ids == n.strip().lower())) for n in names]


def _protein_check(proteins, names, method, kind) -> dict:
    score = proteins[column(method, kind)].to_numpy()
    difference = proteins[column(method, kind, "difference")].to_numpy()
    rank, rank_diff = rank_descending(score), rank_descending(np.abs(difference))
    found = []
    for name, hit in zip(names, _planted_rows(proteins, names)):
        if len(hit):
            i = hit[np.argmin(rank[hit])]
            found.append({"name": name, "protein_id": str(proteins["protein_id"].iloc[i]), "rank": int(rank[i]),
                          "rank_difference": int(rank_diff[i])})
        else:
            found.append({"name": name, "found": False})
    if not np.any(score != 0):   # nothing to rank: every protein ties at 0
        return {"proteins": [{"name": p["name"], "found": p.get("found", True)} for p in found],
                "median_rank": None, "median_rank_difference": None, "all_zero": True}
    ranks = [p["rank"] for p in found if "rank" in p]
    return {"proteins": found, "median_rank": float(np.median(ranks)) if ranks else None,
            "median_rank_difference": float(np.median([p["rank_difference"] for p in found if "rank" in p]))
            if ranks else None}


def attribution_check(patches, proteins, truth: PlantedTruth | None, classes, methods, kinds,
                      dependence: dict | None = None) -> dict:
    """The "attribution" part of planted_check.json: per method and model, region and proteins.

    ``dependence`` (sanity.model_dependence): per method and control, the rank similarity of the
    per-subject maps, stored under the control as ``rank_similarity``. With an
    ``input_difference`` column in the tables, ``inputs`` holds what the inputs' own class
    difference gives: its region enrichment and the planted proteins' median rank by it."""
    if truth is None:
        return {"available": False, "reason": "no truth.json given (--truth)"}
    out: dict = {"available": True, "classes": list(classes), "difference": difference_name(classes),
                 "targets": {"region_enrichment": REGION_TARGET, "randomised_ceiling": CONTROL_CEILING,
                             "protein_median_rank": PROTEIN_RANK_TARGET},
                 "methods": {}}
    inside = None
    if truth.regions and patches is not None:
        inside, how = patches_in_regions(patches, truth)
        out["region"] = {"centres_mm": [c.tolist() for c, _ in truth.regions],
                         "radii_mm": [r for _, r in truth.regions], "n_patches_inside": int(inside.sum()), "n_patches_outside": int((~inside).sum()),
                         "patch_ids_inside": patches.loc[inside, "patch_id"].astype(int).tolist(), "patches": how}
    if proteins is not None and truth.proteins:
        out["n_proteins"] = int(len(proteins))
    inputs = _input_check(patches, proteins, truth, inside)
    if inputs:
        out["inputs"] = inputs
    for m in methods:
        entry = {}
        for kind in kinds:
            one = {}
            if inside is not None:
                one["region"] = _region_check(patches, inside, classes, m, kind)
            if proteins is not None and truth.proteins:
                one.update(_protein_check(proteins, truth.proteins, m, kind))
            similarity = (dependence or {}).get(m, {}).get(kind)
            if similarity:
                one["rank_similarity"] = similarity
            entry[kind] = one
        entry["verdict"] = _verdict(entry)
        out["methods"][m] = entry
    out["supported"] = {part: [m for m in methods if out["methods"][m]["verdict"].get(part)]
                        for part in ("region", "proteins")}
    return out


def _input_check(patches, proteins, truth: PlantedTruth, inside) -> dict:
    """The yardstick of the controls: the planted check applied to the inputs' own class difference."""
    out = {}
    if inside is not None and INPUT_COLUMN in patches:
        value = magnitude_enrichment(patches[INPUT_COLUMN].to_numpy(), inside)
        out["region_enrichment"] = value if value is not None and np.isfinite(value) else None
    if proteins is not None and truth.proteins and INPUT_COLUMN in proteins:
        rank = rank_descending(proteins[INPUT_COLUMN].to_numpy(np.float64))  # NaN ranks last
        ranks = [int(rank[hit].min()) for hit in _planted_rows(proteins, truth.proteins) if len(hit)]
        out["protein_ranks"] = ranks
        out["protein_median_rank"] = float(np.median(ranks)) if ranks else None
    return out


def _verdict(entry: dict) -> dict:
    """Does the planted check support this method? Region: the trained map meets the target and
    the randomised model's stays under the ceiling; proteins: median rank meets the target and the
    randomised model's does not."""
    verdict = {}
    trained, randomised = entry.get("trained", {}), entry.get("randomised", {})
    if "region" in trained:
        real = trained["region"]["headline"]
        control = randomised.get("region", {}).get("headline")
        verdict["region"] = bool(real is not None and real >= REGION_TARGET
                                 and (control is None or control <= CONTROL_CEILING))
    if trained.get("median_rank") is not None:
        control = randomised.get("median_rank")
        verdict["proteins"] = bool(trained["median_rank"] <= PROTEIN_RANK_TARGET
                                   and (control is None or control > PROTEIN_RANK_TARGET))
    return verdict
