"""The demo's Olink Explore-style assay catalog: real gene symbols and UniProt accessions.

Five assays carry the planted protein signal (``PLANTED``); the others are noise with
realistic names, so a protein-importance table has something to rank them against.
OlinkIDs and lot numbers are made up for the demo (they look like Olink's, nothing more).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Assay:
    gene: str       # HGNC symbol, also the Assay name
    uniprot: str    # UniProtKB accession (human)
    panel: str      # Olink Explore panel


_NEURO, _INFLAM, _CARDIO, _ONCO = "Neurology", "Inflammation", "Cardiometabolic", "Oncology"

ASSAYS: tuple[Assay, ...] = (
    # neurodegeneration, synaptic, amyloid and tau
    Assay("NEFL", "P07196", _NEURO),
    Assay("GFAP", "P14136", _NEURO),
    Assay("NRGN", "Q92686", _NEURO),
    Assay("NPTX2", "P47972", _NEURO),
    Assay("SNAP25", "P60880", _NEURO),
    Assay("VSNL1", "P62760", _NEURO),
    Assay("TREM2", "Q9NZC2", _NEURO),
    Assay("MAPT", "P10636", _NEURO),
    Assay("APP", "P05067", _NEURO),
    Assay("BACE1", "P56817", _NEURO),
    Assay("UCHL1", "P09936", _NEURO),
    Assay("ENO2", "P09104", _NEURO),
    Assay("S100B", "P04271", _NEURO),
    Assay("BDNF", "P23560", _NEURO),
    Assay("NGF", "P01138", _NEURO),
    Assay("KLK6", "Q92876", _NEURO),
    # inflammation
    Assay("CHI3L1", "P36222", _INFLAM),
    Assay("IL6", "P05231", _INFLAM),
    Assay("TNF", "P01375", _INFLAM),
    Assay("CCL2", "P13500", _INFLAM),
    Assay("IL1B", "P01584", _INFLAM),
    Assay("CXCL8", "P10145", _INFLAM),
    Assay("IL10", "P22301", _INFLAM),
    Assay("IL18", "Q14116", _INFLAM),
    Assay("CXCL10", "P02778", _INFLAM),
    Assay("CD14", "P08571", _INFLAM),
    Assay("LGALS3", "P17931", _INFLAM),
    Assay("SPP1", "P10451", _INFLAM),
    Assay("CSF1", "P09603", _INFLAM),
    # vascular and metabolic
    Assay("APOE", "P02649", _CARDIO),
    Assay("CLU", "P10909", _CARDIO),
    Assay("CST3", "P01034", _CARDIO),
    Assay("ICAM1", "P05362", _CARDIO),
    Assay("VCAM1", "P19320", _CARDIO),
    Assay("SELE", "P16581", _CARDIO),
    Assay("MMP9", "P14780", _CARDIO),
    Assay("TIMP1", "P01033", _CARDIO),
    Assay("SERPINE1", "P05121", _CARDIO),
    Assay("LEP", "P41159", _CARDIO),
    Assay("ADIPOQ", "Q15848", _CARDIO),
    Assay("IGF1", "P05019", _CARDIO),
    # growth factors
    Assay("VEGFA", "P15692", _ONCO),
    Assay("PGF", "P49763", _ONCO),
    Assay("GDF15", "Q99988", _ONCO),
    Assay("HGF", "P14210", _ONCO),
    Assay("EGF", "P01133", _ONCO),
)

# gene -> direction of the planted shift with protein severity (+1 up, -1 down)
PLANTED: dict[str, int] = {"NEFL": +1, "GFAP": +1, "CHI3L1": +1, "NRGN": +1, "NPTX2": -1}

PANEL_LOTS = {_CARDIO: "B21101", _INFLAM: "B21102", _NEURO: "B21103", _ONCO: "B21104"}


def olink_id(index: int) -> str:
    """Made-up, stable OlinkID of the assay at ``index`` in ``ASSAYS``."""
    return f"OID{20101 + index:05d}"
