"""FusionConfig: the one settings object handed to every module of the model.

The defaults are the prototype's ("full") sizes; config/model.yaml may choose smaller
ones for CPU runs. Data-dependent sizes (embedding width, number of pathway categories,
longest category, number of classes) are filled in by training from its inputs and
stored in the checkpoint, so a checkpoint rebuilds exactly the model that wrote it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from ..errors import NeurofusionError

VARIANTS = ("fusion", "mri", "protein")


@dataclass(frozen=True)
class FusionConfig:
    # --- sizes fixed by the data -------------------------------------------------
    embed_dim: int = 768         # E: width of the patch embeddings
    num_categories: int = 8      # pathway categories (catalog category_id < this)
    max_position: int = 64       # within-category positions (position_in_category < this)
    num_flags: int = 2           # F: per-protein flags (below LOD, missing)
    num_classes: int = 2         # C
    # --- architecture (prototype defaults) ----------------------------------------
    hidden_dim: int = 256        # D
    num_heads: int = 8           # H
    num_self_layers: int = 2     # per modality
    num_cross_layers: int = 2    # bidirectional cross-attention blocks (fusion only)
    ff_mult: int = 4             # feed-forward width = ff_mult * hidden_dim
    dropout: float = 0.1
    coord_hidden: int = 64       # width of the 3D position MLP
    coord_scale_mm: float = 100.0  # template mm are divided by this before the MLP
    # per-protein value direction: protein k's value also enters along a vector of its own
    # (an FT-Transformer-style feature tokenizer), not only the direction shared by all proteins.
    # Off in the prototype; it learns from far fewer subjects (see config/model.yaml).
    per_protein_value: bool = False
    # linear path: logits also get a linear function of the raw inputs (every patch embedding
    # feature, every protein value and flag; 0 = off). Training sets the width and starts it
    # from the fold's penalised logistic regression (training.linear_start in model.yaml).
    linear_features: int = 0
    # --- which model --------------------------------------------------------------
    variant: str = "fusion"      # fusion | mri | protein
    missing_modality_token: bool = False  # fusion: learned token stands in for an absent modality

    def __post_init__(self):
        if self.variant not in VARIANTS:
            raise NeurofusionError(f"model variant {self.variant!r} is unknown", fix=f"use one of {', '.join(VARIANTS)}")
        if self.hidden_dim % self.num_heads:
            raise NeurofusionError(f"hidden_dim {self.hidden_dim} is not divisible by num_heads {self.num_heads}",
                                   fix="pick a hidden_dim that is a multiple of num_heads")
        for name in ("embed_dim", "num_categories", "max_position", "num_classes", "hidden_dim", "num_heads",
                     "ff_mult", "coord_hidden"):
            if int(getattr(self, name)) < 1:
                raise NeurofusionError(f"model setting {name} must be >= 1, got {getattr(self, name)}")
        if int(self.linear_features) < 0:
            raise NeurofusionError(f"model setting linear_features must be >= 0, got {self.linear_features}")
        if not 0.0 <= self.dropout < 1.0:
            raise NeurofusionError(f"model setting dropout must be in [0, 1), got {self.dropout}")

    @property
    def uses_mri(self) -> bool:
        return self.variant in ("fusion", "mri")

    @property
    def uses_proteins(self) -> bool:
        return self.variant in ("fusion", "protein")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "FusionConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise NeurofusionError(f"unknown model setting(s) {', '.join(unknown)}",
                                   fix=f"use only {', '.join(sorted(known))}")
        return cls(**data)
