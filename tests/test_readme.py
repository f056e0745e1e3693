"""The README's demo table is the published reference in docs/demo/, which `make demo` compares
its own results with byte for byte: the two must say the same thing."""

import re
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "docs" / "demo"
NUMBER = r"(\d\.\d{3})"
RANGE = NUMBER + r" – " + NUMBER


def _demo_rows() -> dict[str, list[float]]:
    """variant -> [auc, ci_low, ci_high, baseline auc, low, high, readout auc, low, high] from the
    README's table under "What the demo shows"."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## What the demo shows", 1)[1].split("\n## ", 1)[0]
    pattern = (rf"^\| (fusion|mri|protein) \| {NUMBER} \| {RANGE} \| {NUMBER} \({RANGE}\) \| "
               rf"{NUMBER} \({RANGE}\) \|$")
    rows = {m.group(1): [float(x) for x in m.groups()[1:]] for m in re.finditer(pattern, section, re.M)}
    assert set(rows) == {"fusion", "mri", "protein"}, "the README's demo table lost its format"
    return rows


def _published(table: str, variant: str) -> list[float]:
    frame = pd.read_csv(REFERENCE / f"{table}.tsv", sep="\t")
    row = frame[(frame["variant"] == variant) & (frame["metric"] == "auc")]
    assert len(row) == 1, (table, variant)
    return [round(float(row[c].iloc[0]), 3) for c in ("mean", "ci_low", "ci_high")]


def test_the_readme_demo_table_is_the_published_reference():
    for variant, numbers in _demo_rows().items():
        assert numbers[0:3] == _published("metrics", variant), variant
        assert numbers[3:6] == _published("metrics", f"baseline_{variant}"), variant
        assert numbers[6:9] == _published("ceiling", f"ceiling_{variant}"), variant


def test_make_demo_compares_with_the_published_tables():
    makefile = (ROOT / "Makefile").read_text()
    checked = re.search(r"^CHECKED\s*=\s*(.+)$", makefile, re.M).group(1).split()
    assert {"metrics", "comparison", "ceiling"} <= set(checked)
    for name in checked:
        assert (REFERENCE / f"{name}.tsv").is_file(), name
    assert "compare-demo" in makefile.split("\ndemo:", 1)[1].split("\n\n", 1)[0]


def _make(*args: str, cwd: Path = ROOT):
    import subprocess
    import sys

    return subprocess.run(["make", "--no-print-directory", "-s", *args, f"VENV={sys.prefix}"], cwd=cwd,
                          capture_output=True, text=True)


def test_compare_demo_fails_on_one_changed_byte(tmp_path):
    import shutil

    (tmp_path / "eval").mkdir()
    for name in ("metrics", "comparison", "ceiling"):
        shutil.copy(REFERENCE / f"{name}.tsv", tmp_path / "eval" / f"{name}.tsv")
    same = _make("compare-demo", f"RESULTS={tmp_path}")
    assert same.returncode == 0, same.stdout + same.stderr
    assert same.stdout.count("byte-identical") == 3 and "demo: on " in same.stdout
    table = tmp_path / "eval" / "comparison.tsv"
    text = table.read_text()
    table.write_text(text.replace("0", "1", 1))
    changed = _make("compare-demo", f"RESULTS={tmp_path}")
    assert changed.returncode != 0
    assert "comparison.tsv DIFFERS" in changed.stdout and changed.stdout.count("byte-identical") == 2


def test_only_demo_strict_1_makes_a_difference_an_error():
    lines = lambda *a: [l for l in _make("-n", "demo", *a).stdout.splitlines() if "compare-demo" in l]
    assert lines("DEMO_STRICT=1") and not any("||" in l for l in lines("DEMO_STRICT=1"))
    for relaxed in ((), ("DEMO_STRICT=0",)):
        assert lines(*relaxed) and all("||" in l for l in lines(*relaxed)), relaxed
