"""The planted check of the attribution maps (attention/attribution_summary.py)."""

import numpy as np
import pandas as pd

from neurofusion.attention.attribution_summary import attribution_check, attribution_tables
from neurofusion.attention.planted import PlantedTruth

CLASSES = ["CN", "AD"]


def check_of(values_mri, values_protein):
    """Four patches 20 mm apart (the region holds patch 1), three proteins (NEFL planted)."""
    grid = pd.DataFrame({"patch_id": [0, 1, 2, 3], "x_mm": [-30.0, -10.0, 10.0, 30.0], "y_mm": 0.0, "z_mm": 0.0})
    catalog = pd.DataFrame({"protein_id": ["OID1", "OID2", "OID3"], "gene": ["NEFL", "GFAP", "APOE"],
                            "category": "x"})
    labels = np.array([0, 1, 0, 1])
    results = {"trained": {m: {"mri": values_mri[m], "protein": values_protein[m]} for m in values_mri}}
    patches, proteins = attribution_tables(results, labels, CLASSES, list(values_mri), patch_ids=[0, 1, 2, 3],
                                           grid=grid, protein_ids=["OID1", "OID2", "OID3"], catalog=catalog)
    truth = PlantedTruth(regions=[(np.array([-10.0, 0.0, 0.0]), 5.0)], proteins=["NEFL"])
    return attribution_check(patches, proteins, truth, CLASSES, list(values_mri), ["trained"])


def test_a_method_that_attributes_nothing_supports_nothing():
    """Relevance of a model whose selected epoch is its linear path is 0 for every token: that is
    no localisation, and ties at 0 must not rank the planted protein first."""
    mri = np.full((4, 4), 0.5)
    mri[[1, 3], 1] = 5.0                                  # AD subjects: patch 1
    protein = np.zeros((4, 3))
    protein[[1, 3], 0] = 2.0                              # AD subjects: NEFL
    check = check_of({"occlusion": mri, "relevance": np.zeros((4, 4))},
                     {"occlusion": protein, "relevance": np.zeros((4, 3))})
    occlusion, relevance = check["methods"]["occlusion"], check["methods"]["relevance"]
    assert occlusion["trained"]["median_rank"] == 1 and "all_zero" not in occlusion["trained"]
    assert occlusion["trained"]["region"]["headline"] > 3
    assert relevance["trained"]["region"]["all_zero"] and relevance["trained"]["region"]["headline"] is None
    assert relevance["trained"]["all_zero"] and relevance["trained"]["median_rank"] is None
    assert relevance["verdict"] == {"region": False} and check["supported"]["proteins"] == ["occlusion"]
