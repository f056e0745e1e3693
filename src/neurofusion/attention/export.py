"""Attention export: replay each fold's test subjects through that fold's checkpoint with
attention on, then write the long table, importance tables, NIfTI maps and the planted check;
beside it, the faithful attributions of attribution.py per method, for the trained model and
its controls (randomised weights; trained on shuffled labels), and per-subject maps on request.

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
from .attribution import METHODS, attribute, check_methods, randomised_copy
from .attribution_summary import CONTROLS, attribution_check, attribution_tables, column
from .sanity import FoldClassDifference, model_dependence
from .importance import difference_name, patch_importance, protein_importance, received_attention
from .maps import attribution_map_name, load_grid, map_name, patch_volume, subject_map_name, volume_image
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


def attribution_names(classes, methods, uses_mri: bool, uses_proteins: bool, controls=CONTROLS) -> list[str]:
    """The attribution outputs of one variant (beside the raw attention's)."""
    names = ["attribution.parquet"]
    if uses_proteins:
        names.append("protein_attribution.tsv")
    if uses_mri:
        names.append("patch_attribution.parquet")
        for m in methods:
            for kind in ("trained", *controls):
                names += [attribution_map_name(m, f"class-{c}", kind) for c in classes]
                names.append(attribution_map_name(m, "desc-difference", kind))
    return names


@dataclass
class Attributions:
    """Per-subject attributions gathered over folds: {kind: {method: {modality: [[n, X] per fold]}}}."""

    parts: dict = field(default_factory=dict)
    integrated_delta: list[np.ndarray] = field(default_factory=list)
    folds: list[np.ndarray] = field(default_factory=list)

    def add(self, kind: str, result: dict) -> None:
        for method, per_modality in result.items():
            if method == "integrated_delta":
                if kind == "trained":
                    self.integrated_delta.append(per_modality)
                continue
            for modality, values in per_modality.items():
                self.parts.setdefault(kind, {}).setdefault(method, {}).setdefault(modality, []).append(values)

    def stacked(self) -> dict:
        return {kind: {m: {mod: np.vstack(v) for mod, v in per.items()} for m, per in methods.items()}
                for kind, methods in self.parts.items()}


def export_attention(checkpoints, cohort_path, embeddings, grid_path, proteins_path, catalog_path, out_dir,
                     truth_path=None, per_head=False, device="cpu", batch_size=32, methods=METHODS,
                     shuffled_checkpoints=(), randomise_seed: int | None = 0, ig_steps: int = 32,
                     subjects_dir=None, scans=(), transforms=(), interpolation="linear") -> dict:
    """Raw cross-attention (fusion) and the attributions of ``methods`` for every test subject.

    Controls: ``randomise_seed`` (None = off) re-draws the weights of each fold's model;
    ``shuffled_checkpoints`` are one model.pt per fold trained on permuted labels. With
    ``subjects_dir``, one map per test subject and method in template space and, from the
    subject's scan and xfm.mat (``scans``/``transforms``, matched by sub-<label>), in native space.
    """
    truth = read_truth(truth_path) if truth_path else None  # fail before the slow part
    methods = check_methods(methods)
    cohort = _read_table(cohort_path, "run the cohort step first")
    classes = cohort_classes(cohort, cohort_path)
    grid, meta = load_grid(grid_path)
    catalog = _read_table(catalog_path, "run the proteins step first")
    native = native_inputs(scans, transforms) if subjects_dir else {}
    from ..model import members_of  # torch is imported only here
    from ..training.checkpoint import load_checkpoint
    from ..training.data import grid_hash, load_sources
    from ..training.predict import inputs_for, run_inference
    out = Path(out_dir)
    models = {checkpoint_fold(c): (c, *load_checkpoint(c)) for c in checkpoints}
    shuffled = {checkpoint_fold(c): (c, *load_checkpoint(c)) for c in shuffled_checkpoints}
    variants = {ckpt["variant"] for _, _, ckpt in [*models.values(), *shuffled.values()]}
    if len(variants) != 1:
        raise NeurofusionError(f"checkpoints of several variants ({', '.join(sorted(variants))}) were given",
                               path=checkpoints[0], fix="export one variant per call")
    missing = sorted(set(shuffled) ^ set(models)) if shuffled else []
    if missing:
        raise NeurofusionError(f"shuffled-label checkpoints do not cover the same folds (fold {missing[0]})",
                               path=shuffled_checkpoints[0], fix="pass one shuffled-label model.pt per fold")
    cfg = next(iter(models.values()))[1].cfg
    raw = len(members_of(next(iter(models.values()))[1])[0].cross) > 0
    controls = [k for k, on in (("randomised", randomise_seed is not None), ("shuffled", bool(shuffled))) if on]
    names = []
    if raw:
        names += ["attention.parquet", "protein_importance.tsv", "patch_importance.parquet"]
        names += [map_name(f"class-{c}") for c in classes] + [map_name("desc-difference")]
    names += attribution_names(classes, methods, cfg.uses_mri, cfg.uses_proteins, controls) + ["planted_check.json"]
    shards_of = fold_shards(embeddings, models, shuffled)
    usable, skipped = split_by_modalities(cohort, shards_of[min(models)], proteins_path)
    sources: dict[tuple, object] = {}

    def source(fold):
        key = tuple(shards_of[fold])
        if key not in sources:
            sources[key] = load_sources(cohort_path, list(key), grid_path, proteins_path, catalog_path)
        return sources[key]

    src = source(min(models))
    for path, _, ckpt in [*models.values(), *shuffled.values()]:
        if grid_hash(src.grid, src.grid_meta) != ckpt["grid"]["sha256"]:
            raise NeurofusionError("patch grid differs from the one the model was trained with", path=path,
                                   fix="use the grid.parquet of the training run, or retrain")
    found = Attributions()
    acc = Accumulated()
    inputs = {"mri": FoldClassDifference(len(classes)), "protein": FoldClassDifference(len(classes))}  # controls' yardstick
    label_of = dict(zip(cohort["participant_id"].astype(str), cohort["label_index"].astype(int)))
    file_info = json.dumps({"classes": classes, "per_head": bool(per_head), "skipped": skipped,
                            "difference": difference_name(classes)}, sort_keys=True).encode()
    with all_or_nothing(*(out / n for n in names)) as tmps:
        paths = dict(zip(names, tmps))
        writer = None
        try:
            for fold in sorted(models):
                checkpoint, model, ckpt = models[fold]
                test = usable[usable["fold"] == fold]
                ids = sorted(test["participant_id"].astype(str))
                if not ids:
                    continue
                src = source(fold)
                data = inputs_for(ckpt, src, ids)
                found.add("trained", attribute(model, data, methods, batch_size, device, ig_steps))
                acc.check_tokens(ckpt["grid"]["patch_ids"], ckpt["proteins"]["protein_ids"], checkpoint)  # before any use
                if cfg.uses_mri:
                    inputs["mri"].add(data.mri.numpy(), data.mri_mask.numpy(), data.labels.numpy())
                if cfg.uses_proteins:
                    inputs["protein"].add(data.prot_values.numpy(), data.prot_mask.numpy(), data.labels.numpy())
                if randomise_seed is not None:
                    found.add("randomised", attribute(randomised_copy(model, int(randomise_seed) * 1000 + fold), data,
                                                      methods, batch_size, device, ig_steps))
                if shuffled:
                    _, s_model, s_ckpt = shuffled[fold]
                    found.add("shuffled", attribute(s_model, inputs_for(s_ckpt, src, ids), methods, batch_size,
                                                    device, ig_steps))
                found.folds.append(np.full(len(ids), fold, np.int16))
                if not raw:
                    acc.participant_ids += ids
                    acc.labels += [label_of[p] for p in ids]
                    acc.protein_present.append(data.prot_mask.numpy())
                    acc.patch_present.append(data.mri_mask.numpy())
                    continue
                result = run_inference((model, ckpt), cohort_path, shards_of[fold], grid_path, proteins_path, catalog_path,
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
        if raw:
            summary = write_summaries(acc, classes, grid, meta, catalog, truth, paths)
        else:
            summary = {"n_subjects": len(acc.participant_ids), "top_proteins": [],
                       "planted": {"available": False, "reason": "no cross-attention in this variant"}}
        raw_protein = None
        if raw:
            raw_protein = received_attention_mean(acc)
        results = found.stacked()
        presents = {"mri": _stack(acc.patch_present) if cfg.uses_mri else None,
                    "protein": _stack(acc.protein_present) if cfg.uses_proteins else None}
        patches, proteins = attribution_tables(
            results, acc.labels, classes, methods, acc.patch_ids, grid, acc.protein_ids, catalog,
            presents["mri"], presents["protein"], raw_protein,
            input_difference={mod: means.difference() for mod, means in inputs.items()})
        write_attribution_outputs(results, acc, found, classes, methods, patches, proteins, grid, meta, paths)
        check = dict(summary["planted"]) if truth is not None and raw else {"available": truth is not None}
        check["attribution"] = attribution_check(patches, proteins, truth, classes, methods, ["trained", *controls],
                                                 model_dependence(results, presents, methods, controls))
        if found.integrated_delta:
            check["attribution"]["integrated_max_abs_delta"] = float(np.abs(np.concatenate(found.integrated_delta)).max())
        Path(paths["planted_check.json"]).write_text(json.dumps(check, indent=2, sort_keys=True) + "\n")
        summary["planted"] = check
        if subjects_dir and cfg.uses_mri:
            write_subject_maps(Path(subjects_dir), results["trained"], acc, methods, grid, meta, native, interpolation)
    summary["skipped"] = skipped
    summary["variant"] = next(iter(variants))
    return summary


def received_attention_mean(acc: Accumulated) -> np.ndarray:
    """Raw attention each protein receives (mean over test subjects where present), [K]."""
    scores = np.vstack(acc.protein_scores)
    present = _stack(acc.protein_present)
    values = np.where(present, scores, np.nan) if present is not None else scores
    with np.errstate(invalid="ignore"):
        return np.nanmean(values, axis=0)


def write_attribution_outputs(results, acc, found, classes, methods, patches, proteins, grid, meta, paths) -> None:
    """attribution.parquet (per subject), the token tables and the per-class NIfTI maps."""
    frames = []
    ids = np.asarray(acc.participant_ids, dtype=object)
    folds = np.concatenate(found.folds)
    labels = np.asarray([classes[i] for i in acc.labels], dtype=object)
    for kind, per_method in results.items():
        for method, per_modality in per_method.items():
            for modality, values in per_modality.items():
                tokens = (np.asarray(acc.patch_ids).astype(str) if modality == "mri"
                          else np.asarray(acc.protein_ids, dtype=object))
                n, x = values.shape
                present = _stack(acc.patch_present if modality == "mri" else acc.protein_present)
                frames.append(pd.DataFrame({
                    "participant_id": np.repeat(ids, x), "fold": np.repeat(folds, x), "label": np.repeat(labels, x),
                    "model": kind, "method": method, "modality": "patch" if modality == "mri" else "protein",
                    "token": np.tile(tokens, n), "value": values.reshape(-1).astype(np.float32),
                    "present": present.reshape(-1) if present is not None else True}))
    table = pd.concat(frames, ignore_index=True)
    for name in ("participant_id", "label", "model", "method", "modality", "token"):
        table[name] = table[name].astype("category")
    table.to_parquet(paths["attribution.parquet"], index=False)
    if proteins is not None:
        proteins.to_csv(paths["protein_attribution.tsv"], sep="\t", index=False, na_rep="NA", float_format="%.6g")
    if patches is None:
        return
    patches.to_parquet(paths["patch_attribution.parquet"], index=False)
    shape = meta["shape"]
    for kind in results:
        for m in methods:
            for c in classes:
                volume = patch_volume(patches[column(m, kind, c)].to_numpy(), patches["patch_id"], grid, shape)
                volume_image(volume, meta, f"{m} attribution ({kind}), class {c}").to_filename(
                    paths[attribution_map_name(m, f"class-{c}", kind)])
            volume = patch_volume(patches[column(m, kind, "difference")].to_numpy(), patches["patch_id"], grid, shape)
            volume_image(volume, meta, f"{m} attribution ({kind}), {difference_name(classes)}").to_filename(
                paths[attribution_map_name(m, "desc-difference", kind)])


def native_inputs(scans, transforms) -> dict[str, tuple[str, str]]:
    """participant_id -> (scan, xfm.mat), matched by the sub-<label> their file names start with."""
    from ..imaging.nifti import participant_id_from_path

    by_id: dict[str, dict[str, str]] = {}
    for kind, paths in (("scan", scans), ("xfm", transforms)):
        for path in paths:
            pid = participant_id_from_path(path)
            if pid is None:
                raise NeurofusionError("cannot tell the subject from the file name", path=path,
                                       fix="pass BIDS-named files (sub-<label>_...)")
            by_id.setdefault(pid, {})[kind] = str(path)
    return {pid: (d["scan"], d["xfm"]) for pid, d in by_id.items() if "scan" in d and "xfm" in d}


def write_subject_maps(folder: Path, trained: dict, acc: Accumulated, methods, grid, meta, native: dict,
                       interpolation: str) -> None:
    """subjects/sub-X/sub-X_space-<tpl>_method-<m>_attribution.nii.gz, and _space-T1w_ in the
    subject's native space when its scan and transform were given. All or nothing."""
    import shutil
    import tempfile

    from ..imaging.nifti import load_scan
    from .native import native_image, to_native

    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        affine = np.asarray(meta["affine"], np.float64)
        for i, pid in enumerate(acc.participant_ids):
            (work / pid).mkdir()
            scan = load_scan(native[pid][0]) if pid in native else None
            for m in methods:
                volume = patch_volume(trained[m]["mri"][i], acc.patch_ids, grid, meta["shape"])
                volume_image(volume, meta, f"{m} attribution, {pid}").to_filename(
                    work / pid / subject_map_name(pid, m))
                if scan is not None:
                    moved = to_native(volume, affine, scan.data.shape, scan.affine, native[pid][1], interpolation)
                    native_image(moved, scan.affine, f"{m} attribution, {pid}, native").to_filename(
                        work / pid / subject_map_name(pid, m, native=True))
        if folder.exists():
            shutil.rmtree(folder)
        work.rename(folder)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


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


def fold_shards(embeddings, models: dict, shuffled: dict) -> dict[int, list]:
    """The embedding shards each fold's models read: those whose encoder checksum is the one the
    fold's model.pt was trained on (its ``encoder.checkpoint_sha256``). That is every shard when
    one encoder embedded them all, and a fold's own with one encoder per fold
    (``embedding.pretrain.scope: fold``); a model is never replayed on another encoder's embeddings."""
    from ..embeddings.store import read_shard_metadata

    groups: dict = {}
    for path in embeddings:
        groups.setdefault(read_shard_metadata(path).get("checkpoint_sha256"), []).append(path)
    out = {}
    for fold, (path, _, ckpt) in models.items():
        sha = (ckpt.get("encoder") or {}).get("checkpoint_sha256")
        if sha not in groups:
            raise NeurofusionError(f"none of the {len(embeddings)} embedding shards comes from the encoder fold {fold}'s "
                                   "model was trained on", path=path,
                                   fix="pass the shards of every fold's encoder (results/embeddings/fold-K/), or retrain")
        out[fold] = groups[sha]
        if fold in shuffled and (shuffled[fold][2].get("encoder") or {}).get("checkpoint_sha256") != sha:
            raise NeurofusionError(f"the shuffled-label model of fold {fold} was trained on another encoder's "
                                   "embeddings than the fold's model", path=shuffled[fold][0],
                                   fix="retrain both from the same embeddings")
    return out


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
