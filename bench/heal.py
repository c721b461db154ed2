"""How long devstack takes to heal when one of its processes dies (issue 15 point 4): `kill -9` of the emulator
and of an idle function worker, ROUNDS times each, on an otherwise idle stack.

Figures, in seconds: the supervisor's own measure (death noticed -> restarted and provisioned again, from
`GET /_devstack/health`; a worker's replacement from its console line), and what a client sees: kill -9 -> the
first answer that is not a 503 (a sign-in with an unknown email: 401 once the auth function reads its table
again; it includes the cold start of the functions whose environment changed). Until the emulator's state is
durable, each restart comes back empty and is provisioned in full.

    python -m bench.heal
"""

from __future__ import annotations

import json
import os
import re
import signal
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import requests

from devstack.launcher import Devstack, start_devstack

ROUNDS = 3
LIMIT = 120.0  # seconds: a heal that takes longer is reported as a failure


def _pids(stack: Devstack, needle: bytes, **variables: str) -> list[int]:
    wanted = [f"{k}={v}".encode() for k, v in {"DEVSTACK_INSTANCE": stack.instance, **variables}.items()]
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environment = (entry / "environ").read_bytes().split(b"\0")
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if needle in command and all(item in environment for item in wanted):
            found.append(int(entry.name))
    return found


def _first_answer(stack: Devstack, since: float) -> float:
    """Seconds from `since` to the first sign-in answered by the auth function (not a 503)."""
    while time.monotonic() - since < LIMIT:
        body = {"email": f"nobody-{uuid.uuid4().hex[:8]}@ates.example", "password": "not-a-password-at-all"}
        response = requests.post(f"{stack.api_url}/auth/login", json=body, timeout=30)
        if response.status_code == 401:
            return time.monotonic() - since
        time.sleep(0.1)
    raise TimeoutError(f"no answer within {LIMIT} s")


def _line(stack: Devstack, pattern: str, after: int) -> re.Match[str]:
    deadline = time.monotonic() + LIMIT
    while time.monotonic() < deadline:
        for line in stack.lines[after:]:
            if found := re.search(pattern, line):
                return found
        time.sleep(0.05)
    raise TimeoutError(f"no console line like {pattern!r} within {LIMIT} s")


def run() -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        stack = start_devstack(Path(os.environ.get("ATES_BENCH_DIR") or scratch))
        try:
            _first_answer(stack, time.monotonic())  # warm: the auth function has a worker
            answers, replaced, worker_answers = [], [], []
            for _ in range(ROUNDS):
                [worker] = _pids(stack, b"devstack.worker", AWS_SDK_UA_APP_ID="AuthApiFunction")
                mark, killed = len(stack.lines), time.monotonic()
                os.kill(worker, signal.SIGKILL)
                worker_answers.append(_first_answer(stack, killed))
                found = _line(stack, r"the worker of AuthApiFunction was replaced .* in ([0-9.]+) s", mark)
                replaced.append(float(found.group(1)))
                time.sleep(1)
            for _ in range(ROUNDS):
                port = stack.endpoint_url.rsplit(":", 1)[1].encode()
                [emulator] = _pids(stack, b"devstack.emulator\0--port\0" + port + b"\0")
                mark, killed = len(stack.lines), time.monotonic()
                os.kill(emulator, signal.SIGKILL)
                _line(stack, r"the emulator is back", mark)
                answers.append(_first_answer(stack, killed))
                time.sleep(2)
            health = requests.get(f"{stack.url}/_devstack/health", timeout=10).json()
        finally:
            stack.stop(signal.SIGTERM)
    restarts = health["supervisor"]["emulator_restart_seconds"]
    return {
        "rounds": ROUNDS,
        "emulator_restart_seconds": restarts,
        "emulator_restart_median_s": round(statistics.median(restarts), 2),
        "emulator_kill_to_first_answer_s": [round(s, 2) for s in answers],
        "worker_replaced_seconds": replaced,
        "worker_kill_to_first_answer_s": [round(s, 2) for s in worker_answers],
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
