"""Integrated gradients on the token inputs, with Captum.

Inputs varied: the normalised patch embeddings (B, P, E) and protein values (B, K) of the
modalities the model uses; everything else (coordinates, flags, masks, pathway codes) is
held at the subject's own values. Baseline: zeros, i.e. the training fold's mean embedding
and median protein value (inputs are z-scored with training statistics). A token's
attribution is the sum over its input features, so (completeness)

    sum over tokens = score(subject) - score(baseline)   up to the integral's error,

which Captum returns per subject as the convergence delta.
"""

from __future__ import annotations

import torch

from .score import positive_log_odds

# arguments with a subject axis that Captum must repeat along with the inputs
PER_SUBJECT = ("mri", "mri_coords", "mri_mask", "prot_values", "prot_flags", "prot_mask")


def integrated_gradients(model, batch: dict, steps: int = 32,
                         internal_batch_size: int | None = None) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """({"mri": (B, P), "protein": (B, K)} for the used modalities, convergence delta (B,))."""
    from captum.attr import IntegratedGradients

    model.eval()
    varied = [name for name, used in (("mri", model.cfg.uses_mri), ("prot_values", model.cfg.uses_proteins)) if used]
    held = [name for name in PER_SUBJECT if name not in varied]
    shared = {k: v for k, v in batch.items() if k not in PER_SUBJECT}   # prot_category, prot_position

    def forward(*tensors):
        args = dict(zip(varied + held, tensors), **shared)
        return positive_log_odds(model(**args)["logits"])

    inputs = tuple(batch[name].float() for name in varied)
    with torch.enable_grad():
        attributions, delta = IntegratedGradients(forward).attribute(
            inputs, baselines=tuple(torch.zeros_like(x) for x in inputs),
            additional_forward_args=tuple(batch[name] for name in held), n_steps=int(steps),
            internal_batch_size=internal_batch_size, return_convergence_delta=True)
    out = {}
    for name, attribution in zip(varied, attributions):
        if name == "mri":
            out["mri"] = attribution.sum(dim=-1).detach() * batch["mri_mask"]
        else:
            out["protein"] = attribution.detach() * batch["prot_mask"]
    return out, delta.detach().float()
