"""Each function ships only what it imports, and everything it imports (issue 14; ARCHITECTURE: targets).

Read statically from the template (CodeUri, Layers, the locks in their directories) and from the handlers'
import graphs (every `import` of every module a handler reaches, lazy ones too: they run later, in the same
package), so no `sam build` is needed: the package directories are what `sam build` copies.
"""

from __future__ import annotations

import ast
import importlib.metadata
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from tests.contract.packages import Function, functions
from tests.lockfile import read_lock, read_requirements

ROOT = Path(__file__).resolve().parents[2]
FIRST_PARTY = frozenset({"shared", "auth", "staff", "tasks", "accounting", "analytics"})
UNION_LOCK = ROOT / "functions" / "requirements.txt"  # every function's dependencies: what the tests run on
ANALYTICS_ONLY = {"duckdb", "sqlglot"}  # the lake's SQL engine and translator (R-AN-4)


@dataclass
class Graph:
    """What a handler reaches: first-party modules (name -> file), and third-party distributions it imports."""

    modules: dict[str, Path] = field(default_factory=dict)
    distributions: set[str] = field(default_factory=set)
    missing: list[str] = field(default_factory=list)


def module_file(name: str, directories: list[Path]) -> Path | None:
    """Where the import system finds module `name` on `directories`, as Lambda's path would."""
    parts = name.split(".")
    for directory in directories:
        base = directory.joinpath(*parts)
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate
    return None


def imported_names(tree: ast.Module, module: str, is_package: bool) -> Iterator[tuple[str, tuple[str, ...]]]:
    """(module, names imported from it) of every import, but those only type checkers run."""

    def walk(node: ast.AST) -> Iterator[ast.AST]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                yield from (grand for orelse in child.orelse for grand in [orelse, *ast.walk(orelse)])
                continue
            yield child
            yield from walk(child)

    for node in walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, ()
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the module's own package
                package = module.split(".") if is_package else module.split(".")[:-1]
                base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            yield base, tuple(alias.name for alias in node.names)


@cache
def distribution_of() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()


def graph(function: Function) -> Graph:
    found = Graph()
    directories = function.directories
    pending = [function.module]
    while pending:
        name = pending.pop()
        if name in found.modules:
            continue
        path = module_file(name, directories)
        if path is None:
            found.missing.append(name)
            continue
        found.modules[name] = path
        tree = ast.parse(path.read_text(), filename=str(path))
        for base, names in imported_names(tree, name, path.name == "__init__.py"):
            top = base.split(".")[0]
            if top in FIRST_PARTY:
                parts = base.split(".")
                pending += [".".join(parts[: i + 1]) for i in range(len(parts))]
                pending += [f"{base}.{n}" for n in names if module_file(f"{base}.{n}", directories)]
            elif top and top not in sys.stdlib_module_names and top != "__future__":
                dists = distribution_of().get(top)
                found.distributions |= {canonicalize_name(d) for d in dists} if dists else {f"<module {top}>"}
    return found


def shipped(function: Function) -> set[str]:
    """Every distribution the function's package and layers install (their locks, transitive ones included)."""
    return {pin.name for lock in function.locks for pin in read_lock(lock)}


def direct(directory: Path) -> set[str]:
    """The distributions a package or layer asks for itself (its requirement file), extras aside."""
    source = directory / "requirements.in"
    if not source.is_file():
        return set()
    return {canonicalize_name(r.name) for r, _ in read_requirements(source, ROOT).direct}


FUNCTIONS = functions()


@pytest.mark.parametrize("function", FUNCTIONS, ids=lambda f: f.logical_id)
def test_every_module_a_handler_imports_is_in_its_package_or_its_layers(function):
    reached = graph(function)
    assert reached.missing == [], f"{function.logical_id} imports modules its package does not ship"
    assert function.module in reached.modules
    not_shipped = reached.distributions - shipped(function)
    assert not_shipped == set(), f"{function.logical_id} imports distributions no lock of its package installs"


@pytest.mark.parametrize("function", FUNCTIONS, ids=lambda f: f.logical_id)
def test_only_analytics_ships_duckdb_and_sqlglot(function):
    carried = shipped(function) & ANALYTICS_ONLY
    assert carried == (ANALYTICS_ONLY if function.module.startswith("analytics.") else set()), function.logical_id


def test_a_package_or_layer_asks_only_for_what_its_functions_import():
    """A dependency nobody imports would be shipped anyway: with every function of a layer, or of a package."""
    users: dict[Path, list[Function]] = {}
    for function in FUNCTIONS:
        for directory in function.directories:
            users.setdefault(directory, []).append(function)
    unused = {}
    for directory, its_functions in users.items():
        imported = set().union(*(graph(function).distributions for function in its_functions))
        if extra := direct(directory) - imported:
            unused[directory.relative_to(ROOT).as_posix()] = sorted(extra)
    assert unused == {}


def test_a_package_ships_only_its_own_context_and_the_kernel():
    for function in FUNCTIONS:
        context = function.module.split(".")[0]
        shipped_code = {p.name for p in function.code_dir.iterdir() if p.is_dir() and p.name in FIRST_PARTY}
        assert shipped_code == {"shared", context}, function.logical_id  # the relays' and ops' context is shared


def test_every_package_lock_pins_what_the_tests_run_on():
    """Lambda runs the versions the tests do: each package's pins are the union lock's (functions/requirements.txt)."""
    union = {(pin.name, str(pin.marker)): pin.version for pin in read_lock(UNION_LOCK)}
    for lock in {lock for function in FUNCTIONS for lock in function.locks}:
        for pin in read_lock(lock):
            assert union.get((pin.name, str(pin.marker))) == pin.version, f"{lock}: {pin} is not in {UNION_LOCK.name}"


def test_the_reader_catches_a_module_a_package_does_not_ship(tmp_path):
    """The graph is not vacuous: a package without the kernel fails, naming the module it cannot find."""
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "__init__.py").write_text("")
    (tmp_path / "tasks" / "api.py").write_text("from shared.http import resolver\nimport duckdb\n")
    lonely = Function("Lonely", "tasks.api.lambda_handler", tmp_path, ())
    reached = graph(lonely)
    assert sorted(reached.missing) == ["shared", "shared.http"]
    assert reached.distributions == {"duckdb"} and shipped(lonely) == set()
