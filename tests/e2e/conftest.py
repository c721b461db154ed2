"""End-to-end fixtures: one real `python -m devstack up` for the session, reached over HTTP."""

from __future__ import annotations

import signal

import pytest

from tests.e2e.devstack_process import Devstack, start_devstack


@pytest.fixture(scope="session")
def devstack(tmp_path_factory) -> Devstack:
    """One devstack for the whole e2e session (ready within 90 s, or the test fails with its output),
    stopped with SIGTERM at the end."""
    stack = start_devstack(tmp_path_factory.mktemp("devstack"))
    try:
        yield stack
    finally:
        stack.stop(signal.SIGTERM)
