import hashlib

import pytest

from neurofusion.embeddings.encoders import file_sha256, load_encoder
from neurofusion.errors import NeurofusionError


def test_intensity_needs_no_weights():
    enc = load_encoder("intensity")
    assert enc.name == "intensity" and enc.width == 35 and enc.checkpoint_sha256 is None


def test_file_hash_is_sha256_of_the_bytes(tmp_path):
    path = tmp_path / "w.bin"
    path.write_bytes(b"abc" * 1000)
    assert file_sha256(path) == hashlib.sha256(b"abc" * 1000).hexdigest()


def test_unknown_kind_and_missing_weights():
    with pytest.raises(NeurofusionError, match="unknown encoder 'resnet'"):
        load_encoder("resnet")
    with pytest.raises(NeurofusionError, match="needs a weights file"):
        load_encoder("builtin")
