"""Every route a popug or an admin uses daily, on a fresh stack and on a year-old one, in one run (issue 14,
point 3): two devstacks side by side, one seeded with a company-year (`python -m devstack seed`), the other
with a handful of popugs onboarded over HTTP; the same requests go to both, interleaved in rounds so the
machine's noise falls on both alike. Then the year-old stack's day is closed for all its popugs.

    python -m bench.year_routes            # ATES_BENCH_YEAR_POPUGS / _DAYS size the seeded year (1000 / 365)
    ATES_BENCH_YEAR_STATE=DIR python -m bench.year_routes   # a copy of a state seeded before (`make seed`'s
                                                            # .devstack/state): no 15-minute seed

Figures per route: p50 and p90 on each stack and their ratio (target: at most 1.5), the close's wall time
(target: at most 60 s for 1,000 popugs), and the backup accounting takes after the close (SPEC §10): seconds
from the day seen closed to the backup listed (target: at most 10 s), and a DescribeBackup of it. (moto
deep-copied a year's ledger for each backup, 51 s under the emulator's write lock; counting its items built
a year of index views, 54 s.)
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from devstack import aws
from devstack.launcher import Devstack, copy_state, start_devstack
from devstack.seed.run import PASSWORD as SEED_PASSWORD
from tests.e2e.popugs import PASSWORD, Client, eventually, hire, onboard

ROUNDS = 5
PER_ROUND = 6  # requests per route per round and stack
RATIO_TARGET = 1.5
CLOSE_TARGET_SECONDS = 60.0
CLOSE_LIMIT = 900.0
BACKUP_TARGET_SECONDS = 10.0  # a backup's moment under the DynamoDB write lock: far below an API call's 29 s
YEAR_READY_TIMEOUT = 600.0  # seconds for a copy of a seeded year to start (its restart is reported, not judged here)
PAGE = 50  # accounts per page on both stacks: the fresh one gets that many hired, so a page is the same work
TX_PAGE = 50  # a page of one's own transactions (what a popug's ledger page shows)
OPEN_PAGE = 20  # a page of one's own open tasks


def say(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


class Side:
    """One stack and the people who use it: an admin and a few workers."""

    def __init__(
        self, name: str, stack: Devstack, admin: Client, workers: list[tuple[Client, str, str]], password: str
    ) -> None:
        self.name, self.stack, self.admin, self.workers, self.password = name, stack, admin, workers, password
        self.latency: dict[str, list[float]] = defaultdict(list)
        self._assignees: dict[str, Client] = {}
        self._created: tuple[str, Client] | None = None  # the last task created, and its assignee signed in

    def timed(self, route: str, client: Client, method: str, path: str, body: Any = None) -> requests.Response:
        started = time.perf_counter()
        response = client.call(method, path, body)
        self.latency[route].append((time.perf_counter() - started) * 1000)
        if response.status_code >= 400:
            raise RuntimeError(f"{self.name}: {method} {path} -> {response.status_code} {response.text[:300]}")
        return response

    def first_dashboard(self, today: str, tries: int = 8) -> dict[str, Any]:
        """The dashboard until it answers: the local query engine first copies the lake's days not compacted
        yet (a year-old stack's last raw days are ~10,000 objects), keeping its progress between requests;
        each request stops at the query's time limit with a 504 `query_timeout`. How many it took is a figure."""
        started, statuses = time.perf_counter(), []
        while len(statuses) < tries:
            response = self.admin.call("GET", f"/analytics/dashboard?date={today}")
            statuses.append(response.status_code)
            if response.status_code == 200:
                break
            if response.status_code != 504:
                raise RuntimeError(f"{self.name}: dashboard -> {response.status_code} {response.text[:300]}")
        return {"statuses": statuses, "seconds": round(time.perf_counter() - started, 1)}

    def round(self, today: str) -> None:
        month_ago = (datetime.fromisoformat(today) - timedelta(days=29)).date().isoformat()
        for index in range(PER_ROUND):
            worker, email, password = self.workers[index % len(self.workers)]
            started = time.perf_counter()
            login = requests.post(
                f"{self.stack.api_url}/auth/login", json={"email": email, "password": password}, timeout=60
            )
            self.latency["POST /auth/login"].append((time.perf_counter() - started) * 1000)
            if login.status_code != 200:
                raise RuntimeError(f"{self.name}: login {login.status_code} {login.text[:200]}")
            self.timed("GET /auth/me", worker, "GET", "/auth/me")
            task = self.timed("POST /tasks", self.admin, "POST", "/tasks", {"title": f"year bench {index}"}).json()
            self.timed("GET /tasks?assignee_id=me", worker, "GET",
                       f"/tasks?assignee_id=me&status=open&limit={OPEN_PAGE}")  # fmt: skip
            if self._created is not None:  # the task created a step before, so its events have settled as there
                task_id, assignee = self._created
                self.timed("POST /tasks/{id}/complete", assignee, "POST", f"/tasks/{task_id}/complete")
            self._created = (task["task_id"], self._assignee(task["assignee_id"]))
            self.timed("GET /accounting/me/transactions", worker, "GET", f"/accounting/me/transactions?limit={TX_PAGE}")
            self.timed("GET /accounting/stats (30 days)", self.admin, "GET",
                       f"/accounting/stats?from={month_ago}&to={today}")  # fmt: skip
            self.timed("GET /accounting/accounts", self.admin, "GET", f"/accounting/accounts?limit={PAGE}")
            self.timed("GET /analytics/dashboard", self.admin, "GET", f"/analytics/dashboard?date={today}")

    def _assignee(self, employee_id: str) -> Client:
        """A task's assignee, signed in (not measured): each step completes the task the step before created, so
        both stacks complete one a step (a year-old stack's four chosen workers are rarely the assignee of a
        new task among 1,000 popugs: they completed their few seeded open tasks, a handful of samples a run)."""
        if employee_id not in self._assignees:
            email = self.admin.call("GET", f"/staff/employees/{employee_id}").json()["email"]
            self._assignees[employee_id] = Client.signed_in(self.stack.api_url, email, self.password)
        return self._assignees[employee_id]


def _seed(stack: Devstack, popugs: int, days: int) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "devstack", "seed", "--popugs", str(popugs), "--days", str(days),
         "--state-file", str(stack.state_file)],
        stdout=subprocess.PIPE, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"devstack seed exited {done.returncode}")
    return json.loads(done.stdout)


def _full_pages(stack: Devstack, admin: Client, workers: list[tuple[Client, str, str]]) -> None:
    """The fresh stack's answers as big as the year-old one's, so a ratio is what the year's data costs, not a
    bigger answer: a full page of accounts (PAGE hired, made managers so that tasks go to the workers only),
    and each worker a full page of transactions (TX_PAGE: creation fees, then shuffle fees) and of open tasks
    (OPEN_PAGE), as a seeded popug has."""
    for i in range(PAGE):
        employee_id, _ = hire(admin, f"Hired{i}")
        eventually(lambda e=employee_id: admin.call("PUT", f"/auth/accounts/{e}/roles", {"roles": ["manager"]})
                   .status_code == 200, f"Hired{i} a manager", timeout=120)  # fmt: skip
    for i in range(OPEN_PAGE * len(workers)):
        admin.call("POST", "/tasks", {"title": f"fresh page {i}"})
    for _ in range(TX_PAGE // OPEN_PAGE):
        job = eventually(lambda: (r := admin.call("POST", "/tasks/shuffle")).status_code == 202 and r.json(),
                         "a shuffle started", timeout=120)  # fmt: skip
        eventually(lambda j=job: admin.call("GET", f"/tasks/shuffles/{j['job_id']}").json().get("status") == "done",
                   "the shuffle done", timeout=300)  # fmt: skip

    def full(client: Client) -> bool:
        ledger = client.call("GET", f"/accounting/me/transactions?limit={TX_PAGE}").json()["items"]
        mine = client.call("GET", f"/tasks?assignee_id=me&status=open&limit={OPEN_PAGE}").json()["items"]
        if len(ledger) >= TX_PAGE and len(mine) >= OPEN_PAGE // 2:
            return True
        if len(mine) < OPEN_PAGE // 2 or len(ledger) < TX_PAGE:  # the shuffles dealt this one few (assignment
            admin.call("POST", "/tasks", {"title": "fresh page, one more"})  # is random): one more, and its fee
        return False

    for client, email, _ in workers:
        eventually(lambda c=client: full(c), f"full pages for {email}", timeout=300)
    eventually(lambda: len(admin.call("GET", f"/accounting/accounts?limit={PAGE}").json()["items"]) >= PAGE,
               f"{PAGE} accounts on the fresh stack", timeout=120)  # fmt: skip


def _pack_lake(stack: Devstack) -> None:
    """Run the lake's packing now (analytics/pack.py: every 5 minutes): the fresh stack's set-up has just landed
    hundreds of one-event objects, which its dashboard would otherwise read one by one until the next run."""
    listed = requests.get(f"{stack.url}/_devstack/schedules", timeout=60).json()["items"]
    name = next(s["name"] for s in listed if s["function"] == "AnalyticsPackFunction")
    ran = requests.post(f"{stack.url}/_devstack/schedules/{name}/run", timeout=600)
    if ran.status_code != 200:
        raise RuntimeError(f"packing the lake -> {ran.status_code} {ran.text[:300]}")


def _seeded_workers(stack: Devstack, admin: Client, count: int) -> list[tuple[Client, str, str]]:
    """Seeded popugs who hold only the worker role (they can be assigned and complete tasks)."""
    found, cursor = [], None
    while len(found) < count:
        page = admin.call("GET", "/auth/accounts?limit=100" + (f"&cursor={cursor}" if cursor else "")).json()
        for account in page["items"]:
            if account.get("roles") == ["worker"] and account.get("active", True) and len(found) < count:
                found.append(account["email"])
        cursor = page.get("next_cursor")
        if not cursor:
            break
    return [(Client.signed_in(stack.api_url, email, SEED_PASSWORD), email, SEED_PASSWORD) for email in found]


def _close(side: Side, day: str) -> dict[str, Any]:
    started = time.monotonic()
    pressed = side.admin.call("POST", f"/accounting/days/{day}/close")
    if pressed.status_code != 202:
        return {"error": f"close -> {pressed.status_code} {pressed.text[:300]}"}
    while time.monotonic() - started < CLOSE_LIMIT:
        status = side.admin.call("GET", f"/accounting/days/{day}").json()
        if status.get("status") == "closed":
            return {"seconds": round(time.monotonic() - started, 1), **status}
        time.sleep(1.0)
    return {"error": f"not closed within {CLOSE_LIMIT} s"}


def _after_close_backup(side: Side, day: str) -> dict[str, Any]:
    """Seconds from the day seen closed (now) until accounting's after-close backup of it is listed, and what
    one DescribeBackup of it takes."""
    closed = time.monotonic()
    dynamodb = aws.client("dynamodb", side.stack.endpoint_url)
    table = next(name for name in dynamodb.list_tables()["TableNames"] if "AccountingTable" in name)
    while time.monotonic() - closed < CLOSE_LIMIT:
        listed = dynamodb.list_backups(TableName=table)["BackupSummaries"]
        backup = next((b for b in listed if b["BackupName"].endswith(day)), None)
        if backup is not None:
            listed_after = time.monotonic() - closed
            started = time.monotonic()
            items = dynamodb.describe_backup(BackupArn=backup["BackupArn"])["BackupDescription"]
            return {
                "seconds_after_closed": round(listed_after, 1),
                "describe_seconds": round(time.monotonic() - started, 2),
                "items": items["SourceTableDetails"]["ItemCount"],
            }
        time.sleep(0.5)
    return {"error": f"no after-close backup within {CLOSE_LIMIT} s"}


def _figures(fresh: Side, year: Side) -> dict[str, Any]:
    routes = {}
    for route, fresh_ms in fresh.latency.items():
        year_ms = year.latency.get(route) or [float("nan")]
        f50, y50 = statistics.median(fresh_ms), statistics.median(year_ms)
        f90, y90 = (statistics.quantiles(ms, n=10)[-1] if len(ms) > 1 else ms[0] for ms in (fresh_ms, year_ms))
        routes[route] = {
            "count": len(fresh_ms), "year_count": len(year.latency.get(route, [])),
            "fresh_p50_ms": round(f50, 1), "year_p50_ms": round(y50, 1),
            "fresh_p90_ms": round(f90, 1), "year_p90_ms": round(y90, 1),
            "ratio_p50": round(y50 / f50, 2), "ratio_p90": round(y90 / f90, 2),
        }  # fmt: skip
    return routes


def run() -> dict[str, Any]:
    popugs = int(os.environ.get("ATES_BENCH_YEAR_POPUGS") or 1000)
    days = int(os.environ.get("ATES_BENCH_YEAR_DAYS") or 365)
    today = datetime.now(UTC).date().isoformat()  # devstack's business timezone is UTC
    seeded = os.environ.get("ATES_BENCH_YEAR_STATE")
    with tempfile.TemporaryDirectory() as scratch_fresh, tempfile.TemporaryDirectory() as scratch_year:
        fresh_stack = start_devstack(Path(scratch_fresh), "--workers", "2")
        year_options = ["--workers", "2"]
        if seeded:  # the run changes its state (tasks, a closed day): a copy of it
            say(f"copying the seeded state {seeded}...")
            year_options += ["--state-dir", str(copy_state(seeded, Path(scratch_year)))]
        # a year's snapshot loads in 40 to 90 s on this machine (the restart is a figure, not a limit here)
        year_stack = start_devstack(Path(scratch_year), *year_options, ready_timeout=YEAR_READY_TIMEOUT)
        try:
            started = time.monotonic()
            if seeded:
                summary = {"state": seeded, "restart_seconds": round(year_stack.startup_seconds, 1)}
            else:
                say(f"seeding a year of {popugs} popugs, {days} days...")
                summary = _seed(year_stack, popugs, days)
            seed_seconds = time.monotonic() - started
            sides = []
            for name, stack in (("fresh", fresh_stack), ("year", year_stack)):
                admin = Client.signed_in(stack.api_url, stack.admin_email, stack.admin_password)
                if name == "fresh":
                    people = [onboard(stack, admin, f"Fresh{i}") for i in range(4)]
                    workers = [(c, c.call("GET", "/auth/me").json()["email"], PASSWORD) for c in people]
                    _full_pages(stack, admin, workers)
                else:
                    workers = _seeded_workers(stack, admin, 4)
                sides.append(Side(name, stack, admin, workers, PASSWORD if name == "fresh" else SEED_PASSWORD))
            fresh, year = sides
            for side in sides:  # both lakes as the 5-minute packing leaves them, not one with a burst of singles
                _pack_lake(side.stack)
            first_dashboards = {side.name: side.first_dashboard(today) for side in sides}
            say(f"first dashboards: {first_dashboards}")
            for number in range(ROUNDS):
                for side in (fresh, year) if number % 2 == 0 else (year, fresh):
                    _pack_lake(side.stack)  # each round reads its own landings only, not up to 5 minutes of them
                    side.round(today)
                say(f"round {number + 1}/{ROUNDS} done")
            time.sleep(5)  # the last fees and rewards reach the ledgers before the close reads them
            say(f"closing {today} on the year-old stack...")
            close = _close(year, today)
            backup = _after_close_backup(year, today) if "error" not in close else {"error": "not closed"}
        finally:
            fresh_stack.stop(signal.SIGTERM)
            year_stack.stop(signal.SIGTERM, timeout=600)  # a year of state may be snapshotted on the way out
    routes = _figures(fresh, year)
    worst = max(routes.values(), key=lambda r: r["ratio_p50"])
    return {
        "year_state": summary.get("state"),
        "year_restart_seconds": summary.get("restart_seconds"),
        "year_popugs": summary.get("popugs"),
        "year_transactions": summary.get("transactions"),
        "year_seed_seconds": round(seed_seconds, 1),
        "first_dashboard_until_answered": first_dashboards,
        "routes": routes,
        "worst_route_ratio_p50": worst["ratio_p50"],
        "route_ratio_target": RATIO_TARGET,
        "year_close": close,
        "year_close_seconds_target": CLOSE_TARGET_SECONDS,
        "year_after_close_backup": backup,
        "year_after_close_backup_seconds_target": BACKUP_TARGET_SECONDS,
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
