"""Attention export: replay each fold's test subjects through that fold's checkpoint with
attention on, then write the long table, importance tables, NIfTI maps and the planted check.

The heavy lifting is pure functions over arrays (``long_table``, importance.py, maps.py,
planted.py); ``export_attention`` is the thin layer that calls
``neurofusion.training.predict.run_inference`` per checkpoint (inference mode, batched,
never training) and streams each fold's rows into attention.parquet.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import NeurofusionError
from ..io import all_or_nothing
from .importance import difference_name, patch_importance, protein_importance, received_attention
from .maps import load_grid, map_name, patch_volume, volume_image
from .planted import planted_check, read_truth

DIRECTIONS = ("mri_to_protein", "protein_to_mri")
METADATA_KEY = b"neurofusion.attention"


def long_table(participant_ids: Sequence[str], fold: int, attention: Sequence[dict],
               patch_ids: Sequence[int], protein_ids: Sequence[str]) -> pa.Table:
    """Rows (participant, layer, direction, [head,] query, key) -> weight, with patch_id and
    protein_id resolved so that no join is needed. Arrays [N,(H,)Q,S] per layer/direction."""
    patch_ids = np.asarray(patch_ids, dtype=np.int32)
    parts = []
    for layer, block in enumerate(attention):
        for direction in DIRECTIONS:
            w = np.asarray(block[direction], dtype=np.float32)
            per_head = w.ndim == 4
            w4 = w if per_head else w[:, None]  # [N, H, Q, S]
            n, h, q, s = w4.shape
            idx = np.indices((n, h, q, s)).reshape(4, -1)  # participant, head, query, key
            query, key = idx[2], idx[3]
            patch, protein = (query, key) if direction == "mri_to_protein" else (key, query)
            cols = {
                "participant_index": idx[0].astype(np.int32),
                "fold": np.full(idx.shape[1], fold, dtype=np.int16),
                "layer": np.full(idx.shape[1], layer, dtype=np.int16),
                "direction_index": np.full(idx.shape[1], DIRECTIONS.index(direction), dtype=np.int8),
                "head": idx[1].astype(np.int16),
                "query_index": query.astype(np.int32),
                "key_index": key.astype(np.int32),
                "weight": w4.reshape(-1),
                "patch_id": patch_ids[patch],
                "protein_index": protein.astype(np.int32),
            }
            parts.append((cols, per_head))
    return _to_arrow(parts, list(participant_ids), list(protein_ids))


def _to_arrow(parts, participant_ids, protein_ids) -> pa.Table:
    per_head = any(p for _, p in parts)
    cat = {k: np.concatenate([c[k] for c, _ in parts]) for k in parts[0][0]}
    columns = {
        "participant_id": pa.DictionaryArray.from_arrays(cat["participant_index"], pa.array(participant_ids, pa.string())),
        "fold": cat["fold"],
        "layer": cat["layer"],
        "direction": pa.DictionaryArray.from_arrays(cat["direction_index"], pa.array(list(DIRECTIONS), pa.string())),
    }
    if per_head:
        columns["head"] = cat["head"]
    columns.update(query_index=cat["query_index"], key_index=cat["key_index"], weight=cat["weight"],
                   patch_id=cat["patch_id"],
                   protein_id=pa.DictionaryArray.from_arrays(cat["protein_index"], pa.array(protein_ids, pa.string())))
    return pa.table(columns)


def _read_table(path, fix: str) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except FileNotFoundError:
        raise NeurofusionError("file not found", path=path, fix=fix)


def checkpoint_fold(path) -> int:
    """The fold a checkpoint was trained for, from its folder name (``.../fold-<k>/model.pt``)."""
    found = re.findall(r"fold-(\d+)", str(Path(path).parent.as_posix()))
    if not found:
        raise NeurofusionError("cannot tell which fold this checkpoint belongs to", path=path,
                               fix="pass checkpoints from results/train/<variant>/fold-<k>/model.pt")
    return int(found[-1])


def cohort_classes(cohort: pd.DataFrame, path) -> list[str]:
    pairs = cohort[["label_index", "label"]].drop_duplicates().sort_values("label_index")
    if pairs["label_index"].duplicated().any() or list(pairs["label_index"]) != list(range(len(pairs))):
        raise NeurofusionError("label_index does not map one-to-one onto labels 0..C-1", path=path,
                               fix="rerun the cohort step")
    return [str(x) for x in pairs["label"]]


@dataclass
class Accumulated:
    """Per-subject scores gathered over folds."""

    participant_ids: list[str] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    protein_scores: list[np.ndarray] = field(default_factory=list)  # [n, K] per fold
    patch_scores: list[np.ndarray] = field(default_factory=list)  # [n, P] per fold
    protein_present: list[np.ndarray | None] = field(default_factory=list)  # [n, K] bool or None
    patch_present: list[np.ndarray | None] = field(default_factory=list)  # [n, P] bool or None
    patch_ids: np.ndarray | None = None
    protein_ids: list[str] | None = None

    def check_tokens(self, patch_ids, protein_ids, checkpoint) -> None:
        if self.patch_ids is None:
            self.patch_ids, self.protein_ids = np.asarray(patch_ids), list(protein_ids)
        elif not np.array_equal(self.patch_ids, np.asarray(patch_ids)) or self.protein_ids != list(protein_ids):
            raise NeurofusionError("patches or proteins differ from the other folds' checkpoints", path=checkpoint,
                                   fix="retrain all folds from the same grid and protein catalog")


def export_attention(checkpoints, cohort_path, embeddings, grid_path, proteins_path, catalog_path, out_dir,
                     truth_path=None, per_head=False, device="cpu", batch_size=32) -> dict:
    truth = read_truth(truth_path) if truth_path else None  # fail before the slow part
    cohort = _read_table(cohort_path, "run the cohort step first")
    classes = cohort_classes(cohort, cohort_path)
    grid, meta = load_grid(grid_path)
    catalog = _read_table(catalog_path, "run the proteins step first")
    from ..training.predict import run_inference  # torch is imported only here
    out = Path(out_dir)
    names = ["attention.parquet", "protein_importance.tsv", "patch_importance.parquet"]
    names += [map_name(f"class-{c}") for c in classes] + [map_name("desc-difference"), "planted_check.json"]
    usable, skipped = split_by_modalities(cohort, embeddings, proteins_path)
    acc = Accumulated()
    label_of = dict(zip(cohort["participant_id"].astype(str), cohort["label_index"].astype(int)))
    file_info = json.dumps({"classes": classes, "per_head": bool(per_head), "skipped": skipped,
                            "difference": difference_name(classes)}, sort_keys=True).encode()
    with all_or_nothing(*(out / n for n in names)) as tmps:
        paths = dict(zip(names, tmps))
        writer = None
        try:
            for checkpoint in sorted(checkpoints, key=checkpoint_fold):
                fold = checkpoint_fold(checkpoint)
                test = usable[usable["fold"] == fold]
                ids = sorted(test["participant_id"].astype(str))
                if not ids:
                    continue
                result = run_inference(checkpoint, cohort_path, embeddings, grid_path, proteins_path, catalog_path,
                                       participant_ids=ids, return_attention=True, per_head=per_head,
                                       batch_size=batch_size, device=device)
                attention = getattr(result, "attention", None)
                if not attention:
                    raise NeurofusionError("the model has no cross-attention to export", path=checkpoint,
                                           fix="export attention for the fusion variant only (config attention.variants)")
                acc.check_tokens(result.patch_ids, result.protein_ids, checkpoint)
                table = long_table(result.participant_ids, fold, attention, acc.patch_ids, acc.protein_ids)
                table = table.replace_schema_metadata({METADATA_KEY: file_info})
                if writer is None:
                    writer = pq.ParquetWriter(paths["attention.parquet"], table.schema)
                writer.write_table(table)
                acc.participant_ids += list(result.participant_ids)
                acc.labels += [label_of[p] for p in result.participant_ids]
                mri_mask, prot_mask = _mask(result, "mri_mask"), _mask(result, "prot_mask")
                acc.protein_scores.append(received_attention([b["mri_to_protein"] for b in attention], mri_mask))
                acc.patch_scores.append(received_attention([b["protein_to_mri"] for b in attention], prot_mask))
                # a missing protein (patch) receives weight 0: leave it out of its mean
                acc.protein_present.append(prot_mask)
                acc.patch_present.append(mri_mask)
        finally:
            if writer is not None:
                writer.close()
        if not acc.participant_ids:
            raise NeurofusionError("no test subject has both MRI and proteins", path=cohort_path,
                                   fix="check has_mri / has_proteins in the cohort table")
        summary = write_summaries(acc, classes, grid, meta, catalog, truth, paths)
    summary["skipped"] = skipped
    return summary


def _participants_in(paths) -> set[str]:
    """participant_id values of Parquet files, reading that one column only."""
    ids: set[str] = set()
    for path in paths:
        try:
            column = pq.read_table(path, columns=["participant_id"]).column("participant_id")
        except FileNotFoundError:
            raise NeurofusionError("file not found", path=path, fix="run the step that writes it first")
        ids.update(str(x) for x in column.to_pylist())
    return ids


def split_by_modalities(cohort: pd.DataFrame, embeddings, proteins) -> tuple[pd.DataFrame, list[dict]]:
    """(subjects with MRI embeddings and protein values, [{participant_id, reason}] for the rest).

    Cross-attention needs both modalities; the others are written down, not dropped silently."""
    with_mri = _participants_in(embeddings)
    with_proteins = _participants_in([proteins])
    ids = cohort["participant_id"].astype(str)
    has_mri = cohort["has_mri"].astype(bool) & ids.isin(with_mri)
    has_prot = cohort["has_proteins"].astype(bool) & ids.isin(with_proteins)
    skipped = []
    for pid, m, p in zip(ids, has_mri, has_prot):
        if not (m and p):
            missing = " and ".join(name for name, ok in (("MRI embeddings", m), ("protein values", p)) if not ok)
            skipped.append({"participant_id": pid, "reason": f"no {missing}: no cross-attention"})
    return cohort[has_mri & has_prot], skipped


def _stack(masks):
    return None if not masks or any(m is None for m in masks) else np.vstack(masks)


def _mask(result, name):
    """A query mask of the inference result when it carries one ([N, Q] bool), else None."""
    value = getattr(result, name, None)
    if value is None:
        value = (getattr(result, "extra", None) or {}).get(name)
    return None if value is None else np.asarray(value, dtype=bool)


def write_summaries(acc: Accumulated, classes, grid, meta, catalog, truth, paths) -> dict:
    """Importance tables, NIfTI maps and planted check from the accumulated scores."""
    labels = np.asarray(acc.labels)
    proteins = protein_importance(np.vstack(acc.protein_scores), labels, classes, catalog, acc.protein_ids,
                                  _stack(acc.protein_present))
    patches = patch_importance(np.vstack(acc.patch_scores), labels, classes, grid, acc.patch_ids,
                               _stack(acc.patch_present))
    proteins.to_csv(paths["protein_importance.tsv"], sep="\t", index=False, na_rep="NA", float_format="%.6g")
    patches.to_parquet(paths["patch_importance.parquet"], index=False)
    shape = meta["shape"]
    for c in classes:
        volume = patch_volume(patches[f"attention_{c}"].to_numpy(), patches["patch_id"], grid, shape)
        volume_image(volume, meta, f"attention from proteins, class {c}").to_filename(paths[map_name(f"class-{c}")])
    volume = patch_volume(patches["difference"].to_numpy(), patches["patch_id"], grid, shape)
    volume_image(volume, meta, f"attention difference {difference_name(classes)}").to_filename(
        paths[map_name("desc-difference")])
    if truth is None:
        check = {"available": False, "reason": "no truth.json given (--truth)"}
    else:
        check = planted_check(patches, proteins, truth, classes)
    Path(paths["planted_check.json"]).write_text(json.dumps(check, indent=2, sort_keys=True) + "\n")
    return {"n_subjects": len(acc.participant_ids), "planted": check,
            "top_proteins": proteins["protein_id"].head(5).tolist()}
