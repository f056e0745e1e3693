import pytest
import torch
from monai.networks.nets import SwinUNETR, ViT

from neurofusion.embeddings.monai_encoder import load_monai_encoder, parse_monai_options
from neurofusion.errors import NeurofusionError

TINY_VIT = {"name": "vit", "img_size": "16", "patch_size": "8", "hidden_size": "32", "mlp_dim": "64",
            "num_layers": "2", "num_heads": "4"}


@pytest.fixture
def vit_weights(tmp_path):
    """A randomly initialised tiny MONAI ViT with a CLS token, saved as a state dict."""
    torch.manual_seed(0)
    net = ViT(in_channels=1, img_size=16, patch_size=8, hidden_size=32, mlp_dim=64, num_layers=2, num_heads=4,
              classification=True).eval()
    path = tmp_path / "vit.pt"
    torch.save(net.state_dict(), path)
    return net, path


def test_vit_weights_load_back_and_give_the_cls_token(vit_weights):
    net, path = vit_weights
    enc = load_monai_encoder(path, parse_monai_options(TINY_VIT))
    assert enc.width == 32 and enc.pool == "cls" and enc.name == "monai:vit"
    x = torch.randn(3, 1, 12, 12, 12)
    with torch.inference_mode():
        out = enc(x)
        resized = torch.nn.functional.interpolate(x, size=(16, 16, 16), mode="trilinear", align_corners=False)
        expected = net.norm(_run_blocks(net, resized))[:, 0]
    assert out.shape == (3, 32)
    torch.testing.assert_close(out, expected)


def _run_blocks(net, x):
    h = net.patch_embedding(x)
    h = torch.cat([net.cls_token.expand(x.shape[0], -1, -1), h], dim=1)
    for blk in net.blocks:
        h = blk(h)
    return h


def test_vit_without_cls_token_pools_the_mean(tmp_path):
    torch.manual_seed(0)
    net = ViT(in_channels=1, img_size=16, patch_size=8, hidden_size=32, mlp_dim=64, num_layers=2, num_heads=4)
    path = tmp_path / "vit_mean.pt"
    torch.save({"state_dict": {f"module.{k}": v for k, v in net.state_dict().items()}}, path)
    enc = load_monai_encoder(path, parse_monai_options({**TINY_VIT, "resize": "pad"}))
    assert enc.pool == "mean"
    x = torch.randn(2, 1, 12, 12, 12)
    with torch.inference_mode():
        tokens, _ = net(torch.nn.functional.pad(x, (2, 2, 2, 2, 2, 2)))
        torch.testing.assert_close(enc(x), tokens.mean(dim=1))


def test_wrong_keys_list_missing_and_unexpected(vit_weights, tmp_path):
    _, path = vit_weights
    state = torch.load(path, weights_only=True)
    state["extra.weight"] = torch.zeros(1)
    del state["norm.bias"]
    bad = tmp_path / "renamed.pt"
    torch.save(state, bad)
    with pytest.raises(NeurofusionError) as info:
        load_monai_encoder(bad, parse_monai_options(TINY_VIT))
    msg = str(info.value)
    assert "renamed.pt" in msg and "missing keys [norm.bias]" in msg and "unexpected keys [extra.weight]" in msg
    assert "\n" not in msg


def test_wrong_architecture_is_a_key_or_shape_error(vit_weights):
    _, path = vit_weights
    with pytest.raises(NeurofusionError, match="vit.pt: weight"):
        load_monai_encoder(path, parse_monai_options({**TINY_VIT, "num_layers": "3"}))
    with pytest.raises(NeurofusionError, match="vit.pt: weight shapes do not match"):
        load_monai_encoder(path, parse_monai_options({**TINY_VIT, "mlp_dim": "48"}))


def test_swin_unetr_file_uses_its_swin_encoder(tmp_path):
    torch.manual_seed(0)
    net = SwinUNETR(in_channels=1, out_channels=2, feature_size=12, depths=(1, 1, 1, 1), num_heads=(1, 1, 1, 1),
                    window_size=2).eval()
    path = tmp_path / "swin.pt"
    torch.save(net.state_dict(), path)  # whole network: swinViT.* plus decoder weights
    spec = parse_monai_options({"name": "swin_unetr", "img_size": ["[32,", "32,", "32]"], "feature_size": "12",
                                "depths": "1,1,1,1", "num_heads": "[1, 1, 1, 1]", "window_size": "2"})
    enc = load_monai_encoder(path, spec)
    assert enc.width == 16 * 12
    x = torch.randn(2, 1, 12, 12, 12)
    with torch.inference_mode():
        big = torch.nn.functional.interpolate(x, size=(32, 32, 32), mode="trilinear", align_corners=False)
        expected = net.swinViT(big, True)[-1].mean(dim=(2, 3, 4))
        torch.testing.assert_close(enc(x), expected)


def test_option_parsing_accepts_config_reprs_and_rejects_unknown():
    spec = parse_monai_options({"name": "vit", "img_size": ["[64,", "64,", "64]"], "qkv_bias": "True",
                                "key_prefix": "'encoder.'"})
    assert spec.img_size == [64, 64, 64] and spec.qkv_bias is True and spec.key_prefix == "encoder."
    assert parse_monai_options({"img_size": "48"}).img_size == [48, 48, 48]
    with pytest.raises(NeurofusionError, match="unknown MONAI encoder option 'depth'"):
        parse_monai_options({"depth": "3"})
    with pytest.raises(NeurofusionError, match="not divisible by 32"):
        parse_monai_options({"name": "swin_unetr", "img_size": "40"})


def test_missing_and_corrupt_weights_name_the_file(tmp_path):
    with pytest.raises(NeurofusionError, match=r"gone\.pt: MONAI weights file not found"):
        load_monai_encoder(tmp_path / "gone.pt", parse_monai_options(TINY_VIT))
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"garbage, not a zip or pickle")
    with pytest.raises(NeurofusionError, match=r"bad\.pt: cannot read the weights"):
        load_monai_encoder(bad, parse_monai_options(TINY_VIT))
