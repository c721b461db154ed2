"""The locks and the environments built from them (issue 13).

Each human-edited requirement file (`*.in`) has a lock beside it (`*.txt`), compiled by `make lock` with uv: every
package pinned, transitive ones included, with hashes. Two things can drift, and both are checked here:
- a requirement file and its lock (someone edited the `.in` and did not run `make lock`): `make lint` and a test;
- a virtualenv and its lock (a package installed or upgraded by hand): the test set-up refuses to run.

`python -m tests.lockfile check [--compile CMD]` checks every lock against its requirement file; with `--compile` it
also compiles each again into a scratch copy (uv keeps the pins it can) and fails when the pins would change.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from packaging.markers import Marker, default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
# The virtualenvs the tests run on, and the lock each is synced from (Makefile).
VENVS = {
    ".venv": "requirements-dev.txt",
    ".tools/sam": "requirements-sam.txt",
    ".tools/checkov": "requirements-checkov.txt",
}
FIX = "run `make clean-venv`, then `make test` (it rebuilds the virtualenvs from the locks)"


@dataclass(frozen=True)
class Pin:
    """One line of a lock: `name==version ; marker`, its hashes and what asked for it (uv's `# via`)."""

    name: str
    version: str
    marker: Marker | None = None
    hashes: tuple[str, ...] = ()
    via: tuple[str, ...] = ()

    def applies(self, environment: dict[str, str]) -> bool:
        return self.marker is None or self.marker.evaluate(environment)

    def __str__(self) -> str:
        return f"{self.name}=={self.version}" + (f" ; {self.marker}" if self.marker else "")


def read_lock(path: Path) -> list[Pin]:
    pins: list[dict] = []
    in_via = False
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line:
            continue
        if not raw[0].isspace() and not line.startswith("#"):
            requirement = Requirement(line.rstrip("\\").strip())
            (spec,) = requirement.specifier  # a lock line pins exactly one version
            pins.append({"name": canonicalize_name(requirement.name), "version": spec.version,
                         "marker": requirement.marker, "hashes": [], "via": []})  # fmt: skip
            in_via = False
        elif line.startswith("--hash=") and pins:
            pins[-1]["hashes"].append(line.removeprefix("--hash=").rstrip("\\").strip())
        elif line.startswith("# via") and pins:
            rest = line.removeprefix("# via").strip()
            pins[-1]["via"].extend([rest] if rest else [])
            in_via = not rest
        elif in_via and line.startswith("#   "):
            pins[-1]["via"].append(line.removeprefix("#").strip())
    return [Pin(p["name"], p["version"], p["marker"], tuple(p["hashes"]), tuple(p["via"])) for p in pins]


@dataclass
class Requirements:
    """A requirement file with what it includes (`-r`): the direct requirements, by the file that states each,
    and the locks it is constrained by (`-c`)."""

    direct: list[tuple[Requirement, str]] = field(default_factory=list)
    constraints: list[Path] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


def read_requirements(path: Path, root: Path, into: Requirements | None = None) -> Requirements:
    into = into or Requirements()
    into.files.append(path.relative_to(root).as_posix())
    for raw in path.read_text().splitlines():
        line = re.sub(r"(^|\s)#.*$", "", raw).strip()
        if not line:
            continue
        if line.startswith(("-r ", "--requirement ")):
            read_requirements((path.parent / line.split(maxsplit=1)[1]).resolve(), root, into)
        elif line.startswith(("-c ", "--constraint ")):
            into.constraints.append((path.parent / line.split(maxsplit=1)[1]).resolve())
        elif line.startswith("-"):
            raise ValueError(f"{path.name}: option {line!r} is not understood by the lock check")
        else:
            into.direct.append((Requirement(line), path.relative_to(root).as_posix()))
    return into


def lock_pairs(root: Path = ROOT) -> list[tuple[Path, Path]]:
    """Every requirement file with its lock beside it (the functions' packages' too: functions/packages/*)."""
    patterns = ("requirements*.in", "*/requirements*.in", "functions/packages/*/requirements*.in")
    sources = sorted({source for pattern in patterns for source in root.glob(pattern)})
    return [(source, source.with_suffix(".txt")) for source in sources]


def lock_problems(source: Path, lock: Path, root: Path = ROOT) -> list[str]:
    """What makes `lock` not the compiled form of `source`, found without the network: a requirement with no pin
    that satisfies it, a pin for a requirement that is gone, a pin without hashes, a version that differs from
    a lock it is constrained by."""
    name = lock.relative_to(root).as_posix()
    if not lock.exists():
        return [f"{name} is missing: run `make lock`"]
    wanted = read_requirements(source, root)
    pins = read_lock(lock)
    by_name: dict[str, list[Pin]] = {}
    for pin in pins:
        by_name.setdefault(pin.name, []).append(pin)
    problems = []
    for requirement, stated_in in wanted.direct:
        found = by_name.get(canonicalize_name(requirement.name), [])
        if not any(requirement.specifier.contains(pin.version, prereleases=True) for pin in found):
            have = ", ".join(pin.version for pin in found) or "nothing"
            problems.append(f"{stated_in} asks for {requirement}; {name} pins {have}")
    stated = {canonicalize_name(r.name) for r, _ in wanted.direct}
    for pin in pins:
        if any(via.startswith("-r ") for via in pin.via) and pin.name not in stated:
            problems.append(f"{name} pins {pin} for a requirement file that no longer asks for it")
        if not pin.hashes:
            problems.append(f"{name} pins {pin} without a hash")
    for constraint in wanted.constraints:
        fixed = {(pin.name, str(pin.marker)): pin.version for pin in read_lock(constraint)}
        for pin in pins:
            if (other := fixed.get((pin.name, str(pin.marker)), pin.version)) != pin.version:
                problems.append(f"{name} pins {pin}, {constraint.relative_to(root)} pins {other}")
    return [f"{problem}: run `make lock`" for problem in problems]


def environment_drift(lock: Path, installed: dict[str, str], environment: dict[str, str]) -> list[str]:
    """How a virtualenv differs from its lock: packages missing, at another version, or not in the lock."""
    wanted = {pin.name: pin.version for pin in read_lock(lock) if pin.applies(environment)}
    drift = [f"{name}: {installed.get(name, 'not installed')}, the lock says {version}"
             for name, version in sorted(wanted.items()) if installed.get(name) != version]  # fmt: skip
    drift += [f"{name}: {installed[name]} installed, not in the lock" for name in sorted(installed.keys() - wanted)]
    return drift


def installed_in(venv: Path) -> tuple[dict[str, str], dict[str, str]]:
    """A virtualenv's installed packages (name -> version) and the marker environment of its Python."""
    site_packages = next(venv.glob("lib/python3.*/site-packages"))
    distributions = importlib.metadata.distributions(path=[str(site_packages)])
    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in distributions}
    version = site_packages.parent.name.removeprefix("python")
    config = dict(line.split(" = ", 1) for line in (venv / "pyvenv.cfg").read_text().splitlines() if " = " in line)
    full = config.get("version_info") or config.get("version") or f"{version}.0"
    environment = {**default_environment(), "python_version": version, "python_full_version": full}
    return installed, environment


def venv_drift(root: Path = ROOT, venvs: dict[str, str] = VENVS) -> list[str]:
    """Every difference between the project's virtualenvs (those that exist) and their locks."""
    found = []
    for venv, lock in venvs.items():
        if (root / venv / "pyvenv.cfg").exists():
            installed, environment = installed_in(root / venv)
            found += [f"{venv}: {line}" for line in environment_drift(root / lock, installed, environment)]
    return found


def compiled_again(source: Path, lock: Path, compile_command: str, root: Path = ROOT) -> Iterator[str]:
    """Compiles `source` again into a scratch copy of `lock` (uv keeps every pin it can) and yields the pins that
    would change; changed hashes alone (a release that gained a wheel) are not a disagreement."""
    with tempfile.TemporaryDirectory() as scratch:
        again = Path(scratch) / lock.name
        shutil.copyfile(lock, again)
        command = [*shlex.split(compile_command), str(source.relative_to(root)), "-o", str(again)]
        result = subprocess.run(command, cwd=root, capture_output=True, text=True)
        if result.returncode:
            yield f"{' '.join(command[:3])} {source.name} failed: {result.stderr.strip()}"
            return
        before, after = {str(p) for p in read_lock(lock)}, {str(p) for p in read_lock(again)}
    yield from (f"{lock.relative_to(root)} would drop {pin}: run `make lock`" for pin in sorted(before - after))
    yield from (f"{lock.relative_to(root)} would add {pin}: run `make lock`" for pin in sorted(after - before))


def report(problems: Iterable[str]) -> int:
    problems = list(problems)
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.lockfile", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="every lock agrees with its requirement file")
    check.add_argument("--compile", help="the Makefile's compile command: also compile each again and compare")
    commands.add_parser("env", help="the virtualenvs agree with their locks")
    args = parser.parse_args(argv)
    if args.command == "env":
        drift = venv_drift()
        return report([*drift, FIX] if drift else [])
    problems = [problem for source, lock in lock_pairs() for problem in lock_problems(source, lock)]
    if args.compile and not problems:
        problems = [line for source, lock in lock_pairs() for line in compiled_again(source, lock, args.compile)]
    return report(problems)


if __name__ == "__main__":
    sys.exit(main())
