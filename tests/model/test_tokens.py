import pytest
import torch

from neurofusion.model.tokens import MriTokens, ProteinTokens

from .conftest import tiny_config


def test_protein_token_is_value_projection_plus_category_plus_position():
    torch.manual_seed(0)
    tok = ProteinTokens(tiny_config())
    values = torch.tensor([[0.5, 0.5, -1.0]])
    flags = torch.zeros(1, 3, 2)
    category = torch.tensor([2, 2, 0])
    position = torch.tensor([0, 1, 0])   # within-category index: 2nd protein of category 2 is at 1
    out = tok(values, flags, category, position, torch.ones(1, 3, dtype=torch.bool))
    x = torch.cat([values[..., None], flags], -1)
    want = tok.project(x) + tok.category.weight[category] + tok.position.weight[position]
    torch.testing.assert_close(out, want)
    # same value, same category: the tokens differ exactly by their position embeddings
    torch.testing.assert_close(out[0, 1] - out[0, 0], tok.position.weight[1] - tok.position.weight[0])


def test_positions_outside_the_table_are_refused():
    tok = ProteinTokens(tiny_config(max_position=2))
    with pytest.raises(ValueError):
        tok(torch.zeros(1, 1), torch.zeros(1, 1, 2), torch.tensor([0]), torch.tensor([2]),
            torch.ones(1, 1, dtype=torch.bool))


def test_mri_tokens_depend_on_patch_position():
    torch.manual_seed(0)
    tok = MriTokens(tiny_config())
    emb = torch.randn(1, 2, 10).expand(1, 2, 10).clone()
    emb[0, 1] = emb[0, 0]
    coords = torch.tensor([[[10.0, -20.0, 30.0], [-50.0, 0.0, 5.0]]])
    out = tok(emb, coords, torch.ones(1, 2, dtype=torch.bool))
    assert out.shape == (1, 2, 16)
    assert not torch.allclose(out[0, 0], out[0, 1])


def test_per_protein_value_direction_starts_at_the_shared_projection_and_is_per_protein():
    torch.manual_seed(0)
    shared = ProteinTokens(tiny_config())
    own = ProteinTokens(tiny_config(per_protein_value=True))
    own.load_state_dict(shared.state_dict(), strict=False)  # same shared weights; directions start at 0
    values = torch.tensor([[0.5, -2.0, 1.0]])
    flags = torch.zeros(1, 3, 2)
    category, position = torch.tensor([1, 1, 0]), torch.tensor([0, 1, 0])
    mask = torch.ones(1, 3, dtype=torch.bool)
    torch.testing.assert_close(own(values, flags, category, position, mask),
                               shared(values, flags, category, position, mask))
    with torch.no_grad():
        own.value_direction.weight.normal_()
    out = own(values, flags, category, position, mask)
    ids = category * own.max_position + position
    want = shared(values, flags, category, position, mask) + values[..., None] * own.value_direction.weight[ids]
    torch.testing.assert_close(out, want)
    # masked proteins contribute nothing through their own direction either
    hidden = own(values, flags, category, position, torch.tensor([[True, False, True]]))
    torch.testing.assert_close(hidden[0, 1], shared(torch.zeros(1, 3), flags, category, position, mask)[0, 1])
