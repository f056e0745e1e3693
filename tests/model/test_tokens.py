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
