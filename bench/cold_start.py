"""What a cold start costs the caller, per HTTP function, through devstack: the handler's import (devstack's
`Init Duration`, as Lambda reports it) plus its first invocation (the cold call's `Duration`), next to the same
request warm and to a bare `import boto3` on that function's own import path (bench.import_time's probe).

bench.import_time measures the import alone; an import moved from a module to its first use lowers that figure
and raises the first invocation's, so `cold_ratio_to_boto3` ((init + first invocation) / `import boto3`) is the
figure that says whether a cold start got cheaper or its cost only moved.

Each round makes the measured functions cold by changing a variable their handlers do not read (devstack
retires a function's warm workers on a configuration change, as Lambda does), then sends one request per
function as the bootstrap admin, then the same request again (warm), and times a bare `import boto3` right after:
the ratio is the median of each round's. Medians over ROUNDS (ATES_BENCH_ROUNDS).
Keep devstack's logs with ATES_BENCH_DIR=DIR.
Routes that read data read a fresh stack's (the admin, its account); `POST /auth/login` is left out: its
password hash (argon2id, R-SEC-2) is most of any login and would hide the rest.
"""

from __future__ import annotations

import json
import os
import re
import signal
import statistics
import tempfile
from pathlib import Path

import requests

from bench.import_time import handlers, import_seconds
from devstack.launcher import start_devstack
from tests.contract.packages import functions

ROUNDS = int(os.environ.get("ATES_BENCH_ROUNDS", "5"))
# function -> the request that runs it (path under /api, with the admin's token)
REQUESTS = {
    "AuthorizerFunction": "/auth/me",
    "AuthApiFunction": "/auth/me",
    "StaffApiFunction": "/staff/employees",
    "TasksApiFunction": "/tasks?assignee_id=me",
    "AccountingApiFunction": "/accounting/me",
    "AnalyticsApiFunction": "/analytics/dashboard",
    "OpsApiFunction": "/ops/dead-letters",
}
REPORT = re.compile(r"^REPORT RequestId: \S+ Duration: ([\d.]+) ms .*?(?:Init Duration: ([\d.]+) ms)?(?: Status|$)")


def reports(log: Path) -> list[tuple[float, float | None]]:
    """(duration ms, init ms or None) of each invocation the function's log reports, oldest first."""
    found = []
    for line in log.read_text().splitlines() if log.exists() else []:
        match = REPORT.match(line)
        if match:
            found.append((float(match[1]), float(match[2]) if match[2] else None))
    return found


def _ratio(init: float, first: float, bare_boto3: float) -> float:
    return (init + first) / bare_boto3


def run(rounds: int = ROUNDS) -> dict:
    modules = {f.logical_id: f.module for f in functions()}
    samples: dict[str, dict[str, list[float]]] = {name: {"init": [], "first": [], "warm": []} for name in REQUESTS}
    boto3: dict[str, list[float]] = {name: [] for name in REQUESTS}
    with tempfile.TemporaryDirectory() as scratch:
        paths = handlers(Path(scratch) / "sites")
        where = Path(os.environ.get("ATES_BENCH_DIR") or scratch)
        stack = start_devstack(where)
        try:
            logs = where / f"logs-{stack.instance}"
            session = requests.Session()
            login = {"email": stack.admin_email, "password": stack.admin_password}
            for _ in range(3):  # a cold start plus the password hash can outlast the timeout on a busy machine
                signed_in = session.post(f"{stack.api_url}/auth/login", json=login, timeout=120)
                if signed_in.status_code == 200:
                    break
            assert signed_in.status_code == 200, signed_in.text
            token = signed_in.json()["access_token"]
            session.headers["Authorization"] = f"Bearer {token}"
            for round_ in range(rounds):
                for name, path in REQUESTS.items():
                    # retired just before its request: the authorizer and the API of /auth/me are measured apart
                    retire = session.post(
                        f"{stack.url}/_devstack/functions/{name}/environment", json={"BENCH_ROUND": str(round_)}
                    )
                    assert retire.status_code == 200, retire.text
                    log = logs / f"{name}.log"
                    seen = len(reports(log))
                    for _ in ("cold", "warm"):
                        response = session.get(f"{stack.api_url}{path}", timeout=120)
                        assert response.status_code == 200, f"{path}: {response.status_code} {response.text}"
                    (first, init), (warm, _) = reports(log)[seen : seen + 2]
                    if init is None:
                        raise AssertionError(f"{name}: the first call after retiring its workers was not cold")
                    samples[name]["init"].append(init)
                    samples[name]["first"].append(first)
                    samples[name]["warm"].append(warm)
                    path_, env = paths[modules[name]]  # paired, as bench.import_time pairs: a busy machine slows both
                    boto3[name].append(import_seconds("boto3", path_, env) * 1000)
        finally:
            stack.stop(signal.SIGTERM)
    median = statistics.median
    figures = {}
    for name, measured in samples.items():
        init, first, warm = (median(measured[kind]) for kind in ("init", "first", "warm"))
        bare = median(boto3[name])
        figures[name] = {
            "init_ms": round(init, 1),
            "first_invocation_ms": round(first, 1),
            "warm_invocation_ms": round(warm, 1),
            "import_boto3_ms": round(bare, 1),
            "cold_ms": round(init + first, 1),
            "cold_ratio_to_boto3": round(median(map(_ratio, measured["init"], measured["first"], boto3[name])), 2),
        }
    return {"cold_start_rounds": rounds, "cold_start": figures}


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
