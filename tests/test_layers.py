"""Imports point down the floors of DESIGN.md: gongshi → api → search_index → disclosure,
gongshi → publishers → disclosure."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("gongshi", "api", "portal", "search_index", "publishers", "disclosure")
# What each package may import of the others.
ALLOWED = {
    "gongshi": {"api", "portal", "search_index", "publishers", "disclosure"},
    "portal": {"disclosure"},
    "api": {"search_index", "disclosure"},
    "search_index": {"disclosure"},
    "publishers": {"disclosure"},
    "disclosure": set(),
}


def imported_packages(path: Path) -> set[str]:
    """The project packages a module imports."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found |= {name.split(".")[0] for name in names} & set(PACKAGES)
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_point_down(package: str) -> None:
    modules = sorted((ROOT / package).rglob("*.py"))
    assert modules, f"{package} has no modules"
    wrong = {
        str(module.relative_to(ROOT)): sorted(imported - ALLOWED[package] - {package})
        for module in modules
        if (imported := imported_packages(module)) - ALLOWED[package] - {package}
    }
    assert wrong == {}


def test_the_checker_sees_imports() -> None:
    assert imported_packages(ROOT / "gongshi" / "serving.py") >= {"api", "disclosure", "publishers"}


def imported_test_modules(path: Path) -> set[str]:
    """The test modules (`test_*`) a module imports: what tests share lives in factories,
    conftest or a helper module named for its concept instead."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found |= {
            name
            for name in names
            if name.startswith("tests.") and name.split(".")[-1].startswith("test_")
        }
    return found


def test_tests_do_not_import_each_other() -> None:
    wrong = {
        str(module.relative_to(ROOT)): sorted(imported)
        for module in sorted((ROOT / "tests").rglob("*.py"))
        if (imported := imported_test_modules(module))
    }
    assert wrong == {}


def test_the_checker_sees_a_test_module_imported(tmp_path: Path) -> None:
    module = tmp_path / "test_x.py"
    module.write_text(
        "from tests.api.test_limits import doubling_fragments\n"
        "from tests.disclosure import test_privacy\n"
        "import tests.test_cli\n"
        "from tests import factories\n",
        encoding="utf-8",
    )
    assert imported_test_modules(module) == {
        "tests.api.test_limits",
        "tests.disclosure.test_privacy",
        "tests.test_cli",
    }
