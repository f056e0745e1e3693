"""Several fusion models of one architecture whose logits are averaged: one model to every caller.

    logits = mean over members k of member_k(inputs)["logits"]            (B, C)

With two classes the positive-class log-odds of the ensemble is then the mean of the
members' log-odds, so occlusion and integrated gradients of the ensemble are the means of
its members' (both are linear in the score). Cross-attention weights are averaged over
the members the same way; attention relevance (Chefer et al.) is computed per member and
averaged (attention/relevance.py). The members differ only in the seed of their weights,
shuffling and dropout; they share the inputs, the normalisation, the validation split and
the frozen linear path (training/train.py).
"""

from __future__ import annotations

import torch
from torch import nn

from .config import FusionConfig
from .transformer import FusionModel


class FusionEnsemble(nn.Module):
    def __init__(self, cfg: FusionConfig, members: int):
        super().__init__()
        if members < 2:
            raise ValueError("an ensemble needs at least two members; use FusionModel for one")
        self.cfg = cfg
        self.members = nn.ModuleList(FusionModel(cfg) for _ in range(members))

    def forward(self, *args, return_attention: bool = False, per_head: bool = False, explain: bool = False,
                **kwargs) -> dict:
        if explain:
            raise ValueError("explain=True is per member: call each of ensemble.members")
        outs = [m(*args, return_attention=return_attention, per_head=per_head, **kwargs) for m in self.members]
        out = {"logits": torch.stack([o["logits"] for o in outs]).mean(dim=0)}
        if return_attention:
            out["attention"] = [{k: torch.stack([layer[k] for layer in layers]).mean(dim=0) for k in layers[0]}
                                for layers in zip(*(o["attention"] for o in outs))]
        return out


def build_model(cfg: FusionConfig, members: int = 1) -> nn.Module:
    """A FusionModel for one member (the checkpoint layout of a single model), else a FusionEnsemble."""
    return FusionModel(cfg) if int(members) <= 1 else FusionEnsemble(cfg, int(members))


def members_of(model: nn.Module) -> list[FusionModel]:
    """The FusionModels inside ``model`` (itself when it is one)."""
    return list(model.members) if isinstance(model, FusionEnsemble) else [model]
