"""Issue 8's workload at load, over HTTP through a devstack of its own: several concurrent clients run a
random mix of thousands of operations (tasks created, completed by their assignees, shuffled by managers;
popugs hired, dismissed, given other roles; reads of lists, balances and ledgers), bounded in time. Then
the system is left to settle, the day is closed over HTTP, and the books are checked against what the
clients saw: no 5xx, nothing lost, the invariants hold.

    python -m bench.load [OPS]      # or ATES_BENCH_LOAD_OPS=600 python -m bench bench.load

Sizing: ATES_BENCH_LOAD_OPS (operations in all, default 3000), ATES_BENCH_LOAD_CLIENTS (concurrent
clients, 8), ATES_BENCH_LOAD_POPUGS (popugs onboarded before the load, 24), ATES_BENCH_LOAD_SECONDS (the
load issues no new operation after this, 330), ATES_BENCH_LOAD_WORKERS (devstack's worker processes per
function, 2), ATES_BENCH_LOAD_SEED (the workload's random seed), ATES_BENCH_LOAD_SETTLE (how long after the load
every fee and reward may take to be booked, 600 s), ATES_BENCH_LOAD_CLOSE (`after`: the day is closed once the
system is quiet, the default; `during`: half-way through the load, by one of the clients, while the others
go on). Keep devstack's logs with ATES_BENCH_DIR=DIR.

What "nothing lost" means here, as far as the API shows it: every task a client saw created (201) has
exactly one creation fee, to the popug the 201 named; the shuffle fees add up to the tasks the finished
shuffle jobs say they reassigned, and a task still open at the end has one per shuffle pressed after it
was created; every completion a client saw (200) has exactly one reward, to the completer; a task's fees
and reward have one price each, in the ranges of R-ACC-1. The invariants: each balance is the sum of its
ledger and every `balance_after` follows from the one before; the close pays each popug its positive
end-of-day balance once (the day's status, the payout transactions and one email each agree), and
`python -m devstack audit-ledger` (the table against every event the tap kept) passes. No dead letters.
Lost is counted at the last read, after the settle limit and the close; a fee that is only late shows in
`settle_seconds_to_all_booked` and `missing_at_settle_limit`. The emulator's call counts (per load request,
and what the backlog still cost after the load) are the figures the machine's noise moves least.

CPU (`load_cpu_ms_per_request`): CPU milliseconds per load request in the emulator, the function workers,
devstack's hub and the bench's clients (from /proc and os.times, over the load); with
`invocations_during_load`, where a request's work goes, in figures the machine's speed moves far less than
throughput. `emulator_full_collections_during_load`: the emulator's full garbage collections (count, seconds,
the longest since its start), each a pause of all its threads (`devstack.gc_policy`);
`emulator_snapshots_during_load`: its journal compactions (a forked child pickling the state, a core busy
meanwhile). `load_slowest_requests`: the 15 slowest answers with when each came (seconds into the load),
to tell a tail spread over the run (queueing) from one bunched at a moment (a stall).

Memory (`load_memory`): the resident memory of devstack's whole process group, sampled every 10 s of the
load; `rss_growth_last_quarter_over_second` is what "flat within 10%" is judged on. For the 30-minute figure:
`ATES_BENCH_LOAD_SECONDS=1800 ATES_BENCH_LOAD_OPS=1000000 python -m bench.load`. With the year loaded:
`ATES_BENCH_LOAD_STATE=DIR` (a state seeded before, e.g. `make seed`'s .devstack/state; the run works on a
copy) starts the stack on it and measures the load and its memory only: the books' checks read every ledger
over HTTP, which on a year is a million transactions (they are the default run's job).

It is a benchmark, not a test: what breaks is reported in the figures (`problems`), and `python -m
bench.load` exits 1 when a 5xx was answered, something was lost or an invariant broke.
"""

from __future__ import annotations

import heapq
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import requests

from bench.process_group import RssSampler, group_cpu_seconds_by_kind
from devstack.emulator import call_counts, call_counts_by_caller, full_collections
from devstack.emulator import state as emulator_state
from devstack.launcher import Devstack, copy_state, start_devstack

OPS = 3000
CLIENTS = 8
POPUGS = 24
SECONDS = 330.0
WORKERS = 2
PASSWORD = "sunflower-seeds-42"
REQUEST_TIMEOUT = 60.0
BOOKS_EVERY = 10.0  # while settling, the books are read when accounting's queues are empty, or after this long
SETTLE_LIMIT = 600.0  # after the load, how long events may take to reach the ledgers before they count as lost
CLOSE_LIMIT = 300.0
SHUFFLE_LIMIT = 180.0
INVITATION_LIMIT = 60.0
# Relative weights of the operations a client picks; `complete` lists the popug's open tasks first.
WEIGHTS = {
    "create": 26.0,
    "complete": 26.0,
    "read": 38.0,
    "shuffle": 0.6,
    "hire": 1.0,
    "dismiss": 0.5,
    "roles": 1.5,
    "login": 1.0,
}
ROLE_SETS = [("worker",), ("worker",), ("worker",), ("manager",), ("worker", "accountant"), ("accountant",)]
# Refusals the workload provokes on purpose (races it runs into): not counted as unexpected.
EXPECTED = {
    "POST /tasks": {(409, "no_assignee"), (409, "busy")},
    "POST /tasks/{id}/complete": {(409, "not_assignee"), (409, "already_done"), (409, "busy")},
    "POST /tasks/shuffle": {(409, "shuffle_running"), (409, "no_assignee")},
}
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
DAY = re.compile(r"/\d{4}-\d{2}-\d{2}")
AMOUNT = re.compile(r"\$([\d,]+)\.(\d\d)")
MAX_LISTED = 20
SLOWEST_LISTED = 15


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def say(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


def route_of(method: str, path: str) -> str:
    return f"{method} {DAY.sub('/{date}', UUID.sub('{id}', path.split('?', 1)[0]))}"


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


@dataclass(eq=False)
class Popug:
    employee_id: str
    email: str
    name: str
    token: str = ""
    roles: frozenset[str] = frozenset({"worker"})
    active: bool = True
    version: int = 0  # moves with every dismissal or role change: a 401/403 across one is no surprise

    @property
    def assignee(self) -> bool:
        return self.active and "worker" in self.roles and not self.roles & {"manager", "admin"}


@dataclass
class Answer:
    status: int  # 0: no answer (the connection failed or timed out)
    body: Any
    text: str

    def code(self) -> str | None:
        error = self.body.get("error") if isinstance(self.body, dict) else None
        return error.get("code") if isinstance(error, dict) else None


class Recorder:
    """Every response: status and latency per route and phase; 5xx and unexpected 4xx with their bodies."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.phase = "setup"
        self.latency: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        self.statuses: dict[str, Counter] = defaultdict(Counter)
        self.by_phase: Counter = Counter()
        self.server_errors: list[dict] = []
        self.server_error_count = 0
        self.transport_errors: list[dict] = []
        self.unexpected: Counter = Counter()
        self.unexpected_samples: list[dict] = []
        self.expected: Counter = Counter()
        self.slowest: list[tuple[float, float, str]] = []  # (ms, when it was answered, route) in the load

    def record(self, route: str, answer: Answer, ms: float, expected: bool, stale_actor: bool) -> None:
        sample = {"phase": self.phase, "route": route, "status": answer.status, "body": answer.text[:400],
                  "at": datetime.now(UTC).isoformat(timespec="milliseconds")}  # fmt: skip
        with self.lock:
            self.latency[self.phase][route].append(ms)
            if self.phase == "load":
                heapq.heappush(self.slowest, (ms, time.monotonic(), route))
                if len(self.slowest) > SLOWEST_LISTED:
                    heapq.heappop(self.slowest)
            self.statuses[route][answer.status] += 1
            self.by_phase[self.phase] += 1
            if answer.status == 0:
                self.transport_errors.append(sample)
            elif answer.status >= 500:
                self.server_error_count += 1
                if len(self.server_errors) < MAX_LISTED:
                    self.server_errors.append(sample)
            elif answer.status >= 400:
                key = f"{route} {answer.status} {answer.code()}"
                if expected:
                    self.expected[key] += 1
                elif stale_actor:
                    self.expected[f"{key} (dismissed or roles changed meanwhile)"] += 1
                else:
                    self.unexpected[key] += 1
                    if len(self.unexpected_samples) < MAX_LISTED:
                        self.unexpected_samples.append(sample)

    def slowest_requests(self, load_started: float) -> list[dict]:
        """The load's slowest answers, each with when it came (seconds into the load): spread over the run,
        the tail is queueing; bunched, something stalled the stack."""
        return [{"ms": round(ms, 1), "at_s": round(at - load_started, 1), "route": route}
                for ms, at, route in sorted(self.slowest, reverse=True)]  # fmt: skip

    def figures(self, phase: str) -> dict[str, dict]:
        out = {}
        for route, samples in sorted(self.latency[phase].items()):
            out[route] = {
                "count": len(samples), "p50_ms": round(percentile(samples, 0.5), 1),
                "p95_ms": round(percentile(samples, 0.95), 1), "p99_ms": round(percentile(samples, 0.99), 1),
                "max_ms": round(max(samples), 1),
            }  # fmt: skip
        return out


class Load:
    """The shared state of one run: the stack, who works there, what the clients saw happen."""

    def __init__(self, stack: Devstack, rng: random.Random, ops: int, seconds: float) -> None:
        self.stack = stack
        self.recorder = Recorder()
        self.lock = threading.RLock()
        self.local = threading.local()
        self.rng = rng
        self.target, self.seconds = ops, seconds
        self.issued = 0
        self.deadline = 0.0
        self.admin = Popug("", stack.admin_email, "admin", roles=frozenset({"admin"}))
        self.popugs: dict[str, Popug] = {}
        self.tasks: dict[str, dict] = {}  # task id -> {assignee (at creation), created_at, by}
        self.completed: dict[str, str] = {}  # task id -> the popug whose completion got a 200
        self.jobs: dict[str, dict] = {}  # shuffle job id -> its last public state
        self.shuffle_seconds: list[float] = []
        self.ops: Counter = Counter()
        self.outcomes: Counter = Counter()  # what an operation came to (created, refused, nothing to do, ...)
        self.bench_errors: list[str] = []  # the bench's own failures (a bug here, or an answer it cannot read)
        self.lost_invitations: list[str] = []
        self.seq = 0
        self.all_booked_seconds: float | None = None  # from the end of the load to every fee and reward booked
        self.load_average: dict[str, list[float]] = {}
        self.speed_probe_seconds = 0.0
        self.today = ""
        self.close_at: int | None = None  # the operation that closes the day under load (None: after it)
        self.close: dict[str, Any] | None = None
        self.settled = False  # every fee and reward booked and the books still

    # --- HTTP -------------------------------------------------------------------------------------------

    def session(self) -> requests.Session:
        if not hasattr(self.local, "session"):
            self.local.session = requests.Session()
        return self.local.session

    def call(self, who: Popug | None, method: str, path: str, body: Any = None) -> Answer:
        route = route_of(method, path)
        version, active = (who.version, who.active) if who else (0, True)
        headers = {"Authorization": f"Bearer {who.token}"} if who and who.token else {}
        started = time.perf_counter()
        try:
            response = self.session().request(method, f"{self.stack.api_url}{path}", json=body, headers=headers,
                                              timeout=REQUEST_TIMEOUT)  # fmt: skip
            try:
                parsed = response.json()
            except ValueError:
                parsed = None
            answer = Answer(response.status_code, parsed, response.text)
        except requests.RequestException as error:
            answer = Answer(0, None, f"{type(error).__name__}: {error}")
        ms = (time.perf_counter() - started) * 1000
        expected = (answer.status, answer.code()) in EXPECTED.get(route, ())
        stale = answer.status in (401, 403) and who is not None and (who.version != version or not active)
        self.recorder.record(route, answer, ms, expected, stale)
        return answer

    def mailbox(self) -> list[dict]:
        return requests.get(f"{self.stack.url}/_devstack/mailbox.json", timeout=REQUEST_TIMEOUT).json()["items"]

    def login(self, popug: Popug) -> bool:
        password = self.stack.admin_password if popug is self.admin else PASSWORD
        answer = self.call(None, "POST", "/auth/login", {"email": popug.email, "password": password})
        if answer.status != 200:
            return False
        popug.token = answer.body["access_token"]
        return True

    # --- who ----------------------------------------------------------------------------------------------

    def active(self, rng: random.Random, want: Callable[[Popug], bool] = lambda p: True) -> Popug | None:
        with self.lock:
            found = [p for p in self.popugs.values() if p.active and p.token and want(p)]
        return rng.choice(found) if found else None

    def assignees(self) -> int:
        with self.lock:
            return sum(p.assignee for p in self.popugs.values())

    def min_assignees(self) -> int:
        return max(3, len(self.popugs) // 3)

    # --- onboarding ---------------------------------------------------------------------------------------

    def hire(self) -> tuple[str, str, str] | None:
        with self.lock:
            self.seq += 1
            name = f"Popug {self.seq:04d}"
        email = f"popug-{self.seq:04d}-{uuid.uuid4().hex[:6]}@uberpopug.example"
        answer = self.call(self.admin, "POST", "/staff/employees", {"name": name, "email": email,
                                                                    "position": "Seed sorter"})  # fmt: skip
        return (answer.body["employee_id"], email, name) if answer.status == 201 else None

    def invitation(self, email: str, limit: float = INVITATION_LIMIT) -> str | None:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            for mail in self.mailbox():
                if email in mail["to"]:
                    match = re.search(r"set-password\?token=([\w-]+)", mail["body"])
                    if match:
                        return match.group(1)
            time.sleep(0.5)
        return None

    def onboard(self) -> Popug | None:
        """Hire, follow the invitation, set the password, sign in: a worker (as every account starts)."""
        hired = self.hire()
        if hired is None:
            return None
        employee_id, email, name = hired
        token = self.invitation(email)
        if token is None:
            self.lost_invitations.append(email)
            return None
        if self.call(None, "POST", "/auth/password", {"token": token, "password": PASSWORD}).status != 200:
            return None
        popug = Popug(employee_id, email, name)
        if not self.login(popug):
            return None
        with self.lock:
            self.popugs[employee_id] = popug
        return popug

    def set_roles(self, popug: Popug, roles: tuple[str, ...]) -> bool:
        popug.version += 1
        answer = self.call(self.admin, "PUT", f"/auth/accounts/{popug.employee_id}/roles", {"roles": list(roles)})
        if answer.status == 200:
            popug.roles = frozenset(roles)
        popug.version += 1
        return answer.status == 200

    # --- the operations -------------------------------------------------------------------------------------

    def op_create(self, rng: random.Random) -> str:
        who = self.admin if rng.random() < 0.05 else self.active(rng)
        if who is None:
            return "nobody"
        n = rng.randrange(1, 10**6)
        body: dict[str, Any] = {"title": f"Load task {n}", "description": "Sort the seeds by size " * rng.randint(0, 5)}
        if rng.random() < 0.5:
            body["jira_id"] = f"UBERPOP-{n}"
        answer = self.call(who, "POST", "/tasks", body)
        if answer.status != 201:
            return f"refused {answer.status} {answer.code()}"
        task = answer.body
        with self.lock:
            self.tasks[task["task_id"]] = {"assignee": task["assignee_id"], "created_at": task["created_at"],
                                           "by": who.employee_id}  # fmt: skip
        return "created"

    def op_complete(self, rng: random.Random) -> str:
        who = self.active(rng, lambda p: "worker" in p.roles)
        if who is None:
            return "nobody"
        listed = self.call(who, "GET", "/tasks?assignee_id=me&status=open&limit=20")
        if listed.status != 200:
            return f"list refused {listed.status}"
        if not listed.body["items"]:
            return "no open task"
        task_id = rng.choice(listed.body["items"])["task_id"]
        answer = self.call(who, "POST", f"/tasks/{task_id}/complete")
        if answer.status != 200:
            return f"refused {answer.status} {answer.code()}"
        with self.lock:
            if task_id in self.completed:
                self.bench_errors.append(f"task {task_id} completed twice (200 to {self.completed[task_id]} "
                                         f"and to {who.employee_id})")  # fmt: skip
            self.completed[task_id] = who.employee_id
        return "completed"

    def op_read(self, rng: random.Random) -> str:
        who = self.admin if rng.random() < 0.05 else self.active(rng)
        if who is None:
            return "nobody"
        today = datetime.now(UTC).date().isoformat()
        paths = ["/auth/me", "/accounting/me", "/accounting/me/transactions?limit=20", "/tasks?assignee_id=me",
                 "/staff/employees?limit=20"]  # fmt: skip
        if who.roles & {"manager", "admin"}:
            paths += ["/tasks?status=open&limit=50", "/tasks?limit=50"]
        if who.roles & {"accountant", "admin"}:
            other = self.active(rng)
            paths += ["/accounting/accounts?limit=50", f"/accounting/stats?from={today}&to={today}"]
            if other:
                paths.append(f"/accounting/accounts/{other.employee_id}/transactions?limit=20")
        if "admin" in who.roles:
            paths += ["/auth/accounts?limit=50", f"/accounting/days/{today}"]
        answer = self.call(who, "GET", rng.choice(paths))
        return "read" if answer.status == 200 else f"refused {answer.status}"

    def op_shuffle(self, rng: random.Random) -> str:
        who = self.active(rng, lambda p: bool(p.roles & {"manager", "admin"})) or self.admin
        started = time.perf_counter()
        answer = self.call(who, "POST", "/tasks/shuffle")
        if answer.status != 202:
            return f"refused {answer.status} {answer.code()}"
        job = answer.body
        with self.lock:
            self.jobs[job["job_id"]] = job
        deadline = time.monotonic() + SHUFFLE_LIMIT
        while job["status"] == "running" and time.monotonic() < deadline:
            time.sleep(0.5)
            polled = self.call(self.admin, "GET", f"/tasks/shuffles/{job['job_id']}")
            if polled.status == 200:
                job = polled.body
        with self.lock:
            self.jobs[job["job_id"]] = job
            if job["status"] == "done":
                self.shuffle_seconds.append(time.perf_counter() - started)
        return f"shuffle {job['status']}"

    def op_hire(self, rng: random.Random) -> str:
        popug = self.onboard()
        if popug is None:
            return "hire failed"
        if rng.random() < 0.3:
            self.set_roles(popug, rng.choice(ROLE_SETS))
        return "hired"

    def op_dismiss(self, rng: random.Random) -> str:
        with self.lock:
            if self.assignees() <= self.min_assignees():
                return "too few workers"
            popug = self.active(rng)
            if popug is None:
                return "nobody"
            popug.active = False
            popug.version += 1
        answer = self.call(self.admin, "POST", f"/staff/employees/{popug.employee_id}/dismiss")
        if answer.status != 200:
            popug.active = True  # not dismissed after all
            return f"refused {answer.status} {answer.code()}"
        return "dismissed"

    def op_roles(self, rng: random.Random) -> str:
        popug = self.active(rng)
        if popug is None:
            return "nobody"
        roles = rng.choice(ROLE_SETS)
        losing = popug.assignee and not ("worker" in roles and "manager" not in roles)
        if losing and self.assignees() <= self.min_assignees():
            roles = ("worker",)
        return "roles set" if self.set_roles(popug, roles) else "roles refused"

    def op_login(self, rng: random.Random) -> str:
        who = self.active(rng)
        if who is None:
            return "nobody"
        return "signed in" if self.login(who) else "sign-in refused"

    def op_close(self, rng: random.Random) -> str:
        """Close today while the others go on (ATES_BENCH_LOAD_CLOSE=during): fees and rewards booked
        meanwhile belong to the next day (R-ACC-2)."""
        self.close = close_day(self, self.today)
        say(f"closed under load: {self.close.get('status')}")
        return "closed" if not self.close.get("error") else "close failed"

    # --- the load -------------------------------------------------------------------------------------------

    def client(self, index: int) -> None:
        rng = random.Random(self.rng.random() + index)
        kinds, weights = list(WEIGHTS), list(WEIGHTS.values())
        while True:
            with self.lock:
                if self.issued >= self.target or time.monotonic() > self.deadline:
                    return
                self.issued += 1
                issued = self.issued
            kind = "close" if issued == self.close_at else rng.choices(kinds, weights)[0]
            try:
                outcome = getattr(self, f"op_{kind}")(rng)
            except Exception as error:  # the bench's own bug or an answer it could not read: reported
                outcome = "bench error"
                with self.lock:
                    self.bench_errors.append(f"{kind}: {type(error).__name__}: {error}")
            with self.lock:
                self.ops[kind] += 1
                self.outcomes[f"{kind}: {outcome}"] += 1
            if issued % 250 == 0:
                say(f"{issued} operations issued, {time.monotonic() - self.started:.0f} s, "
                    f"{len(self.tasks)} tasks, {len(self.completed)} completed, "
                    f"{self.recorder.server_error_count} 5xx")  # fmt: skip

    def warm_up(self, workers: int, rounds: int = 3) -> None:
        """Every read the load makes, `workers` at once, a few times: each API function's workers are started
        before the measured load, as a stack that has been serving traffic has them (AWS keeps an
        environment warm for minutes after its last call). Otherwise the p99 of a route seen 30 times is
        the one second-worker cold start it met; `cold_starts_during_load` counts the ones left."""
        today = datetime.now(UTC).date().isoformat()
        paths = ["/auth/me", "/accounting/me", "/accounting/me/transactions?limit=20", "/tasks?assignee_id=me",
                 "/staff/employees?limit=20", "/tasks?limit=50", "/accounting/accounts?limit=50",
                 f"/accounting/stats?from={today}&to={today}", "/auth/accounts?limit=50"]  # fmt: skip
        with ThreadPoolExecutor(workers) as pool:
            for _ in range(rounds):
                for path in paths:
                    list(pool.map(lambda path: self.call(self.admin, "GET", path), [path] * workers))

    def run_load(self, clients: int) -> float:
        self.load_average["before_load"] = [round(x, 2) for x in os.getloadavg()]
        self.speed_probe_seconds = speed_probe()
        self.started = time.monotonic()
        self.deadline = self.started + self.seconds
        threads = [threading.Thread(target=self.client, args=(i,), name=f"client-{i}") for i in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.load_average["end_of_load"] = [round(x, 2) for x in os.getloadavg()]
        return time.monotonic() - self.started


def function_stats(stack: Devstack) -> dict[str, dict[str, int]]:
    """devstack's per-function counts (workers, invocations, cold starts) from its health route."""
    return requests.get(f"{stack.url}/_devstack/health", timeout=REQUEST_TIMEOUT).json()["functions"]


def speed_probe() -> float:
    """Seconds for a fixed pure-Python loop on one core, just before the load: this virtual machine's speed
    moves by half between idle moments (1.10 to 1.63 s measured on one afternoon), and the load's figures
    move with it, so runs are compared with this next to them."""
    started = time.perf_counter()
    total = 0
    for i in range(10_000_000):
        total += i
    return round(time.perf_counter() - started, 3)


# --- reading the books through the API --------------------------------------------------------------------


def paged(load: Load, path: str) -> list[dict] | None:
    items, cursor = [], None
    while True:
        separator = "&" if "?" in path else "?"
        answer = load.call(load.admin, "GET", path + (f"{separator}cursor={cursor}" if cursor else ""))
        if answer.status != 200:
            return None
        items += answer.body["items"]
        cursor = answer.body.get("next_cursor")
        if not cursor:
            return items


def books(load: Load) -> dict[str, dict]:
    """Every account accounting lists, with its whole ledger (newest first)."""
    accounts = paged(load, "/accounting/accounts?limit=100")
    if accounts is None:
        raise RuntimeError("GET /accounting/accounts failed")

    def ledger(account: dict) -> tuple[str, dict]:
        txs = paged(load, f"/accounting/accounts/{account['employee_id']}/transactions?limit=100")
        if txs is None:
            raise RuntimeError(f"the ledger of {account['employee_id']} could not be read")
        return account["employee_id"], {**account, "ledger": txs}

    with ThreadPoolExecutor(4) as pool:
        return dict(pool.map(ledger, accounts))


def booked(accounts: dict[str, dict]) -> dict[str, dict[str, list[tuple[str, int]]]]:
    """kind -> task -> [(popug, amount)]; kinds: creation, shuffle, reward."""
    out: dict[str, dict[str, list[tuple[str, int]]]] = {"creation": defaultdict(list), "shuffle": defaultdict(list),
                                                         "reward": defaultdict(list)}  # fmt: skip
    for popug, account in accounts.items():
        for tx in account["ledger"]:
            if tx["kind"] == "fee":
                kind = "shuffle" if "shuffle" in tx["reason"] else "creation"
            elif tx["kind"] == "reward":
                kind = "reward"
            else:
                continue
            out[kind][tx["task_id"]].append((popug, tx["amount"]))
    return out


def missing(load: Load, accounts: dict[str, dict]) -> dict[str, int]:
    seen = booked(accounts)
    shuffled = sum(j["done"] for j in load.jobs.values())
    return {
        "creation_fees": sum(1 for t in load.tasks if t not in seen["creation"]),
        "shuffle_fees": max(0, shuffled - sum(len(v) for v in seen["shuffle"].values())),
        "rewards": sum(1 for t in load.completed if t not in seen["reward"]),
    }


def accounting_queues(load: Load) -> tuple[Any, list[str]]:
    """An SQS client on the emulator and the URLs of the queues accounting books from (not their DLQs)."""
    sqs = boto3.client("sqs", endpoint_url=load.stack.endpoint_url, region_name="us-east-1",
                       aws_access_key_id="bench", aws_secret_access_key="bench")  # fmt: skip
    urls = [u for u in sqs.list_queues().get("QueueUrls", [])
            if "Accounting" in u and "DeadLetter" not in u and "Failure" not in u]  # fmt: skip
    return sqs, urls


def drained(sqs: Any, urls: list[str], deadline: float) -> None:
    """Wait (up to BOOKS_EVERY seconds) until the queues accounting books from hold nothing, visible or in
    flight. Reading the books is a few hundred requests through every layer of the stack: read every 2 s, it
    took the CPU the backlog's consumers wait for (settling measured 43 s where the backlog needed less).
    Queue depths are one cheap call each; the books are still what decides."""
    until = min(deadline, time.monotonic() + BOOKS_EVERY)
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    while time.monotonic() < until:
        depths = [sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"] for url in urls]
        if not any(int(value) for attributes in depths for value in attributes.values()):
            return
        time.sleep(0.25)


def settle(load: Load) -> tuple[float, dict[str, dict], dict[str, int]]:
    """Wait for every running shuffle to finish and every fee and reward the clients caused to be in the
    ledgers, and then for the books to hold still (two reads alike, each balance its ledger's last
    `balance_after`: the account list and the ledgers are separate reads); returns the seconds it took
    (from the end of the load), the books, and what is still missing at the limit."""
    started = time.monotonic()
    deadline = started + float(os.environ.get("ATES_BENCH_LOAD_SETTLE") or SETTLE_LIMIT)
    for job_id, job in list(load.jobs.items()):
        while job["status"] == "running" and time.monotonic() < deadline:
            polled = load.call(load.admin, "GET", f"/tasks/shuffles/{job_id}")
            job = polled.body if polled.status == 200 else job
            load.jobs[job_id] = job
            time.sleep(1.0)
    rounds, previous = 0, None
    sqs, queues = accounting_queues(load)
    while True:
        drained(sqs, queues, deadline)
        accounts = books(load)
        gaps = missing(load, accounts)
        shape = {p: (a["balance"], len(a["ledger"]), a["ledger"][0]["balance_after"] if a["ledger"] else 0)
                 for p, a in accounts.items()}  # fmt: skip
        still = shape == previous and all(balance == head for balance, _, head in shape.values())
        rounds += 1
        if not any(gaps.values()) and load.all_booked_seconds is None:
            load.all_booked_seconds = time.monotonic() - started
        load.settled = not any(gaps.values()) and still
        if load.settled or time.monotonic() > deadline:
            return time.monotonic() - started, accounts, gaps
        previous = shape
        if rounds % 5 == 0:
            say(f"settling, {time.monotonic() - started:.0f} s: still missing {gaps}")
        time.sleep(1.0)


# --- the checks -------------------------------------------------------------------------------------------


def check_tasks(load: Load, accounts: dict[str, dict], listed: list[dict]) -> tuple[dict[str, int], list[str]]:
    """What the ledgers hold against what the clients saw; counts of what was lost, doubled or unexplained."""
    problems: list[str] = []
    seen = booked(accounts)
    counts = Counter()
    for task_id, task in load.tasks.items():
        fees = seen["creation"].get(task_id, [])
        if not fees:
            counts["lost_creation_fees"] += 1
            problems.append(f"task {task_id}: no creation fee (created for {task['assignee']})")
        elif len(fees) > 1:
            counts["doubled_creation_fees"] += 1
            problems.append(f"task {task_id}: {len(fees)} creation fees")
        elif fees[0][0] != task["assignee"]:
            counts["misbooked_fees"] += 1
            problems.append(f"task {task_id}: creation fee booked to {fees[0][0]}, created for {task['assignee']}")
    counts["unexplained_creation_fees"] = sum(1 for t in seen["creation"] if t not in load.tasks)
    for task_id, popug in load.completed.items():
        rewards = seen["reward"].get(task_id, [])
        if not rewards:
            counts["lost_rewards"] += 1
            problems.append(f"task {task_id}: no reward (completed by {popug})")
        elif len(rewards) > 1:
            counts["doubled_rewards"] += 1
            problems.append(f"task {task_id}: {len(rewards)} rewards")
        elif rewards[0][0] != popug:
            counts["misbooked_rewards"] += 1
            problems.append(f"task {task_id}: reward booked to {rewards[0][0]}, completed by {popug}")
    counts["unexplained_rewards"] = sum(1 for t in seen["reward"] if t not in load.completed)
    reassigned = sum(j["done"] for j in load.jobs.values())
    shuffle_fees = sum(len(v) for v in seen["shuffle"].values())
    counts["lost_shuffle_fees"] = max(0, reassigned - shuffle_fees)
    counts["extra_shuffle_fees"] = max(0, shuffle_fees - reassigned)
    if reassigned != shuffle_fees:
        problems.append(f"the shuffle jobs reassigned {reassigned} tasks; the ledgers hold {shuffle_fees} shuffle fees")
    # A task open at the end was open through every shuffle pressed after its creation: one fee each.
    done_jobs = [j for j in load.jobs.values() if j["status"] == "done"]
    exact = all(j["status"] == "done" for j in load.jobs.values())
    now = {t["task_id"]: t for t in listed}
    for task_id, task in load.tasks.items():
        later = sum(1 for j in done_jobs if j["started_at"] > task["created_at"])
        got = len(seen["shuffle"].get(task_id, []))
        current = now.get(task_id)
        if current is None:
            counts["tasks_missing_from_list"] += 1
            problems.append(f"task {task_id} is not in GET /tasks")
            continue
        if current["status"] == "open" and exact and got != later:
            counts["open_tasks_with_wrong_shuffle_fees"] += 1
            problems.append(f"open task {task_id}: {got} shuffle fees, {later} shuffles since its creation")
        elif got > later:
            counts["tasks_with_too_many_shuffle_fees"] += 1
            problems.append(f"task {task_id}: {got} shuffle fees, only {later} shuffles since its creation")
        holders = {p for p, _ in seen["shuffle"].get(task_id, [])} if got else {task["assignee"]}
        if current["assignee_id"] not in holders:
            counts["assignee_without_fee"] += 1
            problems.append(f"task {task_id}: held by {current['assignee_id']}, who paid no fee for it")
        if (current["status"] == "done") != (task_id in load.completed):
            counts["status_mismatch"] += 1
            problems.append(f"task {task_id}: {current['status']} in the list, completed here: "
                            f"{task_id in load.completed}")  # fmt: skip
    counts["listed_tasks_not_created_here"] = sum(1 for t in now if t not in load.tasks)
    for kind, bounds in (("creation", (1000, 2000)), ("shuffle", (1000, 2000)), ("reward", (2000, 4000))):
        for task_id, entries in seen[kind].items():
            amounts = {abs(a) for _, a in entries}
            if kind != "reward":
                amounts |= {abs(a) for k in ("creation", "shuffle") for _, a in seen[k].get(task_id, [])}
            if len(amounts) != 1 or not all(bounds[0] <= a <= bounds[1] for a in amounts):
                counts["price_problems"] += 1
                problems.append(f"task {task_id}: {kind} amounts {sorted(amounts)}, bounds {bounds}")
    return {k: v for k, v in counts.items()}, problems


def check_ledgers(accounts: dict[str, dict]) -> tuple[int, list[str]]:
    """Each balance is the sum of its ledger (opening 0: nothing is a year old) and `balance_after` follows.
    The account list is read before the ledgers: a balance that is the ledger's sum a few transactions
    back is a read that raced a booking (counted, not a problem) when the books were still moving."""
    problems, raced = [], 0
    for popug, account in accounts.items():
        running, sums = 0, {0}
        for tx in reversed(account["ledger"]):
            running += tx["amount"]
            sums.add(running)
            if tx["balance_after"] != running:
                problems.append(f"{popug}: transaction {tx['transaction_id']} says balance_after "
                                f"{tx['balance_after']}, the ledger {running}")  # fmt: skip
                break
        if account["balance"] != running:
            if account["balance"] in sums:
                raced += 1
            else:
                problems.append(f"{popug}: balance {account['balance']} != the sum of its ledger {running}")
    return raced, problems


def close_day(load: Load, today: str) -> dict[str, Any]:
    started = time.perf_counter()
    press = load.call(load.admin, "POST", f"/accounting/days/{today}/close")
    if press.status != 202:
        return {"error": f"the close answered {press.status}: {press.text[:300]}"}
    status, closed_in = press.body, None
    deadline = time.monotonic() + CLOSE_LIMIT
    while time.monotonic() < deadline:
        time.sleep(1.0)
        polled = load.call(load.admin, "GET", f"/accounting/days/{today}")
        if polled.status != 200:
            continue
        status = polled.body
        if status["status"] == "closed" and closed_in is None:
            closed_in = time.perf_counter() - started
        if status["status"] == "closed" and status["emails_sent"] == status["emails_queued"]:
            return {"status": status, "closed_seconds": closed_in, "emails_seconds": time.perf_counter() - started}
    return {"status": status, "closed_seconds": closed_in, "emails_seconds": None,
            "error": f"the close did not finish in {CLOSE_LIMIT:.0f} s"}  # fmt: skip


def check_close(
    today: str, before: dict[str, dict] | None, after: dict[str, dict], day: dict, mails: list[dict]
) -> tuple[dict[str, int], list[str]]:
    """Each positive end-of-day balance paid once; debts carried; the day's figures and one email per paid
    popug agree. What each popug was owed is read from the ledger (the sum of its fees and rewards booked to
    `today`: what the close had to pay, whatever was booked to the next day meanwhile); `before`, the books
    when the close was pressed on a quiet system, must agree with it."""
    problems: list[str] = []
    counts = Counter()
    end_of_day = {
        p: sum(tx["amount"] for tx in a["ledger"] if tx["business_day"] == today and tx["kind"] != "payout")
        for p, a in after.items()
    }
    owed = {p: amount for p, amount in end_of_day.items() if amount > 0}
    in_red = sum(1 for amount in end_of_day.values() if amount < 0)
    for popug, account in after.items():
        payouts = [tx for tx in account["ledger"] if tx["kind"] == "payout"]
        expected = owed.get(popug, 0)
        if len(payouts) > 1:
            counts["doubled_payouts"] += 1
            problems.append(f"{popug}: {len(payouts)} payouts")
        if expected and not payouts:
            counts["lost_payouts"] += 1
            problems.append(f"{popug}: owed {expected}, not paid")
        elif payouts and (-payouts[0]["amount"] != expected or payouts[0]["business_day"] != today):
            counts["wrong_payouts"] += 1
            problems.append(f"{popug}: paid {-payouts[0]['amount']} for {payouts[0]['business_day']}, owed {expected}")
        if before is not None and before.get(popug, {}).get("balance", 0) != end_of_day[popug]:
            counts["balance_at_close_differs"] += 1
            problems.append(f"{popug}: balance {before.get(popug, {}).get('balance')} when the close was pressed, "
                            f"{end_of_day[popug]} booked to {today}")  # fmt: skip
    figures = (day.get("popugs_paid"), day.get("total_paid"), day.get("popugs_in_red"))
    if figures != (len(owed), sum(owed.values()), in_red):
        counts["day_figures_differ"] += 1
        problems.append(
            f"the day says paid/total/in red {figures}, the ledgers {(len(owed), sum(owed.values()), in_red)}"
        )
    emails = {a["email"]: p for p, a in after.items()}
    got: dict[str, list[int]] = defaultdict(list)
    for mail in mails:
        amount = AMOUNT.search(mail["subject"])
        if "payout" not in mail["subject"].lower() or not amount:
            continue
        for address in mail["to"]:
            got[emails.get(address, address)].append(int(amount.group(1).replace(",", "")) * 100 + int(amount.group(2)))
    for popug, amount in owed.items():
        if got.get(popug) != [amount]:
            counts["payout_email_problems"] += 1
            problems.append(f"{popug}: payout emails {got.get(popug)}, owed {amount}")
    counts["lost_payout_emails"] = sum(1 for p in owed if not got.get(p))
    counts["unexplained_payout_emails"] = sum(len(v) for p, v in got.items() if p not in owed)
    return dict(counts), problems


def audit(stack: Devstack) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "devstack", "audit-ledger", "--state-file", str(stack.state_file)],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    try:
        report = json.loads(done.stdout)
    except ValueError:
        return {"ok": False, "exit": done.returncode, "stderr": done.stderr[-1000:]}
    return {"ok": report.get("ok"), "exit": done.returncode, **{k: v for k, v in report.items() if k != "ok"},
            "problems": report.get("problems", [])[:10]}  # fmt: skip


# --- the run ----------------------------------------------------------------------------------------------


def setup(load: Load, popugs: int, clients: int) -> None:
    """The admin signs in; `popugs` are onboarded concurrently; some become managers and accountants; then
    wait until the tasks context has heard of a worker (the first task is created)."""
    if not load.login(load.admin):
        raise RuntimeError("the bootstrap admin cannot sign in")
    me = load.call(load.admin, "GET", "/auth/me")
    load.admin.employee_id = me.body["employee_id"]
    with ThreadPoolExecutor(clients) as pool:
        hired = [p for p in pool.map(lambda _: load.onboard(), range(popugs)) if p]
    if len(hired) < popugs:
        raise RuntimeError(f"only {len(hired)} of {popugs} popugs could be onboarded: {load.bench_errors[:3]}")
    managers, accountants = max(1, popugs // 8), max(1, popugs // 8)
    for i, popug in enumerate(hired[: managers + accountants]):
        load.set_roles(popug, ("manager",) if i < managers else ("worker", "accountant"))
    deadline = time.monotonic() + 120
    while load.op_create(load.rng) != "created":
        if time.monotonic() > deadline:
            raise RuntimeError("no task could be created within 120 s of onboarding (no assignee in the pool)")
        time.sleep(0.5)


def run_on_state(seeded: str, ops: int, clients: int, popugs: int, seconds: float, workers: int, seed: int) -> dict:
    """The load on a copy of a seeded state (ATES_BENCH_LOAD_STATE): operations, 5xx and memory only."""
    with tempfile.TemporaryDirectory() as scratch:
        say(f"copying the seeded state {seeded}...")
        state = copy_state(seeded, Path(scratch))
        stack = start_devstack(Path(scratch), "--workers", str(workers), "--state-dir", str(state))
        try:
            load = Load(stack, random.Random(seed), ops, seconds)
            load.today = datetime.now(UTC).date().isoformat()
            setup(load, popugs, clients)
            say(f"{popugs} popugs onboarded on the seeded stack; load: {seconds:.0f} s, {clients} clients")
            load.recorder.phase = "warm-up"
            load.warm_up(workers)
            load.recorder.phase = "load"
            memory = RssSampler(os.getpgid(stack.process.pid)).start()
            load_seconds = load.run_load(clients)
            memory.stop()
        finally:
            stack.stop(signal.SIGTERM, timeout=600)  # a year of state may be snapshotted on the way out
    return {
        "state": seeded,
        "restart_seconds": round(stack.startup_seconds, 1),
        "load_seconds": round(load_seconds, 1),
        "load_operations": dict(load.ops),
        "load_ops_per_second": round(sum(load.ops.values()) / load_seconds, 2),
        "http_5xx": load.recorder.server_error_count,
        "http_5xx_samples": load.recorder.server_errors,
        "load_memory": memory.figures(),
        "ok": load.recorder.server_error_count == 0,
    }


def run(ops: int | None = None) -> dict:
    ops = ops or _env_int("ATES_BENCH_LOAD_OPS", OPS)
    clients = _env_int("ATES_BENCH_LOAD_CLIENTS", CLIENTS)
    popugs = _env_int("ATES_BENCH_LOAD_POPUGS", POPUGS)
    seconds = float(os.environ.get("ATES_BENCH_LOAD_SECONDS") or SECONDS)
    workers = _env_int("ATES_BENCH_LOAD_WORKERS", WORKERS)
    seed = _env_int("ATES_BENCH_LOAD_SEED", random.randrange(10**6))
    close_mode = os.environ.get("ATES_BENCH_LOAD_CLOSE") or "after"
    if close_mode not in ("after", "during"):
        raise ValueError(f"ATES_BENCH_LOAD_CLOSE is 'after' or 'during', not {close_mode!r}")
    if seeded := os.environ.get("ATES_BENCH_LOAD_STATE"):
        return run_on_state(seeded, ops, clients, popugs, seconds, workers, seed)
    with tempfile.TemporaryDirectory() as scratch:
        stack = start_devstack(Path(os.environ.get("ATES_BENCH_DIR") or scratch), "--workers", str(workers))
        try:
            load = Load(stack, random.Random(seed), ops, seconds)
            load.today = datetime.now(UTC).date().isoformat()  # devstack's business timezone is UTC
            load.close_at = ops // 2 if close_mode == "during" else None
            started = time.monotonic()
            setup(load, popugs, clients)
            setup_seconds = time.monotonic() - started
            say(f"{popugs} popugs onboarded in {setup_seconds:.0f} s; load: {ops} operations, {clients} clients")
            load.recorder.phase = "warm-up"
            load.warm_up(workers)
            load.recorder.phase = "load"
            calls_before = call_counts(stack.endpoint_url)
            collections_before = full_collections(stack.endpoint_url)
            callers_before = call_counts_by_caller(stack.endpoint_url)
            functions_before = function_stats(stack)
            memory = RssSampler(os.getpgid(stack.process.pid)).start()
            cpu_before = group_cpu_seconds_by_kind(os.getpgid(stack.process.pid)), os.times()
            snapshots_before = (emulator_state(stack.endpoint_url) or {}).get("compactions", 0)
            load_started = time.monotonic()
            load_seconds = load.run_load(clients)
            snapshots_load = (emulator_state(stack.endpoint_url) or {}).get("compactions", 0)
            cpu_load = group_cpu_seconds_by_kind(os.getpgid(stack.process.pid)), os.times()
            memory.stop()
            functions_load = function_stats(stack)
            calls_load = call_counts(stack.endpoint_url)
            collections_load = full_collections(stack.endpoint_url)
            callers_load = call_counts_by_caller(stack.endpoint_url)
            say(f"load done: {sum(load.ops.values())} operations in {load_seconds:.0f} s; settling")
            load.recorder.phase = "settle"
            settle_seconds, accounts, gaps = settle(load)
            say(f"settled in {settle_seconds:.0f} s (missing: {gaps})")
            calls_settled = call_counts(stack.endpoint_url)
            before = None
            if close_mode == "after":
                load.recorder.phase = "close"
                before = accounts if load.settled else None  # a moving snapshot says nothing about the close
                load.close = close_day(load, load.today)
                say(f"close: {load.close.get('status')}")
                accounts = quiet_books(load)
            close = load.close or {"error": "the day was not closed (the load stopped before its middle)"}
            listed = paged(load, "/tasks?limit=100") or []
            task_counts, task_problems = check_tasks(load, accounts, listed)
            raced_reads, ledger_problems = check_ledgers(accounts)
            mails = load.mailbox()
            close_counts, close_problems = check_close(load.today, before, accounts, close.get("status") or {}, mails)
            dead = load.call(load.admin, "GET", "/ops/dead-letters")
            dead_letters = {i["consumer"]: i["waiting"] for i in (dead.body or {}).get("items", []) if i["waiting"]}
            audit_report = audit(stack)
        finally:
            stack.stop(signal.SIGTERM)
    return figures(load, locals())


def _collections(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The emulator's full garbage collections during the load: each stops all its threads (`gc_policy`)."""
    return {
        "count": after["collections"] - before["collections"],
        "seconds": round(after["seconds"] - before["seconds"], 3),
        "longest_seconds_since_start": round(after["longest_seconds"], 3),
        "sweeps": after["sweeps"] - before["sweeps"],
        "frozen_objects_at_end": after["frozen_objects"],
    }


def quiet_books(load: Load, limit: float = 60.0) -> dict[str, dict]:
    """The books once two reads a second apart agree (or at the limit): after the close's payouts."""
    deadline, previous = time.monotonic() + limit, None
    while True:
        accounts = books(load)
        shape = {p: (a["balance"], len(a["ledger"])) for p, a in accounts.items()}
        if shape == previous or time.monotonic() > deadline:
            return accounts
        previous = shape
        time.sleep(1.0)


def figures(load: Load, at: dict[str, Any]) -> dict[str, Any]:
    recorder = load.recorder
    close = at["close"]
    counts = Counter({**at["task_counts"], **at["close_counts"]})
    lost = {kind: counts[f"lost_{kind}"] for kind in ("creation_fees", "shuffle_fees", "rewards", "payouts",
                                                       "payout_emails")}  # fmt: skip
    lost["invitations"] = len(load.lost_invitations)
    problems = at["task_problems"] + at["ledger_problems"] + at["close_problems"]
    if close.get("error"):
        problems.append(close["error"])
    if at["dead_letters"]:
        problems.append(f"dead letters waiting: {at['dead_letters']}")
    if not at["audit_report"].get("ok"):
        problems.append(f"audit-ledger failed: {at['audit_report'].get('problems') or at['audit_report']}")
    anomalies = {
        k: v for k, v in {**at["task_counts"], **at["close_counts"]}.items() if v and not k.startswith("lost_")
    }
    load_requests = recorder.by_phase["load"]
    statuses = Counter()
    for counts in recorder.statuses.values():
        statuses.update(counts)
    done_jobs = [j for j in load.jobs.values() if j["status"] == "done"]
    calls_load = _delta(at["calls_before"], at["calls_load"])
    calls_settled = _delta(at["calls_load"], at["calls_settled"])
    invariants_ok = not problems and not recorder.transport_errors
    return {
        "load_seed": at["seed"],
        "close_mode": at["close_mode"],
        "load_clients": at["clients"],
        "load_popugs_onboarded": at["popugs"],
        "load_devstack_workers_per_function": at["workers"],
        "load_ops_target": at["ops"],
        "load_seconds_bound": at["seconds"],
        "machine_cpus": os.cpu_count(),
        "machine_load_average_1_5_15m": load.load_average,
        "machine_speed_probe_seconds": load.speed_probe_seconds,
        "load_setup_seconds": round(at["setup_seconds"], 1),
        "load_seconds": round(at["load_seconds"], 1),
        "load_ops": sum(load.ops.values()),
        "load_ops_by_kind": dict(load.ops.most_common()),
        "load_ops_per_second": round(sum(load.ops.values()) / at["load_seconds"], 2),
        "load_requests": load_requests,
        "load_requests_per_second": round(load_requests / at["load_seconds"], 2),
        "load_requests_per_op": round(load_requests / max(1, sum(load.ops.values())), 2),
        "load_outcomes": dict(sorted(load.outcomes.items())),
        "load_latency_by_route": recorder.figures("load"),
        "load_cpu_ms_per_request": _cpu_per_request(at["cpu_before"], at["cpu_load"], load_requests),
        "load_memory": at["memory"].figures(),
        "emulator_calls_during_load": calls_load,
        "emulator_calls_per_load_request": round(sum(calls_load.values()) / max(1, load_requests), 2),
        "emulator_calls_during_load_by_caller": _by_caller(at["callers_before"], at["callers_load"]),
        "emulator_calls_load_end_to_settled": calls_settled,
        "emulator_full_collections_during_load": _collections(at["collections_before"], at["collections_load"]),
        "emulator_snapshots_during_load": at["snapshots_load"] - at["snapshots_before"],
        "load_slowest_requests": recorder.slowest_requests(at["load_started"]),
        "invocations_during_load": _function_counts(at["functions_before"], at["functions_load"], "invocations"),
        "cold_starts_during_load": _function_counts(at["functions_before"], at["functions_load"], "cold_starts"),
        "requests_all_phases": sum(recorder.by_phase.values()),
        "requests_by_phase": dict(recorder.by_phase),
        "statuses_all_phases": {str(k): v for k, v in sorted(statuses.items())},
        "http_5xx": recorder.server_error_count,
        "http_5xx_samples": recorder.server_errors,
        "http_429": statuses.get(429, 0),
        "transport_errors": len(recorder.transport_errors),
        "transport_error_samples": recorder.transport_errors[:MAX_LISTED],
        "unexpected_4xx": dict(recorder.unexpected),
        "unexpected_4xx_samples": recorder.unexpected_samples,
        "expected_refusals": dict(recorder.expected),
        "tasks_created": len(load.tasks),
        "tasks_completed": len(load.completed),
        "tasks_open_at_end": sum(1 for t in at["listed"] if t["status"] == "open"),
        "shuffles_done": len(done_jobs),
        "shuffles_not_done": [j for j in load.jobs.values() if j["status"] != "done"],
        "shuffle_tasks_reassigned": sum(j["done"] for j in done_jobs),
        "shuffle_tasks_skipped": sum(j.get("skipped") or 0 for j in done_jobs),
        "shuffle_press_to_done_p50_s": round(statistics.median(load.shuffle_seconds), 1)
        if load.shuffle_seconds
        else None,
        "shuffle_press_to_done_max_s": round(max(load.shuffle_seconds), 1) if load.shuffle_seconds else None,
        "popugs_at_end": len(load.popugs),
        "popugs_dismissed": sum(not p.active for p in load.popugs.values()),
        "accounts_in_accounting": len(at["accounts"]),
        "transactions_in_ledgers": sum(len(a["ledger"]) for a in at["accounts"].values()),
        "settle_seconds_to_all_booked": round(load.all_booked_seconds, 1) if load.all_booked_seconds else None,
        "settle_seconds_to_books_still": round(at["settle_seconds"], 1),
        "settled": load.settled,
        "missing_at_settle_limit": at["gaps"],
        "balance_reads_that_raced_a_booking": at["raced_reads"],
        "lost": lost,
        "lost_total": sum(lost.values()),
        "anomalies": anomalies,
        "close_seconds_to_closed": round(close["closed_seconds"], 1) if close.get("closed_seconds") else None,
        "close_seconds_to_emails_sent": round(close["emails_seconds"], 1) if close.get("emails_seconds") else None,
        "close_status": close.get("status"),
        "close_payout_emails": len([m for m in at["mails"] if "payout" in m["subject"].lower()]),
        "dead_letters_waiting": at["dead_letters"],
        "audit": at["audit_report"],
        "bench_errors": load.bench_errors[:MAX_LISTED],
        "problem_count": len(problems),
        "problems": problems[:MAX_LISTED],
        "invariants_ok": invariants_ok,
        "ok": invariants_ok and recorder.server_error_count == 0 and not sum(lost.values()),
    }


def _function_counts(before: dict[str, dict[str, int]], after: dict[str, dict[str, int]], field: str) -> dict:
    """What each function's `field` (invocations, cold_starts) grew by between two health reads, most first."""
    moved = {name: stats[field] - before.get(name, {}).get(field, 0) for name, stats in after.items()}
    return {name: count for name, count in sorted(moved.items(), key=lambda item: -item[1]) if count}


def _cpu_per_request(before: tuple[dict[str, float], Any], after: tuple[dict[str, float], Any], requests: int) -> dict:
    """CPU milliseconds per load request in each kind of devstack process and in the bench's own clients:
    what a request costs the machine, where throughput and latency only say how long it waited for it."""
    spent = {kind: after[0][kind] - before[0][kind] for kind in after[0]}
    spent["clients"] = (after[1].user + after[1].system) - (before[1].user + before[1].system)
    per = {kind: round(seconds * 1000 / max(1, requests), 1) for kind, seconds in spent.items()}
    return {**per, "all": round(sum(spent.values()) * 1000 / max(1, requests), 1)}


def _by_caller(before: dict[str, dict[str, int]], after: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """Each caller's calls between two counts (a function's logical id, or devstack's own pollers), its
    most frequent first, the busiest callers first: where an operation's AWS calls come from."""
    moved = {caller: _delta(before.get(caller, {}), calls, top=6) for caller, calls in after.items()}
    busiest = sorted(moved.items(), key=lambda item: -sum(item[1].values()))
    return {caller: calls for caller, calls in busiest if calls}


def _delta(before: dict[str, int], after: dict[str, int], top: int = 12) -> dict[str, int]:
    """The emulator's calls between two counts, the most frequent first (the rest summed as `(rest)`)."""
    moved = Counter({op: n - before.get(op, 0) for op, n in after.items() if n > before.get(op, 0)})
    out = dict(moved.most_common(top))
    rest = sum(moved.values()) - sum(out.values())
    return {**out, "(rest)": rest} if rest else out


if __name__ == "__main__":
    result = run(int(sys.argv[1]) if len(sys.argv) > 1 else None)
    print(json.dumps(result, indent=2))
    sys.exit(0 if result["ok"] else 1)
