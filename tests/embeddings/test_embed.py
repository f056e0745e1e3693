import numpy as np
import pytest
import torch

from neurofusion.embeddings.embed import encode_arrays, iter_batches
from neurofusion.embeddings.encoders import LoadedEncoder, load_encoder
from neurofusion.errors import NeurofusionError


def test_batches_run_across_subjects_in_order():
    arrays = [np.full((3, 2, 2, 2), i, np.float16) for i in range(3)]  # 9 rows
    batches = list(iter_batches(arrays, 4))
    assert [len(b) for b in batches] == [4, 4, 1]
    assert np.concatenate(batches)[:, 0, 0, 0].tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]


def test_batched_equals_one_subject_at_a_time_and_reruns_identically(patch_maker):
    enc = load_encoder("intensity")
    arrays = [patch_maker(7, 12, seed=i) for i in range(3)]
    together = encode_arrays(enc, arrays, batch_size=5)
    alone = np.concatenate([encode_arrays(enc, [a], batch_size=64) for a in arrays])
    assert together.shape == (21, enc.width) and together.dtype == np.float32
    np.testing.assert_allclose(together, alone, rtol=1e-5, atol=1e-6)
    assert encode_arrays(enc, arrays, batch_size=5).tobytes() == together.tobytes()


def test_non_finite_output_names_the_subject(patch_maker):
    class Broken(torch.nn.Module):
        def forward(self, x):
            out = x.flatten(1)[:, :3].clone()
            out[-1] = float("nan")
            return out

    enc = LoadedEncoder(Broken(), "broken", 3, None)
    with pytest.raises(NeurofusionError, match="non-finite embeddings for 1 patch.*sub-002 patch 3"):
        encode_arrays(enc, [patch_maker(4, 6, 0), patch_maker(4, 6, 1)], batch_size=8, names=["sub-001", "sub-002"])
