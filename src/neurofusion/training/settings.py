"""Training settings and the model.yaml reader (sections ``model:``, ``training:`` and ``baseline:``)."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields

from ..errors import NeurofusionError
from ..model.config import FusionConfig

# model settings a YAML may set; the rest of FusionConfig comes from the data
MODEL_KEYS = ("hidden_dim", "num_heads", "num_self_layers", "num_cross_layers", "ff_mult", "dropout",
              "coord_hidden", "coord_scale_mm", "per_protein_value")
SECTIONS = {"model", "training", "baseline"}


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 60
    batch_size: int = 16
    lr: float = 3e-4
    weight_decay: float = 0.01
    warmup_epochs: int = 3
    min_lr_ratio: float = 0.05      # cosine decays to lr * this
    grad_clip: float = 1.0          # max gradient norm; 0 = off
    patience: int = 15              # epochs without validation improvement before stopping
    val_fraction: float = 0.2       # inner stratified validation split of the training folds
    select_by: str = "auc"          # auc (ties -> lower val loss) | loss
    modality_dropout: float = 0.0   # fusion: chance per training sample of hiding one whole modality
    linear_start: bool = False      # a linear path on the raw inputs, set to the fold's logistic regression
                                    # (frozen); the transformer learns the rest
    linear_fit: str = "training_part"  # training_part: the regression is the baseline's own fit (training and
                                    # validation subjects) | train_split: fitted on the training split only
    ensemble: int = 1               # members per fold (seeds of weights, shuffling and dropout); their logits
                                    # are averaged; the validation split and linear path are shared
    class_weights: bool = True      # loss weights = inverse class frequency (training part)
    seed: int = 0
    subjects: str = "paired"        # paired: everyone needs both modalities | all: fusion trains on everyone
    protein_missing: str = "mask"   # mask: missing values are masked tokens | impute: training median + flag
    normalise_embeddings: bool = True
    clip_z: float = 10.0            # normalised protein values are clipped to +-clip_z
    eval_batch_size: int = 64
    cpu_threads: int = 0            # cap on CPU threads (0 = the --threads given); tiny models run best on 1
    amp: bool = True                # bf16 autocast on CUDA
    cpu_amp: bool = False           # bf16 autocast on CPU too (~1.8x faster at full size on AVX512-BF16/AMX CPUs)
    compile: bool = False           # torch.compile the model on CUDA

    def __post_init__(self):
        checks = {
            "select_by": self.select_by in ("auc", "loss"),
            "linear_fit": self.linear_fit in ("training_part", "train_split"), "ensemble": self.ensemble >= 1,
            "subjects": self.subjects in ("paired", "all"),
            "protein_missing": self.protein_missing in ("mask", "impute"),
            "epochs": self.epochs >= 1, "batch_size": self.batch_size >= 1,
            "eval_batch_size": self.eval_batch_size >= 1, "lr": self.lr > 0,
            "val_fraction": 0.0 < self.val_fraction < 1.0, "patience": self.patience >= 1,
            "warmup_epochs": self.warmup_epochs >= 0, "clip_z": self.clip_z > 0,
            "cpu_threads": self.cpu_threads >= 0, "modality_dropout": 0.0 <= self.modality_dropout < 1.0,
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise NeurofusionError(f"training setting {bad[0]} = {getattr(self, bad[0])!r} is not allowed",
                                   fix="see the comments in config/model.yaml")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class BaselineConfig:
    """The classical baselines (variants baseline_*): penalised logistic regression."""

    penalty: str = "l2"             # l2 | elasticnet
    l1_ratio: float = 0.5           # elasticnet only: share of the L1 penalty
    c_min: float = 0.01             # inverse penalty strengths tried by the inner CV, log-spaced
    c_max: float = 10000.0
    c_steps: int = 13
    inner_folds: int = 3            # stratified inner CV on the training part picks C
    mri_reduction: str = "none"     # none: every patch embedding feature | pca: PCA of the training part
    pca_components: int = 32
    max_iter: int = 5000
    calibrate: bool = True          # two classes: Platt scaling on the inner CV's out-of-fold decision values

    def __post_init__(self):
        checks = {
            "penalty": self.penalty in ("l2", "elasticnet"), "l1_ratio": 0.0 < self.l1_ratio < 1.0,
            "c_min": 0 < self.c_min <= self.c_max, "c_steps": self.c_steps >= 1,
            "inner_folds": self.inner_folds >= 2, "mri_reduction": self.mri_reduction in ("none", "pca"),
            "pca_components": self.pca_components >= 1, "max_iter": self.max_iter >= 10,
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise NeurofusionError(f"baseline setting {bad[0]} = {getattr(self, bad[0])!r} is not allowed",
                                   fix="see the comments in config/model.yaml")

    def to_dict(self) -> dict:
        return asdict(self)


def _typed(section: dict, allowed: dict, where, name: str) -> dict:
    out = {}
    for key, value in (section or {}).items():
        if key not in allowed:
            raise NeurofusionError(f"unknown {name} setting {key!r}", path=where,
                                   fix=f"use only {', '.join(sorted(allowed))}")
        want = allowed[key]
        try:
            out[key] = want(value) if want is not bool else _as_bool(value)
        except (TypeError, ValueError):
            raise NeurofusionError(f"{name}.{key} = {value!r} is not a {want.__name__}", path=where)
    return out


def _as_bool(value) -> bool:
    if isinstance(value, bool):
        return value
    raise ValueError(value)


def parse_settings(data: dict, where="model config") -> tuple[dict, TrainConfig]:
    """(model settings for FusionConfig, TrainConfig) from the parsed YAML mapping."""
    if not isinstance(data, dict) or set(data) - SECTIONS:
        extra = sorted(set(data) - SECTIONS) if isinstance(data, dict) else []
        raise NeurofusionError(f"expected sections 'model', 'training' and 'baseline' only{': found ' + ', '.join(extra) if extra else ''}",
                               path=where, fix="see config/model.yaml for the layout")
    model_types = {f.name: _ftype(f) for f in fields(FusionConfig) if f.name in MODEL_KEYS}
    train_types = {f.name: _ftype(f) for f in fields(TrainConfig)}
    model = _typed(data.get("model"), model_types, where, "model")
    training = TrainConfig(**_typed(data.get("training"), train_types, where, "training"))
    return model, training


def parse_baseline(data: dict, where="model config") -> BaselineConfig:
    """BaselineConfig from the ``baseline:`` section of the parsed YAML (defaults when absent)."""
    types = {f.name: _ftype(f) for f in fields(BaselineConfig)}
    section = data.get("baseline") if isinstance(data, dict) else None
    return BaselineConfig(**_typed(section, types, where, "baseline"))


def _ftype(f):
    return {"int": int, "float": float, "str": str, "bool": bool}[f.type if isinstance(f.type, str) else f.type.__name__]


def load_settings(path: str | os.PathLike) -> tuple[dict, TrainConfig]:
    return parse_settings(_read_yaml(path), where=path)


def load_baseline_settings(path: str | os.PathLike) -> BaselineConfig:
    return parse_baseline(_read_yaml(path), where=path)


def _read_yaml(path: str | os.PathLike) -> dict:
    import yaml

    try:
        with open(path) as fh:
            data = yaml.safe_load(fh) or {}
    except FileNotFoundError:
        raise NeurofusionError("model config not found", path=path, fix="pass --config config/model.yaml")
    except yaml.YAMLError as exc:
        raise NeurofusionError(f"not valid YAML ({str(exc).splitlines()[0]})", path=path)
    return data
