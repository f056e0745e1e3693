import numpy as np
import pandas as pd

from neurofusion.attention.importance import (class_summary, protein_importance, rank_descending,
                                              received_attention)


def test_received_attention_means_over_layers_heads_and_present_queries():
    # 1 subject, 2 heads, 2 queries, 3 keys
    layer0 = np.array([[[[0.2, 0.3, 0.5], [0.6, 0.2, 0.2]],
                        [[0.0, 1.0, 0.0], [0.4, 0.4, 0.2]]]])
    layer1 = np.array([[[0.1, 0.1, 0.8], [0.9, 0.05, 0.05]]])  # head-averaged layer
    got = received_attention([layer0, layer1])
    expected = (layer0.mean(axis=1).mean(axis=1) + layer1.mean(axis=1)) / 2
    assert np.allclose(got, expected)
    masked = received_attention([layer1], query_mask=np.array([[True, False]]))
    assert np.allclose(masked, [[0.1, 0.1, 0.8]])


def test_class_summary_and_difference():
    scores = np.array([[1.0, 2.0], [3.0, 2.0], [5.0, 8.0]])
    table = class_summary(scores, np.array([0, 0, 1]), ["CN", "AD"])
    assert list(table.columns) == ["attention_all", "attention_CN", "attention_AD", "difference"]
    assert np.allclose(table["attention_CN"], [2.0, 2.0])
    assert np.allclose(table["difference"], [3.0, 6.0])
    assert np.allclose(table["attention_all"], [3.0, 4.0])


def test_protein_table_ranks_and_catalog_columns():
    catalog = pd.DataFrame({"protein_id": ["P1", "P2", "P3"], "gene": ["APP", "MAPT", "GFAP"],
                            "category": ["amyloid_pathway", "tau_pathway", "inflammation"]})
    scores = np.array([[0.2, 0.5, 0.3], [0.1, 0.6, 0.3]])
    table = protein_importance(scores, np.array([0, 1]), ["CN", "AD"], catalog, ["P1", "P2", "P3"])
    assert list(table["gene"]) == ["MAPT", "GFAP", "APP"]
    assert list(table["rank"]) == [1, 2, 3]
    assert table.set_index("gene").loc["APP", "rank_difference"] == 1  # |0.1 - 0.2| ties with MAPT: best rank
    assert rank_descending(np.array([1.0, np.nan, 3.0])).tolist() == [2, 3, 1]
