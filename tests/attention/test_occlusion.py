from types import SimpleNamespace

import pytest
import torch
from torch import nn

from neurofusion.attention.occlusion import occlusion
from neurofusion.attention.score import positive_log_odds
from neurofusion.model import FusionModel

from .tiny import B, K, P, make_inputs, one_subject, tiny_config


class OneToken(nn.Module):
    """Positive-class logit = sum of MRI patch 2's embedding when that patch is present; nothing else counts."""

    cfg = SimpleNamespace(uses_mri=True, uses_proteins=True)

    def forward(self, mri, mri_mask, prot_values, prot_mask, **_):
        pos = torch.where(mri_mask[:, 2], mri[:, 2].sum(dim=-1), 0.0)
        return {"logits": torch.stack([torch.zeros_like(pos), pos], dim=-1)}


def test_positive_log_odds_is_logit_difference_for_two_classes():
    logits = torch.tensor([[0.5, 2.0], [1.0, -1.0]])
    assert torch.allclose(positive_log_odds(logits), torch.tensor([1.5, -2.0]))
    three = torch.tensor([[0.0, 0.0, 1.0]])
    p = three.softmax(-1)[0, 2]
    assert torch.allclose(positive_log_odds(three), (p / (1 - p)).log())


def test_the_one_token_gets_all_attribution_and_masked_tokens_none():
    batch = make_inputs(0)
    batch["mri_mask"][1, 2] = False  # subject 1 lacks the patch that matters
    got = occlusion(OneToken(), batch)
    expected = batch["mri"][:, 2].sum(dim=-1)
    assert torch.allclose(got["mri"][[0, 2], 2], expected[[0, 2]])
    others = torch.ones(B, P, dtype=torch.bool)
    others[:, 2] = False
    assert torch.count_nonzero(got["mri"][others]) == 0
    assert got["mri"][1, 2] == 0  # masked token: no attribution
    assert torch.count_nonzero(got["protein"]) == 0
    # the change in the score equals the score itself here (masking patch 2 leaves logit 0)
    assert torch.allclose(got["mri"].sum(dim=1), positive_log_odds(OneToken()(**batch)["logits"]))


@pytest.mark.parametrize("variant", ["fusion", "mri", "protein"])
def test_batched_equals_one_subject_at_a_time(variant):
    torch.manual_seed(0)
    model = FusionModel(tiny_config(variant=variant)).eval()
    batch = make_inputs(1)
    together = occlusion(model, batch)
    for b in range(B):
        alone = occlusion(model, one_subject(batch, b))
        for key in together:
            assert torch.allclose(together[key][b], alone[key][0], atol=1e-5)
    if "protein" in together:
        assert together["protein"].shape == (B, K)
        assert torch.all(together["protein"][~batch["prot_mask"]] == 0)
    if "mri" in together:
        assert torch.all(together["mri"][~batch["mri_mask"]] == 0)
        assert torch.count_nonzero(together["mri"]) > 0


def test_an_ensembles_attribution_is_its_members_mean():
    """Occlusion and integrated gradients are linear in the score; relevance is averaged by definition."""
    from neurofusion.attention.integrated import integrated_gradients
    from neurofusion.attention.relevance import relevance
    from neurofusion.model import FusionEnsemble

    torch.manual_seed(4)
    ensemble = FusionEnsemble(tiny_config(), 3).eval()
    batch = make_inputs(2)
    for method in (occlusion, relevance, lambda m, b: integrated_gradients(m, b, steps=16)[0]):
        whole = method(ensemble, batch)
        each = [method(m, batch) for m in ensemble.members]
        for key in whole:
            torch.testing.assert_close(whole[key], sum(e[key] for e in each) / 3, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("variant", ["fusion", "mri", "protein"])
def test_stacking_occluded_copies_does_not_change_the_scores(variant):
    """One pass per token (max_rows = B, or an element cap below one copy) and all tokens in a
    few passes give the same map."""
    torch.manual_seed(5)
    model = FusionModel(tiny_config(variant=variant)).eval()
    batch = make_inputs(3)
    batch["mri_mask"][0, 1] = False
    batch["prot_mask"][2, 0] = False
    one_by_one = occlusion(model, batch, max_rows=B)
    capped = occlusion(model, batch, max_elements=1)
    stacked = occlusion(model, batch)
    odd = occlusion(model, batch, max_rows=2 * B + 1)  # chunks of 2 tokens, the last one shorter
    for key in one_by_one:
        for other in (capped, stacked, odd):
            torch.testing.assert_close(other[key], one_by_one[key], atol=1e-5, rtol=1e-4)
    if "mri" in stacked:
        assert stacked["mri"][0, 1] == 0
    if "protein" in stacked:
        assert stacked["protein"][2, 0] == 0
