"""Gradient-weighted attention relevance for bi-modal transformers (Chefer, Gur & Wolf,
ICCV 2021, "Generic Attention-model Explainability for Interpreting Bi-Modal and
Encoder-Decoder Transformers"; rule numbers as in the paper).

Each layer's attention A (B, H, queries, keys) is weighted by the gradient of the score
with respect to it and only the positive part kept, averaged over heads (rule 5):

    Ā = mean_h (∇A ⊙ A)+

Relevance matrices start as R_mm = I, R_pp = I (each token is itself), R_mp = R_pm = 0
(m = MRI patches, p = proteins; R_xy[i, j] = how much token j of y made token i of x).

    self-attention in x (rules 6, 7):    R_xx += Ā R_xx          R_xy += Ā R_xy
    x queries y (rules 10, 11):          R_xy += R̄_xxᵀ Ā R̄_yy    R_xx += Ā R_yx
    with R̄ = row-normalised (R - I) + I  (eqs. 8, 9)

Both directions of a cross block are computed from the relevance before the block, as the
block computes both updates from the tokens before it. Our head reads the masked mean of
each modality's tokens (no CLS token), so a token's relevance is the mean, over the present
output tokens of each modality, of its column, with the identity's share left out (that
share is the same 1/n for every present token and says nothing about the model):

    r_m[j] = mean_i (R_mm - I)[i, j] + mean_k R_pm[k, j]
    r_p[k] = mean_i R_mp[i, k] + mean_l (R_pp - I)[l, k]
"""

from __future__ import annotations

import torch

from .score import positive_log_odds


def head_mean_positive(attention: torch.Tensor, gradient: torch.Tensor) -> torch.Tensor:
    """Rule 5: (B, H, L, S) weights and their gradients -> Ā (B, L, S)."""
    return (gradient * attention).clamp(min=0).mean(dim=1)


def self_rule(r_xx: torch.Tensor, r_xy: torch.Tensor | None, cam: torch.Tensor):
    """Rules 6 and 7: updated (R_xx, R_xy) after a self-attention layer of x (cam Ā (B, n, n))."""
    return r_xx + cam @ r_xx, (None if r_xy is None else r_xy + cam @ r_xy)


def normalised_residual(r: torch.Tensor) -> torch.Tensor:
    """Eqs. 8 and 9: R̄ = (R - I) with rows scaled to sum 1, plus I (a zero row stays zero)."""
    eye = torch.eye(r.shape[-1], dtype=r.dtype, device=r.device)
    hat = r - eye
    sums = hat.sum(dim=-1, keepdim=True)
    hat = torch.where(sums > 0, hat / torch.where(sums > 0, sums, 1.0), 0.0)
    return hat + eye


def cross_additions(r_xx, r_yy, r_yx, cam_xy):
    """Rules 10 and 11 for x queries attending to y keys (cam Ā (B, nx, ny)):
    (addition to R_xy, addition to R_xx)."""
    add_xy = normalised_residual(r_xx).transpose(-1, -2) @ cam_xy @ normalised_residual(r_yy)
    add_xx = cam_xy @ r_yx
    return add_xy, add_xx


def pooled(r: torch.Tensor, query_mask: torch.Tensor, minus_identity: bool) -> torch.Tensor:
    """Mean over the present output tokens (rows) of R (B, n, s) -> (B, s)."""
    if minus_identity:
        r = r - torch.eye(r.shape[-1], dtype=r.dtype, device=r.device)
    w = query_mask.to(r.dtype)[..., None]                              # (B, n, 1)
    return (r * w).sum(dim=1) / w.sum(dim=1).clamp(min=1.0)


def propagate(mri_self, protein_self, cross, mri_mask, prot_mask) -> dict[str, torch.Tensor]:
    """Relevance per token from the weighted maps Ā (already rule-5 averaged).

    mri_self / protein_self: [(B, n, n) per self layer] or None for an absent modality;
    cross: [{"mri_to_protein": (B, P, K), "protein_to_mri": (B, K, P)} per block];
    masks (B, n) True = present. Returns {"mri": (B, P), "protein": (B, K)} (used modalities).
    """
    def eye(mask):
        n = mask.shape[1]
        return torch.eye(n, dtype=torch.float32, device=mask.device).expand(mask.shape[0], n, n).clone()

    def rows(cam, mask):  # an absent query token passes nothing on
        return cam * mask.to(cam.dtype)[..., None]

    both = mri_self is not None and protein_self is not None
    r_mm = eye(mri_mask) if mri_self is not None else None
    r_pp = eye(prot_mask) if protein_self is not None else None
    r_mp = torch.zeros(mri_mask.shape[0], mri_mask.shape[1], prot_mask.shape[1], device=mri_mask.device) if both else None
    r_pm = r_mp.transpose(1, 2).clone() if both else None
    for cam in mri_self or []:
        r_mm, r_mp = self_rule(r_mm, r_mp, rows(cam, mri_mask))
    for cam in protein_self or []:
        r_pp, r_pm = self_rule(r_pp, r_pm, rows(cam, prot_mask))
    for block in cross:
        add_mp, add_mm = cross_additions(r_mm, r_pp, r_pm, rows(block["mri_to_protein"], mri_mask))
        add_pm, add_pp = cross_additions(r_pp, r_mm, r_mp, rows(block["protein_to_mri"], prot_mask))
        r_mp, r_mm, r_pm, r_pp = r_mp + add_mp, r_mm + add_mm, r_pm + add_pm, r_pp + add_pp
    out = {}
    if r_mm is not None:
        out["mri"] = pooled(r_mm, mri_mask, True) + (pooled(r_pm, prot_mask, False) if both else 0.0)
        out["mri"] = out["mri"] * mri_mask
    if r_pp is not None:
        out["protein"] = pooled(r_pp, prot_mask, True) + (pooled(r_mp, mri_mask, False) if both else 0.0)
        out["protein"] = out["protein"] * prot_mask
    return out


def relevance(model, batch: dict) -> dict[str, torch.Tensor]:
    """Gradient-weighted relevance of every token for the positive-class log-odds (eval mode).

    One forward pass with the attention kept in the graph and one backward pass per batch;
    subjects do not interact, so the gradient of the batch's summed score is each one's own.
    An ensemble's relevance is the mean of its members' (each for its own log-odds, whose
    mean is the ensemble's).
    """
    from ..model import members_of

    members = members_of(model)
    if len(members) > 1:
        each = [relevance(m, batch) for m in members]
        return {k: torch.stack([r[k] for r in each]).mean(dim=0) for k in each[0]}
    model.eval()
    with torch.enable_grad():
        out = model(**batch, explain=True)
        score = positive_log_odds(out["logits"]).sum()
        selfs = out["self_attention"]
        names = [("mri", i) for i in range(len(selfs.get("mri", [])))]
        names += [("protein", i) for i in range(len(selfs.get("protein", [])))]
        names += [(d, i) for i in range(len(out["attention"])) for d in ("mri_to_protein", "protein_to_mri")]
        maps = [selfs[k][i] if k in ("mri", "protein") else out["attention"][i][k] for k, i in names]
        grads = torch.autograd.grad(score, maps, allow_unused=True)
    cams = {}
    for (k, i), a, g in zip(names, maps, grads):
        cams[(k, i)] = head_mean_positive(a.detach().float(), torch.zeros_like(a) if g is None else g.float())
    cross = [{d: cams[(d, i)] for d in ("mri_to_protein", "protein_to_mri")} for i in range(len(out["attention"]))]
    mri_self = [cams[("mri", i)] for i in range(len(selfs["mri"]))] if "mri" in selfs else None
    protein_self = [cams[("protein", i)] for i in range(len(selfs["protein"]))] if "protein" in selfs else None
    result = propagate(mri_self, protein_self, cross, batch["mri_mask"], batch["prot_mask"])
    return {k: v.detach() for k, v in result.items()}
