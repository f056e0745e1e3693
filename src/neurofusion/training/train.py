"""Train one model variant on one fold: leak-free split, resumable loop, outputs.

    cohort subjects --eligible--> fold k = test (touched once, at the end)
                                  other folds --stratified--> val (early stopping) | train (fitting, scalers)

Between epochs the full state (weights, optimiser, schedule, RNG states, history,
best weights) goes to DIR/last.pt; a restarted run with the same fingerprint (settings
+ input data) resumes from it and ends with the same weights as an uninterrupted run.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from .. import __version__
from ..errors import NeurofusionError
from ..io import all_or_nothing
from ..model import FusionConfig, FusionModel, build_model, members_of
from ..runtime import OPTIMISER, adamw, cpu_bf16_warning, pick_device, use_deterministic_algorithms
from .checkpoint import load_resume_state, save_checkpoint, save_resume_state
from .data import (NUM_FLAGS, Batchable, Normaliser, Sources, available, eligible, fingerprint, gather,
                   grid_hash, patch_coords, protein_codes, split_fold, to_tensors)
from .predict import autocast, predict
from .settings import TrainConfig

# no wall-clock column: the same inputs give the same bytes (the job log has the times)
HISTORY_COLUMNS = ["epoch", "train_loss", "val_loss", "val_auc", "lr", "best"]
MEMBER_SEED_STEP = 7919   # member k of an ensemble trains with seed + k * this (member 0: the single model's)


# ---- metrics and schedule ----------------------------------------------------------------------
def auc(probs: np.ndarray, labels: np.ndarray) -> float:
    """ROC AUC (binary: last class positive; more classes: mean one-vs-rest); NaN if undefined."""
    classes = [probs.shape[1] - 1] if probs.shape[1] == 2 else range(probs.shape[1])
    values = []
    for c in classes:
        pos, neg = probs[labels == c, c], probs[labels != c, c]
        if len(pos) and len(neg):
            diff = pos[:, None] - neg[None, :]
            values.append(((diff > 0).sum() + 0.5 * (diff == 0).sum()) / diff.size)
    return float(np.mean(values)) if values else float("nan")


def lr_factor(step: int, warmup: int, total: int, floor: float) -> float:
    """Linear warmup to 1, then cosine down to ``floor``."""
    if step < warmup:
        return (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, t)))


def class_weights(labels: np.ndarray, num_classes: int) -> torch.Tensor:
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    w = np.where(counts > 0, counts.sum() / (num_classes * np.maximum(counts, 1)), 0.0)
    return torch.tensor(w, dtype=torch.float32)


def hide_modality(batch: dict, p: float) -> None:
    """Mask all MRI or all protein tokens of a random ``p`` share of the samples (in place).

    Keeps the fusion model from leaning on one modality alone; draws from torch's global
    RNG, so it is seeded and restored on resume like dropout.
    """
    b = batch["mri_mask"].shape[0]
    draw = torch.rand(b)                                   # (B,)
    hide_mri = (draw < p / 2).to(batch["mri_mask"].device)
    hide_prot = ((draw >= p / 2) & (draw < p)).to(batch["prot_mask"].device)
    batch["mri_mask"] = batch["mri_mask"] & ~hide_mri[:, None]
    batch["prot_mask"] = batch["prot_mask"] & ~hide_prot[:, None]


@contextlib.contextmanager
def deterministic(enabled: bool):
    before = torch.are_deterministic_algorithms_enabled()
    use_deterministic_algorithms(enabled or before)
    try:
        yield
    finally:
        use_deterministic_algorithms(before)


# ---- the run -----------------------------------------------------------------------------------
class FoldRun:
    """Everything one (variant, fold) run needs, prepared once from the sources."""

    def __init__(self, src: Sources, model_settings: dict, tc: TrainConfig, variant: str, fold: int,
                 shuffle_labels: int | None = None, baseline_cfg=None):
        self.src, self.tc, self.variant, self.fold = src, tc, variant, int(fold)
        if tc.linear_start and baseline_cfg is None:
            from .settings import BaselineConfig

            baseline_cfg = BaselineConfig()
        self.baseline_cfg = baseline_cfg if tc.linear_start else None
        self.shuffle_labels = None if shuffle_labels is None else int(shuffle_labels)
        self.linear_from: str | None = None   # a baseline model.pt the linear start may take its fit from
        pool = available(src)
        used, self.left_out = eligible(pool, variant, tc.subjects)
        self.split = split_fold(used, self.fold, tc.val_fraction, tc.seed)
        self.protein_ids, category, position = protein_codes(src.catalog)
        self.patch_ids = np.asarray(src.embeddings.patch_ids, np.int64)
        width = int(src.embeddings.values.shape[-1])
        coords = patch_coords(src.grid, self.patch_ids, src.paths.get("grid", "grid"))
        raws = {part: gather(src, pool, ids, self.patch_ids, self.protein_ids, width)
                for part, ids in self.split.items()}
        if self.shuffle_labels is not None:
            permute_labels(raws["train"], raws["val"], self.shuffle_labels)
        self.norm = Normaliser.fit(raws["train"], tc.normalise_embeddings, tc.clip_z, tc.protein_missing)
        self.data: dict[str, Batchable] = {part: to_tensors(raw, self.norm, coords, category, position)
                                           for part, raw in raws.items()}
        self.coords, self.category, self.position = coords, category, position
        self.cfg = FusionConfig(
            embed_dim=width, num_categories=int(category.max()) + 1 if len(category) else 1,
            max_position=int(position.max()) + 1 if len(position) else 1, num_flags=NUM_FLAGS,
            num_classes=len(src.classes), variant=variant,
            missing_modality_token=tc.subjects == "all" and variant == "fusion",
            linear_features=linear_width(variant, len(self.patch_ids), width, len(self.protein_ids))
            if tc.linear_start else 0, **model_settings)
        self.fingerprint = fingerprint(
            __version__, OPTIMISER, self.cfg.to_dict(), tc.to_dict(), variant, self.fold, self.split, self.protein_ids,
            self.patch_ids, coords, category, position, self.shuffle_labels,
            self.baseline_cfg.to_dict() if self.baseline_cfg is not None else None,
            *[a for raw in raws.values() for a in (raw.mri, raw.mri_mask, raw.prot_values, raw.below_lod, raw.labels)])

    def checkpoint_payload(self, state_dict: dict, best_epoch: list[int], epochs_run: list[int]) -> dict:
        """model.pt's content; ``best_epoch`` / ``epochs_run`` hold one value per member."""
        src = self.src
        return {
            "package_version": __version__, "torch_version": str(torch.__version__),
            "variant": self.variant, "fold": self.fold, "classes": list(src.classes),
            "model_config": self.cfg.to_dict(), "training_config": self.tc.to_dict(),
            "normalisation": self.norm.to_dict(),
            "proteins": {"protein_ids": list(self.protein_ids), "category_id": self.category.tolist(),
                         "position_in_category": self.position.tolist(),
                         "catalog": json.loads(src.catalog.to_json(orient="records"))},
            "grid": {"sha256": grid_hash(src.grid, src.grid_meta), "patch_ids": self.patch_ids.tolist(),
                     "coords": self.coords.tolist(), "meta": json.loads(json.dumps(src.grid_meta, default=str))},
            "encoder": json.loads(json.dumps(getattr(src.embeddings, "metadata", {}) or {}, default=str)),
            "best_epoch": int(best_epoch[0]), "epochs_run": int(epochs_run[0]),
            **({"ensemble": len(best_epoch), "members_best_epoch": [int(e) for e in best_epoch],
                "members_epochs_run": [int(e) for e in epochs_run]} if len(best_epoch) > 1 else {}),
            "label_permutation_seed": self.shuffle_labels,
            "subjects": {k: list(v) for k, v in self.split.items()},
            "fingerprint": self.fingerprint, "state_dict": state_dict,
        }


def permute_labels(train, val, seed: int) -> None:
    """Shuffled-label control (Adebayo et al. 2018): permute the labels of the training and
    validation subjects together (seeded, in place), so neither fitting nor epoch selection
    sees a real label; the test fold keeps its true labels."""
    labels = np.concatenate([train.labels, val.labels])
    labels = labels[np.random.default_rng(seed).permutation(len(labels))]
    train.labels, val.labels = labels[:len(train.labels)], labels[len(train.labels):]


def _score(val_auc: float, val_loss: float, select_by: str) -> tuple:
    """Larger is better; NaN-safe."""
    loss = -val_loss if np.isfinite(val_loss) else -np.inf
    if select_by == "auc":
        return (val_auc if np.isfinite(val_auc) else -np.inf, loss)
    return (loss,)


def train_fold(src: Sources, model_settings: dict, tc: TrainConfig, variant: str, fold: int,
               out_dir: str | os.PathLike, device: str = "auto", stop_after_epochs: int | None = None,
               progress: bool = True, shuffle_labels: int | None = None, baseline_cfg=None,
               linear_from: str | os.PathLike | None = None) -> dict | None:
    """Train, then write model.pt, history.tsv, predictions.parquet, subjects.tsv into ``out_dir``.

    ``stop_after_epochs`` ends this call after that many epochs, as a kill between
    epochs would (for tests); the outputs are then not written and None is returned.
    ``shuffle_labels`` (a seed) trains the shuffled-label control of ``permute_labels``.
    ``linear_from``: the same fold's ``baseline_<variant>`` model.pt, whose regression the
    linear start takes when it was fitted on the same inputs (see :func:`_linear_fit`).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    dev = pick_device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise NeurofusionError("--device cuda was asked for but no CUDA device is visible",
                               fix="use --device auto or cpu, or run on a GPU node")
    if dev.type == "cpu" and tc.cpu_amp and (warning := cpu_bf16_warning()):
        print(f"WARNING: {warning}", file=sys.stderr, flush=True)
    run = FoldRun(src, model_settings, tc, variant, fold, shuffle_labels, baseline_cfg)
    run.linear_from = None if linear_from is None else str(linear_from)
    with deterministic(dev.type == "cpu"):
        result = _fit(run, dev, out_dir, stop_after_epochs, progress)
        if result is None:
            return None
        model, best_epoch, epochs_run, history = result
        probs, _ = predict(model, run.data["test"], tc.eval_batch_size, dev, amp=tc.amp, cpu_amp=tc.cpu_amp)
    _write_outputs(run, model, best_epoch, epochs_run, history, probs, out_dir)
    (out_dir / "last.pt").unlink(missing_ok=True)
    one = len(best_epoch) == 1
    return {"best_epoch": best_epoch[0] if one else best_epoch, "epochs_run": epochs_run[0] if one else epochs_run,
            "n_test": len(run.data["test"])}


def linear_width(variant: str, patches: int, width: int, proteins: int) -> int:
    """Inputs of the linear path: every patch embedding feature and/or every protein value and flag."""
    mri = patches * width if variant in ("fusion", "mri") else 0
    prot = proteins * (1 + NUM_FLAGS) if variant in ("fusion", "protein") else 0
    return mri + prot


def start_from_linear(model, run: FoldRun, seed: int) -> dict:
    """Set the linear path to the fold's logistic regression and freeze it; zero the head's last
    layer, so the model starts as that regression and training adds what the transformer finds.

    The regression is the baselines' (same features, penalty chosen by inner CV, same seed).
    ``training.linear_fit: training_part`` fits it on the training and validation subjects,
    exactly as ``baseline_<variant>``: epoch 0 is that baseline, and a transformer epoch is
    kept only where the validation subjects (which the regression has seen, so they favour it)
    prefer it. ``train_split`` fits it on the training split only. Every member of an
    ensemble gets the same regression.
    """
    from .baseline import BLOCKS, stacked_rows

    parts = ("train", "val") if run.tc.linear_fit == "training_part" else ("train",)
    features, labels = stacked_rows(run.data, parts, BLOCKS[run.variant])
    class_weight = "balanced" if run.tc.class_weights else None
    lr, source = _linear_fit(run, features, labels, seed, class_weight)
    coef, intercept = lr.on_features({name: x.shape[1] for name, x in features.items()})      # (1|C, d)
    members = members_of(model)
    weight = torch.zeros_like(members[0].linear.weight)                                       # (C, d)
    bias = torch.zeros_like(members[0].linear.bias)
    if coef.shape[0] == 1:   # binary: the logit of the positive class against the other's 0
        weight[-1], bias[-1] = torch.from_numpy(coef[0]).float(), float(intercept[0])
    else:
        weight, bias = torch.from_numpy(coef).float(), torch.from_numpy(intercept).float()
    for member in members:
        with torch.no_grad():
            member.linear.weight.copy_(weight)
            member.linear.bias.copy_(bias)
            member.head[-1].weight.zero_()
            member.head[-1].bias.zero_()
        member.linear.requires_grad_(False)
    return {"C": lr.C, "platt": lr.platt, "subjects": len(labels), "source": source}


def _linear_fit(run: FoldRun, features: dict, labels: np.ndarray, seed: int, class_weight):
    """(the fitted regression, where it came from): the baseline's model.pt (``run.linear_from``)
    when its stored fit key equals this run's, else a fit here. Both give the same numbers (the
    fit is deterministic in what the key covers); taking it saves the inner CV and scikit-learn's
    import. Labels permuted, a train-split fit or other inputs give another key, so a fit here."""
    from .baseline import fit_key, load_baseline

    num_classes = len(run.src.classes)
    if run.linear_from is not None and run.tc.linear_fit != "training_part":
        reason = f"linear_fit {run.tc.linear_fit}: {run.linear_from} is fitted on the whole training part"
    elif run.linear_from is not None:
        fitted, saved = load_baseline(run.linear_from)
        if saved.get("fit_key") == fit_key(features, labels, num_classes, run.baseline_cfg, seed, class_weight):
            return fitted, f"taken from {run.linear_from}"
        reason = f"{run.linear_from} was fitted on other inputs or settings"
    else:
        reason = "no baseline given"
    from threadpoolctl import threadpool_limits

    from .baseline import fit_selected

    with threadpool_limits(limits=1):
        fitted, _ = fit_selected(features, labels, num_classes, run.baseline_cfg, seed, class_weight)
    return fitted, f"fitted here ({reason})"


def _fresh() -> dict:
    """One member's training progress before its first epoch."""
    return {"epoch": 0, "best_epoch": 0, "best_score": None, "best_state": None, "bad_epochs": 0,
            "stopped": False, "history": []}


def _fit(run: FoldRun, dev, out_dir: Path, stop_after_epochs, progress):
    """Train every member (one, or ``training.ensemble``) in turn; -> (model with each member's
    best epoch, best epochs, epochs run, history rows) or None when ``stop_after_epochs`` cut it."""
    tc, cfg = run.tc, run.cfg
    seed = tc.seed * 1000 + run.fold
    torch.manual_seed(seed)
    model = build_model(cfg, tc.ensemble).to(dev)
    members = members_of(model)
    linear = None
    if cfg.linear_features:
        linear = start_from_linear(model, run, seed)
        if progress:
            where = "training and validation" if tc.linear_fit == "training_part" else "training"
            print(f"linear path: logistic regression on the {linear['subjects']} {where} subjects, "
                  f"C = {linear['C']:.3g}, {linear['source']}", file=sys.stderr)
    train = run.data["train"]
    weights = class_weights(train.labels.numpy(), cfg.num_classes) if tc.class_weights \
        else torch.ones(cfg.num_classes)
    weights = weights.to(dev)
    if dev.type == "cuda":
        for part in run.data.values():
            part.pin()

    done: list[dict] = []    # per finished member: best_epoch, epochs_run, history
    state = _fresh()
    resume = None
    last = out_dir / "last.pt"
    saved = load_resume_state(last) if last.exists() else None
    if saved is not None and saved.get("fingerprint") == run.fingerprint:
        model.load_state_dict(saved["model"])
        done = list(saved.get("done", []))
        state = {k: saved[k] for k in state}
        state["best_score"] = tuple(state["best_score"]) if state["best_score"] is not None else None
        resume = saved
        print(f"resuming {run.variant} fold {run.fold} at member {len(done)} after epoch {state['epoch']} from {last}",
              file=sys.stderr)
    budget = [stop_after_epochs]   # epochs left in this call (None: no limit)
    while len(done) < len(members):
        k = len(done)
        if resume is None and k > 0:
            torch.manual_seed(seed + k * MEMBER_SEED_STEP)
        result = _fit_member(run, members[k], k, seed + k * MEMBER_SEED_STEP, model, dev, weights, state, done,
                             resume, last, budget, progress)
        if result is None:
            return None
        done.append(result)
        state, resume = _fresh(), None
    history = [{**({"member": i} if len(done) > 1 else {}), **row} for i, d in enumerate(done) for row in d["history"]]
    return model, [d["best_epoch"] for d in done], [d["epochs_run"] for d in done], history


def _fit_member(run: FoldRun, member, k: int, seed: int, model, dev, weights, state: dict, done: list, resume,
                last: Path, budget: list, progress):
    """The epochs of one member (``state`` is its progress, fresh or resumed); -> its record, or None."""
    from tqdm import tqdm

    tc, cfg, train = run.tc, run.cfg, run.data["train"]
    trainable = [p for p in member.parameters() if p.requires_grad]
    opt = adamw(trainable, lr=tc.lr, weight_decay=tc.weight_decay)
    steps_per_epoch = math.ceil(len(train) / tc.batch_size)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(
        s, tc.warmup_epochs * steps_per_epoch, tc.epochs * steps_per_epoch, tc.min_lr_ratio))
    shuffle = torch.Generator().manual_seed(seed)
    forward = torch.compile(member) if tc.compile and dev.type == "cuda" else member
    if resume is not None:
        opt.load_state_dict(resume["optimizer"])
        sched.load_state_dict(resume["scheduler"])
        torch.set_rng_state(resume["torch_rng"])
        shuffle.set_state(resume["shuffle_rng"])
        if dev.type == "cuda" and resume.get("cuda_rng") is not None:
            torch.cuda.set_rng_state_all(resume["cuda_rng"])
    elif member.linear is not None:
        # epoch 0 is the logistic regression itself: the transformer's epochs must beat it on validation
        val_loss, val_auc = _validate(member, run.data["val"], weights, tc, dev)
        state.update(best_score=_score(val_auc, val_loss, tc.select_by),
                     best_state={n: v.detach().cpu().clone() for n, v in member.state_dict().items()})
        state["history"].append({"epoch": 0, "train_loss": float("nan"), "val_loss": val_loss, "val_auc": val_auc,
                                 "lr": 0.0, "best": True})

    name = f"{run.variant} fold {run.fold}" + (f" member {k}" if tc.ensemble > 1 else "")
    # in a log file (not a terminal) the bar redraws rarely; the per-epoch lines carry the detail
    tty = sys.stderr.isatty()
    bar = tqdm(total=tc.epochs, initial=state["epoch"], desc=name, file=sys.stderr,
               ascii=True, disable=not progress, ncols=100, mininterval=0.1 if tty else 30.0,
               delay=0.0 if tty else 30.0)
    while state["epoch"] < tc.epochs and not state["stopped"]:
        if budget[0] is not None:
            if budget[0] <= 0:
                bar.close()
                return None
            budget[0] -= 1
        t0 = time.perf_counter()
        member.train()
        order = torch.randperm(len(train), generator=shuffle)
        total, seen = 0.0, 0
        for start in range(0, len(train), tc.batch_size):
            index = order[start:start + tc.batch_size]
            labels = train.labels[index].to(dev)
            batch = train.batch(index, dev)
            if tc.modality_dropout > 0 and cfg.variant == "fusion":
                hide_modality(batch, tc.modality_dropout)
            with autocast(dev, tc.amp, tc.cpu_amp):
                logits = forward(**batch)["logits"]
            loss = F.cross_entropy(logits.float(), labels, weight=weights)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if tc.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(trainable, tc.grad_clip)
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(index)
            seen += len(index)
        val_loss, val_auc = _validate(member, run.data["val"], weights, tc, dev)
        state["epoch"] += 1
        score = _score(val_auc, val_loss, tc.select_by)
        improved = state["best_score"] is None or score > state["best_score"] or len(run.data["val"]) == 0
        if improved:
            state.update(best_score=score, best_epoch=state["epoch"], bad_epochs=0,
                         best_state={n: v.detach().cpu().clone() for n, v in member.state_dict().items()})
        else:
            state["bad_epochs"] += 1
        state["stopped"] = state["bad_epochs"] >= tc.patience
        row = {"epoch": state["epoch"], "train_loss": total / max(seen, 1), "val_loss": val_loss,
               "val_auc": val_auc, "lr": opt.param_groups[0]["lr"], "best": bool(improved)}
        state["history"].append(row)
        save_resume_state(last, {
            **state, "done": done, "fingerprint": run.fingerprint, "model": model.state_dict(),
            "optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "torch_rng": torch.get_rng_state(),
            "shuffle_rng": shuffle.get_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if dev.type == "cuda" else None,
            "best_score": list(state["best_score"]) if state["best_score"] is not None else None})
        bar.set_postfix(loss=f"{row['train_loss']:.3f}", val_loss=f"{val_loss:.3f}", val_auc=f"{val_auc:.3f}",
                        refresh=False)
        bar.update(1)
        if progress:
            # in a terminal, above the live bar; in a log file, one plain line per epoch
            write = bar.write if tty else print
            write(f"{'member ' + str(k) + '  ' if tc.ensemble > 1 else ''}epoch {state['epoch']:3d}  "
                  f"train_loss {row['train_loss']:.4f}  val_loss {val_loss:.4f}  "
                  f"val_auc {val_auc:.3f}  lr {row['lr']:.2e}  {time.perf_counter() - t0:.2f}s"
                  f"{'  *best' if improved else ''}", file=sys.stderr)
    bar.close()
    if state["stopped"] and progress:
        print(f"{name}: early stop after epoch {state['epoch']}: no validation improvement for {tc.patience} "
              f"epochs; best epoch {state['best_epoch']}", file=sys.stderr)
    member.load_state_dict(state["best_state"])
    return {"best_epoch": int(state["best_epoch"]), "epochs_run": int(state["epoch"]), "history": state["history"]}


def _validate(model, val: Batchable, weights, tc: TrainConfig, dev) -> tuple[float, float]:
    if len(val) == 0:
        return float("nan"), float("nan")
    probs, _ = predict(model, val, tc.eval_batch_size, dev, amp=tc.amp, cpu_amp=tc.cpu_amp)
    p = torch.from_numpy(probs).clamp_min(1e-7)
    labels = val.labels
    loss = F.nll_loss(p.log(), labels, weight=weights.cpu())
    return float(loss), auc(probs, labels.numpy())


# ---- outputs -----------------------------------------------------------------------------------
def fold_tables(run: FoldRun, variant: str, probs: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(test-fold predictions, every subject's role) of one variant x fold run; the baselines share it."""
    test = run.data["test"]
    classes = run.src.classes
    index = test.labels.numpy()
    pred = pd.DataFrame({
        "participant_id": pd.array(test.participant_ids, dtype="string"),
        "fold": np.full(len(test), run.fold, np.int32),
        "variant": pd.array([variant] * len(test), dtype="string"),
        "label": pd.array([classes[i] for i in index], dtype="string"),
        "label_index": index.astype(np.int32),
        **{f"prob_{c}": probs[:, j].astype(np.float64) for j, c in enumerate(classes)},
    })
    roles = [(s, part, "") for part in ("train", "val", "test") for s in run.split[part]]
    roles += [(s, "excluded", r) for s, r in zip(run.left_out["participant_id"], run.left_out["reason"])]
    subjects = pd.DataFrame(roles, columns=["participant_id", "role", "reason"]).sort_values("participant_id")
    return pred, subjects


def _write_outputs(run: FoldRun, model, best_epoch, epochs_run, history, probs, out_dir: Path):
    pred, subjects = fold_tables(run, run.variant, probs)
    hist = pd.DataFrame(history, columns=(["member"] if len(best_epoch) > 1 else []) + HISTORY_COLUMNS)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    names = ["model.pt", "history.tsv", "predictions.parquet", "subjects.tsv"]
    with all_or_nothing(*[out_dir / n for n in names]) as (ckpt_tmp, hist_tmp, pred_tmp, subj_tmp):
        torch_payload = run.checkpoint_payload(state, best_epoch, epochs_run)
        save_checkpoint(ckpt_tmp, torch_payload)
        hist.to_csv(hist_tmp, sep="\t", index=False, float_format="%.6g")
        pred.to_parquet(pred_tmp, index=False)
        subjects.to_csv(subj_tmp, sep="\t", index=False)
