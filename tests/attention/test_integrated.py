import pytest
import torch

from neurofusion.attention.integrated import integrated_gradients
from neurofusion.attention.score import positive_log_odds
from neurofusion.model import FusionModel

from .tiny import make_inputs, tiny_config


@pytest.mark.parametrize("variant", ["fusion", "mri", "protein"])
def test_attributions_sum_to_the_score_change_from_the_baseline(variant):
    torch.manual_seed(3)
    model = FusionModel(tiny_config(variant=variant, dropout=0.0)).eval()
    batch = make_inputs(2)
    got, delta = integrated_gradients(model, batch, steps=64)
    baseline = dict(batch, mri=torch.zeros_like(batch["mri"]), prot_values=torch.zeros_like(batch["prot_values"]))
    with torch.no_grad():
        change = positive_log_odds(model(**batch)["logits"]) - positive_log_odds(model(**baseline)["logits"])
    total = sum(v.sum(dim=1) for v in got.values())
    assert torch.count_nonzero(change) == len(change)
    assert torch.allclose(total, change, atol=2e-3 + 1e-2 * change.abs().max().item())
    assert delta.abs().max() < 2e-3 + 1e-2 * change.abs().max().item()
    assert set(got) == {"fusion": {"mri", "protein"}, "mri": {"mri"}, "protein": {"protein"}}[variant]
    for key, mask in (("mri", "mri_mask"), ("protein", "prot_mask")):
        if key in got:
            assert torch.all(got[key][~batch[mask]] == 0)
