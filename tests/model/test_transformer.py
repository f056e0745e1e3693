import pytest
import torch

from neurofusion.model import FusionModel
from neurofusion.model.transformer import masked_mean

from .conftest import B, K, P, make_inputs, tiny_config


def model_for(variant, **over):
    torch.manual_seed(0)
    return FusionModel(tiny_config(variant=variant, **over)).eval()


@pytest.mark.parametrize("variant", ["fusion", "mri", "protein"])
def test_logits_shape_for_every_variant(variant, inputs):
    out = model_for(variant)(**inputs)
    assert out["logits"].shape == (B, 2)
    assert "attention" not in out


def test_attention_shapes_averaged_and_per_head(inputs):
    model = model_for("fusion")
    avg = model(**inputs, return_attention=True)["attention"]
    heads = model(**inputs, return_attention=True, per_head=True)["attention"]
    assert len(avg) == len(heads) == 2
    for layer in avg:
        assert layer["mri_to_protein"].shape == (B, P, K)
        assert layer["protein_to_mri"].shape == (B, K, P)
    for layer in heads:
        assert layer["mri_to_protein"].shape == (B, 4, P, K)
        assert layer["protein_to_mri"].shape == (B, 4, K, P)


@pytest.mark.parametrize("variant", ["mri", "protein"])
def test_single_modality_variants_have_no_cross_attention(variant, inputs):
    model = model_for(variant)
    assert len(model.cross) == 0
    assert model(**inputs, return_attention=True)["attention"] == []


def test_weights_path_gives_the_same_logits_as_the_fast_path(inputs):
    model = model_for("fusion")
    fast = model(**inputs)["logits"]
    slow = model(**inputs, return_attention=True)["logits"]
    torch.testing.assert_close(fast, slow, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("grad", [True, False])     # False: nn.TransformerEncoder's fused inference path
@pytest.mark.parametrize("variant", ["fusion", "mri", "protein"])
def test_masked_tokens_cannot_change_the_output(variant, grad, inputs):
    model = model_for(variant)
    changed = {k: v.clone() for k, v in inputs.items()}
    changed["mri"][~inputs["mri_mask"]] = float("nan")
    changed["mri_coords"][~inputs["mri_mask"]] = 1e4
    changed["prot_values"][~inputs["prot_mask"]] = 1e6
    changed["prot_flags"][~inputs["prot_mask"]] = 1.0
    moved = {k: v.clone() for k, v in changed.items()}
    moved["prot_values"][2, 0] += 3.0       # present tokens
    moved["mri"][1, 0] += 3.0
    with torch.set_grad_enabled(grad):
        before = model(**inputs)["logits"]
        after = model(**changed)["logits"]
        other = model(**moved)["logits"]
    torch.testing.assert_close(before, after, atol=1e-6, rtol=1e-6)
    assert not torch.allclose(before, other)     # a present token does change it


@pytest.mark.parametrize("token", [False, True])
@pytest.mark.parametrize("variant", ["fusion", "mri", "protein"])
def test_fully_masked_sets_never_give_nan(variant, token, inputs):
    torch.manual_seed(0)
    model = FusionModel(tiny_config(variant=variant, missing_modality_token=token))
    inputs["mri_mask"][0] = False        # subject 0: no MRI at all
    inputs["prot_mask"][1] = False       # subject 1: no protein at all
    inputs["mri"][0] = float("nan")
    inputs["prot_values"][1] = float("nan")
    for train in (True, False):
        model.train(train)
        out = model(**inputs, return_attention=True)
        assert torch.isfinite(out["logits"]).all()
        for layer in out["attention"]:
            assert all(torch.isfinite(w).all() for w in layer.values())
    out["logits"].sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_missing_modality_token_stands_in_for_an_absent_modality(inputs):
    model = model_for("fusion", missing_modality_token=True)
    inputs["mri_mask"][0] = False
    out = model(**inputs, return_attention=True)
    assert out["attention"][0]["mri_to_protein"].shape == (B, P, K)   # the stand-in is not reported
    with torch.no_grad():
        model.missing_mri.add_(1.0)
    changed = model(**inputs)["logits"]
    assert not torch.allclose(out["logits"][0], changed[0])            # subject 0 uses the token
    torch.testing.assert_close(out["logits"][1:], changed[1:])          # the others do not


def test_masked_mean_of_an_empty_set_is_zero():
    x = torch.randn(2, 4, 3)
    mask = torch.tensor([[True, False, True, False], [False] * 4])
    pooled = masked_mean(x, mask)
    torch.testing.assert_close(pooled[0], (x[0, 0] + x[0, 2]) / 2)
    assert torch.equal(pooled[1], torch.zeros(3))


def test_prototype_sizes_give_about_4_6_million_parameters():
    from neurofusion.model import FusionConfig

    model = FusionModel(FusionConfig(embed_dim=768, max_position=8))
    n = sum(p.numel() for p in model.parameters())
    assert 4.4e6 < n < 4.8e6


def test_same_seed_same_model_outputs():
    x = make_inputs(1)
    assert torch.equal(model_for("fusion")(**x)["logits"], model_for("fusion")(**x)["logits"])
