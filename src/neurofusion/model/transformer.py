"""FusionModel: per-modality self-attention, bidirectional cross-attention, pooled head.

    MRI tokens (B,P,D) --self x N--+--> cross x M (MRI <-> proteins) --> masked mean --+
                                   |                                                   +--> concat --> MLP --> logits (B,C)
    protein tokens (B,K,D) --self x N--+---------------------------------> masked mean --+

The ``mri`` and ``protein`` variants are the same code with one branch switched off
(no cross-attention, head on one pooled vector).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .attention import Attention
from .config import FusionConfig
from .tokens import MriTokens, ProteinTokens


def self_encoder(cfg: FusionConfig) -> nn.TransformerEncoder:
    layer = nn.TransformerEncoderLayer(
        cfg.hidden_dim, cfg.num_heads, cfg.ff_mult * cfg.hidden_dim, cfg.dropout,
        activation="gelu", batch_first=True)
    return nn.TransformerEncoder(layer, cfg.num_self_layers, enable_nested_tensor=False)


def encode(encoder: nn.TransformerEncoder, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Self-attention over present tokens; tokens (B, n, D), mask (B, n) True = present.

    A set with no present token would give NaN in the softmax, so it attends over all of
    its (zeroed) tokens instead; those outputs are masked out of everything downstream.
    """
    padding = ~mask & mask.any(dim=1, keepdim=True)        # (B, n) True = ignore
    return encoder(tokens, src_key_padding_mask=padding)


def encode_with_weights(encoder: nn.TransformerEncoder, tokens: torch.Tensor,
                        mask: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """``encode`` written out layer by layer, keeping every layer's attention probabilities.

    Returns (tokens (B, n, D), [probs (B, H, n, n) per layer]); the probabilities stay in the
    autograd graph, so gradients with respect to them exist (gradient-weighted relevance).
    Only for explanation: training and inference keep nn.TransformerEncoder's fused path.
    """
    padding = ~mask & mask.any(dim=1, keepdim=True)        # (B, n) True = ignore
    x, maps = tokens, []
    for layer in encoder.layers:
        if layer.norm_first:
            raise ValueError("encode_with_weights expects post-norm encoder layers (norm_first=False)")
        attended, probs = _self_attention(layer.self_attn, x, padding)
        maps.append(probs)
        x = layer.norm1(x + layer.dropout1(attended))
        ff = layer.linear2(layer.dropout(layer.activation(layer.linear1(x))))
        x = layer.norm2(x + layer.dropout2(ff))
    if encoder.norm is not None:
        x = encoder.norm(x)
    return x, maps


def _self_attention(attn: nn.MultiheadAttention, x: torch.Tensor, padding: torch.Tensor):
    """nn.MultiheadAttention(x, x, x, key_padding_mask=padding) with its weights per head."""
    b, n, d = x.shape
    h = attn.num_heads
    q, k, v = F.linear(x, attn.in_proj_weight, attn.in_proj_bias).chunk(3, dim=-1)
    q, k, v = (t.reshape(b, n, h, d // h).transpose(1, 2) for t in (q, k, v))   # (B, H, n, d/H)
    scores = q @ k.transpose(-2, -1) / math.sqrt(d // h)                        # (B, H, n, n)
    probs = scores.masked_fill(padding[:, None, None, :], float("-inf")).softmax(dim=-1)
    out = (F.dropout(probs, attn.dropout, attn.training) @ v).transpose(1, 2).reshape(b, n, d)
    return attn.out_proj(out), probs


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """x (B, n, D), mask (B, n) -> (B, D); an empty set pools to zeros."""
    w = mask.to(x.dtype)[..., None]                        # (B, n, 1)
    return (x * w).sum(dim=1) / w.sum(dim=1).clamp(min=1.0)


class CrossModalBlock(nn.Module):
    """MRI tokens attend to proteins and proteins to MRI, both from the previous state."""

    def __init__(self, cfg: FusionConfig):
        super().__init__()
        self.mri_to_protein = Attention(cfg)
        self.protein_to_mri = Attention(cfg)
        self.norm_mri = nn.LayerNorm(cfg.hidden_dim)
        self.norm_protein = nn.LayerNorm(cfg.hidden_dim)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, mri, mri_mask, prot, prot_mask, need_weights=False, per_head=False):
        """mri (B, P, D), prot (B, K, D) -> updated (mri, prot, weights dict or None)."""
        m_upd, w_mp = self.mri_to_protein(mri, prot, prot_mask, need_weights, per_head)   # (B, P, D)
        p_upd, w_pm = self.protein_to_mri(prot, mri, mri_mask, need_weights, per_head)    # (B, K, D)
        mri = self.norm_mri(mri + self.drop(m_upd))
        prot = self.norm_protein(prot + self.drop(p_upd))
        weights = {"mri_to_protein": w_mp, "protein_to_mri": w_pm} if need_weights else None
        return mri, prot, weights


class FusionModel(nn.Module):
    def __init__(self, cfg: FusionConfig):
        super().__init__()
        self.cfg = cfg
        d = cfg.hidden_dim
        if cfg.uses_mri:
            self.mri_tokens = MriTokens(cfg)
            self.mri_encoder = self_encoder(cfg)
        if cfg.uses_proteins:
            self.protein_tokens = ProteinTokens(cfg)
            self.protein_encoder = self_encoder(cfg)
        fusion = cfg.variant == "fusion"
        self.cross = nn.ModuleList(CrossModalBlock(cfg) for _ in range(cfg.num_cross_layers if fusion else 0))
        self.use_missing_token = fusion and cfg.missing_modality_token
        if self.use_missing_token:
            self.missing_mri = nn.Parameter(torch.zeros(d))
            self.missing_protein = nn.Parameter(torch.zeros(d))
            nn.init.normal_(self.missing_mri, std=0.02)
            nn.init.normal_(self.missing_protein, std=0.02)
        pooled = d * (2 if fusion else 1)
        self.head = nn.Sequential(nn.LayerNorm(pooled), nn.Linear(pooled, d), nn.GELU(),
                                  nn.Dropout(cfg.dropout), nn.Linear(d, cfg.num_classes))
        # optional linear path on the raw inputs (see linear_inputs); training starts it from the
        # fold's logistic regression and the transformer learns what it adds
        self.linear = nn.Linear(cfg.linear_features, cfg.num_classes) if cfg.linear_features else None

    def linear_inputs(self, mri, mri_mask, prot_values, prot_flags, prot_mask) -> torch.Tensor:
        """(B, linear_features): masked patch embeddings (B, P*E), then masked protein values (B, K)
        and the flags (B, K*F: below LOD, missing; kept, they say why a value is absent), the
        columns of the baselines' feature blocks, so the path can hold their regression exactly."""
        parts = []
        b = (mri if self.cfg.uses_mri else prot_values).shape[0]
        if self.cfg.uses_mri:
            parts.append((mri * mri_mask[..., None].to(mri.dtype)).reshape(b, -1))
        if self.cfg.uses_proteins:
            keep = prot_mask.to(prot_values.dtype)
            parts += [prot_values * keep, prot_flags.reshape(b, -1)]
        return torch.cat(parts, dim=1)

    def _with_missing_token(self, tokens, mask, token):
        """Stand-in token for subjects whose whole modality is absent: (B, 1+n, D), (B, 1+n)."""
        absent = ~mask.any(dim=1, keepdim=True)             # (B, 1)
        lead = token.to(tokens.dtype).expand(tokens.shape[0], 1, -1)
        return torch.cat([lead, tokens], dim=1), torch.cat([absent, mask], dim=1)

    def forward(self, mri, mri_coords, mri_mask, prot_values, prot_flags, prot_category, prot_position,
                prot_mask, return_attention: bool = False, per_head: bool = False, explain: bool = False) -> dict:
        """mri (B,P,E), mri_coords (B,P,3), mri_mask (B,P), prot_values (B,K), prot_flags (B,K,F),
        prot_category (K,), prot_position (K,), prot_mask (B,K) -> {"logits": (B,C)[, "attention"]}.

        ``explain`` also returns "self_attention" ({"mri", "protein"}: [(B,H,n,n) per layer]) and
        per-head cross-attention, all inside the autograd graph (slower; for attribution only).
        """
        if explain:
            return_attention, per_head = True, True
        pooled, self_maps = [], {}
        linear = (self.linear(self.linear_inputs(mri, mri_mask, prot_values, prot_flags, prot_mask))
                  if self.linear is not None else None)                       # (B, C)
        if self.cfg.uses_mri:
            m = self.mri_tokens(mri, mri_coords, mri_mask)                      # (B, P, D)
            if self.use_missing_token:
                m, mri_mask = self._with_missing_token(m, mri_mask, self.missing_mri)
            m, self_maps["mri"] = self._encode(self.mri_encoder, m, mri_mask, explain)
        if self.cfg.uses_proteins:
            p = self.protein_tokens(prot_values, prot_flags, prot_category, prot_position, prot_mask)  # (B, K, D)
            if self.use_missing_token:
                p, prot_mask = self._with_missing_token(p, prot_mask, self.missing_protein)
            p, self_maps["protein"] = self._encode(self.protein_encoder, p, prot_mask, explain)
        attention = []
        for block in self.cross:
            m, p, w = block(m, mri_mask, p, prot_mask, return_attention, per_head)
            if w is not None:
                attention.append(self._strip_missing_token(w) if self.use_missing_token else w)
        if self.cfg.uses_mri:
            pooled.append(masked_mean(m, mri_mask))                             # (B, D)
        if self.cfg.uses_proteins:
            pooled.append(masked_mean(p, prot_mask))                            # (B, D)
        logits = self.head(torch.cat(pooled, dim=-1))                           # (B, C)
        out = {"logits": logits if linear is None else logits + linear.to(logits.dtype)}
        if return_attention:
            out["attention"] = attention
        if explain:
            strip = (lambda w: w[..., 1:, 1:]) if self.use_missing_token else (lambda w: w)
            out["self_attention"] = {k: [strip(w) for w in v] for k, v in self_maps.items()}
        return out

    @staticmethod
    def _encode(encoder, tokens, mask, explain: bool):
        if explain:
            return encode_with_weights(encoder, tokens, mask)
        return encode(encoder, tokens, mask), None

    @staticmethod
    def _strip_missing_token(w: dict) -> dict:
        """Drop the stand-in token's row and column: weights refer to real patches/proteins."""
        return {k: v[..., 1:, 1:] for k, v in w.items()}
