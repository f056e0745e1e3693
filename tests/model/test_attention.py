import pytest
import torch

from neurofusion.model.attention import Attention

from .conftest import tiny_config


@pytest.fixture
def attention():
    torch.manual_seed(0)
    return Attention(tiny_config(dropout=0.0)).eval()


def tensors():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(3, 5, 16, generator=g)
    ctx = torch.randn(3, 6, 16, generator=g)
    mask = torch.tensor([[True] * 6, [True, False, True, False, False, True], [False] * 6])
    return x, ctx, mask


def test_rows_sum_to_one_and_masked_keys_get_zero(attention):
    x, ctx, mask = tensors()
    _, avg = attention(x, ctx, mask, need_weights=True)
    _, heads = attention(x, ctx, mask, need_weights=True, per_head=True)
    assert avg.shape == (3, 5, 6) and heads.shape == (3, 4, 5, 6)
    for w in (avg, heads):
        sums = w.sum(dim=-1)
        torch.testing.assert_close(sums[:2], torch.ones_like(sums[:2]))
        assert torch.equal(w[1][..., ~mask[1]], torch.zeros_like(w[1][..., ~mask[1]]))
    # no key at all: weights 0 and output 0 (a residual keeps the query)
    assert torch.equal(avg[2], torch.zeros(5, 6))


def test_fast_and_weights_paths_agree(attention):
    x, ctx, mask = tensors()
    fast, none = attention(x, ctx, mask)
    slow, _ = attention(x, ctx, mask, need_weights=True)
    assert none is None
    torch.testing.assert_close(fast, slow, atol=1e-5, rtol=1e-5)
    assert torch.equal(fast[2], torch.zeros_like(fast[2]))


def test_self_attention_is_cross_attention_with_itself(attention):
    x, _, _ = tensors()
    mask = torch.ones(3, 5, dtype=torch.bool)
    out, w = attention(x, x, mask, need_weights=True)
    assert out.shape == x.shape and w.shape == (3, 5, 5)
