"""The third-party packages a function finds, as in Lambda: what its package's and layers' locks install, then
what the Python runtime itself provides (boto3 and what it needs), and nothing else of devstack's environment.

Each is a directory of symlinks into devstack's own virtualenv (which holds every function's dependencies at
the locked versions, requirements-dev.in): a worker runs on `python -S` with these directories on its path,
so a dependency its package does not ship fails to import locally as it would in AWS.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import re
import threading
from collections.abc import Iterable
from functools import cache
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

LOCK = "requirements.txt"  # what sam build installs from a CodeUri or a layer's ContentUri
RUNTIME_PROVIDES = ("boto3",)  # the Lambda Python runtime's own packages (with what they require)
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")
_lock = threading.Lock()


def locks(directories: Iterable[Path]) -> list[Path]:
    return [directory / LOCK for directory in directories if (directory / LOCK).is_file()]


def pinned(lock: Path) -> list[str]:
    """The distributions a lock installs on this interpreter (its pins whose markers hold)."""
    environment = default_environment()
    names = []
    for line in lock.read_text().splitlines():
        match = PIN.match(line)
        if match and (match[3] is None or Requirement(f"x; {match[3]}").marker.evaluate(environment)):  # type: ignore[union-attr]
            names.append(canonicalize_name(match[1]))
    return names


@cache
def required(names: tuple[str, ...]) -> list[str]:
    """`names` and everything they require (no extras), as installed here."""
    environment = {**default_environment(), "extra": ""}
    found: list[str] = []
    pending = list(names)
    while pending:
        name = canonicalize_name(pending.pop())
        if name in found:
            continue
        found.append(name)
        for requirement in map(Requirement, importlib.metadata.requires(name) or []):
            if requirement.marker is None or requirement.marker.evaluate(environment):
                pending.append(requirement.name)
    return found


def site(names: Iterable[str], root: Path) -> Path:
    """A directory of symlinks to these installed distributions, named by what it holds (built once)."""
    names = sorted(set(names))
    directory = root / hashlib.sha256("\n".join(names).encode()).hexdigest()[:16]
    with _lock:
        if not directory.is_dir():
            scratch = directory.with_suffix(".building")
            scratch.mkdir(parents=True, exist_ok=True)
            for name in names:
                distribution = importlib.metadata.distribution(name)
                for top in {file.parts[0] for file in distribution.files or () if file.parts[0] != ".."}:
                    source = Path(str(distribution.locate_file(top)))
                    if source.exists() and not (scratch / top).is_symlink():
                        (scratch / top).symlink_to(source)
            scratch.rename(directory)
    return directory


def sites(directories: Iterable[Path], root: Path) -> list[Path]:
    """The site of what these package and layer directories' locks install, then the runtime's own."""
    shipped = [name for lock in locks(directories) for name in pinned(lock)]
    return [site(shipped, root / "shipped"), site(required(RUNTIME_PROVIDES), root / "runtime")]
