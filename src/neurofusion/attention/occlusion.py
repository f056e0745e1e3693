"""Occlusion with the model's own masks: what the score loses when one token is absent.

    attribution[b, t] = score(subject b) - score(subject b with token t masked)

Masking goes through ``mri_mask`` / ``prot_mask``, the way the model already treats a
missing patch or protein (left out of attention and pooling), so no made-up baseline
value enters. The occluded copies of the batch are stacked along the batch dimension, as
many per forward pass as fit ``max_rows`` rows and ``max_elements`` input numbers (one pass
per token and subject batch was ~60 % of the attribution step's time on the demo; the
element cap keeps a 1 mm grid with wide embeddings to one copy per pass, as before). A token
that is already absent gets 0.
"""

from __future__ import annotations

import torch

from .integrated import PER_SUBJECT
from .score import positive_log_odds

MAX_ROWS = 1024
MAX_ELEMENTS = 1 << 24  # input numbers per pass (64 MB of float32), activations scale alike


@torch.no_grad()
def occlusion(model, batch: dict, max_rows: int = MAX_ROWS,
              max_elements: int = MAX_ELEMENTS) -> dict[str, torch.Tensor]:
    """{"mri": (B, P), "protein": (B, K)} for the modalities the model uses (eval mode)."""
    model.eval()
    base = positive_log_odds(model(**batch)["logits"])                # (B,)
    b = base.shape[0]
    per_row = sum(batch[k][0].numel() for k in PER_SUBJECT)           # input numbers per subject
    rows = max(b, min(int(max_rows), int(max_elements) // max(1, per_row)))
    per_pass = max(1, rows // b)
    out = {}
    for key, mask_name in _modalities(model):
        mask = batch[mask_name]                                        # (B, n) True = present
        scores = torch.zeros(mask.shape, dtype=torch.float32, device=mask.device)
        tokens = mask.any(dim=0).nonzero().flatten().tolist()          # present in some subject
        for first in range(0, len(tokens), per_pass):
            chunk = tokens[first:first + per_pass]
            masked = _occluded_scores(model, batch, mask_name, chunk)  # (len(chunk), B)
            for row, t in enumerate(chunk):
                scores[:, t] = torch.where(mask[:, t], base - masked[row], 0.0)
        out[key] = scores
    return out


def _occluded_scores(model, batch: dict, mask_name: str, tokens: list[int]) -> torch.Tensor:
    """Scores of the batch with each of ``tokens`` hidden in turn: (len(tokens), B), one pass.

    Copy i of the batch fills rows i * B ... i * B + B - 1 (``repeat``'s layout); only the
    per-subject arguments are repeated, the per-protein ones (category, position) are shared.
    """
    j, b = len(tokens), batch[mask_name].shape[0]
    stacked = {k: v.repeat(j, *([1] * (v.dim() - 1))) if k in PER_SUBJECT else v for k, v in batch.items()}
    hidden = stacked[mask_name].clone()                               # (j * B, n)
    rows = torch.arange(j * b, device=hidden.device)
    hidden[rows, torch.tensor(tokens, device=hidden.device).repeat_interleave(b)] = False
    stacked[mask_name] = hidden
    return positive_log_odds(model(**stacked)["logits"]).view(j, b)


def _modalities(model):
    cfg = model.cfg
    return [(key, mask) for key, mask, used in (("mri", "mri_mask", cfg.uses_mri),
                                                 ("protein", "prot_mask", cfg.uses_proteins)) if used]
