import numpy as np

from neurofusion.training.normalise import EmbeddingScaler, ProteinScaler


def test_protein_scaler_is_median_and_iqr_ignoring_missing():
    values = np.array([[1.0, 5.0, np.nan], [2.0, 5.0, np.nan], [3.0, 5.0, np.nan], [4.0, 5.0, np.nan],
                       [np.nan, 5.0, np.nan]], np.float32)
    s = ProteinScaler.fit(values)
    np.testing.assert_allclose(s.median, [2.5, 5.0, 0.0])
    np.testing.assert_allclose(s.iqr, [1.5, 1.0, 1.0])   # no spread / no value -> 1
    z = s.transform(values, clip=10)
    np.testing.assert_allclose(z[:4, 0], (values[:4, 0] - 2.5) / 1.5, rtol=1e-6)
    assert np.isnan(z[4, 0]) and np.isnan(z[:, 2]).all()
    assert s.transform(np.array([[1e6, 5.0, 0.0]], np.float32), clip=3)[0, 0] == 3


def test_protein_scaler_round_trips_through_a_dict():
    s = ProteinScaler.fit(np.random.default_rng(0).normal(size=(20, 4)).astype(np.float32))
    back = ProteinScaler.from_dict(s.to_dict())
    np.testing.assert_array_equal(back.median, s.median)
    np.testing.assert_array_equal(back.iqr, s.iqr)


def test_embedding_scaler_uses_present_patches_only():
    values = np.zeros((2, 3, 2), np.float32)
    values[0, :2] = [[1.0, 10.0], [3.0, 10.0]]
    values[1, 0] = [5.0, 10.0]
    values[:, 2] = 1000.0                      # absent patches
    mask = np.array([[True, True, False], [True, False, False]])
    s = EmbeddingScaler.fit(values, mask)
    np.testing.assert_allclose(s.mean, [3.0, 10.0])
    np.testing.assert_allclose(s.std, [np.std([1, 3, 5]), 1.0], rtol=1e-6)
