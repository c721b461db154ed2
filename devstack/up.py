"""`python -m devstack up`: start the whole local stack, report each step, run until Ctrl-C / SIGTERM.

Order matters: the gateway port is bound first (a taken port fails before anything starts), then the
emulator, the translated template, provisioning, the runtime (workers, pollers, scheduler, sweeper, event
tap, the supervisor), the gateway, and finally the bootstrap admin. While it runs, a child that dies is
restarted (`supervisor`). Stopping tears it all down, children included; anything that escapes (kill -9 of
devstack) dies with it through PR_SET_PDEATHSIG.

State (R-LOC-1) lives in `state_dir` (default <checkout>/.devstack/state/; `--fresh`, `make run FRESH=1`,
empties it first; `--in-memory` keeps nothing): `emulator/` (moto's snapshot + journal, devstack.persistence),
`pollers.json` (where each stream poller stopped), `schedules.json` (each schedule's last firing),
`events.jsonl` (the event tap) and `admin.json` (the bootstrap admin, created once).
"""

from __future__ import annotations

import contextlib
import faulthandler
import json
import os
import shutil
import signal
import socket
import sys
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devstack import (
    apigw,
    backups,
    gateway,
    gc_policy,
    pollers,
    procs,
    progress,
    provision,
    scheduler,
    supervisor,
    sweeper,
    tap,
    template,
    workers,
)
from devstack.console import Console
from devstack.control import Control, Services
from devstack.edge import security_headers

ROOT = Path(__file__).resolve().parent.parent
# The first admin (R-AUTH-8), in the template's own steps: hired through staff like anyone, then made an
# admin by auth (which waits for the hire's event to arrive and returns the one-time password).
BOOTSTRAP_STEPS = ("StaffBootstrapHireFunction", "AuthBootstrapAdminFunction")
BOOTSTRAP_ADMIN = {"email": "admin@ates.example", "name": "Bootstrap Admin"}
READY_LINE = "devstack ready: {url}"
STATE_DIR = ROOT / ".devstack" / "state"
EMULATOR_READY_TIMEOUT = 600.0  # starting on a kept state replays its journal first (a year: see bench.durable)
SLOW_STOP_STEP_SECONDS = 1.0
EMULATOR_STOP_GRACE = 300.0  # a clean stop snapshots a long journal (a year's state: bench.durable), then exits


@dataclass
class Options:
    port: int = 8000
    endpoint: str | None = None
    workers: int = 1
    state_file: Path = ROOT / ".devstack" / "state.json"
    quiet: bool = False
    template: Path = ROOT / "template.yaml"
    web_root: Path = ROOT / "web"
    log_dir: Path = ROOT / ".devstack" / "logs"
    parameters: dict[str, str] = field(default_factory=dict)
    sweep_interval: float = 60.0
    stream_retry_backoff: float = pollers.RETRY_BACKOFF_MAX
    bootstrap: bool = True
    state_dir: Path | None = STATE_DIR  # None: in memory, nothing survives
    fresh: bool = False  # empty state_dir first
    fsync_interval: float = 0.2  # the emulator journal's group commit (0: fsync before every answer)


class _Stop(BaseException):
    """Raised in the main thread by SIGINT/SIGTERM: unwinds startup or the wait, into the cleanup."""


def _raise_stop(signum: int, frame: Any) -> None:
    raise _Stop(signal.Signals(signum).name)


@dataclass
class _Running:
    """Everything started so far, stopped in reverse order."""

    server: Any = None
    serving: bool = False  # shutdown() of a server that never served would wait forever
    emulator: Any = None
    pool: workers.WorkerPool | None = None
    pollers: pollers.Pollers | None = None
    scheduler: scheduler.Scheduler | None = None
    sweeper: sweeper.Sweeper | None = None
    tap: tap.EventTap | None = None
    supervisor: supervisor.Supervisor | None = None
    remove_tap: bool = False  # an --endpoint emulator outlives devstack: take the tap's rule and queue away

    def stop(self, console: Console | None = None) -> None:
        from devstack import emulator

        steps = [
            ("supervisor", self.supervisor, lambda s: s.stop()),  # first: children's exits are not deaths now
            ("gateway", self.server, lambda s: (self.serving and s.shutdown(), s.server_close())),
            ("pollers", self.pollers, lambda p: p.stop(wait=0.2)),  # threads in a long poll end with the process
            ("event tap", self.tap, lambda t: t.stop(wait=0.2, remove=self.remove_tap)),
            ("scheduler", self.scheduler, lambda s: s.stop()),
            ("TTL sweeper", self.sweeper, lambda s: s.stop()),
            ("function workers", self.pool, lambda p: p.close()),
            ("emulator", self.emulator, lambda e: emulator.stop(e, grace=EMULATOR_STOP_GRACE)),  # may snapshot
        ]
        for name, target, stop in steps:
            if target is None:
                continue
            started = time.monotonic()
            with contextlib.suppress(Exception):
                stop(target)
            if console is not None and (seconds := time.monotonic() - started) >= SLOW_STOP_STEP_SECONDS:
                console.say(f"devstack: stopping: the {name} took {seconds:.1f} s")  # where a slow stop goes


def up(options: Options) -> int:
    gc_policy.install()  # the hub serves the API: no full collection of its long-lived objects mid-request
    console = Console(options.log_dir, quiet=options.quiet)
    instance = procs.instance_id()
    front = gateway.Gateway(options.web_root, console)
    try:
        server = gateway.bind(front, options.port)
    except gateway.PortInUse as error:
        print(
            f"devstack: {error}. Stop whatever uses it, or pick another port: python -m devstack up --port N",
            file=sys.stderr,
        )
        return 2
    url = f"http://127.0.0.1:{options.port}"
    running = _Running(server=server)
    previous = {sig: signal.signal(sig, _raise_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # `kill -USR1 PID`: every thread's stack, on stderr
    try:
        console.say(f"devstack: starting on {url} (instance {instance})")
        _start(options, console, front, running, url)
        console.say(READY_LINE.format(url=url))
        while True:  # the supervisor restarts what dies; only a signal (_Stop) ends devstack
            time.sleep(60)
    except _Stop as reason:
        console.say(f"devstack: stopping ({reason})")
        return 0
    except (template.TemplateError, provision.ProvisionError, EmulatorUnavailable, ValueError) as error:
        console.say(f"devstack: cannot start: {error}")
        return 1
    finally:
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)  # a second Ctrl-C must not interrupt the cleanup
        running.stop(console)
        _remove_state(options.state_file)
        console.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class EmulatorUnavailable(RuntimeError):
    """The emulator could not be started, or --endpoint names one that does not answer."""


def _start(options: Options, console: Console, front: gateway.Gateway, running: _Running, url: str) -> dict[str, Any]:
    from devstack import emulator

    state_dir = None if options.endpoint else options.state_dir
    kept: dict[str, Any] | None = None  # what recovery found, when the state was kept
    with console.step("emulator") as detail:
        if options.endpoint:
            endpoint = options.endpoint.rstrip("/")
            _check_reachable(endpoint)
            detail.append(f"using {endpoint} (not started by devstack)")
        else:
            port = emulator.free_port()
            options.log_dir.mkdir(parents=True, exist_ok=True)
            if state_dir is not None and options.fresh:
                _refuse_if_in_use(state_dir)  # never empty the state under a running emulator
                shutil.rmtree(state_dir, ignore_errors=True)
            try:
                running.emulator = emulator.start(
                    port,
                    log_path=options.log_dir / "emulator.log",
                    state_dir=state_dir / "emulator" if state_dir else None,
                    timeout=EMULATOR_READY_TIMEOUT if state_dir else 60.0,
                    fsync_interval=options.fsync_interval,
                )
            except emulator.EmulatorError as error:
                raise EmulatorUnavailable(str(error)) from error
            endpoint = f"http://127.0.0.1:{port}"
            detail.append(f"moto on {endpoint} (log: {options.log_dir / 'emulator.log'})")
            if state_dir is not None:
                recovery = (emulator.state(endpoint) or {}).get("recovery") or {}
                kept = recovery if recovery.get("kept") else None
                if kept:
                    detail.append(f"state kept: {kept['replayed']} journaled calls replayed in {kept['seconds']} s")
    with console.step("translate") as detail:
        # When the template declares them and --param does not set them. The emulated SES never throttles,
        # so the payout mailer need not pace itself; there is no Athena, so analytics SQL runs on DuckDB.
        local = {"Stage": "local", "WebUrl": url, "SesMaxSendRate": "0", "AnalyticsQueryEngine": "duckdb"}
        stack = template.load(options.template, options.parameters, local_defaults=local)
        shown = [k for k in stack.parameters if k in options.parameters or k in local]
        params = " ".join(f"{k}={stack.parameters[k]}" for k in shown)
        detail.append(f"{options.template.name} ({params}): {len(stack.resources)} resources")
    with console.step("provision") as detail:
        provisioned = provision.provision(stack, endpoint, web_origin=url.removeprefix("http://"))
        detail.append(f"{len(provisioned.created)} resources created in the emulator")
        if state_dir is not None and not kept:
            # KMS key material comes from os.urandom, which a replay cannot repeat: a snapshot keeps the keys
            emulator.checkpoint(endpoint)
            detail.append("snapshot taken (signing keys kept)")
    _report_skipped(console, provisioned)
    with console.step("runtime") as detail:
        functions = workers.functions_from(provisioned)
        emulator.serve_first(endpoint, workers.request_serving(functions))
        running.pool = pool = workers.WorkerPool(
            functions, endpoint_url=endpoint, console=console, size=options.workers
        )
        mappings = pollers.mappings_from(provisioned, concurrency=options.workers)
        running.pollers = pollers.Pollers(
            mappings,
            pool,
            endpoint_url=endpoint,
            console=console,
            queue_targets=provisioned.queue_targets,
            stream_retry_backoff=options.stream_retry_backoff,
            positions=progress.ProgressFile(state_dir / "pollers.json") if state_dir else None,
            resume=bool(kept),
        )
        running.pollers.start()
        schedules, schedule_notes = scheduler.schedules_from(provisioned)
        # AWS Backup plans run on the same scheduler (started and stopped with it): CreateBackup on the emulator
        plans, backup_notes = backups.plans_from(provisioned)
        schedule_notes += backup_notes
        taker = backups.Backups(plans, endpoint_url=endpoint, console=console)
        running.scheduler = scheduler.Scheduler(
            [*schedules, *taker.schedules()],
            taker.around(pool),
            console,
            progress=progress.ProgressFile(state_dir / "schedules.json") if state_dir else None,
        )
        running.scheduler.start()
        running.sweeper = sweeper.Sweeper(
            provisioned.ttl_attributes, endpoint_url=endpoint, console=console, interval=options.sweep_interval
        )
        running.sweeper.start()
        running.remove_tap = bool(options.endpoint)
        running.tap = event_tap = tap.EventTap(
            provisioned,
            endpoint,
            (state_dir or options.log_dir) / tap.FILE_NAME,
            console,
            fresh=not options.endpoint and not kept,
        )
        event_tap.start()
        web_origin = url.removeprefix("http://")
        restore = supervisor.Restore(stack, endpoint, web_origin, options.workers, previous=provisioned)
        running.supervisor = watch = supervisor.Supervisor(running, console, restore)
        watch.start()
        detail.append(
            f"{len(functions)} functions (pool of {options.workers}, started on first call), "
            f"{len(mappings)} event source mappings, {len(schedules)} schedules, {len(plans)} backup plans, "
            f"TTL sweep of {len(provisioned.ttl_attributes)} tables every {options.sweep_interval:g} s, "
            f"event tap on {', '.join(event_tap.buses) or 'no bus'} to {event_tap.path}"
        )
    with console.step("gateway") as detail:
        apis, api_notes = apigw.RestApi.from_provisioned(provisioned)
        front.apis, front.invoker = apis, pool
        front.edge_headers = security_headers(provisioned.stack)
        front.outage = watch.outage
        info = {"url": f"{url}/", "api_url": f"{url}/api", "endpoint_url": endpoint}
        front.control = Control(
            Services(
                pool,
                running.scheduler,
                running.sweeper,
                endpoint,
                lambda e: _bootstrap(pool, e),
                info,
                events_file=event_tap.path,
                supervisor=watch,
            )
        )
        gateway.serve(running.server)
        running.serving = True
        detail.append(f"{sum(len(a.routes) for a in apis)} API routes, web/ and /_devstack on {url}")
    for note in [*schedule_notes, *api_notes]:
        console.say(f"  note: {note}")
    admin = _kept_admin(state_dir) if kept else None
    if admin is None:
        admin = _run_bootstrap(options, console, pool)
        if state_dir is not None and admin.get("password"):
            _write_private(state_dir / "admin.json", admin)
    else:
        console.say(f"  bootstrap   kept: admin {admin.get('email')} (created at the first start of this state)")
    state = {
        **info,
        "admin_email": admin.get("email"),
        "admin_password": admin.get("password"),
        "mailbox_url": f"{url}/_devstack/mailbox",
        "pid": os.getpid(),
        "instance": procs.instance_id(),
        "log_dir": str(options.log_dir),
        "events_file": str(event_tap.path),
        # logical id -> physical name, for tools that read the emulator directly (audit-ledger)
        "tables": {k: str(provisioned.resolver.ref(k)) for k in provisioned.active("AWS::DynamoDB::Table")},
    }
    if state_dir is not None:
        state["state_dir"] = str(state_dir)
        state["state_kept"] = bool(kept)
    _write_state(options.state_file, state)
    _summary(console, options, state, endpoint)
    return state


def _refuse_if_in_use(state_dir: Path) -> None:
    import fcntl

    lock = state_dir / "emulator" / "LOCK"
    if not lock.exists():
        return
    with open(lock, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise EmulatorUnavailable(f"{state_dir} is in use by a running devstack: stop it first") from None
        fcntl.flock(handle, fcntl.LOCK_UN)


def _kept_admin(state_dir: Path | None) -> dict[str, Any] | None:
    """The bootstrap admin of a kept state (created once: its password is the one given then, or changed since)."""
    if state_dir is None:
        return None
    try:
        admin = json.loads((state_dir / "admin.json").read_text())
    except (OSError, ValueError):
        return None
    return admin if isinstance(admin, dict) else None


def _report_skipped(console: Console, provisioned: provision.Provisioned) -> None:
    counts = Counter((s.type, s.reason) for s in provisioned.skipped)
    if counts:
        console.say(f"  skipped     {sum(counts.values())} resources of types devstack does not create:")
        for (kind, reason), count in sorted(counts.items()):
            console.say(f"    {kind} x{count}: {reason}")
    for note in provisioned.notes:
        console.say(f"  note: {note}")


def _bootstrap(pool: workers.WorkerPool, event: dict[str, Any]) -> workers.Invocation:
    """Run the bootstrap steps the template has, in order; the last one's result (or the first failure)."""
    steps = [step for step in BOOTSTRAP_STEPS if step in pool.functions]
    if BOOTSTRAP_STEPS[-1] not in steps:
        raise KeyError(f"no {BOOTSTRAP_STEPS[-1]} in the template")
    invocation = None
    for step in steps:
        invocation = pool.invoke(step, {**BOOTSTRAP_ADMIN, **(event or {})})
        if not invocation.ok:
            if invocation.error is not None:
                invocation.error = {**invocation.error, "step": step}
            return invocation
    assert invocation is not None
    return invocation


def _run_bootstrap(options: Options, console: Console, pool: workers.WorkerPool) -> dict[str, Any]:
    if not options.bootstrap:
        return {}
    with console.step("bootstrap") as detail:
        try:
            invocation = _bootstrap(pool, {})
        except KeyError as error:
            detail.append(f"skipped: {error.args[0]}")
            return {}
        if invocation.ok and isinstance(invocation.payload, dict) and invocation.payload.get("password"):
            steps = " + ".join(s for s in BOOTSTRAP_STEPS if s in pool.functions)
            detail.append(f"admin {invocation.payload.get('email')} ({steps})")
            return invocation.payload
        error = invocation.error or {"errorMessage": f"unexpected result {invocation.payload!r}"}
        step = error.get("step", BOOTSTRAP_STEPS[-1])
        detail.append(
            f"FAILED in {step}, devstack keeps running without an admin: {error.get('errorType', 'Error')}: "
            f"{error.get('errorMessage')} (log: {options.log_dir / step}.log; "
            "retry with: python -m devstack bootstrap-admin)"
        )
        return {}


def _summary(console: Console, options: Options, state: dict[str, Any], endpoint: str) -> None:
    console.say("")
    console.say(f"  Web + API   {state['url']}   (API under {state['api_url']})")
    if state.get("admin_password"):
        console.say(f"  Admin       {state['admin_email']}  password: {state['admin_password']}")
    console.say(f"  Mailbox     {state['mailbox_url']}")
    console.say(f"  Logs        {options.log_dir}/<Function>.log" + ("" if options.quiet else " (also shown here)"))
    console.say(f"  State file  {options.state_file}")
    console.say("  Supervised  a dead emulator, function worker or poller is restarted (said here); 503 meanwhile")
    if options.endpoint:
        console.say(f"  Emulator    {endpoint}: its state outlives devstack (it was running before)")
    elif options.state_dir is None:
        console.say(f"  Emulator    {endpoint}: in memory (--in-memory), NOTHING persists across restarts")
    else:
        how = "kept from the last run" if state.get("state_kept") else "new"
        console.say(
            f"  State       {options.state_dir} ({how}): everything persists across restarts and crashes; "
            "start empty with `make run FRESH=1` (python -m devstack up --fresh)"
        )
    console.say("  Stop with Ctrl-C.")


def _check_reachable(endpoint: str) -> None:
    parsed = urllib.parse.urlparse(endpoint)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 80), timeout=3):
            pass
    except OSError as error:
        raise EmulatorUnavailable(f"no emulator answers at {endpoint} ({error})") from error


def _write_state(path: Path, state: dict[str, Any]) -> None:
    _write_private(path, state)


def _write_private(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(data, indent=2) + "\n")
    temporary.chmod(0o600)  # it holds the admin's password
    temporary.replace(path)


def _remove_state(path: Path) -> None:
    """Remove the state file if it is this process's (a newer devstack may own it)."""
    with contextlib.suppress(OSError, ValueError):
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()
