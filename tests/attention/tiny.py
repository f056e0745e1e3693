"""A tiny FusionConfig and random forward inputs for the attribution tests."""

from __future__ import annotations

import torch

from neurofusion.model import FusionConfig

B, P, E, K, F = 3, 6, 5, 4, 2


def tiny_config(**over) -> FusionConfig:
    base = dict(embed_dim=E, num_categories=3, max_position=4, num_flags=F, num_classes=2, hidden_dim=8,
                num_heads=2, num_self_layers=1, num_cross_layers=2, dropout=0.0, coord_hidden=4)
    base.update(over)
    return FusionConfig(**base)


def make_inputs(seed: int = 0) -> dict:
    """B subjects; subject 0 lacks its last two patches, subject 1 its first protein."""
    g = torch.Generator().manual_seed(seed)
    mri_mask = torch.ones(B, P, dtype=torch.bool)
    mri_mask[0, -2:] = False
    prot_mask = torch.ones(B, K, dtype=torch.bool)
    prot_mask[1, 0] = False
    return {
        "mri": torch.randn(B, P, E, generator=g), "mri_coords": torch.randn(B, P, 3, generator=g) * 40,
        "mri_mask": mri_mask, "prot_values": torch.randn(B, K, generator=g),
        "prot_flags": (torch.rand(B, K, F, generator=g) > 0.7).float(),
        "prot_category": torch.tensor([0, 1, 0, 2]), "prot_position": torch.tensor([0, 0, 1, 0]),
        "prot_mask": prot_mask,
    }


def one_subject(batch: dict, b: int) -> dict:
    shared = ("prot_category", "prot_position")
    return {k: (v if k in shared else v[b:b + 1]) for k, v in batch.items()}
