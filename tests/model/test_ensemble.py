"""FusionEnsemble: members of one architecture whose logits are averaged."""

import pytest
import torch

from neurofusion.model import FusionEnsemble, FusionModel, build_model, members_of

from .conftest import make_inputs, tiny_config


def test_one_member_is_a_plain_model_and_more_are_an_ensemble():
    cfg = tiny_config()
    assert type(build_model(cfg, 1)) is FusionModel
    ensemble = build_model(cfg, 3)
    assert isinstance(ensemble, FusionEnsemble) and len(members_of(ensemble)) == 3
    with pytest.raises(ValueError):
        FusionEnsemble(cfg, 1)


@pytest.mark.parametrize("variant", ["fusion", "mri", "protein"])
def test_logits_and_attention_are_the_members_means(variant):
    torch.manual_seed(0)
    ensemble = FusionEnsemble(tiny_config(variant=variant), 3).eval()
    batch = make_inputs()
    out = ensemble(**batch, return_attention=True)
    each = [m(**batch, return_attention=True) for m in ensemble.members]
    torch.testing.assert_close(out["logits"], sum(o["logits"] for o in each) / 3)
    assert not torch.allclose(each[0]["logits"], each[1]["logits"])    # the members differ
    assert len(out["attention"]) == len(each[0]["attention"])
    for layer, parts in zip(out["attention"], zip(*(o["attention"] for o in each))):
        for key in layer:
            torch.testing.assert_close(layer[key], sum(p[key] for p in parts) / 3)


def test_explaining_goes_through_the_members():
    ensemble = FusionEnsemble(tiny_config(), 2).eval()
    with pytest.raises(ValueError, match="per member"):
        ensemble(**make_inputs(), explain=True)


def test_state_dict_round_trip():
    torch.manual_seed(1)
    a = FusionEnsemble(tiny_config(), 2).eval()
    b = build_model(tiny_config(), 2).eval()
    b.load_state_dict(a.state_dict())
    batch = make_inputs(3)
    torch.testing.assert_close(a(**batch)["logits"], b(**batch)["logits"])
