"""Fixtures every test layer shares: an emulator process for integration tests, AWS settings that point
boto3 at it (through `AWS_ENDPOINT_URL` only, exactly as devstack does), and a helper to make tables."""

from __future__ import annotations

import os
import re
import signal
import sys
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from xdist.scheduler import LoadFileScheduling

from devstack.launcher import Devstack, DevstackNotReady, start_devstack
from tests import lockfile

FAKE_AWS = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_SAM_LOCAL": "true",  # powertools' Tracer disables itself, as under `sam local`
    "POWERTOOLS_METRICS_NAMESPACE": "aTES",
    "POWERTOOLS_SERVICE_NAME": "tests",
}


def pytest_configure(config: pytest.Config) -> None:
    """The tests run only on the locked environment (issue 13): a package upgraded by hand once made the suite
    red on one machine and green on another. `ATES_ALLOW_UNLOCKED=1` runs anyway, e.g. to try an upgrade."""
    if hasattr(config, "workerinput") or os.environ.get("ATES_ALLOW_UNLOCKED"):
        return  # the controlling process has checked
    venvs = {**lockfile.VENVS, sys.prefix: "requirements-dev.txt"}
    del venvs[".venv"]  # the running interpreter's, wherever it is
    if drift := lockfile.venv_drift(config.rootpath, venvs):
        shown = "\n  ".join(drift[:20] + ([f"... and {len(drift) - 20} more"] if len(drift) > 20 else []))
        raise pytest.UsageError(f"the virtualenvs differ from their locks:\n  {shown}\n{lockfile.FIX}")


@pytest.fixture(scope="session")
def emulator() -> Iterator[str]:
    """A patched moto server of our own for the whole session; yields its endpoint URL.
    `ATES_TEST_ENDPOINT=http://...` runs the tests against an emulator that is already running."""
    endpoint = os.environ.get("ATES_TEST_ENDPOINT")
    process = None
    if not endpoint:
        from devstack import emulator as emu

        port = emu.free_port()
        process = emu.start(port)
        endpoint = f"http://127.0.0.1:{port}"
    saved = {k: os.environ.get(k) for k in [*FAKE_AWS, "AWS_ENDPOINT_URL"]}
    os.environ.update(FAKE_AWS, AWS_ENDPOINT_URL=endpoint)
    _forget_clients()
    try:
        yield endpoint
    finally:
        if process is not None:
            emu.stop(process)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        _forget_clients()


def _forget_clients() -> None:
    """Clients are cached per process (as in Lambda); a new endpoint needs new clients."""
    from shared.aws import client

    client.cache_clear()


def make_table(name: str, *, stream: bool = True) -> str:
    """A table of the single-table shape every context uses (pk/sk, stream of new images)."""
    from shared.aws import client

    params = {
        "TableName": name,
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                                 {"AttributeName": "sk", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        "BillingMode": "PAY_PER_REQUEST",
    }  # fmt: skip
    if stream:
        params["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    client("dynamodb").create_table(**params)
    return name


@pytest.fixture(scope="session")
def devstack(tmp_path_factory) -> Iterator[Devstack]:
    """One real `python -m devstack up` for the whole session (e2e and browser tests share it), reached
    over HTTP; ready within 90 s or the tests fail with its output; stopped with SIGTERM at the end."""
    yield from own_devstack(tmp_path_factory, "session")


def own_devstack(tmp_path_factory: pytest.TempPathFactory, name: str, *options: str) -> Iterator[Devstack]:
    """A running devstack for a fixture to yield (`yield from own_devstack(...)`): a story that closes the
    day or breaks a consumer gets a stack of its own, so the others never see it. `options` go to `up`."""
    try:
        stack = start_devstack(tmp_path_factory.mktemp(f"{name}-devstack"), *options)
    except DevstackNotReady as error:
        pytest.fail(str(error), pytrace=False)
    RUNNING.append(stack)
    try:
        yield stack
    finally:
        RUNNING.remove(stack)
        stack.stop(signal.SIGTERM)


# A test failing on a running stack (an event that never arrived, a 5xx) shows what its functions' logs say went
# wrong: they are in pytest's temporary directory, which a CI run does not keep. Lines are shown once, new.
RUNNING: list[Devstack] = []
TROUBLE = re.compile(r"Status: error|left for redelivery|gave up|dropping|died|failed, retrying|Traceback")
TROUBLE_PER_LOG = 10
_trouble_read: dict[str, tuple[float, str]] = {}  # instance -> (when, text): a fixture's error fails many tests
_trouble_shown: set[tuple[str, str]] = set()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if not report.failed:
        return
    for stack in RUNNING:
        text = _trouble(stack)
        if text and (stack.instance, text) not in _trouble_shown:
            _trouble_shown.add((stack.instance, text))
            report.sections.append((f"devstack {stack.instance[:8]}: trouble in its functions' logs", text))


def _trouble(stack: Devstack) -> str:
    """The last lines of each of the stack's function logs that say something failed (read at most every 30 s)."""
    read = _trouble_read.get(stack.instance)
    if read is not None and time.monotonic() - read[0] < 30:
        return read[1]
    found: list[str] = []
    for log in sorted(stack.log_dir.glob("*.log")) if stack.log_dir else []:
        try:
            lines = [line for line in log.read_text(errors="replace").splitlines() if TROUBLE.search(line)]
        except OSError:
            continue
        found += [f"[{log.stem}] {line[:300]}" for line in lines[-TROUBLE_PER_LOG:]]
    _trouble_read[stack.instance] = (time.monotonic(), "\n".join(found))
    return _trouble_read[stack.instance][1]


# The longest units of work start first, so the other test process gets through everything else alongside
# them instead of waiting at the end (each takes minutes on a loaded 2-core machine).
LONGEST_FIRST = ("tests/integration/test_reference_model.py", "tests/security/", "tests/contract/test_template.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.path.relative_to(config.rootpath).as_posix()
        return next((i for i, prefix in enumerate(LONGEST_FIRST) if path.startswith(prefix)), len(LONGEST_FIRST))

    items.sort(key=rank)  # stable: the rest keep their order
    seen = Counter(item.nodeid for item in items)
    if twice := sorted(nodeid for nodeid, count in seen.items() if count > 1):
        # pytest-xdist schedules by id: all but one of each would silently not run (pytest 9.2 with
        # schemathesis 4.32 gave every operation of a schema the same id).
        raise pytest.UsageError(f"{len(twice)} test ids are not unique, e.g. {twice[0]}")


class FileOrPackageScheduling(LoadFileScheduling):
    """A file at a time per process, except the security package: its files share one devstack."""

    def _split_scope(self, nodeid: str) -> str:
        path = super()._split_scope(nodeid)
        return "tests/security" if path.startswith("tests/security/") else path


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`make test`'s processes (pytest-xdist, `--dist loadfile`) take files in collection order, longest first
    (not xdist's most-tests-first). Not `xdist_group` marks: pytest 9.2 made xdist's loadgroup ignore them
    (pytest-dev/pytest-xdist#1386), and it split files silently."""
    if config.getvalue("dist") != "loadfile":
        return None
    config.option.loadscopereorder = False
    return FileOrPackageScheduling(config, log)
