"""The workflow plans what it should: lint, the default (demo) DAG, a user's BIDS config."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from neurofusion.imaging.batches import scan_batches

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def snakemake(*args, cwd=ROOT):
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    return subprocess.run([*SNAKEMAKE, "--snakefile", str(ROOT / "Snakefile"), "--directory", str(cwd), *args],
                          cwd=cwd, capture_output=True, text=True, env=env)


def planned(result) -> dict[str, int]:
    """rule -> job count from the 'Job stats' table of a dry run."""
    stats = result.stdout.split("Job stats:")[1].split("\n\n")[0]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", stats, re.M)}


def test_lint_is_clean():
    out = snakemake("--lint", "--configfile", str(ROOT / "config" / "config.yaml"))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Lints for" not in out.stdout + out.stderr


def test_default_config_plans_every_stage(tmp_path):
    out = snakemake("-n", "--configfile", str(ROOT / "config" / "config.yaml"), "--config", f"results={tmp_path}/r")
    assert out.returncode == 0, out.stderr
    jobs = planned(out)
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    n_scans = cfg["demo_cohort"]["n_subjects"] - cfg["demo_cohort"]["n_without_scan"]
    assert jobs["demo_cohort"] == 1
    assert "preprocess_t1" not in jobs and "extract_patches" not in jobs
    # preprocessing in batches of ~preprocess.scans_per_job scans (neurofusion.imaging.batches),
    # and patch extraction in the same batches: one job each
    batches = {rule for rule in jobs if rule.startswith("preprocess_batch_")}
    assert 1 < len(batches) < n_scans and all(jobs[rule] == 1 for rule in batches)
    cut = {rule.replace("preprocess_batch_", "extract_patches_batch_") for rule in batches}
    assert cut == {rule for rule in jobs if rule.startswith("extract_patches")} and all(jobs[r] == 1 for r in cut)
    # one training job per fold for every variant (train.smk), and one for the shuffled-label
    # control of the attribution maps (every attention variant)
    assert jobs["train"] == jobs["train_shuffled"] == cfg["cohort"]["folds"]
    for rule in ("patch_grid", "proteins", "cohort", "pretrain_encoder", "embed_patches",
                 "evaluate", "export_attention", "summary"):
        assert jobs.get(rule, 0) >= 1, rule
    assert {"baseline_fusion", "baseline_mri", "baseline_protein"} <= set(cfg["variants"])
    assert "baseline_mri/fold-0/predictions.parquet" in out.stdout
    assert jobs["ceiling"] == 1                      # the demo has a truth.json


@pytest.fixture
def user_bids(tmp_path):
    bids = tmp_path / "bids"
    for sub, ses in (("01", None), ("02", "bl"), ("03", None)):
        anat = bids / f"sub-{sub}" / (f"ses-{ses}" if ses else "") / "anat"
        anat.mkdir(parents=True)
        name = f"sub-{sub}_ses-{ses}_T1w.nii.gz" if ses else f"sub-{sub}_T1w.nii.gz"
        (anat / name).write_bytes(b"")
    (bids / "participants.tsv").write_text("participant_id\tdiagnosis\nsub-01\tCN\nsub-02\tAD\nsub-03\tAD\nsub-04\tCN\n")
    assay = tmp_path / "npx.csv"
    assay.write_text("SampleID;NPX\n")
    config = {"bids_dir": str(bids), "proteomics": [str(assay)], "results": str(tmp_path / "res"),
              "embedding": {"shard_size": 2}}
    path = tmp_path / "my.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_user_config_plans_the_right_jobs(user_bids):
    out = snakemake("-n", "--configfile", str(user_bids))
    assert out.returncode == 0, out.stderr
    jobs = planned(out)
    assert "demo_cohort" not in jobs
    batches = scan_batches(["01", "02", "03"], yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
                           ["preprocess"]["scans_per_job"])
    assert {rule for rule in jobs if rule.startswith("preprocess")} == {f"preprocess_batch_{b[0]}" for b in batches}
    assert jobs["embed_patches"] == 2
    per_scan = user_bids.parent / "per_scan.yaml"
    per_scan.write_text(yaml.safe_dump({**yaml.safe_load(user_bids.read_text()), "preprocess": {"scans_per_job": 1}}))
    assert {rule for rule in jobs if rule.startswith("extract_patches")} == {
        f"extract_patches_batch_{b[0]}" for b in batches}
    one_job_per_scan = planned(snakemake("-n", "--configfile", str(per_scan)))
    assert one_job_per_scan["preprocess_t1"] == one_job_per_scan["extract_patches"] == 3
    assert "ceiling" not in jobs                     # nothing was planted in a user's cohort
    assert "sub-02_ses-bl_space-MNI152NLin2009aSym_res-2_desc-preproc_T1w.nii.gz" in out.stdout


def test_attribution_of_every_variant_and_per_subject_maps_are_planned(user_bids):
    cfg = yaml.safe_load(user_bids.read_text())
    cfg["attention"] = {"variants": ["fusion", "mri", "protein"], "per_subject": True, "methods": ["occlusion"]}
    user_bids.write_text(yaml.safe_dump(cfg))
    out = snakemake("-n", "--configfile", str(user_bids))
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    jobs = planned(out)
    assert jobs["export_attention"] == jobs["export_attribution_mri"] == jobs["export_attribution_protein"] == 1
    folds = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["cohort"]["folds"]
    assert jobs["train_shuffled"] == folds  # one per fold, for the three variants
    assert "--variant fusion mri protein --fold 0 --shuffle-labels" in out.stdout
    text = out.stdout
    assert "attention/mri/subjects" in text and "attention/protein/subjects" not in text
    assert "attribution_space-MNI152NLin2009aSym_method-occlusion_control-shuffled_desc-difference.nii.gz" in text
    assert "method-relevance" not in text
    assert "sub-02_ses-bl_space-MNI152NLin2009aSym_res-2_from-T1w_to-MNI152NLin2009aSym_mode-image_xfm.mat" in text


def test_a_builtin_encoder_pretrained_elsewhere_is_used_as_is(user_bids, tmp_path):
    """`embedding.encoder: {builtin: PATH}`: no pretraining job; every shard is embedded with that
    checkpoint (the step's own file, so editing it reruns the embeddings); a missing one is named."""
    checkpoint = tmp_path / "lab encoders" / "encoder.pt"
    cfg = yaml.safe_load(user_bids.read_text())
    cfg["embedding"]["encoder"] = {"builtin": str(checkpoint)}
    user_bids.write_text(yaml.safe_dump(cfg))
    missing = snakemake("-n", "--configfile", str(user_bids))
    assert missing.returncode != 0
    assert f"config: embedding.encoder.builtin: encoder weights {checkpoint} not found" in missing.stdout + missing.stderr
    checkpoint.parent.mkdir()
    checkpoint.write_bytes(b"any bytes: the plan does not read them")
    out = snakemake("-n", "--configfile", str(user_bids))
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    jobs = planned(out)
    assert "pretrain_encoder" not in jobs and jobs["embed_patches"] == 2
    commands = [line for line in out.stdout.splitlines() if "neurofusion embed " in line]
    assert len(commands) == 2
    assert all(f"--encoder builtin --weights '{checkpoint}' " in line for line in commands)
    # the checkpoint is each embedding job's input: editing it reruns the embeddings
    blocks = out.stdout.split("rule embed_patches:")[1:]
    assert len(blocks) == 2 and all(str(checkpoint) in block.split("output:")[0] for block in blocks)
    # one encoder from elsewhere cannot be one per fold
    cfg["embedding"]["pretrain"] = {"scope": "fold"}
    user_bids.write_text(yaml.safe_dump(cfg))
    fold = snakemake("-n", "--configfile", str(user_bids))
    assert fold.returncode != 0
    assert "embedding.encoder.builtin names one encoder pretrained elsewhere for every fold" in fold.stdout + fold.stderr


def test_the_demo_checks_an_encoder_file_it_is_given(tmp_path):
    """The demo makes its own scans and assays, not an encoder: a missing one is named at parse time."""
    config = tmp_path / "demo_encoder.yaml"
    config.write_text(yaml.safe_dump({"results": str(tmp_path / "res"),
                                      "embedding": {"encoder": {"builtin": str(tmp_path / "nothere.pt")}}}))
    out = snakemake("-n", "--configfile", str(config))
    assert out.returncode != 0
    assert f"config: embedding.encoder.builtin: encoder weights {tmp_path / 'nothere.pt'} not found" in out.stdout + out.stderr
    assert not (tmp_path / "res").exists()


def test_bad_config_names_the_key(user_bids):
    cfg = yaml.safe_load(user_bids.read_text())
    cfg["cohort"] = {"folds": 1}
    user_bids.write_text(yaml.safe_dump(cfg))
    out = snakemake("-n", "--configfile", str(user_bids))
    assert out.returncode != 0
    assert "config: cohort.folds: 1 is less than the minimum of 2" in out.stdout + out.stderr


def test_bad_participant_id_is_one_line(user_bids, tmp_path):
    (tmp_path / "bids" / "participants.tsv").write_text("participant_id\tdiagnosis\nsub-0_1\tCN\n")
    out = snakemake("-n", "--configfile", str(user_bids))
    assert out.returncode != 0
    line = [l for l in (out.stdout + out.stderr).splitlines() if "participants.tsv row 2" in l]
    assert line and "participant_id" in line[0]


def test_every_config_mistake_is_named_in_one_run(user_bids, tmp_path):
    """A schema error and two missing paths, all in one message, before anything is written."""
    cfg = yaml.safe_load(user_bids.read_text())
    cfg.update(bids_dir="/nonexistent", classes="CN", proteomics=[str(tmp_path / "missing_npx.csv")])
    cfg["embedding"]["encoder"] = {"torchscript": str(tmp_path / "encoder.pt")}
    user_bids.write_text(yaml.safe_dump(cfg))
    workdir = tmp_path / "work"
    workdir.mkdir()
    # the defaults by path: the Snakefile's own `configfile:` is relative to the working directory
    out = snakemake("-n", "--configfile", str(ROOT / "config" / "config.yaml"), str(user_bids), cwd=workdir)
    text = out.stdout + out.stderr
    assert out.returncode != 0
    expected = ["config: classes: 'CN' is not of type 'array'",
                "config: bids_dir: '/nonexistent' is not a folder",
                "participants table /nonexistent/participants.tsv not found",
                f"config: proteomics: assay file {tmp_path / 'missing_npx.csv'} not found",
                f"encoder weights {tmp_path / 'encoder.pt'} not found"]
    lines = text.splitlines()
    for phrase in expected:
        assert sum(phrase in line for line in lines) == 1, (phrase, text)
    assert "the configuration has 5 problem(s)" in text
    assert list(workdir.iterdir()) == [] and not (tmp_path / "res").exists()


def test_duplicate_participant_is_refused_before_any_job(user_bids, tmp_path):
    """`01` and `sub-01` with two diagnoses, and a bad ID: every row named at parse time, nothing created."""
    table = tmp_path / "bids" / "participants.tsv"
    table.write_text("participant_id\tdiagnosis\n01\tCN\nsub-02\tAD\nsub-01\tAD\nsub-0_3\tAD\nsub-02\tAD\n")
    workdir = tmp_path / "work"
    workdir.mkdir()
    out = snakemake("-n", "--configfile", str(ROOT / "config" / "config.yaml"), str(user_bids), cwd=workdir)
    text = out.stdout + out.stderr
    assert out.returncode != 0
    assert "the configuration has 3 problem(s)" in text, text
    for row, phrase in ((4, "sub-01 is already listed in row 2 (written '01' there, 'sub-01' here) with a "
                            "different diagnosis ('CN' there, 'AD' here) (keep one row per participant)"),
                        (5, "participant_id 'sub-0_3' has characters BIDS labels do not allow"),
                        (6, "sub-02 is already listed in row 3 (keep one row per participant)")):
        assert sum(f"{table} row {row}: {phrase}" in line for line in text.splitlines()) == 1, (row, text)
    assert "Job stats" not in text and "rule preprocess_t1" not in text
    assert list(workdir.iterdir()) == [] and not (tmp_path / "res").exists()


def _shell_of(stdout: str, fold: int) -> str:
    """The planned shell command of one fold's train job (from `-n -p`)."""
    commands = [line for line in stdout.splitlines() if line.startswith("Shell command: neurofusion train ")
                and f" --fold {fold} " in line and "--shuffle-labels" not in line]
    assert len(commands) == 1, commands
    return commands[0]


def test_each_fold_trains_every_variant_in_one_job(tmp_path):
    """One train job per fold names every variant with its own output folder (the CLI trains the
    baselines first, so a transformer's linear start can take its baseline's fit); the
    shuffled-label control is its own job per fold."""
    base = ["-n", "-p", "--configfile", str(ROOT / "config" / "config.yaml"), "--config", f"results={tmp_path}/r"]
    out = snakemake(*base)
    assert out.returncode == 0, out.stderr
    variants = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["variants"]
    shell = _shell_of(out.stdout, 1)
    assert f"--variant {' '.join(variants)} --fold 1 " in shell
    dirs = shell.split(" --out-dir ")[1].split(" --threads ")[0].split()
    assert dirs == [f"{tmp_path}/r/train/{v}/fold-1" for v in variants]
    assert "--linear-start" not in out.stdout
    shuffled = [line for line in out.stdout.splitlines() if line.startswith("Shell command:") and "--shuffle-labels" in line]
    assert len(shuffled) == 3 and all("--variant fusion --fold" in line for line in shuffled)
    out = snakemake(*base, "variants=[fusion,baseline_mri]")
    assert out.returncode == 0, out.stderr
    assert "--variant fusion baseline_mri --fold 0 " in _shell_of(out.stdout, 0)


def test_fold_scope_pretrains_one_encoder_per_fold_and_each_fold_reads_its_own(tmp_path):
    """embedding.pretrain.scope: fold. One encoder per fold, pretrained with --leave-out-fold K
    from the cohort table, embeds every scan into its fold-K/ shards; fold K's training jobs
    read those, the export reads every fold's (it picks each model's by checksum) and the
    summary one shard per encoder. A user's encoder cannot be pretrained per fold: refused.
    The encoder's layout reaches each pretraining job."""
    overlay = tmp_path / "fold.yaml"
    overlay.write_text(yaml.safe_dump({"results": f"{tmp_path}/r",
                                       "embedding": {"pretrain": {"scope": "fold", "layout": "strided"}}}))
    out = snakemake("-n", "-p", "--configfile", str(ROOT / "config" / "config.yaml"), str(overlay))
    assert out.returncode == 0, out.stderr
    jobs = planned(out)
    folds = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["cohort"]["folds"]
    assert jobs["pretrain_encoder"] == jobs["embed_patches"] == jobs["train"] == folds
    shells = [line for line in out.stdout.splitlines() if line.startswith("Shell command: neurofusion ")]
    r = f"{tmp_path}/r"
    for k in range(folds):
        pretrain = [s for s in shells if f"--out {r}/embeddings/fold-{k}/encoder.pt " in s]
        assert len(pretrain) == 1 and f"--cohort {r}/cohort/participants.parquet --leave-out-fold {k} " in pretrain[0]
        assert " --layout strided " in pretrain[0]
        embed = [s for s in shells if s.startswith("Shell command: neurofusion embed ")
                 and f"--weights {r}/embeddings/fold-{k}/encoder.pt " in s]
        assert len(embed) == 1 and f"--out {r}/embeddings/fold-{k}/shard-000.parquet " in embed[0]
        train = [s for s in shells if s.startswith("Shell command: neurofusion train ") and f" --fold {k} " in s]
        assert len(train) == 2  # the variants and the shuffled-label control
        assert all(f"--embeddings {r}/embeddings/fold-{k}/shard-000.parquet --grid" in s for s in train)
    every = " ".join(f"{r}/embeddings/fold-{k}/shard-000.parquet" for k in range(folds))
    assert any(s.startswith("Shell command: neurofusion export-attention ") and f"--embeddings {every} --grid" in s
               for s in shells)
    assert f"--embedding-shard {every} --out {r}/eval/summary.html" in out.stdout  # (a multi-line command)
    assert f"{r}/embeddings/shard-000.parquet" not in out.stdout

    overlay.write_text(yaml.safe_dump({"results": f"{tmp_path}/r", "embedding": {"encoder": "intensity",
                                                                                 "pretrain": {"scope": "fold"}}}))
    out = snakemake("-n", "--configfile", str(ROOT / "config" / "config.yaml"), str(overlay))
    assert out.returncode != 0
    assert "embedding.pretrain.scope: fold pretrains the builtin encoder per fold" in out.stdout + out.stderr
    overlay.write_text(yaml.safe_dump({"results": f"{tmp_path}/r", "embedding": {"pretrain": {"scope": "folds"}}}))
    out = snakemake("-n", "--configfile", str(ROOT / "config" / "config.yaml"), str(overlay))
    assert out.returncode != 0 and "scope" in out.stdout + out.stderr
