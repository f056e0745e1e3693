"""The tiny run's summary.html in a real browser (headless Chromium): every figure decodes,
the page logs no error, and a screenshot of it is kept with the run's results.

Skipped, with the reason, where Debian's `chromium` is not installed (`.ci/run` installs
it with apt-get when it runs as root). With NEUROFUSION_ARTEFACTS set (`.ci/run` sets
results/ci), the screenshot is copied there too.
"""

import base64
import os
import shutil
from pathlib import Path

import pytest

from .browser import find_chromium, inspect_page, screenshot

CHROMIUM = find_chromium()
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium not installed (apt-get install chromium; .ci/run does it as root)")
PNG_1PX = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")


@needs_chromium
def test_probe_reports_broken_images_and_errors(tmp_path):
    """The check itself: a page with a broken image and a script error is reported as such."""
    page = tmp_path / "broken.html"
    broken = base64.b64encode(b"\x89PNG\r\n\x1a\nnot a png at all").decode()
    page.write_text(f'<!DOCTYPE html><html><head><title>t</title></head><body>'
                    f'<img alt="good" src="data:image/png;base64,{PNG_1PX}">'
                    f'<img alt="broken" src="data:image/png;base64,{broken}">'
                    f'<script>console.error("boom"); notDefined();</script></body></html>')
    report = inspect_page(CHROMIUM, page, tmp_path)
    decoded = {img["alt"]: img["decoded"] for img in report["images"]}
    assert decoded == {"good": True, "broken": False}
    assert any("boom" in e for e in report["errors"]) and any("notDefined" in e for e in report["errors"])


@pytest.mark.slow
@needs_chromium
def test_summary_page_renders_in_chromium(tiny_run, tmp_path):
    page = tiny_run.results / "eval" / "summary.html"
    report = inspect_page(CHROMIUM, page, tmp_path)
    figures = sorted((tiny_run.results / "eval" / "figures").glob("*.png"))
    assert len(report["images"]) == len(figures) >= 7
    bad = [img for img in report["images"] if not (img["decoded"] and img["width"] > 100 and img["height"] > 100)]
    assert not bad, bad
    assert report["errors"] == []
    console = [line for line in report["stderr"].splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert console == []
    # the artefact: the whole page as the browser drew it (not into the shared run: other
    # tests compare its files with theirs, maybe at this moment, on another worker)
    shot = tmp_path / "browser" / "summary.png"
    screenshot(CHROMIUM, page, shot, height=min(int(report["height"]) + 20, 16000))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # pytest deletes old temporary folders; CI names a folder that outlives the run
    if os.environ.get("NEUROFUSION_ARTEFACTS"):
        keep = Path(os.environ["NEUROFUSION_ARTEFACTS"])
        keep.mkdir(parents=True, exist_ok=True)
        shot = Path(shutil.copy2(shot, keep / "summary_chromium.png"))
    print(f"\nsummary.html screenshot: {shot}")
