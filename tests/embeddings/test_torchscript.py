import pytest
import torch
from torch import nn

from neurofusion.embeddings.torchscript import load_torchscript
from neurofusion.errors import NeurofusionError


class TinyNet(nn.Module):
    def __init__(self, out: int = 6):
        super().__init__()
        self.conv = nn.Conv3d(1, out, 3)

    def forward(self, x):
        return self.conv(x).mean(dim=(2, 3, 4))


@pytest.fixture
def scripted(tmp_path):
    torch.manual_seed(0)
    net = TinyNet().eval()
    path = tmp_path / "tiny.ts"
    torch.jit.script(net).save(str(path))
    return net, path


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_scripted_module_loads_with_its_width(scripted):
    net, path = scripted
    enc = load_torchscript(path, patch_size=12)
    assert enc.width == 6 and enc.name == "torchscript"
    x = torch.randn(3, 1, 12, 12, 12)
    with torch.inference_mode():
        torch.testing.assert_close(enc(x), net(x))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_wrong_output_shape_is_refused(tmp_path):
    class Flat(nn.Module):
        def forward(self, x):
            return x.flatten()

    path = tmp_path / "flat.ts"
    torch.jit.script(Flat()).save(str(path))
    with pytest.raises(NeurofusionError, match=r"flat\.ts: module returns"):
        load_torchscript(path, patch_size=12)


def test_missing_and_corrupt_file_name_it(tmp_path):
    with pytest.raises(NeurofusionError, match=r"nope\.ts: TorchScript encoder not found"):
        load_torchscript(tmp_path / "nope.ts", 12)
    bad = tmp_path / "bad.ts"
    bad.write_bytes(b"garbage")
    with pytest.raises(NeurofusionError, match=r"bad\.ts: cannot load the TorchScript encoder"):
        load_torchscript(bad, 12)
