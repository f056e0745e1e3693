import numpy as np
import torch

from neurofusion.embeddings.augment import random_view


def test_views_keep_shape_and_differ_with_the_draw(patch_maker):
    x = torch.from_numpy(patch_maker(4, 12, seed=0).astype(np.float32)).unsqueeze(1)
    a = random_view(x, torch.Generator().manual_seed(0))
    b = random_view(x, torch.Generator().manual_seed(0))
    c = random_view(x, torch.Generator().manual_seed(1))
    assert a.shape == x.shape
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_outside_the_brain_stays_zero_without_shift():
    from neurofusion.embeddings.augment import AugmentConfig

    x = torch.zeros(3, 1, 6, 6, 6)
    x[:, :, 2:4, 2:4, 2:4] = 1.0
    view = random_view(x, torch.Generator().manual_seed(0), AugmentConfig(max_shift=0, cutout_p=0.0))
    assert (view[x == 0] == 0).all() and (view[x != 0] != 0).all()


def test_views_keep_the_intensity_level_unless_jitter_is_asked_for():
    """Atrophy lowers a patch's z-scored intensity: by default two views of a patch keep its level."""
    from neurofusion.embeddings.augment import AugmentConfig

    x = torch.full((64, 1, 6, 6, 6), 1.5)
    plain = AugmentConfig(max_shift=0, cutout_p=0.0, noise_max=0.0)
    kept = random_view(x, torch.Generator().manual_seed(0), plain)
    assert torch.equal(kept, x)
    jitter = AugmentConfig(max_shift=0, cutout_p=0.0, noise_max=0.0, intensity_jitter=0.25)
    moved = random_view(x, torch.Generator().manual_seed(0), jitter).mean(dim=(1, 2, 3, 4))  # [64]
    assert moved.std() > 0.1 and ((moved - 1.5).abs() <= 1.5 * 0.25 + 0.25 + 1e-6).all()
