import io

import numpy as np
import pandas as pd
import pytest

from neurofusion.demo.assays import ASSAYS, PLANTED
from neurofusion.demo.proteins import COLUMNS, make_npx_table, write_npx_csv
from neurofusion.demo.settings import DemoSettings
from neurofusion.demo.subjects import draw_subjects


@pytest.fixture
def cohort():
    settings = DemoSettings(n_subjects=40, n_without_scan=2, n_without_proteins=2)
    subjects = draw_subjects(settings, np.random.default_rng(0))
    npx = make_npx_table(subjects, settings, np.random.default_rng(1))
    return settings, subjects, npx


@pytest.fixture
def parsed(cohort, tmp_path):
    path = tmp_path / "npx.csv"
    write_npx_csv(cohort[2].table, path)
    return pd.read_csv(path, sep=";")


def test_catalog_uses_unique_real_looking_identifiers():
    genes = [a.gene for a in ASSAYS]
    uniprots = [a.uniprot for a in ASSAYS]
    assert len(ASSAYS) >= 40 and len(set(genes)) == len(genes) and len(set(uniprots)) == len(uniprots)
    assert all(len(u) == 6 and u[0] in "OPQ" and u[1].isdigit() for u in uniprots)
    assert {a.gene: a.uniprot for a in ASSAYS}["NEFL"] == "P07196"
    assert set(PLANTED) <= set(genes)


def test_table_parses_with_olink_columns(parsed):
    assert list(parsed.columns) == COLUMNS
    assert pd.api.types.is_float_dtype(parsed["NPX"]) and pd.api.types.is_float_dtype(parsed["LOD"])
    assert parsed["NPX"].notna().all()
    assert set(parsed["Assay"]) == {a.gene for a in ASSAYS}


def test_controls_warnings_lod_and_replicate_present(cohort, parsed):
    _, subjects, npx = cohort
    assert {"SAMPLE", "CONTROL", "NEGATIVE_CONTROL", "PLATE_CONTROL"} == set(parsed["Sample_Type"])
    assert "CONTROL_SAMPLE_1" in set(parsed["SampleID"])
    assert (parsed["QC_Warning"] == "WARN").any() and (parsed["Assay_Warning"] == "WARN").any()
    samples = parsed[parsed["Sample_Type"] == "SAMPLE"]
    assert (samples["NPX"] < samples["LOD"]).any()
    negative = parsed[parsed["Sample_Type"] == "NEGATIVE_CONTROL"]
    assert (negative["NPX"] < negative["LOD"]).all()
    wells_per_sample = samples.groupby("SampleID")["Index"].nunique()
    replicate = npx.replicate_subjects[0]
    assert wells_per_sample[replicate] == 2 and (wells_per_sample.drop(replicate) == 1).all()


def test_sample_ids_match_participants_with_or_without_prefix(cohort, parsed):
    _, subjects, npx = cohort
    ids = set(parsed.loc[parsed["Sample_Type"] == "SAMPLE", "SampleID"])
    normalised = {i if i.startswith("sub-") else f"sub-{i}" for i in ids}
    assert normalised == {s.participant_id for s in subjects if s.has_proteins}
    assert {f"sub-{i}" for i in ids if not i.startswith("sub-")} == set(npx.unprefixed_subjects)


def test_planted_proteins_move_with_protein_severity(cohort, parsed):
    _, subjects, _ = cohort
    severity = {s.participant_id: s.protein_severity for s in subjects}
    samples = parsed[parsed["Sample_Type"] == "SAMPLE"].copy()
    samples["pid"] = [i if i.startswith("sub-") else f"sub-{i}" for i in samples["SampleID"]]
    wide = samples.groupby(["pid", "Assay"])["NPX"].mean().unstack()
    s = wide.index.map(severity).to_numpy()
    for gene, direction in PLANTED.items():
        assert direction * np.corrcoef(s, wide[gene])[0, 1] > 0.7
    neutral = [a.gene for a in ASSAYS if a.gene not in PLANTED]
    assert np.median([abs(np.corrcoef(s, wide[g])[0, 1]) for g in neutral]) < 0.25


def test_same_seed_same_bytes(cohort):
    settings, subjects, npx = cohort
    again = make_npx_table(subjects, settings, np.random.default_rng(1))
    a, b = io.StringIO(), io.StringIO()
    npx.table.to_csv(a, sep=";", index=False)
    again.table.to_csv(b, sep=";", index=False)
    assert a.getvalue() == b.getvalue()
