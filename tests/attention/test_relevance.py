import pytest
import torch

from neurofusion.attention.relevance import head_mean_positive, normalised_residual, propagate, relevance
from neurofusion.attention.score import positive_log_odds
from neurofusion.model import FusionModel

from .tiny import B, K, P, make_inputs, tiny_config

T = torch.tensor


def test_rule_5_keeps_the_positive_gradient_weighted_part_averaged_over_heads():
    a = T([[[[0.5, 0.5]], [[1.0, 0.0]]]])         # (B=1, H=2, L=1, S=2)
    g = T([[[[2.0, -1.0]], [[-3.0, 4.0]]]])
    assert torch.allclose(head_mean_positive(a, g), T([[[0.5, 0.0]]]))  # heads: [1, 0] and [0, 0]


def test_normalised_residual_rows_of_r_minus_i_sum_to_one():
    r = T([[[1.5, 0.5], [0.0, 3.0]]])
    assert torch.allclose(normalised_residual(r), T([[[1.5, 0.5], [0.0, 2.0]]]))
    assert torch.allclose(normalised_residual(torch.eye(2)[None]), torch.eye(2)[None])  # nothing to normalise


def test_two_self_layers_of_one_modality_by_hand():
    # R = I + A1 = [[1.5, .5], [0, 2]];  R += A2 R = [[1.5, .5], [.75, 1.25]]  ->  [[3, 1], [.75, 3.25]]
    # pooled (R - I) over both rows: [(2 + .75) / 2, (1 + 2.25) / 2] = [1.375, 1.625]
    a1, a2 = T([[[0.5, 0.5], [0.0, 1.0]]]), T([[[1.0, 0.0], [0.5, 0.5]]])
    mask = torch.ones(1, 2, dtype=torch.bool)
    got = propagate([a1, a2], None, [], mask, torch.ones(1, 0, dtype=torch.bool))
    assert set(got) == {"mri"}
    assert torch.allclose(got["mri"], T([[1.375, 1.625]]))


def test_one_self_layer_per_modality_and_one_cross_block_by_hand():
    # 2 patches, 1 protein. Self: R_mm = I + S_m = [[1.5, .5], [0, 2]], R_pp = 1 + .4 = 1.4, R_mp = R_pm = 0.
    # R̄_mm = R_mm (rows of R - I already sum to 1); R̄_pp = 1 + 1 = 2.
    # MRI -> protein, A = [[1], [.5]]: R_mp += R̄_mmᵀ A R̄_pp = [[1.5, 0], [.5, 2]] [[1], [.5]] 2 = [[3], [3]];
    #                                  R_mm += A R_pm = 0
    # protein -> MRI, A = [[.2, .6]]:  R_pm += R̄_ppᵀ A R̄_mm = 2 [[.3, 1.3]] = [[.6, 2.6]];  R_pp += A R_mp = 0
    # patches:  mean rows (R_mm - I) = [.25, .75]  + mean rows R_pm = [.6, 2.6]  -> [.85, 3.35]
    # protein:  mean rows R_mp = 3                 + (R_pp - I) = .4              -> 3.4
    s_m, s_p = T([[[0.5, 0.5], [0.0, 1.0]]]), T([[[0.4]]])
    cross = [{"mri_to_protein": T([[[1.0], [0.5]]]), "protein_to_mri": T([[[0.2, 0.6]]])}]
    got = propagate([s_m], [s_p], cross, torch.ones(1, 2, dtype=torch.bool), torch.ones(1, 1, dtype=torch.bool))
    assert torch.allclose(got["mri"], T([[0.85, 3.35]]))
    assert torch.allclose(got["protein"], T([[3.4]]))


def test_an_absent_token_passes_on_nothing_and_gets_nothing():
    a = T([[[0.5, 0.5], [0.5, 0.5]]])
    got = propagate([a], None, [], T([[True, False]]), torch.ones(1, 0, dtype=torch.bool))
    # only row 0 counts: R = I + [[.5, .5], [0, 0]] -> pooled (R - I) row 0 = [.5, .5]; token 1 absent -> 0
    assert torch.allclose(got["mri"], T([[0.5, 0.0]]))


@pytest.mark.parametrize("variant", ["fusion", "mri", "protein"])
def test_explain_forward_is_the_same_model(variant):
    torch.manual_seed(1)
    model = FusionModel(tiny_config(variant=variant, num_self_layers=2)).eval()
    batch = make_inputs(4)
    plain = model(**batch)["logits"]
    out = model(**batch, explain=True)
    assert torch.allclose(out["logits"], plain, atol=1e-5)
    for key, n in (("mri", P), ("protein", K)):
        if key in out["self_attention"]:
            maps = out["self_attention"][key]
            assert len(maps) == 2 and maps[0].shape == (B, 2, n, n)
            assert torch.allclose(maps[0].sum(-1), torch.ones(B, 2, n), atol=1e-5)


def test_relevance_uses_the_gradient_of_the_score_with_respect_to_each_map():
    torch.manual_seed(2)
    model = FusionModel(tiny_config(variant="fusion", num_self_layers=1, num_cross_layers=1)).eval()
    batch = make_inputs(5)
    got = relevance(model, batch)
    # recompute by hand from the same forward pass
    out = model(**batch, explain=True)
    maps = [out["self_attention"]["mri"][0], out["self_attention"]["protein"][0],
            out["attention"][0]["mri_to_protein"], out["attention"][0]["protein_to_mri"]]
    grads = torch.autograd.grad(positive_log_odds(out["logits"]).sum(), maps)
    cams = [head_mean_positive(a.detach(), g) for a, g in zip(maps, grads)]
    expected = propagate([cams[0]], [cams[1]], [{"mri_to_protein": cams[2], "protein_to_mri": cams[3]}],
                         batch["mri_mask"], batch["prot_mask"])
    for key in ("mri", "protein"):
        assert torch.allclose(got[key], expected[key], atol=1e-6)
    assert torch.all(got["mri"][~batch["mri_mask"]] == 0) and torch.all(got["protein"][~batch["prot_mask"]] == 0)
    assert torch.all(got["mri"] >= 0) and got["mri"].sum() > 0
