"""Every rule's conda env provides every third-party package its code imports.

Static: the rules are read from workflow/rules/*.smk, the code each runs is the
`neurofusion <step>` module (cli/__init__.py's registry) and every neurofusion module it
imports, transitively (ast). conda itself cannot be reached from the test machines, so
this is the check that `--use-conda` would find what it needs.
"""

import re
import subprocess

import pytest

from neurofusion.cli import COMMANDS

from .conftest import BIN, REPO, snakemake_env
from .imports import (
    env_dependencies,
    env_file,
    env_packages,
    module_closure,
    package_names,
    read_rules,
    rule_of,
    third_party_needs,
)

RULES = read_rules()
SHELL_RULES = {name: r for name, r in RULES.items() if r.step}
ENVS = sorted({r.env for r in RULES.values() if r.env})


def cli_module(step: str) -> str:
    return f"neurofusion.cli.{COMMANDS[step]}"


def test_rule_files_parse_into_every_rule_snakemake_knows():
    out = subprocess.run(
        [str(BIN / "snakemake"), "--list-rules"], cwd=REPO, env=snakemake_env(), capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    listed = set(out.stdout.split()) - {"all"}
    missed = sorted(name for name in listed if rule_of(name, RULES) is None)
    assert listed and not missed, f"rules the parser missed: {missed}"


@pytest.mark.parametrize("rule", sorted(SHELL_RULES))
def test_rule_has_env_and_known_step(rule):
    info = SHELL_RULES[rule]
    assert info.env, f"rule {rule} ({info.file}) has no `conda: env(...)`"
    assert env_file(info.env).is_file(), f"rule {rule}: workflow/envs/{info.env}.yaml is missing"
    assert info.step in COMMANDS, f"rule {rule} runs `neurofusion {info.step}`, not in cli.COMMANDS"


@pytest.mark.parametrize("rule", sorted(SHELL_RULES))
def test_env_provides_what_the_step_imports(rule):
    info = SHELL_RULES[rule]
    modules = module_closure(["neurofusion.cli", cli_module(info.step)])
    provided = env_packages(info.env)
    missing = {
        name: sorted(users)
        for name, users in third_party_needs(modules).items()
        if not package_names(name) & provided
    }
    assert not missing, (
        f"rule {rule} (`neurofusion {info.step}`) imports packages workflow/envs/{info.env}.yaml "
        f"does not list: {missing}"
    )


@pytest.mark.parametrize("env", ENVS)
def test_every_step_module_loads_in_every_env(env):
    """`neurofusion <step>` imports every CLI module at start: their module-level imports
    must work in each env, so heavy libraries belong inside run()."""
    starts = ["neurofusion.cli"] + [cli_module(step) for step in COMMANDS if _exists(cli_module(step))]
    modules = module_closure(starts, top_level_only=True)
    provided = env_packages(env)
    missing = {
        name: sorted(users)
        for name, users in third_party_needs(modules, top_level_only=True).items()
        if not package_names(name) & provided
    }
    assert not missing, f"module-level imports that workflow/envs/{env}.yaml lacks: {missing}"


def _exists(module: str) -> bool:
    from .imports import module_path

    return module_path(module) is not None


_PIN = re.compile(r"^(==|=)\d+(\.\d+)*(\.\*)?$")


@pytest.mark.parametrize("env", ENVS)
def test_env_is_pinned(env):
    loose = [
        f"{installer}:{name}{spec}"
        for installer, name, spec in env_dependencies(env)
        if name != "pip" and not _PIN.match(spec.replace(" ", ""))
    ]
    assert not loose, f"workflow/envs/{env}.yaml: pin these to a version: {loose}"


def test_envs_install_the_package_itself():
    """Snakemake blocks PYTHONPATH inside conda envs: each env pip-installs this checkout."""
    import yaml

    for env in ENVS:
        spec = yaml.safe_load(env_file(env).read_text())
        pip = [d for d in spec["dependencies"] if isinstance(d, dict)]
        lines = [line for d in pip for line in d.get("pip", [])]
        assert any(line.startswith("-e ") for line in lines), f"{env}.yaml does not install neurofusion"
