"""Static facts about the workflow, read without running it.

- `read_rules()`: each rule's conda env, the `neurofusion <step>` it runs and the stage
  whose code it hashes, from workflow/rules/*.smk.
- `module_closure()`: the neurofusion modules a module imports, transitively (ast).
- `third_party_needs()`: the installable packages those modules need.
- `env_packages()`: the packages a workflow/envs/*.yaml file provides.
"""

from __future__ import annotations

import ast
import fnmatch
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "src"
PACKAGE = "neurofusion"

# import name -> names the package goes by on conda-forge / PyPI (any one will do)
PACKAGE_NAMES: dict[str, set[str]] = {
    "sklearn": {"scikit-learn"},
    "torch": {"pytorch", "pytorch-cpu", "pytorch-gpu", "torch"},
    "yaml": {"pyyaml"},
    "ants": {"antspyx"},
    "PIL": {"pillow"},
    "skimage": {"scikit-image"},
    "matplotlib": {"matplotlib", "matplotlib-base"},
    "SimpleITK": {"simpleitk"},
    "cv2": {"opencv", "opencv-python", "opencv-python-headless"},
    "jsonschema": {"jsonschema"},
}
# calls that load an optional backend no import statement names
IMPLICIT_NEEDS: dict[str, str] = {
    "read_parquet": "pyarrow",
    "to_parquet": "pyarrow",
    "read_excel": "openpyxl",
    "to_excel": "openpyxl",
}


@dataclass(frozen=True)
class RuleInfo:
    name: str
    env: str | None  # workflow/envs/<env>.yaml
    step: str | None  # `neurofusion <step>`
    code_stage: str | None  # code_hash("<stage>")
    file: str


_RULE = re.compile(r"^(?P<indent>[ \t]*)(?:rule|checkpoint)(?: (?P<name>\w+))?:", re.MULTILINE)
# a rule defined in a loop names itself: `name: f"preprocess_batch_{_batch[0]}"` is preprocess_batch_*
_NAME = re.compile(r'^\s*name:\s*\n\s*f"(?P<name>[^"]+)"', re.MULTILINE)


def read_rules() -> dict[str, RuleInfo]:
    """Every rule in workflow/rules/*.smk, by name."""
    rules = {}
    for path in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        text = path.read_text()
        starts = list(_RULE.finditer(text))
        for i, m in enumerate(starts):
            block = _rule_block(text, m)
            env = re.search(r'conda:\s*\n\s*env\("(\w+)"\)', block)
            step = re.search(r"neurofusion ([a-z][a-z-]*)", block)
            code = re.search(r'code_hash\("(\w+)"\)', block)
            name = m.group("name") or re.sub(r"\{[^}]*\}", "*", _NAME.search(block).group("name"))
            rules[name] = RuleInfo(
                name,
                env.group(1) if env else None,
                step.group(1) if step else None,
                code.group(1) if code else None,
                path.name,
            )
    return rules


def rule_of(name: str, rules: dict[str, RuleInfo]) -> str | None:
    """The key in ``rules`` of a rule Snakemake lists: itself, or the loop's pattern it matches."""
    if name in rules:
        return name
    return next((key for key in rules if "*" in key and fnmatch.fnmatchcase(name, key)), None)


def _rule_block(text: str, m: re.Match) -> str:
    """The rule's lines: until the next line indented no deeper than `rule`."""
    indent = len(m.group("indent").expandtabs())
    lines = text[m.end():].splitlines()
    block = []
    for line in lines:
        if line.strip() and len(line) - len(line.lstrip()) <= indent:
            break
        block.append(line)
    return "\n".join(block)


# ---- imports ------------------------------------------------------------------------
def module_path(module: str) -> Path | None:
    """The file of a neurofusion module (package -> its __init__.py), or None."""
    base = SRC.joinpath(*module.split("."))
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    return None


def _is_package(module: str) -> bool:
    return (SRC.joinpath(*module.split(".")) / "__init__.py").is_file()


@dataclass(frozen=True)
class Import:
    module: str  # absolute dotted name
    top_level: bool  # runs when the module is imported (not inside a function)
    optional: bool  # inside try/except ImportError


def _guards_import_error(node: ast.Try) -> bool:
    for handler in node.handlers:
        names = []
        if isinstance(handler.type, ast.Name):
            names = [handler.type.id]
        elif isinstance(handler.type, ast.Tuple):
            names = [e.id for e in handler.type.elts if isinstance(e, ast.Name)]
        if {"ImportError", "ModuleNotFoundError"} & set(names):
            return True
    return False


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(module: str) -> list[Import]:
    """Every import in a neurofusion module, resolved to absolute names."""
    path = module_path(module)
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if _is_package(module) else module.rpartition(".")[0]
    found: list[Import] = []

    def visit(node: ast.AST, top_level: bool, optional: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                continue  # never runs
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                visit(child, False, optional)
            elif isinstance(child, ast.Try) and _guards_import_error(child):
                for stmt in child.body:
                    visit(ast.Module(body=[stmt], type_ignores=[]), top_level, True)
                for part in (child.handlers, child.orelse, child.finalbody):
                    for stmt in part:
                        visit(ast.Module(body=[stmt], type_ignores=[]), top_level, optional)
            elif isinstance(child, ast.Import):
                found.extend(Import(a.name, top_level, optional) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")[: len(package.split(".")) - child.level + 1]
                    target = ".".join(base + ([child.module] if child.module else []))
                else:
                    target = child.module
                found.append(Import(target, top_level, optional))
                if target.split(".")[0] == PACKAGE:
                    for alias in child.names:  # `from pkg import submodule`
                        sub = f"{target}.{alias.name}"
                        if module_path(sub):
                            found.append(Import(sub, top_level, optional))
            else:
                visit(child, top_level, optional)

    visit(tree, True, False)
    return found


def _with_parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def module_closure(start: list[str], top_level_only: bool = False) -> set[str]:
    """neurofusion modules reached from `start` by imports (and their parent packages)."""
    seen: set[str] = set()
    todo = [m for s in start for m in _with_parents(s)]
    while todo:
        module = todo.pop()
        if module in seen or module_path(module) is None:
            continue
        seen.add(module)
        for imp in imports_of(module):
            if imp.module.split(".")[0] != PACKAGE or (top_level_only and not imp.top_level):
                continue
            todo.extend(_with_parents(imp.module))
    return seen


def _implicit_needs(module: str) -> set[str]:
    tree = ast.parse(module_path(module).read_text())
    return {
        IMPLICIT_NEEDS[node.attr]
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr in IMPLICIT_NEEDS
    }


def third_party_needs(modules: set[str], top_level_only: bool = False) -> dict[str, set[str]]:
    """import name -> the neurofusion modules that need it (optional imports left out)."""
    needs: dict[str, set[str]] = {}
    for module in modules:
        for imp in imports_of(module):
            top = imp.module.split(".")[0]
            if top == PACKAGE or top in sys.stdlib_module_names or top == "__future__" or imp.optional:
                continue
            if top_level_only and not imp.top_level:
                continue
            needs.setdefault(top, set()).add(module)
        if not top_level_only:
            for name in _implicit_needs(module):
                needs.setdefault(name, set()).add(module)
    return needs


def package_names(import_name: str) -> set[str]:
    return PACKAGE_NAMES.get(import_name, {import_name.lower().replace("_", "-")})


# ---- conda env files ----------------------------------------------------------------
_SPEC = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(?:\[[^\]]*\])?\s*(.*)$")


def env_file(name: str) -> Path:
    return REPO / "workflow" / "envs" / f"{name}.yaml"


def env_dependencies(name: str) -> list[tuple[str, str, str]]:
    """(installer, package name lower-case, version spec) of an env file; -e lines left out."""
    spec = yaml.safe_load(env_file(name).read_text())
    out = []
    for dep in spec.get("dependencies", []):
        if isinstance(dep, dict):
            for line in dep.get("pip", []):
                if line.startswith("-"):
                    continue
                m = _SPEC.match(line)
                out.append(("pip", m.group(1).lower(), m.group(2).strip()))
        else:
            m = _SPEC.match(str(dep))
            name_, version = m.group(1), m.group(2).strip()
            if "::" in str(dep):  # channel::name
                name_ = str(dep).split("::", 1)[1].split("=")[0]
            out.append(("conda", name_.lower(), version))
    return out


def env_packages(name: str) -> set[str]:
    return {pkg for _, pkg, _ in env_dependencies(name)}
