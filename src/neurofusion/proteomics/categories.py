"""Pathway categories: the curated table, and each protein's category and position.

Matching order per protein: UniProt accession (each accession of a complex such as
`P01344_P01345`), then gene symbol (the assay name), then an alias (e.g. `YKL-40`,
`NfL`, `Abeta42`, compared without case and punctuation), else `other`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import NeurofusionError

DEFAULT_CATEGORIES = ("amyloid_pathway", "tau_pathway", "inflammation", "neurodegeneration", "synaptic",
                      "vascular", "metabolic", "other")
TABLE_COLUMNS = ("uniprot", "gene", "aliases", "category", "evidence")
FALLBACK = "other"


def alias_key(text: str) -> str:
    """'YKL-40' -> 'ykl40', 'p-tau 181' -> 'ptau181'."""
    return re.sub(r"[\W_]+", "", str(text).lower())


def _tokens(text: str | None, pattern: str = r"[\s,;/|_]+") -> list[str]:
    if not isinstance(text, str):  # None, NaN or pandas' NA: a missing cell has no tokens
        return []
    return [t for t in re.split(pattern, text) if t]


@dataclass
class CategoryTable:
    names: list[str]                                      # category_id = index here
    by_uniprot: dict[str, tuple[str, str]] = field(default_factory=dict)  # -> (category, gene)
    by_gene: dict[str, tuple[str, str]] = field(default_factory=dict)
    by_alias: dict[str, tuple[str, str]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path, names: list[str] | None = None) -> "CategoryTable":
        path = Path(path)
        try:
            frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, comment="#")
        except FileNotFoundError:
            raise NeurofusionError("category table not found", path=path, fix="set proteins.categories in your config")
        missing = [c for c in TABLE_COLUMNS if c not in frame.columns]
        if missing:
            raise NeurofusionError(f"missing column(s) {', '.join(missing)}", path=path,
                                   fix=f"the table needs tab-separated columns {', '.join(TABLE_COLUMNS)}")
        table = cls(list(names or DEFAULT_CATEGORIES))
        if FALLBACK not in table.names:
            raise NeurofusionError(f"category list {table.names} lacks {FALLBACK!r}", path=path,
                                   fix=f"include {FALLBACK!r}: unmatched proteins go there")
        for i, row in frame.iterrows():
            table._add(row, i + 2, path)
        return table

    def _add(self, row, line: int, path: Path) -> None:
        category, gene = row["category"].strip(), row["gene"].strip()
        if not category:
            raise NeurofusionError(f"line {line}: empty category", path=path, fix="fill in the category")
        if category not in self.names:  # a new category gets the next id; the defaults keep theirs
            self.names.append(category)
        value = (category, gene)
        keys = [(self.by_uniprot, u.upper()) for u in _tokens(row["uniprot"])]
        keys += [(self.by_gene, gene.upper())] if gene else []
        keys += [(self.by_alias, alias_key(a)) for a in _tokens(row["aliases"], r"[,;|]+") if alias_key(a)]
        if not keys:
            raise NeurofusionError(f"line {line}: no uniprot, gene or alias", path=path, fix="fill in at least one")
        for lookup, key in keys:
            if lookup.get(key, value)[0] != category:
                raise NeurofusionError(f"line {line}: {key} is already in category {lookup[key][0]}", path=path,
                                       fix="give each UniProt ID, gene and alias one category")
            lookup[key] = value

    def match(self, uniprot: str | None, assay: str | None, protein_id: str | None) -> tuple[str, str | None, str]:
        """-> (category, gene symbol from the table or None, how it matched)."""
        for u in _tokens(uniprot):
            if u.upper() in self.by_uniprot:
                return (*self.by_uniprot[u.upper()], "uniprot")
        for name in (assay, protein_id):
            if name and name.strip().upper() in self.by_gene:
                return (*self.by_gene[name.strip().upper()], "gene")
        for name in (assay, protein_id):
            if name and alias_key(name) in self.by_alias:
                return (*self.by_alias[alias_key(name)], "alias")
        return FALLBACK, None, "none"


def build_catalog(proteins: pd.DataFrame, table: CategoryTable) -> pd.DataFrame:
    """proteins (protein_id, uniprot, assay, panel) -> catalog in matrix column order.

    Columns: protein_index, protein_id, uniprot, gene, assay, panel, category, category_id,
    position_in_category, matched_by. Within a category proteins are ordered by gene,
    UniProt and protein_id, so the order does not depend on input file order.
    """
    rows = []
    for p in proteins.itertuples(index=False):
        category, gene, how = table.match(p.uniprot, p.assay, p.protein_id)
        rows.append((p.protein_id, p.uniprot, gene or p.assay, p.assay, p.panel, category, how))
    cat = pd.DataFrame(rows, columns=["protein_id", "uniprot", "gene", "assay", "panel", "category", "matched_by"])
    cat["category_id"] = cat["category"].map({n: i for i, n in enumerate(table.names)}).astype(np.int32)
    order = cat.assign(_g=cat["gene"].fillna(""), _u=cat["uniprot"].fillna("")) \
        .sort_values(["category_id", "_g", "_u", "protein_id"], kind="stable").index
    cat = cat.loc[order].reset_index(drop=True)
    cat["position_in_category"] = cat.groupby("category_id").cumcount().astype(np.int32)
    cat.insert(0, "protein_index", np.arange(len(cat), dtype=np.int32))
    return cat
