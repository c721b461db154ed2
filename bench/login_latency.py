"""Login round trips over HTTP through devstack (gateway -> warm AuthApiFunction worker -> emulator):
p50 and p99 of N sequential `POST /api/auth/login` with the bootstrap admin."""

from __future__ import annotations

import json
import signal
import statistics
import tempfile
import time
from pathlib import Path

import requests

from devstack.launcher import start_devstack

REQUESTS = 200


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def run(requests_count: int = REQUESTS) -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        stack = start_devstack(Path(scratch))
        try:
            session = requests.Session()
            body = {"email": stack.admin_email, "password": stack.admin_password}
            url = f"{stack.api_url}/auth/login"
            assert session.post(url, json=body, timeout=60).status_code == 200  # warm-up: the cold start
            samples = []
            for _ in range(requests_count):
                started = time.perf_counter()
                response = session.post(url, json=body, timeout=60)
                samples.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, response.text
        finally:
            stack.stop(signal.SIGTERM)
    return {
        "login_requests": requests_count,
        "login_p50_ms": round(statistics.median(samples), 1),
        "login_p99_ms": round(percentile(samples, 0.99), 1),
        "devstack_startup_seconds": round(stack.startup_seconds, 1),
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
