"""After one complete run, a change reruns exactly the stages downstream of it.

Each test changes one thing in a private copy of the finished tiny run and asserts on the
jobs `snakemake -n` plans. The DAG (demo mode):

    demo_cohort -> preprocess_t1 (per subject) -> extract_patches (per subject)
                     |                 patch_grid -^   |
                     v                                 v
    proteins ---> cohort <- (every subject's      pretrain_encoder (all patches)
        |           |        preprocessing             |
        |           |        metrics)                  v
        +-----------+----------------------------> embed_patches (per shard)
                    v                                  |
                  train (variant x fold) <-------------+
                    |-> evaluate -> summary
                    +-> export_attention -> summary
    preprocess_t1, cohort, embeddings, proteins -> ceiling (demo: truth.json) -> summary

Note: `cohort` reads the protein matrix (who has proteins), so a protein change reruns
cohort too; and the builtin encoder is pretrained on every subject's patches, so one
changed scan re-embeds every shard (a user's own encoder re-embeds only its shard).
"""

import shutil

import nibabel as nib
import numpy as np
import pytest
import yaml

from .conftest import TINY_CONFIG, rules_of

pytestmark = pytest.mark.slow

IMAGING = {"demo_cohort", "preprocess_t1", "patch_grid", "extract_patches", "pretrain_encoder", "embed_patches"}
TRAIN_ONWARD = {"train", "train_shuffled", "evaluate", "export_attention", "summary"}
N_TRAIN = TINY_CONFIG["cohort"]["folds"]  # one job per fold trains every variant (baselines too)


def test_nothing_changed_nothing_to_do(tiny_run):
    out = tiny_run.snakemake("-n")
    assert out.returncode == 0, out.stderr
    assert "Nothing to be done" in out.stdout + out.stderr, out.stdout[-3000:]
    summary = tiny_run.snakemake("--summary")
    assert summary.returncode == 0, summary.stderr
    rows = [line.split("\t") for line in summary.stdout.splitlines()[1:] if line.strip()]
    assert rows, summary.stdout[-2000:]
    pending = [r[0] for r in rows if r[-1] != "no update"]
    assert not pending, f"--summary plans updates after a complete run: {pending[:10]}"


def test_protein_table_edited(tiny_copy):
    npx = tiny_copy.results / "demo" / "olink_explore_npx.csv"
    lines = npx.read_text().splitlines()
    header = lines[0].split(";")
    col = header.index("NPX")
    for i, line in enumerate(lines[1:], start=1):
        fields = line.split(";")
        if fields[0].startswith("sub-") and fields[col] not in ("", "NA"):
            fields[col] = f"{float(fields[col]) + 0.5:.4f}"
            lines[i] = ";".join(fields)
            break
    npx.write_text("\n".join(lines) + "\n")

    jobs = tiny_copy.dry_run()
    assert rules_of(jobs) == {"proteins", "cohort", "ceiling"} | TRAIN_ONWARD
    assert not rules_of(jobs) & IMAGING
    assert sum(j.rule == "train" for j in jobs) == N_TRAIN


def _replace_scan(path):
    """A new scan of the same subject: same geometry, slightly different intensities."""
    img = nib.load(path)
    data = np.asarray(img.dataobj).astype(np.int16)
    data[data > 0] += 3
    nib.save(nib.Nifti1Image(data, img.affine, img.header), path)


def test_one_scan_replaced(tiny_copy):
    scan = tiny_copy.results / "demo" / "bids" / "sub-002" / "anat" / "sub-002_T1w.nii.gz"
    _replace_scan(scan)

    jobs = tiny_copy.dry_run()
    per_subject = {(j.rule, j.subject) for j in jobs if j.subject}
    assert per_subject == {("preprocess_t1", "002"), ("extract_patches", "002")}
    assert rules_of(jobs) == {
        "preprocess_t1", "extract_patches", "pretrain_encoder", "embed_patches", "cohort", "ceiling"
    } | TRAIN_ONWARD
    # every shard: each reads the re-pretrained encoder
    n_shards = len(list((tiny_copy.results / "embeddings").glob("shard-*.parquet")))
    assert n_shards > 1
    assert sum(j.rule == "embed_patches" for j in jobs) == n_shards
    assert not rules_of(jobs) & {"proteins", "patch_grid", "demo_cohort"}


def test_model_hyperparameter_changed(tiny_copy):
    model = tiny_copy.root / "tiny_model.yaml"
    settings = yaml.safe_load(model.read_text())
    settings["training"]["lr"] = settings["training"]["lr"] * 2
    model.write_text(yaml.safe_dump(settings, sort_keys=False))

    jobs = tiny_copy.dry_run()
    assert rules_of(jobs) == TRAIN_ONWARD
    assert sum(j.rule == "train" for j in jobs) == N_TRAIN


def test_report_option_changed(tiny_copy):
    report = tiny_copy.root / "report_option.yaml"
    report.write_text(yaml.safe_dump({"report": {"dpi": 72}}))
    tiny_copy.configfiles.append(report)

    assert rules_of(tiny_copy.dry_run()) == {"summary"}


@pytest.mark.parametrize(
    "code, expected",
    [
        ("evaluation/metrics.py", {"evaluate", "ceiling", "summary"}),
        ("report/figures.py", {"summary"}),
        ("attention/importance.py", {"export_attention", "summary"}),
        ("proteomics/readers.py", {"proteins", "cohort", "ceiling"} | TRAIN_ONWARD),
        ("training/baseline.py", TRAIN_ONWARD | {"ceiling"}),
    ],
)
def test_library_code_changed(tiny_copy, code, expected):
    path = tiny_copy.root / "src" / "neurofusion" / code
    with path.open("a") as f:
        f.write("\n_AN_EDIT = 'that changes the stage code hash'\n")

    assert rules_of(tiny_copy.dry_run()) == expected


def test_comments_and_docstrings_rerun_nothing(tiny_copy):
    """A stage's code hash covers what it computes with, not how its code is explained."""
    src = tiny_copy.root / "src" / "neurofusion"
    path = src / "imaging" / "preprocess.py"
    text = path.read_text()
    first = text.index('"""', text.index('def _robust_zscore')) + 3
    path.write_text(text[:first] + "A docstring edited. " + text[first:] + "\n# and a new comment\n")
    (src / "training" / "baseline.py").write_text((src / "training" / "baseline.py").read_text().replace(
        '"""', '"""Edited. ', 1))

    assert rules_of(tiny_copy.dry_run()) == set()


def test_copy_is_independent_of_the_shared_run(tiny_run, tmp_path):
    """The copies the tests edit are private: the shared run stays up to date."""
    copy = tiny_run.copy(tmp_path / "run")
    shutil.rmtree(copy.results / "eval")
    assert "evaluate" in rules_of(copy.dry_run())
    assert rules_of(tiny_run.dry_run()) == set()
