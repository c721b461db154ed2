"""`python -m devstack seed`: load a realistic company-year into the running devstack (R-LOC-3), or into a
fresh one it starts (and keeps running afterwards, as `make run` does, until Ctrl-C).

Steps: find the stack (state file) and the contexts' table and bucket names (the functions' own
environment, from `/_devstack/functions/<F>/environment`); refuse a stack that already has tasks or closed
days; make the company (devstack.seed.people); simulate the year (devstack.seed.year), writing each
table's items (devstack.seed.items) and the events as they happen; load the items through the emulator's
bulk loader (no stream records: devstack.bulk_load); build the lake (devstack.seed.lake); append the
events the ledger audit checks to the event tap's file. Progress goes to stderr, the summary (JSON) to stdout.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from devstack.seed import items as table_items
from devstack.seed import lake as seed_lake
from devstack.seed import people, year

# Every seeded popug signs in with this password (documented in README.md and devstack/README.md).
PASSWORD = "popugs-seeded-for-a-year"
FUNCTIONS = ("AuthApiFunction", "StaffApiFunction", "TasksApiFunction", "AccountingApiFunction", "AnalyticsApiFunction")
WANTED = ("_TABLE_NAME", "LAKE_BUCKET", "BUSINESS_TIMEZONE", "EVENT_BUS_NAME")
TAP_EVENTS = frozenset(
    {"TaskCreated", "TaskAssigned", "TaskCompleted", "TaskPriced", "DayClosed", "EmployeeHired",
     "DepartmentChanged", "AccountCreated", "AccountRolesChanged"}
)  # fmt: skip
SAMPLE_CHECKS = 50  # envelopes of each event name validated against the registry


class SeedError(RuntimeError):
    """The stack cannot be seeded (not reachable, not empty, a step failed)."""


class Progress:
    def __init__(self) -> None:
        self.started = time.monotonic()

    def __call__(self, message: str) -> None:
        print(f"seed [{time.monotonic() - self.started:7.1f} s] {message}", file=sys.stderr, flush=True)


def seed(*, state_file: Path, popugs: int, days: int, seed_value: int, port: int) -> int:
    say = Progress()
    child = None
    state = _state(state_file)
    if not _alive(state):
        say(f"no running devstack ({state_file}): starting one on port {port}")
        child = _start(state_file, port)
        state = _wait_ready(state_file, child)
    try:
        summary = seed_stack(state, popugs=popugs, days=days, seed_value=seed_value, say=say)
    except SeedError as error:
        say(f"cannot seed: {error}")
        if child is not None:
            child.terminate()
            child.wait(30)
        return 2
    print(json.dumps(summary, indent=2))
    say(f"done in {summary['seconds']} s: sign in as any seeded popug with the password {PASSWORD!r}")
    if child is not None:
        say(f"devstack keeps running on {state['url']}: stop with Ctrl-C")
        try:
            return child.wait()
        except KeyboardInterrupt:
            return child.wait(30)
    return 0


def seed_stack(state: dict[str, Any], *, popugs: int, days: int, seed_value: int, say: Any) -> dict[str, Any]:
    started = time.monotonic()
    env = _contexts_environment(state["url"])
    os.environ.update(env, AWS_ENDPOINT_URL=state["endpoint_url"])
    from devstack.cli import audit_environment

    os.environ.update({k: v for k, v in audit_environment(state["endpoint_url"], env["ACCOUNTING_TABLE_NAME"]).items()})
    functions = str(Path(__file__).resolve().parents[2] / "functions")
    if functions not in sys.path:
        sys.path.insert(0, functions)
    from accounting import store as accounting_store
    from auth import passwords
    from shared.aws import client
    from tasks import store as tasks_store

    client.cache_clear()
    _refuse_busy(accounting_store, tasks_store, client)
    timezone = env.get("BUSINESS_TIMEZONE") or "UTC"
    now = datetime.now(UTC)
    today = datetime.now(UTC).astimezone(__import__("zoneinfo").ZoneInfo(timezone)).date()
    first_day = today - timedelta(days=days)
    rng = random.Random(seed_value)
    company = people.company(popugs, rng)
    say(f"company: {len(company.popugs)} popugs in {len(company.departments)} departments; year {first_day}..{today}")
    password_hash = passwords.hash_password(PASSWORD)
    scratch = Path(tempfile.mkdtemp(prefix="ates-seed-"))
    tables = {"staff": env["STAFF_TABLE_NAME"], "auth": env["AUTH_TABLE_NAME"], "tasks": env["TASKS_TABLE_NAME"],
              "accounting": env["ACCOUNTING_TABLE_NAME"]}  # fmt: skip
    files = table_items.TableFiles(scratch / "items", tables)
    raw = seed_lake.RawScratch(scratch / "lake" / "raw")
    events_file = Path(state.get("events_file") or Path(state["log_dir"]) / "events.jsonl")
    sink = _Sink(files, raw, events_file.open("a"))
    hired_at = datetime.combine(first_day, datetime.min.time(), UTC) + timedelta(hours=8)
    _company_events(company, year.Clerk(random.Random(seed_value + 1), sink), hired_at)
    existing = accounting_store.count_accounts()

    def progress(day: Any) -> None:
        if (day - first_day).days % 30 == 29:
            say(f"year: {day} closed, {sink.transactions:,} transactions, {sink.events:,} events")

    seeded = year.simulate(company, first_day=first_day, now=now, timezone=timezone, seed=seed_value, sink=sink,
                           existing_accounts=existing, progress=progress)  # fmt: skip
    say(f"year simulated: {seeded.transactions:,} transactions, {len(seeded.tasks):,} tasks, {seeded.events:,} events")
    files.write("staff", table_items.staff_items(company, hired_at))
    files.write("auth", table_items.auth_items(company, password_hash))
    files.write("tasks", table_items.tasks_items(company, seeded, now, tasks_store.pool_ids()))
    files.write("accounting", table_items.accounting_items(seeded, timezone))
    files.close()
    sink.close()
    loaded = {}
    for context, path in files.paths.items():
        say(f"loading {files.counts[context]:,} items into {tables[context]}")
        loaded[context] = _post(state["endpoint_url"], "/_devstack/dynamodb/load", {"table": tables[context],
                                                                                   "path": str(path)})  # fmt: skip
    say("building the analytics lake")
    lake_summary = seed_lake.build(raw, env["LAKE_BUCKET"], seeded.days, now, client("s3"), say)
    _checkpoint(state["endpoint_url"], say)
    summary = {
        "seconds": round(time.monotonic() - started, 1), "popugs": len(company.popugs),
        "departments": len(company.departments), "first_day": first_day.isoformat(),
        "closed_days": len(seeded.days), "tasks": len(seeded.tasks), "transactions": seeded.transactions,
        "items": {c: files.counts[c] for c in tables}, "load_seconds": {c: loaded[c]["seconds"] for c in loaded},
        "events": seeded.events, "tap_events": sink.tapped, "lake": lake_summary, "password": PASSWORD,
        "memory_rss_mb": memory(state),
    }  # fmt: skip
    import shutil

    shutil.rmtree(scratch, ignore_errors=True)
    return summary


class _Sink:
    """Where the simulation's output goes: the ledger to the accounting items, every event to the raw lake
    scratch, the events the ledger audit reads to the tap's file (the ledger's own TransactionRecorded
    events stay in the lake only: a million of them would make the tap's file, and every read of it, huge)."""

    def __init__(self, files: table_items.TableFiles, raw: seed_lake.RawScratch, tap: Any) -> None:
        self.files, self.raw, self.tap = files, raw, tap
        self.transactions = self.events = self.tapped = 0
        self.checked: dict[str, int] = {}

    def transaction(self, tx: Any) -> None:
        self.files.write("accounting", [table_items.ledger_item(tx)])
        self.transactions += 1

    def event(self, envelope: dict[str, Any], *, tap: bool) -> None:
        name = envelope["event_name"]
        if self.checked.get(name, 0) < SAMPLE_CHECKS:  # the shapes are the registry's (R-EV-1)
            from shared.contracts import REGISTRY, Envelope

            REGISTRY.read(Envelope.model_validate(envelope))
            self.checked[name] = self.checked.get(name, 0) + 1
        line = json.dumps(envelope, separators=(",", ":")) + "\n"
        self.raw.add(envelope, line)
        self.events += 1
        if tap and name in TAP_EVENTS:
            self.tap.write(line)
            self.tapped += 1

    def close(self) -> None:
        self.tap.close()


def _company_events(company: people.Company, clerk: year.Clerk, at: datetime) -> None:
    """What staff and auth announced when the company was set up: departments, hires, accounts, roles."""
    correlation = people.ids(clerk.rng)
    for d in company.departments:
        data = {"department_id": d.department_id, "version": 1, "name": d.name, "parent_id": d.parent_id,
                "head_id": None, "deleted": False}  # fmt: skip
        clerk.emit("DepartmentChanged", data, at, correlation)
    for index, p in enumerate(company.popugs):
        moment = at + timedelta(seconds=index)
        clerk.emit(
            "EmployeeHired",
            {
                "employee_id": p.employee_id,
                "version": 1,
                "name": p.name,
                "email": p.email,
                "position": p.position,
                "department_id": p.department_id,
            },
            moment,
            correlation,
        )
        clerk.emit("AccountCreated", {"account_id": p.employee_id, "version": 1, "roles": ["worker"], "active": True},
                   moment, correlation)  # fmt: skip
        if p.roles != ("worker",):
            clerk.emit("AccountRolesChanged", {"account_id": p.employee_id, "version": 2, "roles": list(p.roles),
                                               "active": True}, moment + timedelta(minutes=5), correlation)  # fmt: skip
    for d in company.departments:
        if d.head_id:
            data = {"department_id": d.department_id, "version": 2, "name": d.name, "parent_id": d.parent_id,
                    "head_id": d.head_id, "deleted": False}  # fmt: skip
            clerk.emit("DepartmentChanged", data, at + timedelta(hours=1), correlation)


def _refuse_busy(accounting_store: Any, tasks_store: Any, client: Any) -> None:
    """A seeded year replaces the calendar: only a stack with no tasks and no closed day takes one."""
    calendar = accounting_store.get_calendar()
    if calendar is not None and calendar.next_open > calendar.first_day:
        raise SeedError(f"this stack has closed days already (next open day {calendar.next_open}): seed a fresh one")
    found = client("dynamodb").query(
        TableName=tasks_store.table(), IndexName="gsi1", KeyConditionExpression="gsi1pk = :p",
        ExpressionAttributeValues={":p": {"S": tasks_store.ALL_TASKS}}, Limit=1,
    )  # fmt: skip
    if found.get("Items"):
        raise SeedError("this stack has tasks already: seed a fresh one (python -m devstack up with a new state)")


def _contexts_environment(url: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for function in FUNCTIONS:
        answer = _get(url, f"/_devstack/functions/{function}/environment")
        found.update({k: v for k, v in answer["environment"].items() if k.endswith(WANTED) or k in WANTED})
    return found


def memory(state: dict[str, Any]) -> dict[str, float]:
    """Resident memory (MB) of the emulator and of the whole devstack process tree."""
    pid = int(state.get("pid") or 0)
    tree, emulator = 0.0, 0.0
    for process in _descendants(pid) if pid else []:
        rss = _rss_mb(process)
        tree += rss
        if b"devstack.emulator" in _cmdline(process):
            emulator = rss
    return {"emulator": round(emulator, 1), "devstack_total": round(tree, 1)}


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                todo += [int(c) for c in task.read_text().split()]
            except OSError:
                continue
    return found


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _state(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _alive(state: dict[str, Any]) -> bool:
    if not state.get("url"):
        return False
    try:
        _get(state["url"], "/_devstack/health")
        return True
    except (OSError, ValueError):
        return False


def _start(state_file: Path, port: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "devstack", "up", "--port", str(port), "--state-file", str(state_file), "--quiet"]
    return subprocess.Popen(command, stdout=sys.stderr, cwd=Path(__file__).resolve().parents[2])


def _wait_ready(state_file: Path, child: subprocess.Popen[bytes], timeout: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise SystemExit(f"devstack exited ({child.returncode}) before it was ready")
        state = _state(state_file)
        if state.get("pid") == child.pid and _alive(state):
            return state
        time.sleep(1)
    child.terminate()
    raise SystemExit(f"devstack was not ready within {timeout:.0f} s")


def _get(base: str, path: str) -> Any:
    with urllib.request.urlopen(base.rstrip("/") + path, timeout=60) as response:
        return json.loads(response.read())


def _checkpoint(endpoint_url: str, say: Any) -> None:
    """A devstack keeping its state (R-LOC-1): the year into a snapshot now, so a restart loads it rather than
    replaying the lake's tens of thousands of uploads."""
    from devstack import emulator

    if emulator.state(endpoint_url) is not None:
        say("snapshot of the emulator's state")
        emulator.checkpoint(endpoint_url, timeout=1800)


def _post(base: str, path: str, body: Any) -> Any:
    request = urllib.request.Request(base.rstrip("/") + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=1800) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        raise SeedError(f"{path}: {error.read().decode(errors='replace')}") from None
