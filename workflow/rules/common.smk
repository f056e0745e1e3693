"""Shared helpers: the sample sheet, every output path, wildcard constraints, code hashes.

Inputs: config (validated), the BIDS folder listing (read once, at parse time).
Outputs: nothing; defines SUBJECTS, SHARDS, FOLDS and the path helpers used by every rule.
"""

import ast
import functools
import glob
import hashlib
import os
import re
import shlex
import sys
from pathlib import Path, PurePath

import jsonschema
import pandas as pd
import yaml

# the library of this checkout (the code the rules' hashes cover), also where Snakemake runs
# outside the environment neurofusion is installed in; it never imports snakemake
sys.path.insert(0, str(Path(workflow.basedir) / "src"))
from neurofusion.cohort.participants import participants_problems
from neurofusion.errors import NeurofusionError
from neurofusion.imaging.batches import scan_batches


@functools.cache
def schema_validator(schema_name):
    schema = yaml.safe_load((Path(workflow.basedir) / "workflow" / "schemas" / schema_name).read_text())
    return jsonschema.Draft202012Validator(schema)


def schema_problems(data, schema_name, source):
    """Every way ``data`` breaks the JSON schema, one line each (key path, what is wrong)."""
    lines = []
    for error in schema_validator(schema_name).iter_errors(data):
        error = jsonschema.exceptions.best_match([error])  # the most specific branch of an anyOf
        where = ".".join(str(p) for p in error.absolute_path) or "(top level)"
        lines.append((list(map(str, error.absolute_path)), f"{source}: {where}: {error.message}"))
    return [line for _, line in sorted(lines)]


def _participants_problems(path, cfg):
    """Every row of a user's participants table that `neurofusion cohort` would refuse.

    The same library function the cohort step runs, so parse time and the step agree.
    """
    cohort_cfg = cfg.get("cohort") if isinstance(cfg.get("cohort"), dict) else {}
    id_column = cohort_cfg.get("id_column", "participant_id")
    label_column = cfg.get("label_column", "diagnosis")
    if not (isinstance(id_column, str) and isinstance(label_column, str)):
        return []  # the schema errors name these keys
    try:
        return participants_problems(path, id_column=id_column, label_column=label_column)
    except NeurofusionError as exc:
        return [str(exc)]


def _path_problems(cfg):
    """The input files a user's config names that do not exist (the demo makes its own scans and
    assays, not an encoder file)."""
    demo = cfg.get("demo", "auto")
    if (not cfg.get("bids_dir")) if demo == "auto" else bool(demo):
        return _encoder_path_problems(cfg)
    lines = []
    bids = cfg.get("bids_dir")
    if not isinstance(bids, str) or not os.path.isdir(bids):
        lines.append(f"config: bids_dir: {bids!r} is not a folder (set it to your BIDS root)")
    participants = cfg.get("participants") or (f"{str(bids).rstrip('/')}/participants.tsv" if bids else None)
    if isinstance(participants, str):
        if not os.path.isfile(participants):
            key = "participants" if cfg.get("participants") else "bids_dir"
            lines.append(f"config: {key}: participants table {participants} not found "
                         "(add participants.tsv to the BIDS folder or set `participants`)")
        else:
            lines += _participants_problems(participants, cfg)
    assays = cfg.get("proteomics")
    if isinstance(assays, list):
        if not assays:
            lines.append("config: proteomics: no assay file given (list your protein exports under `proteomics:`)")
        lines += [f"config: proteomics: assay file {a} not found" for a in assays
                  if isinstance(a, str) and not os.path.isfile(a)]
    return lines + _encoder_path_problems(cfg)


def encoder_weights(enc):
    """(config key, path) of the weights file an `embedding.encoder` setting names, or (None, None)."""
    if isinstance(enc, dict):
        for kind in ("torchscript", "builtin"):
            if kind in enc:
                return f"embedding.encoder.{kind}", enc[kind]
        if isinstance(enc.get("monai"), dict):
            return "embedding.encoder.monai.weights", enc["monai"].get("weights")
    return None, None


def _encoder_path_problems(cfg):
    """A user's encoder weights file (`embedding.encoder`) that does not exist."""
    embedding = cfg.get("embedding") if isinstance(cfg.get("embedding"), dict) else {}
    key, weights = encoder_weights(embedding.get("encoder"))
    if isinstance(weights, str) and not os.path.isfile(weights):
        return [f"config: {key}: encoder weights {weights} not found (give the path of a local file)"]
    return []


def stop_on_config_problems(cfg):
    """Every schema error, then every missing input path, in one message, before any job."""
    problems = schema_problems(cfg, "config.schema.yaml", "config") + _path_problems(cfg)
    if problems:
        raise WorkflowError(
            f"the configuration has {len(problems)} problem(s); every key is explained in config/README.md:\n"
            + "\n".join(f"  {line}" for line in problems)
        )


stop_on_config_problems(config)

SPACE = "MNI152NLin2009aSym"
R = config["results"].rstrip("/")
ROOT = Path(workflow.basedir)
# The conda env files pip-install this checkout from here (Snakemake copies env files
# elsewhere, so a relative path would not point at the repository).
os.environ.setdefault("NEUROFUSION_SRC", str(ROOT))
BIDS_LABEL = re.compile(r"^[A-Za-z0-9]+$")


wildcard_constraints:
    subject="[A-Za-z0-9]+",
    ses="(_ses-[A-Za-z0-9]+)?",
    shard=r"\d+",
    fold=r"\d+",
    variant="fusion|mri|protein|baseline_fusion|baseline_mri|baseline_protein",


def demo_enabled():
    demo = config.get("demo", "auto")
    if demo == "auto":
        return not config.get("bids_dir")
    return bool(demo)


DEMO = demo_enabled()
DEMO_DIR = f"{R}/demo"
# what was planted, where it is known (the demo): the ceiling rule and the attention check read it
TRUTH = f"{DEMO_DIR}/truth.json" if DEMO else None
BIDS_DIR = f"{DEMO_DIR}/bids" if DEMO else str(config["bids_dir"]).rstrip("/")
PARTICIPANTS_TSV = (
    f"{BIDS_DIR}/participants.tsv"
    if DEMO or not config.get("participants")
    else config["participants"]
)
PROTEOMICS = [f"{DEMO_DIR}/olink_explore_npx.csv"] if DEMO else list(config.get("proteomics") or [])
def shipped(path):
    """A relative path from the config: the working directory's file, else the one shipped here."""
    p = Path(path)
    if p.is_absolute() or p.exists() or not (ROOT / p).exists():
        return str(p)
    return str(ROOT / p)


CATEGORIES = shipped(config["proteins"]["categories"])
MODEL_CONFIG = shipped(config["model_config"])
# Threads: a rule's `threads:` is what the scheduler reserves (Snakemake lowers it to
# --cores, and SLURM turns it into --cpus-per-task); the step itself always computes with
# the configured count (`params.threads`), because float reductions split over another
# number of threads give other bits, and results must not depend on --cores.
def time_limit(seconds):
    """The optional pretraining time cap as a flag ('' when off, the reproducible default)."""
    return "" if seconds is None else f"--max-seconds {seconds} "


RES = config["preprocess"]["resolution"]
def res_label(resolution):
    """2.0 -> '2', 1.5 -> '1p5': the res- entity of file names."""
    return f"{float(resolution):g}".replace(".", "p")


RES_LABEL = res_label(RES)


def _find_scans():
    """subject -> (session entity or "", path of the T1w scan), from one listing of the BIDS folder.

    With several T1w scans per subject, the first session (then run) in sorted order
    is taken; the choice is visible in the output names and the preprocessing metrics.
    """
    if DEMO:
        n = config["demo_cohort"]["n_subjects"]
        ids = [f"{i:03d}" for i in range(1, n + 1)]
        with_scan = ids[: n - config["demo_cohort"]["n_without_scan"]]
        return {s: ("", f"{BIDS_DIR}/sub-{s}/anat/sub-{s}_T1w.nii.gz") for s in with_scan}
    if not os.path.isdir(BIDS_DIR):
        raise WorkflowError(f"bids_dir {BIDS_DIR!r} is not a folder: set bids_dir in your config to your BIDS root")
    found = {}
    patterns = ("sub-*/anat/sub-*_T1w.nii*", "sub-*/ses-*/anat/sub-*_T1w.nii*")
    for pattern in patterns:
        for path in sorted(glob.glob(os.path.join(BIDS_DIR, pattern))):
            name = os.path.basename(path)
            m = re.match(r"^sub-([^_]+)(_ses-([^_]+))?_.*T1w\.nii(\.gz)?$", name)
            if not m:
                continue
            subject = m.group(1)
            if not BIDS_LABEL.match(subject):
                raise WorkflowError(
                    f"{path}: participant label {subject!r} has characters BIDS does not allow: rename it to letters and digits only"
                )
            ses = f"_ses-{m.group(3)}" if m.group(3) else ""
            if subject not in found:
                found[subject] = (ses, path)
    return dict(sorted(found.items()))


SCANS = _find_scans()
SUBJECTS = list(SCANS)
SCANS_PER_JOB = int(config["preprocess"]["scans_per_job"])
PREPROCESS_BATCHES = scan_batches(SUBJECTS, SCANS_PER_JOB)
SHARD_SIZE = int(config["embedding"]["shard_size"])
SHARDS = [f"{i:03d}" for i in range((len(SUBJECTS) + SHARD_SIZE - 1) // SHARD_SIZE)]
FOLDS = [str(k) for k in range(int(config["cohort"]["folds"]))]
VARIANTS = list(config["variants"])
ATTENTION_VARIANTS = [v for v in config["attention"]["variants"] if v in VARIANTS]


def out_dirs(output_models):
    """The folders of a job's model.pt outputs, quoted for the shell: one --out-dir per variant."""
    return " ".join(shlex.quote(str(PurePath(p).parent)) for p in output_models)


# ---- path helpers: every output name is built here -----------------------------------
def prefix(subject):
    """BIDS-style file prefix of a subject's derivatives, e.g. sub-001 or sub-01_ses-bl."""
    return f"sub-{subject}{SCANS[subject][0]}"


def t1w_scan(wildcards):
    return SCANS[wildcards.subject][1]


def scan_path(pattern, subject):
    """A per-scan path pattern (wildcards subject and ses) filled in for one subject."""
    return pattern.format(subject=subject, ses=SCANS[subject][0])


PREPROC_STEM = f"{R}/preprocess/sub-{{subject}}/anat/sub-{{subject}}{{ses}}_space-{SPACE}_res-{RES_LABEL}"
PREPROC_IMAGE = f"{PREPROC_STEM}_desc-preproc_T1w.nii.gz"
PREPROC_MASK = f"{PREPROC_STEM}_desc-brain_mask.nii.gz"
PREPROC_XFM = f"{PREPROC_STEM}_from-T1w_to-{SPACE}_mode-image_xfm.mat"
PREPROC_QC = f"{PREPROC_STEM}_desc-qc_T1w.png"
PREPROC_METRICS = f"{PREPROC_STEM}_desc-metrics.json"
# preprocessing registers on the 2 mm template whatever its output resolution
# (REGISTRATION_RESOLUTION in src/neurofusion/imaging/preprocess.py; a test checks they agree)
REGISTRATION_RESOLUTION = 2.0
TEMPLATE_DIR = f"{R}/template"
TEMPLATE_RESOLUTIONS = sorted({float(RES), REGISTRATION_RESOLUTION})
TEMPLATE_FILES = [
    f"{TEMPLATE_DIR}/tpl-{SPACE}_res-{res_label(r)}_desc-brain_{kind}.nii.gz"
    for r in TEMPLATE_RESOLUTIONS
    for kind in ("T1w", "mask")
]
PATCH_PATH = f"{R}/patches/sub-{{subject}}/sub-{{subject}}{{ses}}_space-{SPACE}_res-{RES_LABEL}_desc-patches.npy"


def preproc(subject, kind):
    """kind: preproc | mask | xfm | qc | metrics."""
    stem = PREPROC_STEM.format(subject=subject, ses=SCANS[subject][0])
    return {
        "preproc": f"{stem}_desc-preproc_T1w.nii.gz",
        "mask": f"{stem}_desc-brain_mask.nii.gz",
        "xfm": f"{stem}_from-T1w_to-{SPACE}_mode-image_xfm.mat",
        "qc": f"{stem}_desc-qc_T1w.png",
        "metrics": f"{stem}_desc-metrics.json",
    }[kind]


def patch_file(subject):
    return PATCH_PATH.format(subject=subject, ses=SCANS[subject][0])


def patch_output(path):
    """A patch array as an output: temporary unless patches.keep_patches."""
    return path if config["patches"]["keep_patches"] else temp(path)


def shard_subjects(shard):
    i = int(shard)
    return SUBJECTS[i * SHARD_SIZE : (i + 1) * SHARD_SIZE]


def shard_patches(wildcards):
    return [patch_file(s) for s in shard_subjects(wildcards.shard)]


def all_metrics():
    return [preproc(s, "metrics") for s in SUBJECTS]


# embedding.pretrain.scope: cohort (one encoder, pretrained on every scan: no labels are read)
# or fold (one encoder per fold, pretrained without that fold's test subjects; its models, their
# controls and their attribution read that fold's shards)
PRETRAIN_SCOPE = config["embedding"]["pretrain"].get("scope", "cohort")
if PRETRAIN_SCOPE == "fold" and config["embedding"]["encoder"] != "builtin":
    raise WorkflowError(
        "embedding.pretrain.scope: fold pretrains one encoder per fold, but embedding.encoder.builtin names one "
        "encoder pretrained elsewhere for every fold: set the scope to cohort, or the encoder to builtin to "
        "pretrain one per fold here"
        if encoder_weights(config["embedding"]["encoder"])[0] == "embedding.encoder.builtin" else
        "embedding.pretrain.scope: fold pretrains the builtin encoder per fold, but embedding.encoder is "
        f"{config['embedding']['encoder']!r}: set the encoder to builtin or the scope to cohort"
    )


def embedding_dir(fold=None):
    """Where the encoder and its shards go: results/embeddings, or its fold-K/ in fold scope."""
    if PRETRAIN_SCOPE != "fold":
        return f"{R}/embeddings"
    if fold is None:
        raise WorkflowError("internal: fold-scope embeddings are per fold")
    return f"{R}/embeddings/fold-{fold}"


def embedding_shards(fold=None):
    """The shards a fold's models read (every fold the same ones in cohort scope)."""
    return expand(f"{embedding_dir(fold)}/shard-{{shard}}.parquet", shard=SHARDS)


def every_embedding_shard():
    """Every encoder's shards: the cohort's, or each fold's in fold scope."""
    if PRETRAIN_SCOPE != "fold":
        return embedding_shards()
    return [p for fold in FOLDS for p in embedding_shards(fold)]


def first_shard_per_encoder():
    """One shard of each encoder: its metadata says how that encoder's pretraining ended."""
    if PRETRAIN_SCOPE != "fold":
        return embedding_shards()[:1]
    return [embedding_shards(fold)[0] for fold in FOLDS]


def encoder_spec(fold=None):
    """The `embedding.encoder` setting as CLI flags (the builtin one: that fold's in fold scope)."""
    enc = config["embedding"]["encoder"]
    if enc == "builtin":
        return f"--encoder builtin --weights {shlex.quote(encoder_checkpoint(fold)[0])}"
    if isinstance(enc, str):
        return f"--encoder {enc}"
    if "torchscript" in enc:
        return f"--encoder torchscript --weights {shlex.quote(str(enc['torchscript']))}"
    if "builtin" in enc:  # a builtin encoder pretrained elsewhere: no pretraining here
        return f"--encoder builtin --weights {shlex.quote(str(enc['builtin']))}"
    if "monai" in enc:
        m = dict(enc["monai"])

        def value(v):
            return ",".join(map(str, v)) if isinstance(v, (list, tuple)) else shlex.quote(str(v))

        extra = " ".join(
            f"--monai-{k.replace('_', '-')} {value(v)}" for k, v in sorted(m.items()) if k not in ("name", "weights")
        )
        return f"--encoder monai --monai-name {m['name']} --weights {shlex.quote(str(m['weights']))} {extra}".strip()
    raise WorkflowError(f"embedding.encoder: unknown setting {enc!r}")


def encoder_checkpoint(fold=None):
    """Files the embedding step reads for its encoder (pretrained here, or the user's)."""
    enc = config["embedding"]["encoder"]
    if enc == "builtin":
        return [f"{embedding_dir(fold)}/encoder.pt"]
    if isinstance(enc, dict):
        return [encoder_weights(enc)[1]]
    return []


# ---- code hashes: editing a stage's library code reruns that stage (and what follows) ----
# kernels.py in every stage: it picks the CPU kernels every step computes with
STAGE_CODE = {
    "demo": ["kernels.py", "demo", "cli/demo.py"],
    "cohort": ["kernels.py", "cohort", "cli/cohort.py"],
    "template": ["kernels.py", "imaging/template.py", "imaging/nifti.py", "cli/template.py"],
    "preprocess": ["kernels.py", "failure.py", "imaging/nifti.py", "imaging/brain_extraction.py", "imaging/preprocess.py", "imaging/registration.py", "imaging/qc.py", "imaging/template.py", "cli/preprocess.py"],
    "patches": ["kernels.py", "failure.py", "imaging/grid.py", "imaging/patches.py", "imaging/template.py", "imaging/nifti.py", "cli/patch_grid.py", "cli/patches.py"],
    "pretrain": ["kernels.py", "failure.py", "embeddings", "torchfile.py", "cli/pretrain_encoder.py"],
    "embed": ["kernels.py", "failure.py", "embeddings", "torchfile.py", "cli/embed.py"],
    "proteins": ["kernels.py", "proteomics", "cli/proteins.py"],
    "train": ["kernels.py", "model", "training", "torchfile.py", "cli/train.py"],
    "evaluate": ["kernels.py", "evaluation", "cli/evaluate.py"],
    # the ceiling picks its subjects with training's own code and reads truth.json like the attention check
    "ceiling": ["kernels.py", "evaluation", "training", "model", "attention/planted.py", "cli/ceiling.py"],
    "attention": ["kernels.py", "attention", "model", "torchfile.py", "cli/export_attention.py"],
    "summary": ["kernels.py", "report", "attention/maps.py", "embeddings/store.py", "cli/summary.py"],
}
_CODE_HASHES = {}


def code_hash(stage):
    if stage not in _CODE_HASHES:
        h = hashlib.sha256()
        src = ROOT / "src" / "neurofusion"
        for part in STAGE_CODE[stage]:
            target = src / part
            files = sorted(target.rglob("*.py")) if target.is_dir() else [target]
            for f in files:
                if f.is_file():
                    h.update(str(f.relative_to(src)).encode())
                    h.update(_code_of(f))
        _CODE_HASHES[stage] = h.hexdigest()[:16]
    return _CODE_HASHES[stage]


def _code_of(path):
    """What a stage computes with, from one source file: its syntax tree without comments and
    docstrings, so that editing a comment or a docstring reruns nothing. A file that does not
    parse counts byte for byte (it fails when the step imports it anyway)."""
    source = path.read_bytes()
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return source
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree).encode()


def env(name):
    return str(ROOT / "workflow" / "envs" / f"{name}.yaml")


def log(name):
    return f"{R}/logs/{name}.log"


def bench(name):
    return f"{R}/benchmarks/{name}.tsv"


def final_outputs():
    out = [
        f"{R}/cohort/participants.parquet",
        f"{R}/proteins/proteins.parquet",
        f"{R}/eval/metrics.tsv",
        f"{R}/eval/summary.html",
    ]
    out += [preproc(s, "qc") for s in SUBJECTS]
    out += expand(f"{R}/attention/{{variant}}/planted_check.json", variant=ATTENTION_VARIANTS)
    return out


# ---- attention and attribution: fusion has raw cross-attention, mri / protein attribution only ----
ATTRIBUTION = config["attention"]
ATTRIBUTION_METHODS = list(ATTRIBUTION.get("methods", ["occlusion", "relevance", "integrated"]))
ATTRIBUTION_MODELS = ["trained", "randomised"] + (["shuffled"] if ATTRIBUTION.get("shuffled_labels", True) else [])
PER_SUBJECT = bool(ATTRIBUTION.get("per_subject", False))


def attribution_maps(classes=config["classes"]):
    """attribution_space-<tpl>_method-<m>[_control-<c>]_<class-X|desc-difference>.nii.gz of one variant."""
    out = []
    for m in ATTRIBUTION_METHODS:
        for model in ATTRIBUTION_MODELS:
            control = "" if model == "trained" else f"_control-{model}"
            kinds = [f"class-{c}" for c in classes] + ["desc-difference"]
            out += [f"{R}/attention/{{variant}}/attribution_space-{SPACE}_method-{m}{control}_{k}.nii.gz" for k in kinds]
    return out


def attribution_inputs(wildcards):
    """Shuffled-label models and, for per-subject maps, every subject's scan and transform."""
    out = {}
    if "shuffled" in ATTRIBUTION_MODELS:
        out["shuffled"] = expand(f"{R}/train_shuffled/{wildcards.variant}/fold-{{fold}}/model.pt", fold=FOLDS)
    if PER_SUBJECT and wildcards.variant != "protein":
        out["scans"] = [SCANS[s][1] for s in SUBJECTS]
        out["xfms"] = [preproc(s, "xfm") for s in SUBJECTS]
    return out


def attribution_flags(wildcards, input, output):
    flags = [f"--methods {' '.join(ATTRIBUTION_METHODS)}", f"--ig-steps {ATTRIBUTION.get('ig_steps', 32)}",
             f"--randomise-seed {ATTRIBUTION.get('randomise_seed', 0)}"]
    if hasattr(input, "shuffled"):
        flags.append("--shuffled-checkpoints " + " ".join(shlex.quote(p) for p in input.shuffled))
    if hasattr(output, "subjects"):
        flags.append(f"--subjects-dir {shlex.quote(output.subjects)}")
        flags.append("--scans " + " ".join(shlex.quote(p) for p in input.scans))
        flags.append("--transforms " + " ".join(shlex.quote(p) for p in input.xfms))
    return " ".join(flags)
