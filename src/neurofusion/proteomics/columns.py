"""Column names of Olink long (NPX) exports and the alternative names each has had.

The alternatives are the ones Olink's own R reader (OlinkAnalyze ``read_NPX``, its
``column_name_dict``) accepts across NPX Manager, NPX Signature, NPX Explore and the
Explore HT / Reveal Parquet exports. Matching ignores case, spaces and underscores.
"""

from __future__ import annotations

import re

# key -> accepted names, in order of preference (the first present is used).
OLINK_LONG_COLUMNS: dict[str, tuple[str, ...]] = {
    "sample_id": ("SampleID", "Sample_ID"),
    "sample_type": ("Sample_Type", "SampleType"),
    "olink_id": ("OlinkID", "OID", "Olink_ID"),
    "uniprot": ("UniProt", "Uniprot ID"),
    "assay": ("Assay",),
    "panel": ("Panel",),
    "plate_id": ("PlateID", "Plate ID"),
    "qc_warning": ("QC_Warning", "SampleQC", "QC Warning"),
    "assay_warning": ("Assay_Warning", "AssayQC"),
}

# Quantification columns, most preferred first: NPX-type values are log2, Quantified are linear.
NPX_COLUMNS = ("NPX", "PCNormalizedNPX", "IPCNormalizedNPX", "Ct")
QUANT_COLUMNS = ("Quantified_value", "QuantifiedValue", "Quantified")

# Limit-of-detection columns, in the units of the chosen quantification column.
NPX_LOD_COLUMNS = ("LOD", "LODNPX", "LOD_NPX", "PlateLOD", "Plate_LOD", "Plate LOD", "MaxLOD",
                   "Max_LOD", "Max LOD", "PCNormalizedLOD", "NCLOD", "NCPCNormalizedLOD",
                   "FixedLOD", "FixedPCNormalizedLOD", "LODIPCNormalizedNPX")
QUANT_LOD_COLUMNS = ("LODQuant", "PlateLOD", "Plate_LOD", "Plate LOD", "LOD")

REQUIRED = ("sample_id", "olink_id", "uniprot", "assay", "value")


def normalise_name(name: str) -> str:
    """'Sample_Type', 'sample type', 'SampleType' -> 'sampletype'."""
    return re.sub(r"[\s_.\-]+", "", str(name)).lower()


def _first_present(names: tuple[str, ...], by_norm: dict[str, str]) -> str | None:
    for name in names:
        if normalise_name(name) in by_norm:
            return by_norm[normalise_name(name)]
    return None


def resolve_long_columns(header: list[str]) -> tuple[dict[str, str], str]:
    """Map our keys to the file's column names; returns (key -> column, scale).

    Keys that the file lacks are absent from the mapping. ``value`` and ``lod`` are
    included when found; scale is ``log2`` for NPX-type values, ``linear`` for
    Quantified values.
    """
    by_norm = {}
    for col in header:
        by_norm.setdefault(normalise_name(col), col)
    found = {key: col for key, names in OLINK_LONG_COLUMNS.items()
             if (col := _first_present(names, by_norm)) is not None}
    scale = "log2"
    value = _first_present(NPX_COLUMNS, by_norm)
    lod_names = NPX_LOD_COLUMNS
    if value is None:
        value = _first_present(QUANT_COLUMNS, by_norm)
        scale, lod_names = "linear", QUANT_LOD_COLUMNS
    if value is not None:
        found["value"] = value
        lod = _first_present(lod_names, by_norm)
        if lod is not None:
            found["lod"] = lod
    return found, scale


def looks_like_olink_long(header: list[str]) -> bool:
    """True when the header names a sample, an assay and a quantification column."""
    found, _ = resolve_long_columns(header)
    return "sample_id" in found and "value" in found and ("olink_id" in found or "assay" in found)


def accepted_names(key: str) -> str:
    """The accepted spellings of a key, for error messages."""
    if key == "value":
        return ", ".join(NPX_COLUMNS + QUANT_COLUMNS)
    return ", ".join(OLINK_LONG_COLUMNS[key])
