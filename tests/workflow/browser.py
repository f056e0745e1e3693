"""Open an HTML page in headless Chromium (Debian's `chromium`) and report what it saw.

`inspect_page` loads a copy of the page with a small probe script in front of everything
else; at `load` the probe checks every <img> with the browser's own decoder and
writes, into the DOM that `--dump-dom` prints, which images decoded (and their size),
every console.error call, uncaught error, failed resource and unhandled rejection, and
the page's height. `screenshot` renders the unmodified page to a PNG.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

# The flags this kind of machine needs: no sandbox (root in a container), no GPU, nothing
# that reaches the network, a fresh profile per run.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--enable-logging=stderr"]

PROBE = """<script>
window.__probe = {errors: []};
(function () {
  const original = console.error;
  console.error = function (...args) { window.__probe.errors.push('console.error: ' + args.join(' '));
                                       return original.apply(console, args); };
  window.addEventListener('error', function (e) {
    const t = e.target;
    window.__probe.errors.push(t && t !== window && (t.src || t.href)
      ? 'failed to load ' + (t.src || t.href).slice(0, 80) : 'uncaught: ' + e.message);
  }, true);
  window.addEventListener('unhandledrejection', e => window.__probe.errors.push('unhandled rejection: ' + e.reason));
  window.addEventListener('load', function () {
    // by `load` every image has been fetched and decoded, or has failed (naturalWidth 0);
    // drawing it onto a canvas makes the browser decode the pixels now
    const canvas = document.createElement('canvas').getContext('2d');
    const images = [...document.images].map(function (img) {
      let drawn = true;
      try { canvas.drawImage(img, 0, 0); } catch (err) { drawn = false; }
      return {alt: img.alt, decoded: img.complete && img.naturalWidth > 0 && drawn,
              width: img.naturalWidth, height: img.naturalHeight};
    });
    const out = document.createElement('pre');
    out.id = 'nf-probe';
    out.textContent = JSON.stringify({images: images, errors: window.__probe.errors,
                                      height: document.documentElement.scrollHeight});
    document.body.appendChild(out);
  });
})();
</script>"""


def find_chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _run(chromium: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="nf-chromium-") as profile:
        return subprocess.run([chromium, *FLAGS, f"--user-data-dir={profile}", *args],
                              capture_output=True, text=True, timeout=timeout)


def inspect_page(chromium: str, page: Path, workdir: Path) -> dict:
    """{'images': [...], 'errors': [...], 'height': px, 'stderr': chromium's log}."""
    text = page.read_text(encoding="utf-8")
    probed = workdir / f"probed-{page.name}"
    probed.write_text(re.sub(r"<head>", "<head>" + PROBE, text, count=1), encoding="utf-8")
    out = _run(chromium, "--virtual-time-budget=20000", "--dump-dom", probed.resolve().as_uri())
    found = re.search(r'<pre id="nf-probe">(.*?)</pre>', out.stdout, re.S)
    if not found:
        raise AssertionError(f"the probe did not report (chromium rc {out.returncode}):\n{out.stderr[-3000:]}")
    report = json.loads(html.unescape(found.group(1)))
    report["stderr"] = out.stderr
    return report


def screenshot(chromium: str, page: Path, png: Path, width: int = 1280, height: int = 2000) -> None:
    png.parent.mkdir(parents=True, exist_ok=True)
    out = _run(chromium, f"--screenshot={png.resolve()}", f"--window-size={width},{height}",
               "--virtual-time-budget=20000", page.resolve().as_uri())
    if not png.exists():
        raise AssertionError(f"no screenshot written (chromium rc {out.returncode}):\n{out.stderr[-3000:]}")
