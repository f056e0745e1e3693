from pathlib import Path

import pytest

from neurofusion.errors import NeurofusionError
from neurofusion.model import FusionConfig
from neurofusion.training.settings import TrainConfig, load_settings, parse_settings

REPO = Path(__file__).resolve().parents[2]


def test_the_shipped_model_yaml_is_valid():
    model, training = load_settings(REPO / "config" / "model.yaml")
    assert isinstance(training, TrainConfig)
    FusionConfig(**model)   # every model key is a FusionConfig field


@pytest.mark.parametrize("data, match", [
    ({"model": {"hidden": 3}}, "unknown model setting 'hidden'"),
    ({"training": {"epochs": "many"}}, "training.epochs"),
    ({"training": {"subjects": "some"}}, "subjects"),
    ({"optimizer": {}}, "expected sections"),
    ({"training": {"compile": "yes"}}, "training.compile"),
])
def test_bad_settings_are_named(data, match):
    with pytest.raises(NeurofusionError, match=match):
        parse_settings(data, where="m.yaml")


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(NeurofusionError, match="not found"):
        load_settings(tmp_path / "none.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [1, 2\n")
    with pytest.raises(NeurofusionError, match="not valid YAML"):
        load_settings(bad)


def test_heads_must_divide_the_width():
    with pytest.raises(NeurofusionError, match="divisible"):
        FusionConfig(hidden_dim=30, num_heads=4)
