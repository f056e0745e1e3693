"""The bits this machine's CPU kernels give: a fingerprint to compare two machines by.

Every step computes with the kernels kernels.py picks, and a result is reproducible on
another machine only if those kernels add the same floats in the same order there. Some
libraries choose more than the vector width from the CPU: oneDNN, for one, picks the
blocking of a strided convolution's backward pass from the L1 and L2 cache sizes, so two
CPUs with the same AVX2 kernels could still group a sum differently. This module runs the
pipeline's numerical building blocks at the shapes and thread counts the steps use them (the
patch encoder's pretraining and embedding pass, the transposed convolutions of the
brain-extraction network's decoder, the three transformer variants' training, NumPy/OpenBLAS, SciPy,
scikit-learn's logistic regression, ITK's N4) on fixed inputs and hashes their outputs.
Two machines (a laptop and the cluster's nodes, an AVX-512 and an AVX2-only CPU) with the
same fingerprint compute those blocks to the same bits; ``neurofusion kernel-check`` prints it.

The probes run at the steps' own shapes, in ~3 s natively. Under a CPU emulator
(tests/test_fingerprint.py runs them on an emulated AVX2-only AMD EPYC and an Intel
Haswell) they take minutes, how many depending on the host (~7.5 min per emulated CPU on an
Intel Xeon host, half of it the pretraining step), so each runs the steps' shapes once or a
few times, never a whole epoch.
"""

from __future__ import annotations

import hashlib
from typing import Callable

import numpy as np


def _digest(*arrays) -> str:
    """sha256 of arrays and tensors (their dtype, shape and bytes), in order."""
    from .training.data import fingerprint as sha256_of

    return sha256_of(*(np.asarray(a.detach().cpu().numpy() if hasattr(a, "detach") else a) for a in arrays))


def _generator(seed: int):
    import torch

    return torch.Generator().manual_seed(seed)


def encoder_pretraining() -> str:
    """One step of the builtin encoder's contrastive pretraining (pretrain.py): two views of a
    batch of 64 patches of 14^3, forward and backward, on two threads as `embedding.threads`
    sets them, then AdamW. It hashes the weights after the step and the step's gradients: AdamW's
    first step moves each weight by about lr * sign(gradient), which would hide the gradients'
    low bits. (It took two steps before; a second runs the same kernels at the same shapes
    again, and under an emulator this probe is most of the fingerprint's time: an emulated
    Haswell on an Intel Xeon host, 4 min of 7.5 in all, where two steps took 8 of 11.5.)

    Covers oneDNN's direct convolutions, the strided convolutions' backward-data kernels
    (cache-size-dependent blocking), the im2col/GEMM weight gradients split over threads, the
    NT-Xent similarity matrix (MKL) and AdamW.
    """
    return _pretraining_step("full")


def strided_encoder_pretraining() -> str:
    """The same step with ``embedding.pretrain.layout: strided``: its stride-2 convolution from the
    patch itself (1 -> 16 channels at 14^3) and its 1^3 convolution are kernels the default
    layout never runs."""
    return _pretraining_step("strided")


def _pretraining_step(layout: str) -> str:
    from .embeddings.pretrain import PretrainConfig, pretrain_builtin
    from .runtime import set_threads

    patches = np.random.default_rng(1).standard_normal((160, 14, 14, 14)).astype(np.float32)
    set_threads(2)
    try:
        encoder, history, _ = pretrain_builtin(patches, PretrainConfig(epochs=1, patches_per_epoch=64, seed=0,
                                                                       layout=layout))
    finally:
        set_threads(1)
    weights = list(encoder.parameters())
    assert all(w.grad is not None for w in weights), "every weight has the step's gradient"
    return _digest(*(w.detach() for w in weights), *(w.grad for w in weights),
                   np.array([h["loss"] for h in history]))


def encoder_embedding_pass() -> str:
    """The builtin encoder's inference on an embedding batch (64 patches of 14^3)."""
    import torch

    from .embeddings.builtin import BuiltinConfig, BuiltinEncoder

    torch.manual_seed(0)
    encoder = BuiltinEncoder(BuiltinConfig()).eval()
    with torch.inference_mode():
        y = encoder(torch.randn(64, 1, 14, 14, 14, generator=_generator(2)))
    return _digest(y)


def brain_extraction_decoder() -> str:
    """Transposed 3D convolutions at the brain-extraction network's decoder shapes (192^3 grid)."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    up3 = nn.ConvTranspose3d(16, 8, kernel_size=3, stride=2, padding=1, output_padding=1)
    up2 = nn.ConvTranspose3d(8, 2, kernel_size=2, stride=2)
    with torch.inference_mode():
        a = up3(torch.randn(1, 16, 48, 48, 48, generator=_generator(3)))
        b = up2(a[:, :, :48, :48, :48].contiguous())
    return _digest(a, b)


def transformer_training() -> str:
    """Three AdamW steps of each model variant (fusion, mri, protein) at config/model.yaml's demo
    sizes, with the linear path: MKL's GEMMs, attention, layer norm, the optimiser."""
    import torch

    from .model import FusionConfig
    from .model.ensemble import build_model
    from .runtime import adamw

    b, p, k, e = 8, 94, 40, 64
    g = _generator(4)
    mri_mask = torch.ones(b, p, dtype=torch.bool)
    mri_mask[0, -5:] = False
    prot_mask = torch.ones(b, k, dtype=torch.bool)
    prot_mask[1, :3] = False
    inputs = (torch.randn(b, p, e, generator=g), torch.randn(b, p, 3, generator=g) * 40, mri_mask,
              torch.randn(b, k, generator=g), (torch.rand(b, k, 2, generator=g) > 0.8).float(),
              torch.arange(k) % 8, torch.arange(k) // 8, prot_mask)
    labels = torch.arange(b) % 2
    outputs = []
    for variant, linear in (("fusion", e * p + 3 * k), ("mri", e * p), ("protein", 3 * k)):
        torch.manual_seed(0)
        cfg = FusionConfig(embed_dim=e, num_categories=8, max_position=16, num_flags=2, num_classes=2,
                           hidden_dim=32, num_heads=4, num_self_layers=1, num_cross_layers=1, coord_hidden=16,
                           linear_features=linear, variant=variant)
        model = build_model(cfg)
        opt = adamw(model.parameters(), lr=1e-3, weight_decay=0.01)
        for _ in range(3):
            out = model(*inputs)  # the path training takes (scaled_dot_product_attention)
            loss = torch.nn.functional.cross_entropy(out["logits"], labels)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
        outputs += [out["logits"].detach(), *(q.detach() for q in model.parameters())]
    return _digest(*outputs)


def numpy_blas_lapack() -> str:
    """NumPy's SIMD reductions and transcendental functions, OpenBLAS GEMM, LAPACK solves."""
    rng = np.random.default_rng(5)
    a = rng.standard_normal((300, 200))
    b = rng.standard_normal((200, 150))
    x32 = rng.standard_normal(100_003).astype(np.float32)
    spd = a.T @ a + np.eye(200)
    return _digest(a @ b, (a.astype(np.float32) @ b.astype(np.float32)), x32.sum(), np.exp(x32), np.log1p(x32 ** 2),
                   np.tanh(a), np.linalg.solve(spd, b), np.linalg.eigh(spd)[0], np.linalg.lstsq(a, a[:, 0], rcond=None)[0])


def scipy_ndimage() -> str:
    """SciPy's spline interpolation and smoothing (preprocessing and attribution maps)."""
    from scipy import ndimage

    rng = np.random.default_rng(6)
    vol = ndimage.gaussian_filter(rng.standard_normal((24, 28, 24)).astype(np.float32), 1.5)
    coords = rng.uniform(0, 23, size=(3, 5000))
    return _digest(vol, ndimage.map_coordinates(vol, coords, order=3), ndimage.zoom(vol, 1.5, order=1))


def logistic_regression() -> str:
    """scikit-learn's L2 logistic regression (lbfgs), as the baselines and linear starts fit it."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(7)
    x = rng.standard_normal((60, 400))
    y = (x[:, :5].sum(axis=1) + rng.standard_normal(60) > 0).astype(int)
    model = LogisticRegression(C=0.3, max_iter=2000).fit(x, y)
    return _digest(model.coef_, model.intercept_, model.predict_proba(x))


def itk_n4() -> str:
    """ITK's N4 bias-field correction, one thread, on a small synthetic volume."""
    import SimpleITK as sitk

    rng = np.random.default_rng(8)
    z, y, x = np.mgrid[:24, :24, :24]
    bias = np.exp(0.3 * (x - 12) / 12 + 0.2 * (z - 12) / 12)
    vol = ((1.0 + (rng.random((24, 24, 24)) > 0.5)) * bias * 100).astype(np.float32)
    image = sitk.GetImageFromArray(vol)
    image.SetSpacing((6.0, 6.0, 6.0))
    n4 = sitk.N4BiasFieldCorrectionImageFilter()
    n4.SetNumberOfThreads(1)
    n4.SetMaximumNumberOfIterations([5, 5])
    corrected = n4.Execute(image, sitk.Cast(image > 0, sitk.sitkUInt8))
    return _digest(sitk.GetArrayFromImage(corrected))


PROBES: dict[str, Callable[[], str]] = {
    "encoder pretraining": encoder_pretraining,
    "strided encoder pretraining": strided_encoder_pretraining,
    "encoder embedding pass": encoder_embedding_pass,
    "brain-extraction decoder": brain_extraction_decoder,
    "transformer training": transformer_training,
    "numpy / OpenBLAS / LAPACK": numpy_blas_lapack,
    "scipy.ndimage": scipy_ndimage,
    "logistic regression": logistic_regression,
    "ITK N4": itk_n4,
}


def fingerprint() -> dict[str, str]:
    """sha256 of each probe's outputs, and ``fingerprint``: the sha256 of them all, in order.

    Each probe computes on the thread count its step uses by default (one; pretraining two):
    a reduction split over another number of threads may give other bits.
    """
    import torch

    from .runtime import set_threads

    threads = torch.get_num_threads()
    set_threads(1)
    try:
        with torch.random.fork_rng(devices=[]):  # the caller's random state is left as it was
            digests = {name: probe() for name, probe in PROBES.items()}
    finally:
        torch.set_num_threads(threads)
    digests["fingerprint"] = hashlib.sha256("".join(digests.values()).encode()).hexdigest()
    return digests


def cpu_features() -> dict[str, bool]:
    """What the CPU itself offers (NumPy's CPUID detection), whatever kernels the steps use."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as found
    except ImportError:  # NumPy 1.x
        from numpy.core._multiarray_umath import __cpu_features__ as found

    return {name: bool(found.get(name, False)) for name in ("AVX2", "FMA3", "AVX512F")}
