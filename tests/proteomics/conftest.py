"""Tiny protein exports written by the tests themselves (no shipped data files)."""

from __future__ import annotations

import pytest

from .npx_rows import LONG_ROWS, WIDE_ROWS, long_text  # noqa: F401

@pytest.fixture
def write_long(tmp_path):
    """write_long(name, rows=..., sep=';', header=..., decimal='.') -> path of an Olink Explore long CSV."""
    def write(name="npx.csv", **kwargs):
        path = tmp_path / name
        path.write_text(long_text(**kwargs))
        return path
    return write


@pytest.fixture
def write_wide(tmp_path):
    """write_wide(name, sep=';', decimal=',', rows=WIDE_ROWS) -> Target 96 wide .csv, or .xlsx by name."""
    def write(name="t96.csv", sep=";", decimal=",", rows=WIDE_ROWS):
        path = tmp_path / name
        if path.suffix == ".xlsx":
            import openpyxl

            book = openpyxl.Workbook()
            sheet = book.active
            for row in rows:
                sheet.append(list(row))
            book.save(path)
            return path
        text = [sep.join(str(c).replace(".", decimal) if isinstance(c, float) else str(c) for c in row)
                for row in rows]
        path.write_text("\n".join(text) + "\n")
        return path
    return write


@pytest.fixture
def categories(tmp_path):
    path = tmp_path / "categories.tsv"
    path.write_text(
        "uniprot\tgene\taliases\tcategory\tevidence\n"
        "P05231\tIL6\tIL-6\tinflammation\tcytokine (test)\n"
        "P13500\tCCL2\tMCP-1\tinflammation\tchemokine (test)\n"
        "P07196\tNEFL\tNfL\tneurodegeneration\taxonal injury (test)\n"
        "Q92686\tNRGN\tneurogranin\tsynaptic\tpostsynaptic (test)\n"
        "P05067\tAPP\tAbeta42;Abeta40\tamyloid_pathway\tamyloid (test)\n"
        "P10636\tMAPT\tp-tau181;ptau217\ttau_pathway\ttau (test)\n")
    return path


@pytest.fixture
def participants(tmp_path):
    path = tmp_path / "participants.tsv"
    path.write_text("participant_id\tdiagnosis\nsub-001\tCN\nsub-002\tAD\nsub-004\tAD\n")
    return path
