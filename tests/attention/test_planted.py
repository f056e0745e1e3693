import json

import numpy as np
import pandas as pd
import pytest

from neurofusion.attention.planted import planted_check, read_truth
from neurofusion.errors import NeurofusionError


@pytest.fixture
def patches():
    """Four patches on the x axis, 20 mm apart; the planted region holds patch 1."""
    return pd.DataFrame({"patch_id": [0, 1, 2, 3], "x_mm": [-30.0, -10.0, 10.0, 30.0], "y_mm": 0.0, "z_mm": 0.0,
                         "attention_all": [0.1, 0.4, 0.1, 0.2], "attention_CN": [0.1, 0.2, 0.1, 0.2],
                         "attention_AD": [0.1, 0.6, 0.1, 0.2], "difference": [0.0, 0.4, 0.0, 0.0]})


@pytest.fixture
def proteins():
    return pd.DataFrame({"protein_id": ["OID1", "OID2", "OID3"], "gene": ["NEFL", "GFAP", "APOE"],
                         "rank": [1, 2, 3], "rank_difference": [2, 1, 3], "attention_all": [0.5, 0.3, 0.2],
                         "difference": [0.1, 0.2, 0.0]})


def write(tmp_path, data):
    path = tmp_path / "truth.json"
    path.write_text(json.dumps(data))
    return path


def test_demo_truth_layout_is_understood(tmp_path):
    """The layout src/neurofusion/demo/cohort.py writes (participant lists must not count as proteins)."""
    truth = read_truth(write(tmp_path, {
        "format": "neurofusion-demo-truth/1", "classes": ["CN", "AD"],
        "mri_region": {"centers_mm": [[-24, -18, -18], [24, -18, -18]], "radius_mm": 14.0, "effect": "atrophy"},
        "planted_proteins": ["NEFL", "GFAP"],
        "planted_protein_details": [{"gene": "NEFL", "direction": "up"}],
        "without_proteins": ["sub-059"], "settings": {"atrophy_radius_mm": 14.0},
    }))
    assert [c.tolist() for c, _ in truth.regions] == [[-24, -18, -18], [24, -18, -18]]
    assert {r for _, r in truth.regions} == {14.0}
    assert truth.proteins == ["NEFL", "GFAP"]


def test_nested_truth_layout_is_understood(tmp_path):
    truth = read_truth(write(tmp_path, {"seed": 7, "mri": {"region": {"center_mm": [-10, 0, 0], "radius_mm": 8}},
                                        "planted_proteins": [{"gene": "GFAP"}, "NEFL"]}))
    assert len(truth.regions) == 1 and truth.regions[0][1] == 8.0
    assert truth.proteins == ["GFAP", "NEFL"]


def test_enrichment_and_ranks(tmp_path, patches, proteins):
    truth = read_truth(write(tmp_path, {"region": {"centre_mm": [-10, 0, 0], "radius_mm": 8},
                                        "proteins": ["gfap", "XYZ"]}))
    check = planted_check(patches, proteins, truth, ["CN", "AD"])
    region = check["region"]
    assert region["patch_ids_inside"] == [1]
    assert region["enrichment"]["all"] == pytest.approx(0.4 / np.mean([0.1, 0.1, 0.2]))
    assert region["enrichment"]["AD"] == pytest.approx(0.6 / np.mean([0.1, 0.1, 0.2]))
    gfap, missing = check["proteins"]
    assert gfap["found"] and gfap["rank"] == 2 and gfap["rank_difference"] == 1
    assert missing == {"name": "XYZ", "found": False}


def test_small_region_takes_the_nearest_patch(tmp_path, patches, proteins):
    truth = read_truth(write(tmp_path, {"mri_region": {"centers_mm": [[14.0, 1.0, 0.0]], "radius_mm": 3.0}}))
    check = planted_check(patches, proteins, truth, ["CN", "AD"])
    assert check["region"]["patch_ids_inside"] == [2]
    assert "nearest patch" in check["region"]["regions"][0]["patches"]


@pytest.mark.parametrize("data", [{"seed": 3}, {"region": {"centre_mm": [1, 2], "radius_mm": 5}}, [1, 2]])
def test_unusable_truth_is_a_one_line_error(tmp_path, data):
    with pytest.raises(NeurofusionError) as info:
        read_truth(write(tmp_path, data))
    assert "truth.json" in str(info.value) and "\n" not in str(info.value)
