"""devstack as a developer meets it: `python -m devstack up` starts, serves web + API on one origin,
answers like API Gateway, reports a taken port, and leaves nothing running once stopped."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.e2e.devstack_process import ROOT, leftovers, start_devstack


def test_startup_prints_the_url_within_60_seconds(devstack):
    assert devstack.startup_seconds < 60, devstack.output
    assert f"devstack ready: {devstack.url}" in devstack.lines
    assert any(f"{devstack.url}/" in line for line in devstack.lines if "Web + API" in line)
    assert any("persists" in line for line in devstack.lines)  # says what survives a restart
    assert devstack.state["url"] == f"{devstack.url}/" and devstack.state["api_url"] == f"{devstack.url}/api"


def test_the_startup_report_shows_steps_and_skipped_types(devstack):
    output = devstack.output
    for step in ("emulator", "translate", "provision", "runtime", "gateway", "bootstrap"):
        assert any(line.strip().startswith(step) and " ms" in line for line in devstack.lines), (step, output)
    assert "AWS::EventSchemas::Schema" in output and "not in moto" in output


def test_the_bootstrap_admin_can_sign_in(devstack):
    assert devstack.admin_email == "admin@ates.local" and devstack.admin_password
    response = requests.post(
        f"{devstack.api_url}/auth/login",
        timeout=30,
        json={"email": devstack.admin_email, "password": devstack.admin_password},
    )
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "Bearer"


@pytest.mark.skipif(not (ROOT / "web" / "index.html").exists(), reason="web/index.html does not exist yet")
def test_the_web_shell_is_served_at_the_root(devstack):
    index = requests.get(f"{devstack.url}/", timeout=10)
    assert index.status_code == 200 and index.headers["Content-Type"].startswith("text/html")
    assert index.content == (ROOT / "web" / "index.html").read_bytes()
    assert requests.get(f"{devstack.url}/some/client/route", timeout=10).content == index.content
    scripts = sorted(p.name for p in (ROOT / "web").glob("*.js"))
    if scripts:
        script = requests.get(f"{devstack.url}/{scripts[0]}", timeout=10)
        assert script.headers["Content-Type"].startswith("text/javascript")


def test_an_unknown_api_route_is_a_404_json_error(devstack):
    response = requests.get(f"{devstack.api_url}/no/such/route", timeout=10)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_a_guarded_route_without_a_token_is_401(devstack):
    response = requests.get(f"{devstack.api_url}/auth/me", timeout=10)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert response.json()["error"]["message"]


def test_the_devstack_pages_answer(devstack):
    mailbox = requests.get(f"{devstack.url}/_devstack/mailbox", timeout=10)
    assert mailbox.status_code == 200 and "devstack mailbox" in mailbox.text
    assert isinstance(requests.get(f"{devstack.url}/_devstack/mailbox.json", timeout=10).json()["items"], list)
    health = requests.get(f"{devstack.url}/_devstack/health", timeout=10).json()
    assert health["status"] == "ok" and "AuthApiFunction" in health["functions"]
    assert requests.post(f"{devstack.url}/_devstack/sweep", timeout=30).status_code == 200


def test_the_cli_reaches_the_running_devstack(devstack):
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "devstack", *args, "--state-file", str(devstack.state_file)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )

    swept = cli("sweep")
    assert swept.returncode == 0 and '"deleted"' in swept.stdout, swept
    unknown = cli("run-schedule", "NoSuchSchedule")
    assert unknown.returncode == 1 and "no schedule" in unknown.stderr, unknown


def test_a_taken_port_is_a_clear_error_before_anything_starts(devstack, tmp_path):
    started = time.monotonic()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "devstack",
            "up",
            "--port",
            str(devstack.port),
            "--state-file",
            str(tmp_path / "s.json"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result
    assert f"port {devstack.port}" in result.stderr and "already in use" in result.stderr
    assert time.monotonic() - started < 10 and not (tmp_path / "s.json").exists()


@pytest.fixture(scope="module")
def two_more(tmp_path_factory):
    """Two more devstacks, started side by side (to keep the module fast), with warm workers."""
    tmp = tmp_path_factory.mktemp("stop")
    with ThreadPoolExecutor(2) as pool:
        stacks = list(pool.map(lambda _: start_devstack(tmp, "--no-bootstrap", "--sweep-interval", "0"), range(2)))
    for stack in stacks:  # cold-start workers, so there are worker processes to leave behind
        requests.get(f"{stack.url}/api/auth/me", headers={"Authorization": "Bearer x"}, timeout=30)
        requests.post(f"{stack.url}/api/auth/login", json={"email": "a@b.c", "password": "x"}, timeout=30)
    yield stacks
    for stack in stacks:
        if stack.process.poll() is None:
            stack.stop(signal.SIGKILL, group=True)


@pytest.mark.parametrize(
    ("index", "sig", "group"),
    [(0, signal.SIGTERM, False), (1, signal.SIGINT, True)],
    ids=["sigterm", "sigint-to-the-group"],
)
def test_stopping_leaves_no_process_behind(two_more, index, sig, group):
    stack = two_more[index]
    running = leftovers(stack.instance)
    assert any("devstack.worker" in cmd for cmd in running), running  # workers and the emulator were up
    assert len(running) >= 3, running
    assert stack.stop(sig, group=group) == 0, stack.output
    deadline = time.monotonic() + 5
    while leftovers(stack.instance) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert leftovers(stack.instance) == []
    assert "devstack: stopping" in stack.output
    assert not Path(stack.state_file).exists()  # the state file is removed on a clean stop
