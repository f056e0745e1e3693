"""Multi-head attention with a key mask: cross-attention when given a context.

Two paths compute the same thing:

    fast (default)      F.scaled_dot_product_attention   no weights materialised
    with weights        softmax(q k^T / sqrt(d)) v        weights returned, averaged or per head

Masked keys (mask False) get weight 0. A query whose context has no key at all gets a
zero output and all-zero weights, never NaN, so a residual connection leaves it as it was.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import FusionConfig


class Attention(nn.Module):
    def __init__(self, cfg: FusionConfig):
        super().__init__()
        d = cfg.hidden_dim
        self.heads = cfg.num_heads
        self.dropout = cfg.dropout
        self.to_q = nn.Linear(d, d)
        self.to_kv = nn.Linear(d, 2 * d)
        self.to_out = nn.Linear(d, d)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        return x.view(b, n, self.heads, d // self.heads).transpose(1, 2)  # (B, H, n, d/H)

    def forward(self, x: torch.Tensor, context: torch.Tensor, key_mask: torch.Tensor,
                need_weights: bool = False, per_head: bool = False):
        """x (B, L, D) queries; context (B, S, D) keys/values; key_mask (B, S) True = present.

        Returns (out (B, L, D), weights or None); weights are (B, L, S) averaged over
        heads, or (B, H, L, S) with ``per_head``.
        """
        q = self._split(self.to_q(x))                       # (B, H, L, d)
        k, v = self.to_kv(context).chunk(2, dim=-1)
        k, v = self._split(k), self._split(v)               # (B, H, S, d)
        has_keys = key_mask.any(dim=1)                      # (B,)
        # a context with no key at all attends uniformly; its output is zeroed below
        usable = key_mask | ~has_keys[:, None]              # (B, S)
        drop = self.dropout if self.training else 0.0
        weights = None
        if need_weights:
            scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])        # (B, H, L, S)
            scores = scores.masked_fill(~usable[:, None, None, :], float("-inf"))
            probs = scores.softmax(dim=-1)
            probs = probs * has_keys[:, None, None, None]                    # empty context -> 0
            out = F.dropout(probs, drop, self.training) @ v                  # (B, H, L, d)
            weights = probs if per_head else probs.mean(dim=1)
        else:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=usable[:, None, None, :], dropout_p=drop)
        b, h, n, d = out.shape
        out = out.transpose(1, 2).reshape(b, n, h * d)      # (B, L, D)
        return self.to_out(out) * has_keys[:, None, None], weights
