"""The per-stage code hashes (STAGE_CODE in common.smk) cover the code each step runs.

A rule reruns when the files of its STAGE_CODE entry change. Every neurofusion module a
step imports (transitively) must therefore be hashed by that rule's stage, or by a stage
upstream of it (whose rerun reruns this one), or be shared plumbing (errors, io, runtime,
the CLI registry), which by design reruns nothing. Docstring-only files do not count.
"""

import ast
import re
import subprocess

import pytest

from neurofusion.cli import COMMANDS

from .conftest import BIN, REPO, snakemake_env
from .imports import SRC, module_closure, module_path, read_rules, rule_of

SHARED = {
    "neurofusion/__init__.py",
    "neurofusion/__main__.py",
    "neurofusion/errors.py",
    "neurofusion/io.py",
    "neurofusion/runtime.py",
    "neurofusion/cli/__init__.py",
}


def has_code(relative: str) -> bool:
    """False for a file that is only a docstring (a package's __init__.py, say)."""
    body = ast.parse((SRC / relative).read_text()).body
    return any(not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)) for n in body)


def stage_code() -> dict[str, list[str]]:
    """The STAGE_CODE literal of workflow/rules/common.smk."""
    text = (REPO / "workflow" / "rules" / "common.smk").read_text()
    start = text.index("STAGE_CODE = {")
    end = text.index("\n}", start) + 2
    return ast.literal_eval(text[start + len("STAGE_CODE = "):end])


def hashed_files(parts: list[str]) -> set[str]:
    """The files code_hash() reads for a stage, relative to src/ (as in common.smk)."""
    root = SRC / "neurofusion"
    files = set()
    for part in parts:
        target = root / part
        found = sorted(target.rglob("*.py")) if target.is_dir() else [target]
        files |= {str(f.relative_to(SRC)) for f in found if f.is_file()}
    return files


@pytest.fixture(scope="module")
def upstream_rules(tmp_path_factory) -> dict[str, set[str]]:
    """rule -> every rule upstream of it, from `snakemake --rulegraph` on the default config
    (preprocessing in batches: preprocess_batch_*) and with one job per scan (preprocess_t1)."""
    every = read_rules()
    parents: dict[str, set[str]] = {}
    per_scan = tmp_path_factory.mktemp("per_scan") / "per_scan.yaml"
    per_scan.write_text("preprocess:\n  scans_per_job: 1\n")
    for extra in ([], [str(per_scan)]):
        out = subprocess.run(
            [str(BIN / "snakemake"), "--snakefile", str(REPO / "Snakefile"),
             "--directory", str(tmp_path_factory.mktemp("rulegraph")),
             "--configfile", str(REPO / "config" / "config.yaml"), *extra, "--rulegraph"],
            env=snakemake_env(), capture_output=True, text=True,
        )
        assert out.returncode == 0, out.stderr
        names = {k: rule_of(v, every) or v for k, v in
                 re.findall(r'^\s*(\d+)\[label = "(\w+)"', out.stdout, re.MULTILINE)}
        for n in names.values():
            parents.setdefault(n, set())
        for a, b in re.findall(r"^\s*(\d+) -> (\d+)$", out.stdout, re.MULTILINE):
            parents[names[b]].add(names[a])

    def ancestors(rule: str) -> set[str]:
        seen, todo = set(), list(parents[rule])
        while todo:
            r = todo.pop()
            if r not in seen:
                seen.add(r)
                todo.extend(parents[r])
        return seen

    return {rule: ancestors(rule) for rule in parents}


RULES = {name: r for name, r in read_rules().items() if r.step}


def test_every_stage_path_exists():
    root = SRC / "neurofusion"
    missing = [f"{stage}: {part}" for stage, parts in stage_code().items() for part in parts
               if not (root / part).exists()]
    assert not missing, f"STAGE_CODE names files that do not exist: {missing}"


@pytest.mark.parametrize("rule", sorted(RULES))
def test_rule_hashes_its_step_module(rule):
    info = RULES[rule]
    module = f"neurofusion.cli.{COMMANDS[info.step]}"
    assert module_path(module), f"rule {rule} runs `neurofusion {info.step}` but {module} does not exist"
    assert info.code_stage in stage_code(), f"rule {rule} has no code_hash(<stage>) param"
    cli_file = str(module_path(module).relative_to(SRC))
    assert cli_file in hashed_files(stage_code()[info.code_stage]), (
        f"rule {rule}: STAGE_CODE[{info.code_stage!r}] does not include {cli_file}"
    )


@pytest.mark.parametrize("rule", sorted(RULES))
def test_code_a_step_runs_is_hashed_by_it_or_upstream(rule, upstream_rules):
    info = RULES[rule]
    codes = stage_code()
    stages = {info.code_stage} | {RULES[r].code_stage for r in upstream_rules[rule] if r in RULES}
    covered = set().union(*(hashed_files(codes[s]) for s in stages if s in codes)) | SHARED
    used = {str(module_path(m).relative_to(SRC)) for m in module_closure([f"neurofusion.cli.{COMMANDS[info.step]}"])}
    unhashed = sorted(f for f in used - covered if has_code(f))
    assert not unhashed, (
        f"rule {rule} runs code no rerun trigger watches: {unhashed}; add it to "
        f"STAGE_CODE[{info.code_stage!r}] in workflow/rules/common.smk"
    )
