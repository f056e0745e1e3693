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


def test_a_builtin_encoder_pretrained_on_other_patches_is_refused(tmp_path):
    """A checkpoint from elsewhere (`embedding.encoder: {builtin: PATH}`) must match the patches'
    side: one line names the file, both sizes and the fix; the matching side loads."""
    import torch

    from neurofusion.embeddings.builtin import BuiltinConfig, BuiltinEncoder, save_builtin

    torch.manual_seed(0)
    path = tmp_path / "other_lab.pt"
    save_builtin(path, BuiltinEncoder(BuiltinConfig(width=8, stem_channels=4, patch_size=14)).eval(), {})
    with pytest.raises(NeurofusionError) as err:
        load_encoder("builtin", path, patch_size=12)
    text = str(err.value)
    assert "\n" not in text and str(path) in text and "14^3-voxel patches, these are 12^3" in text
    assert "patches.size_mm" in text
    assert load_encoder("builtin", path, patch_size=14).width == 8
