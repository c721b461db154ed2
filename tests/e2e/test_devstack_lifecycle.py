"""devstack as a developer meets it: `python -m devstack up` starts, serves web + API on one origin,
answers like API Gateway, reports a taken port, and leaves nothing running once stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from devstack.launcher import ROOT, free_port, leftovers, start_devstack


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
    assert devstack.admin_email == "admin@ates.example" and devstack.admin_password
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
    first = requests.get(f"{devstack.endpoint_url}/_devstack/health", timeout=10).json()["served_first"]
    assert {"AuthorizerFunction", "AuthApiFunction"} <= set(first) and "AuthMailerFunction" not in first
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


TINY_TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
      StreamSpecification: {StreamViewType: NEW_IMAGE}
  Api:
    Type: AWS::Serverless::Api
    Properties: {StageName: local}
  EchoFunction:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      CodeUri: fns/
      Handler: echo.handler
      Events:
        Echo: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /api/echo, Method: get}}
        Changes: {Type: DynamoDB, Properties: {Stream: !GetAtt Table.StreamArn, StartingPosition: LATEST}}
"""


@pytest.fixture(scope="module")
def more(tmp_path_factory):
    """Three more devstacks of a tiny template (stopping does not depend on the template's size), started
    side by side to keep the module fast, each with a warm worker and a stream poller."""
    tmp = tmp_path_factory.mktemp("stop")
    (tmp / "fns").mkdir()
    (tmp / "fns" / "echo.py").write_text("def handler(event, context):\n    return {'statusCode': 200, 'body': 'hi'}\n")
    (tmp / "template.yaml").write_text(TINY_TEMPLATE)
    options = ("--template", str(tmp / "template.yaml"), "--no-bootstrap", "--sweep-interval", "0")
    with ThreadPoolExecutor(3) as pool:
        stacks = list(pool.map(lambda _: start_devstack(tmp, *options), range(3)))
    for stack in stacks:  # cold-start a worker, so there is a worker process to leave behind
        assert requests.get(f"{stack.url}/api/echo", timeout=30).text == "hi"
    yield stacks
    for stack in stacks:
        if stack.process.poll() is None:
            stack.stop(signal.SIGKILL, group=True)


@pytest.mark.parametrize(
    ("index", "sig", "group"),
    [(0, signal.SIGTERM, False), (1, signal.SIGINT, True)],
    ids=["sigterm", "sigint-to-the-group"],
)
def test_stopping_leaves_no_process_behind(more, index, sig, group):
    stack = more[index]
    running = leftovers(stack.instance)
    assert any("devstack.worker" in cmd for cmd in running), running  # workers and the emulator were up
    assert any("devstack.emulator" in cmd for cmd in running), running
    assert stack.stop(sig, group=group) == 0, stack.output
    deadline = time.monotonic() + 5
    while leftovers(stack.instance) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert leftovers(stack.instance) == []
    assert "devstack: stopping" in stack.output
    assert not Path(stack.state_file).exists()  # the state file is removed on a clean stop


def test_even_kill_9_leaves_nothing_behind(more):
    """No cleanup runs on SIGKILL: the children die with devstack through PR_SET_PDEATHSIG."""
    stack = more[2]
    assert any("devstack.worker" in cmd for cmd in leftovers(stack.instance))
    stack.process.kill()
    stack.process.wait(10)
    deadline = time.monotonic() + 5
    while leftovers(stack.instance) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert leftovers(stack.instance) == []


def test_ctrl_c_during_startup_stops_cleanly(tmp_path):
    instance = uuid.uuid4().hex
    command = [
        sys.executable,
        "-m",
        "devstack",
        "up",
        "--port",
        str(free_port()),
        "--quiet",
        "--state-file",
        str(tmp_path / "state.json"),
        "--log-dir",
        str(tmp_path / "logs"),
        "--state-dir",  # never the checkout's .devstack/state
        str(tmp_path / "state"),
    ]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        env={**os.environ, "DEVSTACK_INSTANCE": instance, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    lines = []
    for line in process.stdout:  # interrupt right after the emulator is up, mid-startup
        lines.append(line)
        if line.strip().startswith("emulator"):
            break
    os.killpg(process.pid, signal.SIGINT)
    output, _ = process.communicate(timeout=20)
    assert process.returncode == 0 and "devstack: stopping (SIGINT)" in output, "".join(lines) + output
    assert "devstack ready" not in output
    deadline = time.monotonic() + 5
    while leftovers(instance) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert leftovers(instance) == []
