import numpy as np
import pytest

from neurofusion.errors import NeurofusionError
from neurofusion.proteomics.matrix import ProteinMatrix, read_matrix, write_matrix


def test_matrix_roundtrip(tmp_path):
    values = np.array([[1.5, np.nan, 3.0], [np.nan, 2.0, -1.0]], np.float32)
    m = ProteinMatrix(["sub-001", "sub-002"], values, values > 2.5, np.isnan(values), ["A", "B", "C"])
    write_matrix(m, tmp_path / "matrix.parquet")
    back = read_matrix(tmp_path / "matrix.parquet")
    assert back.participant_ids == m.participant_ids and back.protein_ids == ["A", "B", "C"]
    np.testing.assert_array_equal(back.values, values)
    assert back.values.dtype == np.float32 and back.values.shape == (2, 3)
    np.testing.assert_array_equal(back.below_lod, m.below_lod)
    np.testing.assert_array_equal(back.qc_warning, m.qc_warning)
    np.testing.assert_array_equal(back.missing, np.isnan(values))


def test_missing_matrix_is_a_clear_error(tmp_path):
    with pytest.raises(NeurofusionError, match="run the `proteins` step"):
        read_matrix(tmp_path / "nope.parquet")
