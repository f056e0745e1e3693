"""`snakemake --report report.html` after the tiny run: one HTML file with the figures."""

import pytest

pytestmark = pytest.mark.slow

FIGURES = ["roc.png", "calibration.png", "confusion.png", "training_curves.png", "ablation.png"]


def test_report_has_the_figures(tiny_run, tmp_path):
    report = tmp_path / "report.html"
    out = tiny_run.snakemake("--report", str(report))
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    html = report.read_text(errors="replace")
    missing = [name for name in FIGURES if name not in html]
    assert not missing, f"{report} does not mention {missing}"
    assert "desc-qc_T1w.png" in html  # per-subject preprocessing QC
    assert "attention_fusion_map.png" in html
    # figures are embedded (self-contained file), not links to the results folder
    assert html.count("data:image/png;base64") >= len(FIGURES)
