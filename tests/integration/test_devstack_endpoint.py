"""`python -m devstack up --endpoint URL` uses an AWS emulator that is already running: it provisions
there, starts no emulator of its own, and leaves that emulator (and its state) alone when it stops."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time

import boto3
import pytest
import requests

from devstack.launcher import free_port, leftovers, start_devstack


@pytest.fixture(scope="module")
def plain_moto():
    """A plain moto server, started by this test (not by devstack)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            assert time.monotonic() < deadline and process.poll() is None, "moto_server did not start"
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}", process
    process.terminate()
    process.wait(10)


def test_devstack_provisions_into_the_given_emulator_and_leaves_it_running(plain_moto, tmp_path):
    endpoint, moto = plain_moto
    stack = start_devstack(tmp_path, "--endpoint", endpoint, "--no-bootstrap", "--sweep-interval", "0")
    try:
        assert stack.endpoint_url == endpoint
        assert any("not started by devstack" in line for line in stack.lines), stack.output
        own = leftovers(stack.instance)
        assert not any("moto" in cmd for cmd in own), own  # no emulator of its own
        dynamodb = boto3.client(
            "dynamodb", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t"
        )
        assert dynamodb.describe_table(TableName="ates-local-AuthTable")["Table"]["TableStatus"] == "ACTIVE"
        response = requests.get(f"{stack.url}/api/auth/.well-known/jwks.json", timeout=30)
        assert response.status_code == 200 and response.json()["keys"]  # functions talk to that emulator
    finally:
        assert stack.stop(signal.SIGTERM) == 0, stack.output
    assert moto.poll() is None  # not devstack's to stop
    assert "ates-local-AuthTable" in dynamodb.list_tables()["TableNames"]
