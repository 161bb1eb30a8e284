"""The layout's rules that import-linter does not check: no private name crosses a module, and no
module or function of experiments/ grows past the size that says "split me by job"."""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PROJECT_PACKAGES = ("experiments", "optimizers", "callbacks")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80


def _python_files(*folders):
    return sorted(path for folder in folders for path in (ROOT / folder).rglob("*.py"))


def _is_private(name):
    return name.startswith("_") and not name.startswith("__")


def _private_crossings(path):
    """`from project.module import _name`, and `module._name` on a project module bound by an import."""
    tree = ast.parse(path.read_text(), filename=str(path))
    modules = set()  # local names bound to project modules
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in PROJECT_PACKAGES:
            for alias in node.names:
                if _is_private(alias.name):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {node.module}.{alias.name}")
                modules.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in PROJECT_PACKAGES:
                    if any(_is_private(part) for part in alias.name.split(".")[1:]):
                        found.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {alias.name}")
                    modules.add(alias.asname or alias.name.split(".")[0])
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and _is_private(node.attr)
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
        ):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} reads {node.value.id}.{node.attr}")
    return found


def test_no_private_name_is_used_outside_its_module():
    # Within a package its modules may share private helpers (a package's own _module is private
    # to the package); across packages, and from tests and benchmarks, only public names.
    crossings = []
    for path in _python_files("experiments", "tests", "benchmarks"):
        crossings += _private_crossings(path)
    assert crossings == []


def test_modules_and_functions_of_the_experiments_stay_small():
    too_long = []
    for path in _python_files("experiments"):
        source = path.read_text()
        lines = len(source.splitlines())
        if lines > MAX_MODULE_LINES:
            too_long.append(f"{path.relative_to(ROOT)}: {lines} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}: {length} lines")
    assert too_long == []


@pytest.mark.parametrize("folder", ["experiments", "optimizers", "callbacks"])
def test_every_package_says_what_it_is_for(folder):
    missing = [
        str(init.relative_to(ROOT))
        for init in (ROOT / folder).rglob("__init__.py")
        if ast.get_docstring(ast.parse(init.read_text())) is None
    ]
    assert missing == []
