"""torchfile.py: a torch file's bytes depend on what it holds, not on its name."""

import torch

from neurofusion.torchfile import save_torch


def test_same_object_same_bytes_under_any_name(tmp_path):
    obj = {"weights": torch.arange(6.0).reshape(2, 3), "note": "x"}
    a, b = tmp_path / ".model.pt.abc123.tmp.pt", tmp_path / "other-name.pt"
    save_torch(obj, a)
    save_torch(obj, b)
    assert a.read_bytes() == b.read_bytes()
    assert torch.equal(torch.load(b, weights_only=True)["weights"], obj["weights"])
    save_torch({**obj, "note": "y"}, b)
    assert a.read_bytes() != b.read_bytes()
