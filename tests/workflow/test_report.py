"""`snakemake --report report.html` after the tiny run: one self-contained HTML file
with every figure the rules flag with report() embedded in it."""

import re

import pytest

from .conftest import TINY_CONFIG

pytestmark = pytest.mark.slow

FIGURES = ["roc.png", "calibration.png", "confusion.png", "training_curves.png", "ablation.png",
           "attention_fusion_map.png", "attention_fusion_proteins.png"]


def embedded_images(html: str) -> set[str]:
    """File names of the PNGs embedded as data URIs."""
    return set(re.findall(r"data:image/png;[^,]*?filename=([^;,]+);base64,", html))


def test_report_embeds_every_figure(tiny_run, tmp_path):
    report = tmp_path / "report.html"
    out = tiny_run.snakemake("--report", str(report))
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    images = embedded_images(report.read_text(errors="replace"))
    missing = [name for name in FIGURES if name not in images]
    assert not missing, f"{report} lacks the figures {missing}; it has {sorted(images)}"
    qc = [name for name in images if name.endswith("_desc-qc_T1w.png")]
    n_scans = TINY_CONFIG["demo_cohort"]["n_subjects"] - TINY_CONFIG["demo_cohort"]["n_without_scan"]
    assert len(qc) == n_scans, f"one preprocessing QC picture per scanned subject expected, got {len(qc)}"
