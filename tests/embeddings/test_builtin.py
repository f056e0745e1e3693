import pytest
import torch

from neurofusion.embeddings.builtin import BuiltinConfig, BuiltinEncoder, load_builtin, save_builtin
from neurofusion.errors import NeurofusionError


@pytest.fixture
def saved_encoder(tmp_path):
    torch.manual_seed(0)
    enc = BuiltinEncoder(BuiltinConfig(width=24, stem_channels=8, patch_size=12)).eval()
    path = tmp_path / "encoder.pt"
    save_builtin(path, enc, {"final_loss": 1.0})
    return enc, path


def test_output_shape_and_batch_independence():
    torch.manual_seed(0)
    enc = BuiltinEncoder(BuiltinConfig(width=24, stem_channels=8)).eval()
    x = torch.randn(5, 1, 12, 12, 12)
    with torch.inference_mode():
        full = enc(x)
        single = enc(x[2:3])
    assert full.shape == (5, 24)
    torch.testing.assert_close(full[2:3], single, rtol=1e-5, atol=1e-5)  # GroupNorm: no batch coupling


def test_checkpoint_round_trip_keeps_config_and_outputs(saved_encoder):
    enc, path = saved_encoder
    back = load_builtin(path)
    assert back.cfg == enc.cfg and back.width == 24
    ckpt = torch.load(path, weights_only=True)
    assert ckpt["config"]["width"] == 24 and ckpt["pretrain"]["final_loss"] == 1.0
    x = torch.randn(3, 1, 12, 12, 12)
    with torch.inference_mode():
        assert torch.equal(enc(x), back(x))


def test_missing_checkpoint_names_the_file(tmp_path):
    with pytest.raises(NeurofusionError, match=r"nothere\.pt: encoder checkpoint not found"):
        load_builtin(tmp_path / "nothere.pt")


def test_corrupt_checkpoint_is_one_line_naming_the_file(saved_encoder, tmp_path):
    _, path = saved_encoder
    bad = tmp_path / "broken.pt"
    bad.write_bytes(path.read_bytes()[:300])
    with pytest.raises(NeurofusionError, match=r"broken\.pt: cannot read the encoder checkpoint") as info:
        load_builtin(bad)
    assert "\n" not in str(info.value)


def test_other_torch_file_is_refused(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"weight": torch.zeros(2)}, path)
    with pytest.raises(NeurofusionError, match="not a built-in encoder checkpoint"):
        load_builtin(path)


@pytest.mark.parametrize("layout, weights", [("full", 157_416), ("strided", 47_664)])
def test_both_layouts_embed_every_patch_size_to_the_width(layout, weights):
    torch.manual_seed(0)
    enc = BuiltinEncoder(BuiltinConfig(width=64, stem_channels=8, layout=layout)).eval()
    assert sum(p.numel() for p in enc.parameters()) == weights  # the counts the module docstring gives
    for side in (12, 14):
        with torch.inference_mode():
            assert enc(torch.randn(3, 1, side, side, side)).shape == (3, 64)


def test_strided_layout_has_no_full_resolution_convolution():
    """Its first convolution halves the grid and the last one mixes channels only."""
    convs = [m for m in BuiltinEncoder(BuiltinConfig(layout="strided")).modules() if isinstance(m, torch.nn.Conv3d)]
    assert convs[0].in_channels == 1 and convs[0].stride == (2, 2, 2)
    assert convs[-1].kernel_size == (1, 1, 1)
    convs = [m for m in BuiltinEncoder(BuiltinConfig(layout="full")).modules() if isinstance(m, torch.nn.Conv3d)]
    assert convs[0].stride == (1, 1, 1) and convs[-1].kernel_size == (3, 3, 3)


# The weights of a checkpoint written before layouts existed (git 82b914d), E = 24, c = 8: the
# full layout must keep building exactly these, or such checkpoints stop loading.
BEFORE_LAYOUTS = {
    "features.0.0.weight": (8, 1, 3, 3, 3), "features.0.1.weight": (8,), "features.0.1.bias": (8,),
    "features.1.0.weight": (16, 8, 3, 3, 3), "features.1.1.weight": (16,), "features.1.1.bias": (16,),
    "features.2.0.weight": (16, 16, 3, 3, 3), "features.2.1.weight": (16,), "features.2.1.bias": (16,),
    "features.3.0.weight": (24, 16, 3, 3, 3), "features.3.1.weight": (24,), "features.3.1.bias": (24,),
    "features.4.0.weight": (24, 24, 3, 3, 3), "features.4.1.weight": (24,), "features.4.1.bias": (24,),
    "pool_proj.weight": (24, 48), "pool_proj.bias": (24,),
}


def test_a_checkpoint_written_before_layouts_existed_loads_as_the_full_layout(tmp_path):
    torch.manual_seed(0)
    enc = BuiltinEncoder(BuiltinConfig(width=24, stem_channels=8, layout="full")).eval()
    assert {k: tuple(v.shape) for k, v in enc.state_dict().items()} == BEFORE_LAYOUTS
    assert list(enc.state_dict()) == list(BEFORE_LAYOUTS)  # the same order too
    path = tmp_path / "old.pt"
    save_builtin(path, enc, {})
    ckpt = torch.load(path, weights_only=True)
    del ckpt["config"]["layout"]  # what every earlier checkpoint holds
    torch.save(ckpt, path)
    back = load_builtin(path)
    assert back.cfg.layout == "full"
    x = torch.randn(2, 1, 12, 12, 12)
    with torch.inference_mode():
        assert torch.equal(enc(x), back(x))


def test_an_unknown_layout_is_a_one_line_error_naming_the_choices():
    with pytest.raises(NeurofusionError, match="unknown built-in encoder layout .wide.*full, strided"):
        BuiltinEncoder(BuiltinConfig(layout="wide"))


def test_the_cli_and_the_config_schema_offer_exactly_the_layouts_there_are():
    """The CLI and the schema spell the names out (the CLI parses without importing torch)."""
    import argparse
    from pathlib import Path

    import yaml

    from neurofusion.cli import pretrain_encoder
    from neurofusion.embeddings.builtin import LAYOUTS

    parser = argparse.ArgumentParser()
    pretrain_encoder.add_arguments(parser)
    flag = next(a for a in parser._actions if a.dest == "layout")
    assert list(flag.choices) == list(LAYOUTS) and flag.default == "full"
    schema = yaml.safe_load((Path(__file__).parents[2] / "workflow" / "schemas" / "config.schema.yaml").read_text())
    layout = schema["properties"]["embedding"]["properties"]["pretrain"]["properties"]["layout"]
    assert layout == {"enum": list(LAYOUTS), "default": "full"}


def test_a_checkpoint_naming_an_unknown_layout_is_one_line_naming_the_file(saved_encoder, tmp_path):
    _, path = saved_encoder
    ckpt = torch.load(path, weights_only=True)
    ckpt["config"]["layout"] = "wide"
    bad = tmp_path / "wide.pt"
    torch.save(ckpt, bad)
    with pytest.raises(NeurofusionError, match=r"wide\.pt: checkpoint does not match the built-in encoder "
                                               r"\(unknown built-in encoder layout 'wide'") as info:
        load_builtin(bad)
    assert "\n" not in str(info.value)
