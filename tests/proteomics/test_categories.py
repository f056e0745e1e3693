import pandas as pd
import pytest

from neurofusion.errors import NeurofusionError
from neurofusion.proteomics.categories import DEFAULT_CATEGORIES, CategoryTable, build_catalog


def proteins(*rows):
    return pd.DataFrame(rows, columns=["protein_id", "uniprot", "assay", "panel"])


def test_match_order_uniprot_gene_alias_other(categories):
    table = CategoryTable.load(categories)
    assert table.match("P07196", "whatever", "x")[::2] == ("neurodegeneration", "uniprot")
    assert table.match("Q00000_P05231", None, "x")[::2] == ("inflammation", "uniprot")  # complex accession
    assert table.match(None, "nrgn", "x")[::2] == ("synaptic", "gene")
    assert table.match(None, "pTau-181", "x")[::2] == ("tau_pathway", "alias")
    assert table.match(None, None, "Abeta42")[::2] == ("amyloid_pathway", "alias")
    assert table.match("P99999", "ZZZ", "ZZZ")[::2] == ("other", "none")


def test_uniprot_wins_over_a_conflicting_gene_name(categories):
    # UniProt says NEFL (neurodegeneration) although the assay is labelled like IL6
    assert CategoryTable.load(categories).match("P07196", "IL6", "x")[0] == "neurodegeneration"


def test_catalog_positions_are_real_positions_within_category(categories):
    cat = build_catalog(proteins(("O3", "P13500", "CCL2", "I"), ("O9", "P99999", "ZZZ", "X"),
                                 ("O1", "P05231", "IL6", "I"), ("O2", "P07196", "NEFL", "N"),
                                 ("O4", None, "AAA", "X")), CategoryTable.load(categories))
    assert list(cat.protein_index) == [0, 1, 2, 3, 4]
    assert list(cat.category) == ["inflammation", "inflammation", "neurodegeneration", "other", "other"]
    assert list(cat.gene[:2]) == ["CCL2", "IL6"]                 # stable: sorted by gene within category
    assert list(cat.position_in_category) == [0, 1, 0, 0, 1]
    assert list(cat.category_id) == [DEFAULT_CATEGORIES.index(c) for c in cat.category]


def test_order_does_not_depend_on_input_order(categories):
    rows = [("O1", "P05231", "IL6", "I"), ("O3", "P13500", "CCL2", "I"), ("O9", None, "ZZZ", "X")]
    table = CategoryTable.load(categories)
    a = build_catalog(proteins(*rows), table)
    b = build_catalog(proteins(*reversed(rows)), table)
    pd.testing.assert_frame_equal(a, b)


def test_custom_category_list_and_new_categories(tmp_path):
    path = tmp_path / "c.tsv"
    path.write_text("uniprot\tgene\taliases\tcategory\tevidence\nP1\tG1\t\tlipid\tx\nP2\tG2\t\tA\ty\n")
    table = CategoryTable.load(path, ["A", "other"])
    assert table.names == ["A", "other", "lipid"]  # new ones appended, configured ids kept
    with pytest.raises(NeurofusionError, match="other"):
        CategoryTable.load(path, ["A"])


@pytest.mark.parametrize("body,message", [
    ("uniprot\tgene\tcategory\n", "aliases"),
    ("uniprot\tgene\taliases\tcategory\tevidence\nP1\tG1\t\t\tx\n", "line 2: empty category"),
    ("uniprot\tgene\taliases\tcategory\tevidence\nP1\tG1\t\tA\tx\nP1\tG2\t\tB\tx\n", "line 3"),
])
def test_bad_category_tables(tmp_path, body, message):
    path = tmp_path / "c.tsv"
    path.write_text(body)
    with pytest.raises(NeurofusionError, match=message):
        CategoryTable.load(path, ["A", "B", "other"])


def test_shipped_table_covers_the_ad_proteins():
    table = CategoryTable.load("config/protein_categories.tsv")
    assert table.names == list(DEFAULT_CATEGORIES)
    expected = {"APP": "amyloid_pathway", "MAPT": "tau_pathway", "NEFL": "neurodegeneration", "GFAP": "inflammation",
                "CHI3L1": "inflammation", "TREM2": "inflammation", "NRGN": "synaptic", "SNAP25": "synaptic",
                "VSNL1": "neurodegeneration", "IL6": "inflammation", "TNF": "inflammation", "CCL2": "inflammation",
                "IL1B": "inflammation", "VEGFA": "vascular", "GDF15": "metabolic", "APOE": "amyloid_pathway",
                "CLU": "amyloid_pathway"}
    for gene, category in expected.items():
        assert table.match(None, gene, gene)[0] == category, gene
    for alias in ("Abeta42", "Aβ40", "p-tau181", "ptau217", "t-tau", "YKL-40", "NfL"):
        assert table.match(None, alias, alias)[2] == "alias", alias
    frame = pd.read_csv("config/protein_categories.tsv", sep="\t", dtype=str, keep_default_na=False)
    assert (frame.evidence.str.len() > 10).all()  # every row says why
