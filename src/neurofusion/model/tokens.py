"""Token builders: patch embeddings -> MRI tokens, protein values -> protein tokens.

    MRI token     = Linear(embedding) + MLP(template mm / scale)          position in the brain
    protein token = Linear([value, flags]) + Emb(category) + Emb(position within category)
                    [+ value x Emb(protein), with per_protein_value: a value direction per protein]

Inputs at masked positions are replaced by zeros first, so whatever a caller leaves
there (NaN included) never reaches the arithmetic.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import FusionConfig


class MriTokens(nn.Module):
    def __init__(self, cfg: FusionConfig):
        super().__init__()
        self.scale = float(cfg.coord_scale_mm)
        self.project = nn.Linear(cfg.embed_dim, cfg.hidden_dim)
        self.position = nn.Sequential(
            nn.Linear(3, cfg.coord_hidden), nn.GELU(), nn.Linear(cfg.coord_hidden, cfg.hidden_dim))

    def forward(self, mri: torch.Tensor, coords: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """mri (B, P, E), coords (B, P, 3) template mm, mask (B, P) -> tokens (B, P, D)."""
        mri = torch.where(mask[..., None], mri, 0.0)
        coords = torch.where(torch.isfinite(coords), coords, 0.0)
        return self.project(mri) + self.position(coords / self.scale)


class ProteinTokens(nn.Module):
    def __init__(self, cfg: FusionConfig):
        super().__init__()
        self.max_position = cfg.max_position
        self.num_categories = cfg.num_categories
        self.project = nn.Linear(1 + cfg.num_flags, cfg.hidden_dim)
        self.category = nn.Embedding(cfg.num_categories, cfg.hidden_dim)
        self.position = nn.Embedding(cfg.max_position, cfg.hidden_dim)
        # protein identity = (category, position within category); zero-initialised, so training
        # starts from the shared projection and adds a protein's own direction only where it helps
        self.value_direction = None
        if cfg.per_protein_value:
            self.value_direction = nn.Embedding(cfg.num_categories * cfg.max_position, cfg.hidden_dim)
            nn.init.zeros_(self.value_direction.weight)

    def forward(self, values: torch.Tensor, flags: torch.Tensor, category: torch.Tensor,
                position: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """values (B, K), flags (B, K, F), category (K,), position (K,), mask (B, K) -> (B, K, D).

        ``position`` is each protein's index within its own category (catalog
        position_in_category), not a global index.
        """
        if category.numel() and (int(category.max()) >= self.num_categories or int(category.min()) < 0):
            raise ValueError(f"category ids must lie in [0, {self.num_categories})")
        if position.numel() and (int(position.max()) >= self.max_position or int(position.min()) < 0):
            raise ValueError(f"positions within a category must lie in [0, {self.max_position})")
        values = torch.where(mask, values, 0.0)
        flags = torch.where(mask[..., None], flags.to(values.dtype), 0.0)
        x = torch.cat([values[..., None], flags], dim=-1)                   # (B, K, 1+F)
        code = self.category(category) + self.position(position)            # (K, D)
        tokens = self.project(x) + code[None]
        if self.value_direction is not None:
            own = self.value_direction(category * self.max_position + position)  # (K, D)
            tokens = tokens + values[..., None] * own[None]
        return tokens
