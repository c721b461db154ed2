"""How `make test` shares the work between its processes (tests/conftest.py): a file's tests, and the whole
security package's, run in one process, so a module- or package-scoped devstack starts once and a story's
later tests see what its earlier ones did; the longest files start first. pytest 9.2 broke this silently
(xdist's loadgroup split files, schemathesis' operations shared one id), which showed as a story test
failing now and then in CI."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace

from devstack.launcher import ROOT
from tests.conftest import LONGEST_FIRST, FileOrPackageScheduling, pytest_collection_modifyitems

FILES = [
    "tests/unit/test_reference_model.py",
    "tests/unit/test_analytics_console.py",
    "tests/unit/test_staff_domain.py",
]


def test_the_security_package_is_one_unit_and_every_other_file_its_own():
    scheduler = object.__new__(FileOrPackageScheduling)  # _split_scope needs none of the scheduler's state
    assert scheduler._split_scope("tests/security/test_bodies.py::test_x[GET /a]") == "tests/security"
    assert scheduler._split_scope("tests/security/test_role_matrix.py::test_y") == "tests/security"
    assert scheduler._split_scope("tests/e2e/test_journey.py::test_z") == "tests/e2e/test_journey.py"


def test_the_longest_files_go_first_and_the_rest_keep_their_order():
    def item(path: str) -> SimpleNamespace:
        return SimpleNamespace(path=ROOT / path, nodeid=f"{path}::test")

    paths = ["tests/unit/test_a.py", "tests/security/test_b.py", "tests/e2e/test_c.py", LONGEST_FIRST[0]]
    items = [item(p) for p in paths]
    pytest_collection_modifyitems(SimpleNamespace(rootpath=ROOT), items)
    assert [i.nodeid.split("::")[0] for i in items] == [LONGEST_FIRST[0], "tests/security/test_b.py",
                                                         "tests/unit/test_a.py", "tests/e2e/test_c.py"]  # fmt: skip


def test_the_same_test_id_twice_is_refused(tmp_path: Path):
    (tmp_path / "conftest.py").write_text(
        f"import sys\nsys.path.insert(0, {str(ROOT)!r})\n"
        "from tests.conftest import pytest_collection_modifyitems as ours\n\n\n"
        "def pytest_collection_modifyitems(config, items):\n    items.append(items[0])\n    ours(config, items)\n"
    )
    (tmp_path / "test_once.py").write_text("def test_one():\n    pass\n")
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", str(tmp_path)],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert run.returncode != 0 and "test ids are not unique" in run.stdout + run.stderr, run.stdout + run.stderr


def test_each_file_runs_whole_in_one_process():
    """The pinned pytest and xdist, with the suite's own hooks, as `make test` runs them."""
    command = [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadfile", "-v", "-p", "no:cacheprovider"]
    run = subprocess.run([*command, *FILES], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    processes: dict[str, set[str]] = defaultdict(set)
    for worker, path in re.findall(r"^\[(gw\d+)\] \[\s*\d+%\] PASSED (\S+?)::", run.stdout, re.MULTILINE):
        processes[path].add(worker)
    assert set(processes) == set(FILES), run.stdout[-3000:]
    split = {path: workers for path, workers in processes.items() if len(workers) > 1}
    assert not split, f"files split across processes: {split}"
