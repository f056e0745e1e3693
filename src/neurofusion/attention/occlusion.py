"""Occlusion with the model's own masks: what the score loses when one token is absent.

    attribution[b, t] = score(subject b) - score(subject b with token t masked)

Masking goes through ``mri_mask`` / ``prot_mask``, the way the model already treats a
missing patch or protein (left out of attention and pooling), so no made-up baseline
value enters. One forward pass per token covers the whole batch: P + K passes per batch
(plus one for the unmasked score). A token that is already absent gets 0.
"""

from __future__ import annotations

import torch

from .score import positive_log_odds


@torch.no_grad()
def occlusion(model, batch: dict) -> dict[str, torch.Tensor]:
    """{"mri": (B, P), "protein": (B, K)} for the modalities the model uses (eval mode)."""
    model.eval()
    base = positive_log_odds(model(**batch)["logits"])                # (B,)
    out = {}
    for key, mask_name in _modalities(model):
        mask = batch[mask_name]                                        # (B, n) True = present
        scores = torch.zeros(mask.shape, dtype=torch.float32, device=mask.device)
        for t in range(mask.shape[1]):
            present = mask[:, t]
            if not bool(present.any()):
                continue
            hidden = mask.clone()
            hidden[:, t] = False
            masked = positive_log_odds(model(**{**batch, mask_name: hidden})["logits"])
            scores[:, t] = torch.where(present, base - masked, 0.0)
        out[key] = scores
    return out


def _modalities(model):
    cfg = model.cfg
    return [(key, mask) for key, mask, used in (("mri", "mri_mask", cfg.uses_mri),
                                                 ("protein", "prot_mask", cfg.uses_proteins)) if used]
