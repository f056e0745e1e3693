"""A non-learned baseline encoder: intensity distribution and texture statistics per patch.

Statistics are taken over brain voxels only (non-zero: patches are zero outside the brain),
so the value of a pretrained encoder can be measured against plain hand-made features.

    feature                                    count
    brain fraction                               1
    quantiles 5, 10, 25, 50, 75, 90, 95 %        7
    mean, std, skewness, excess kurtosis         4
    histogram, 16 bins over [-3, 3] z            16
    mean |difference| to the next voxel, x/y/z   3
    gradient magnitude mean, std                 2
    mean |Laplacian|                             1
    mean local (3x3x3) standard deviation        1
                                                 --
                                                 35
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

QUANTILES = (0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95)
HIST_BINS = 16
HIST_RANGE = 3.0
WIDTH = 1 + len(QUANTILES) + 4 + HIST_BINS + 3 + 2 + 1 + 1


class IntensityEncoder(nn.Module):
    """patches [N, 1, D, H, W] -> statistics [N, 35]; no weights."""

    name = "intensity"
    width = WIDTH

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float()[:, 0]  # [N, D, H, W]
        n = x.shape[0]
        brain = x != 0  # [N, D, H, W]
        count = brain.flatten(1).sum(1).clamp(min=1).float()  # [N]
        feats = [brain.flatten(1).float().mean(1, keepdim=True)]  # [N, 1]
        feats.append(_masked_quantiles(x, brain))  # [N, 7]
        feats.append(_moments(x, brain, count))  # [N, 4]
        feats.append(_histogram(x, brain, count))  # [N, 16]
        feats.append(_texture(x, brain, count))  # [N, 7]
        out = torch.cat(feats, dim=1)  # [N, 35]
        assert out.shape == (n, WIDTH)
        return torch.nan_to_num(out, nan=0.0)


def _masked_quantiles(x, brain):
    vals = torch.where(brain, x, torch.full_like(x, float("nan"))).flatten(1)  # [N, V]
    q = torch.tensor(QUANTILES, dtype=x.dtype, device=x.device)
    return torch.nanquantile(vals, q, dim=1).T  # [N, 7]; NaN rows for empty patches


def _moments(x, brain, count):
    m = brain.float()
    mean = (x * m).flatten(1).sum(1) / count  # [N]
    centred = (x - mean[:, None, None, None]) * m
    var = centred.pow(2).flatten(1).sum(1) / count
    std = var.sqrt()
    varies = std > 1e-6  # skewness and kurtosis are 0 for a constant (or empty) patch
    safe = std.clamp(min=1e-6)
    skew = torch.where(varies, centred.pow(3).flatten(1).sum(1) / count / safe**3, 0.0)
    kurt = torch.where(varies, centred.pow(4).flatten(1).sum(1) / count / safe**4 - 3.0, 0.0)
    return torch.stack([mean, std, skew, kurt], dim=1)  # [N, 4]


def _histogram(x, brain, count):
    n = x.shape[0]
    edges = torch.linspace(-HIST_RANGE, HIST_RANGE, HIST_BINS + 1, device=x.device)[1:-1]
    idx = torch.bucketize(x.clamp(-HIST_RANGE, HIST_RANGE), edges).flatten(1)  # [N, V] in 0..15
    idx = idx + HIST_BINS * torch.arange(n, device=x.device)[:, None]  # one bin range per patch
    counts = torch.bincount(idx.flatten(), weights=brain.flatten().float(), minlength=n * HIST_BINS)
    return counts.reshape(n, HIST_BINS).float() / count[:, None]  # [N, 16]


def _texture(x, brain, count):
    m = brain.float()
    diffs = []
    for axis in (1, 2, 3):  # mean |x[i+1] - x[i]| where both voxels are brain
        d = (x.narrow(axis, 1, x.shape[axis] - 1) - x.narrow(axis, 0, x.shape[axis] - 1)).abs()
        both = m.narrow(axis, 1, x.shape[axis] - 1) * m.narrow(axis, 0, x.shape[axis] - 1)
        diffs.append((d * both).flatten(1).sum(1) / both.flatten(1).sum(1).clamp(min=1))
    xi = x[:, None]  # [N, 1, D, H, W]
    gz, gy, gx = torch.gradient(x, dim=(1, 2, 3))
    grad = (gz**2 + gy**2 + gx**2).sqrt()  # [N, D, H, W]
    g_mean = (grad * m).flatten(1).sum(1) / count
    g_std = (((grad - g_mean[:, None, None, None]) * m).pow(2).flatten(1).sum(1) / count).sqrt()
    lap_kernel = torch.zeros(1, 1, 3, 3, 3, dtype=x.dtype, device=x.device)
    lap_kernel[0, 0, 1, 1, 1] = -6.0
    for off in ((0, 1, 1), (2, 1, 1), (1, 0, 1), (1, 2, 1), (1, 1, 0), (1, 1, 2)):
        lap_kernel[(0, 0) + off] = 1.0
    lap = F.conv3d(F.pad(xi, (1,) * 6, mode="replicate"), lap_kernel)[:, 0]  # [N, D, H, W]
    lap_mean = (lap.abs() * m).flatten(1).sum(1) / count
    box = F.avg_pool3d(F.pad(xi, (1,) * 6, mode="replicate"), 3, stride=1)  # [N, 1, D, H, W]
    box_sq = F.avg_pool3d(F.pad(xi**2, (1,) * 6, mode="replicate"), 3, stride=1)
    local_std = (box_sq - box**2).clamp(min=0).sqrt()[:, 0]
    ls_mean = (local_std * m).flatten(1).sum(1) / count
    return torch.stack(diffs + [g_mean, g_std, lap_mean, ls_mean], dim=1)  # [N, 7]
