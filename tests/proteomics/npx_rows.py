"""Rows of the tiny Olink exports the proteomics tests write (shared by conftest and tests)."""

LONG_HEADER = ["SampleID", "Sample_Type", "Index", "OlinkID", "UniProt", "Assay", "MissingFreq", "Panel",
               "Panel_Lot_Nr", "PlateID", "QC_Warning", "LOD", "NPX", "Normalization", "Assay_Warning",
               "ExploreVersion"]
# (sample, type, olink id, uniprot, assay, panel, qc warning, lod, npx)
LONG_ROWS = [
    ("sub-001", "SAMPLE", "OID20001", "P05231", "IL6", "Inflammation", "PASS", 1.0, 2.5),
    ("sub-001", "SAMPLE", "OID20002", "P07196", "NEFL", "Neurology", "PASS", 0.5, 0.25),
    ("002", "SAMPLE", "OID20001", "P05231", "IL6", "Inflammation", "WARN", 1.0, 3.5),
    ("002", "SAMPLE", "OID20002", "P07196", "NEFL", "Neurology", "PASS", 0.5, 1.25),
    ("CONTROL_SAMPLE_1", "CONTROL", "OID20001", "P05231", "IL6", "Inflammation", "PASS", 1.0, 9.0),
    ("NEG_1", "NEGATIVE_CONTROL", "OID20002", "P07196", "NEFL", "Neurology", "PASS", 0.5, 9.0),
    ("003", "SAMPLE", "OID20003", "Q99999", "FOO1", "Oncology", "PASS", None, None),
    ("003", "SAMPLE", "OID20001", "P05231", "IL6", "Inflammation", "PASS", 1.0, 4.0),
]


def long_text(rows=LONG_ROWS, sep=";", header=LONG_HEADER, decimal="."):
    def fmt(v):
        if v is None:
            return "NA"
        return str(v).replace(".", decimal) if isinstance(v, float) else str(v)

    lines = [sep.join(header)]
    for i, (sid, stype, oid, uni, assay, panel, qc, lod, npx) in enumerate(rows):
        full = {"SampleID": sid, "Sample_Type": stype, "Index": i + 1, "OlinkID": oid, "UniProt": uni,
                "Assay": assay, "MissingFreq": 0.1, "Panel": panel, "Panel_Lot_Nr": "B1", "PlateID": "PLATE1",
                "QC_Warning": qc, "LOD": lod, "NPX": npx, "Normalization": "Intensity", "Assay_Warning": "PASS",
                "ExploreVersion": "6.0"}
        lines.append(sep.join(fmt(full[h]) if h in full else "" for h in header))
    return "\n".join(lines) + "\n"


def as_container(csv_path, container):
    """The same long table as .csv, .parquet (all cells text) or .xlsx (NPX and LOD as numbers where they are)."""
    if container == "csv":
        return csv_path
    import pandas as pd

    frame = pd.read_csv(csv_path, sep=";", dtype=str, keep_default_na=False)
    path = csv_path.with_suffix(f".{container}")
    if container == "parquet":
        frame.to_parquet(path, index=False)
        return path
    import openpyxl

    def cell(column, v):
        try:
            return float(v) if column in ("NPX", "LOD") else v
        except ValueError:
            return v

    book = openpyxl.Workbook()
    book.active.append(list(frame.columns))
    for row in frame.itertuples(index=False):
        book.active.append([cell(c, v) for c, v in zip(frame.columns, row)])
    book.save(path)
    return path


# Olink Target 96 wide export: two panels (2 assays each), 3 samples, one control.
WIDE_ROWS = [
    ["Olink Target 96 export"],
    ["NPX data"],
    ["Panel", "Olink Target 96 Inflammation(v.3012)", "Olink Target 96 Inflammation(v.3012)",
     "Olink Target 96 Neurology(v.8011)", "Olink Target 96 Neurology(v.8011)", "", "", "", ""],
    ["Assay", "IL6", "CCL2", "NEFL", "NRGN", "QC Warning", "QC Warning", "Plate ID", "Plate ID"],
    ["Uniprot ID", "P05231", "P13500", "P07196", "Q92686", "", "", "", ""],
    ["OlinkID", "OID00001", "OID00002", "OID00101", "OID00102", "", "", "", ""],
    [],
    ["sub-001", 2.5, 5.5, 0.25, 3.0, "Pass", "Pass", "PLATE1", "PLATE1"],
    ["002", 3.5, 6.0, 1.25, "NaN", "Warning", "Pass", "PLATE1", "PLATE1"],
    ["CONTROL_1", 9.0, 9.0, 9.0, 9.0, "Pass", "Pass", "PLATE1", "PLATE1"],
    [],
    ["LOD", 3.0, 1.0, 0.5, 0.5, "", "", "", ""],
    ["Missing Data freq.", 0.0, 0.0, 0.0, 0.33, "", "", "", ""],
]
