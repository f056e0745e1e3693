import numpy as np
import pytest
import torch

from neurofusion.embeddings.intensity import QUANTILES, WIDTH, IntensityEncoder


def test_constant_brain_patch_has_known_statistics():
    x = torch.zeros(1, 1, 8, 8, 8)
    x[0, 0, :4] = 1.6  # half of the patch is brain at z = 1.6
    out = IntensityEncoder()(x)[0]
    assert out.shape == (WIDTH,)
    assert out[0] == 0.5  # brain fraction
    np.testing.assert_allclose(out[1:1 + len(QUANTILES)].numpy(), 1.6, rtol=1e-6)
    mean, std = out[1 + len(QUANTILES)], out[2 + len(QUANTILES)]
    assert float(mean) == pytest.approx(1.6) and float(std) == pytest.approx(0.0, abs=1e-6)
    hist = out[5 + len(QUANTILES): 5 + len(QUANTILES) + 16]
    assert float(hist.sum()) == 1.0 and int(hist.argmax()) == 12  # bin [1.5, 1.875)


def test_texture_separates_smooth_from_rough():
    g = torch.Generator().manual_seed(0)
    rough = torch.randn(1, 1, 12, 12, 12, generator=g)
    smooth = torch.linspace(-1, 1, 12).reshape(1, 1, 12, 1, 1).expand(1, 1, 12, 12, 12).contiguous()
    feats = IntensityEncoder()(torch.cat([rough, smooth]))
    texture = feats[:, -7:]  # |diff| x/y/z, gradient mean/std, |Laplacian|, local std
    assert (texture[0] > texture[1]).all()


def test_empty_patch_gives_finite_zeros():
    out = IntensityEncoder()(torch.zeros(2, 1, 6, 6, 6))
    assert torch.isfinite(out).all() and out.abs().sum() == 0
