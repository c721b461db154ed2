"""Warm worker processes per function: a small local Lambda service.

A function's first invocation starts a worker (`python -m devstack.worker`), which imports the handler:
a real cold start. The worker then stays warm for later invocations. Each function has a pool of up to
`size` workers, so concurrent callers see real concurrency and a load test sees real contention. The
function's timeout is enforced by killing the worker (as Lambda discards a timed-out sandbox).

Workers are supervised: one that dies (a crash, `kill -9`) is noticed when its output ends, and the console
says which, with its exit status. An idle one is replaced at once by a fresh worker with the same spec (the
console says so, with how long it took), so no caller ever meets a dead worker; one that dies during an
invocation fails that invocation as Lambda does (`Runtime.ExitError`: API Gateway answers 502) and the next
call gets a fresh worker. A request written to a worker that was already dead never reached it: it is run on
another worker instead of failing.

A function's environment can be overridden while devstack runs (`WorkerPool.set_environment`, served at
`/_devstack/functions/<LogicalId>/environment`), as changing a Lambda's configuration does in AWS: its warm
workers are retired (a busy one after its current invocation), so the next invocation cold-starts with the
new variables. That is how a misconfiguration incident and its fix are simulated, with no special case in
function code.

Cold starts take turns: at most one per core at a time (`INIT_SLOTS`), the functions requests wait on and the
background ones each taking their own turns. A hire fans out to four consumers and a queue has five pollers, so
a burst asked for a dozen workers at once; on two cores each import then took a dozen times its CPU, all of
them ended late together (past the functions' timeouts, so their messages waited out the queue's visibility
timeout), and most were not needed once the first were warm. A call waiting for its turn takes its function's
warm worker if one frees up first.

Functions run at two CPU priorities. In AWS every invocation has its own CPU; here the functions, the
emulator and devstack share the machine's cores, and a queue's consumer busy with a burst would take them from
the requests people are waiting on. So the workers of a function no request waits on (event consumers, outbox
relays, scheduled jobs) run at a lower priority (`BACKGROUND_NICE`) than those an API route or its authorizer
invokes: they get whatever CPU the requests leave, which under the load bench is most of it (their backlog is
gone within seconds of its end). A priority is not a cap: on an idle machine a background worker runs as fast
as any.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from devstack import apigw, channel, procs, sites
from devstack.aws import DUMMY_CREDENTIALS
from devstack.console import Console
from devstack.template import REGION

INIT_TIMEOUT_SECONDS = 30.0  # Lambda allows 10 s; a loaded 2-core laptop importing pydantic needs slack
# Cold starts running at once (see above): one per core, for the request-serving functions and the others each.
INIT_SLOTS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
INIT_SLOT_POLL = 0.05  # seconds between looks for a free init slot while no warm worker frees up
WORKER_STOP_GRACE = 1.0  # seconds a worker has to exit on SIGTERM before it is killed
# Linux's weights make a nice-10 process's share of a contended core about a tenth of a nice-0 one's.
BACKGROUND_NICE = 10
DEVSTACK_ROOT = str(Path(__file__).resolve().parent.parent)


@dataclass(frozen=True)
class FunctionSpec:
    """What the template says about one function, resolved."""

    logical_id: str
    name: str
    handler: str
    code_dir: Path
    environment: dict[str, str]
    # Its layers' directories, in the template's order (each is what Lambda extracts to /opt/python).
    layer_dirs: tuple[Path, ...] = ()
    timeout: float = 3.0
    memory_mb: int = 128
    arn: str = ""
    log_group: str = ""
    serves_requests: bool = False  # an API route or authorizer invokes it: its workers keep devstack's priority


@dataclass
class Invocation:
    """The outcome of one invocation, as Lambda's Invoke API would report it."""

    request_id: str
    ok: bool
    payload: Any = None
    error: dict[str, Any] | None = None
    duration_ms: float = 0.0
    cold_start: bool = False

    @property
    def error_message(self) -> str:
        return str((self.error or {}).get("errorMessage", ""))


class _Unavailable(Exception):
    """No worker could be had for an invocation: its error payload, and whether it was a cold start."""

    def __init__(self, error: dict[str, Any], cold: bool = False) -> None:
        super().__init__(error.get("errorMessage"))
        self.error = error
        self.cold = cold


class FunctionError(RuntimeError):
    """Raised by `WorkerPool.call` when the invocation failed."""

    def __init__(self, invocation: Invocation) -> None:
        super().__init__(invocation.error_message or "the function failed")
        self.invocation = invocation


def functions_from(provisioned: Any) -> dict[str, FunctionSpec]:
    """Every `AWS::Lambda::Function` of the provisioned stack, with its resolved environment (SAM's
    translation has already merged the template's Globals into each function)."""
    specs: dict[str, FunctionSpec] = {}
    stack = provisioned.stack
    apis, _ = apigw.RestApi.from_provisioned(provisioned)
    serving = set().union(*(api.functions for api in apis))
    for logical_id in provisioned.active("AWS::Lambda::Function"):
        props = provisioned.properties(logical_id)
        name = provisioned.resolver.ref(logical_id)
        variables = (props.get("Environment") or {}).get("Variables") or {}
        specs[logical_id] = FunctionSpec(
            logical_id=logical_id,
            name=name,
            handler=props.get("Handler", ""),
            code_dir=stack.code_dirs.get(logical_id, stack.root),
            layer_dirs=_layer_dirs(provisioned, props.get("Layers") or []),
            environment={key: _env_text(value) for key, value in variables.items()},
            timeout=float(props.get("Timeout", 3)),
            memory_mb=int(props.get("MemorySize", 128)),
            arn=provisioned.resolver.get_att(logical_id, "Arn"),
            log_group=f"/aws/lambda/{name}",
            serves_requests=logical_id in serving,
        )
    return specs


def request_serving(functions: dict[str, FunctionSpec]) -> list[str]:
    """The functions a person's request waits on: an API route's or an authorizer's."""
    return [spec.logical_id for spec in functions.values() if spec.serves_requests]


def _layer_dirs(provisioned: Any, arns: list[str]) -> tuple[Path, ...]:
    """The local directories of the layers a function names (by ARN, as the resolved template does)."""
    local = {provisioned.resolver.ref(layer): path for layer, path in provisioned.stack.layer_dirs.items()}
    missing = [arn for arn in arns if arn not in local]
    if missing:  # an ARN of a layer published elsewhere: its content is not here to run
        raise ValueError(f"layers {missing} are not in the template: devstack runs only local layers")
    return tuple(local[arn] for arn in arns)


def python_path(spec: FunctionSpec) -> list[str]:
    """The function's import path as Lambda's: its package (/var/task), then its layers (/opt/python; a later
    layer's files overwrite an earlier one's in /opt, so it comes first), then the third-party packages its
    locks install and the runtime's own (devstack/sites.py). Nothing else of the repository or of devstack's
    virtualenv: a module the package does not ship fails to import locally as it would in AWS."""
    directories = [spec.code_dir, *reversed(spec.layer_dirs)]
    return [str(path) for path in [*directories, *sites.sites(directories, function_tmp() / "sites")]]


def _env_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def runtime_environment(spec: FunctionSpec, endpoint_url: str) -> dict[str, str]:
    """The environment a worker starts with: the template's variables plus what the Lambda runtime sets.

    Functions only learn about the emulator through AWS_ENDPOINT_URL (boto3 honours it natively);
    AWS_SAM_LOCAL makes powertools' Tracer disable itself, as under `sam local`.
    """
    keep = ("PATH", "LANG", "LC_ALL", "TZ", "HOME")
    env = {key: os.environ[key] for key in keep if key in os.environ}
    env[procs.INSTANCE_VARIABLE] = procs.instance_id()
    env["TMPDIR"] = str(function_tmp())
    env.update(spec.environment)
    env.update(_runtime_variables(spec, endpoint_url, python_path(spec)))
    return env


def function_tmp() -> Path:
    """The functions' /tmp: one per devstack, as Lambda gives each environment its own, so two stacks on
    one machine never share what a function keeps there (the analytics lake's local mirror)."""
    path = Path(tempfile.gettempdir()) / f"devstack-{procs.instance_id()}"
    path.mkdir(exist_ok=True)
    return path


def _runtime_variables(spec: FunctionSpec, endpoint_url: str, path: list[str] | None = None) -> dict[str, str]:
    """What the runtime (and devstack) set over the template's variables: reserved, never overridden."""
    return dict(
        {
            "AWS_ENDPOINT_URL": endpoint_url,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": DUMMY_CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": DUMMY_CREDENTIALS["aws_secret_access_key"],
            "AWS_SESSION_TOKEN": "devstack",
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(int(spec.timeout)),
            "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group or f"/aws/lambda/{spec.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": f"{time.strftime('%Y/%m/%d')}/[$LATEST]{uuid.uuid4().hex}",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
            "AWS_SAM_LOCAL": "true",
            # The SDK adds `app/<id>` to its user agent: the emulator counts each function's calls apart.
            "AWS_SDK_UA_APP_ID": spec.logical_id,
            "LAMBDA_TASK_ROOT": str(spec.code_dir),
            "_HANDLER": spec.handler,
            "PYTHONPATH": os.pathsep.join([*(path or []), DEVSTACK_ROOT]),
            "DEVSTACK_RUNTIME_PATH": DEVSTACK_ROOT,
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )


VARIABLE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")  # what Lambda accepts as an environment variable's name
RESERVED_VARIABLES = frozenset(
    [*_runtime_variables(FunctionSpec("", "", "", Path("."), {}), ""), procs.INSTANCE_VARIABLE, "_X_AMZN_TRACE_ID"]
)


class _Undelivered(Exception):
    """The request could not be written to the worker: it was dead before the invocation began."""


class _Worker:
    """One warm process and its two pipe ends."""

    def __init__(
        self,
        spec: FunctionSpec,
        endpoint_url: str,
        console: Console,
        generation: int = 0,
        on_exit: Callable[[_Worker], None] | None = None,
    ) -> None:
        self.generation = generation  # the pool's configuration it started with
        self.spec_id = spec.logical_id
        self.reported = False  # its death was told on the console (by its watcher or its caller)
        request_read, self.request_fd = os.pipe()
        self.response_fd, response_write = os.pipe()
        try:
            self.process = procs.spawn(
                # -S: no site-packages of devstack's own; the function's path has what it ships (python_path)
                [sys.executable, "-S", "-m", "devstack.worker", str(request_read), str(response_write)],
                pass_fds=(request_read, response_write),
                env=runtime_environment(spec, endpoint_url),
                cwd=spec.code_dir,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        finally:
            os.close(request_read)
            os.close(response_write)
        if not spec.serves_requests:
            with contextlib.suppress(ProcessLookupError):  # died at once: its watcher reports it
                os.setpriority(os.PRIO_PROCESS, self.process.pid, os.getpriority(os.PRIO_PROCESS, 0) + BACKGROUND_NICE)
        # stdout's reader doubles as the watcher: the stream ends when the process does (no thread of its own)
        threading.Thread(target=self._forward_then_watch, args=(spec.logical_id, console, on_exit), daemon=True).start()
        threading.Thread(target=_forward, args=(self.process.stderr, spec.logical_id, console), daemon=True).start()
        self.init_ms = 0.0
        self._closed = False
        self._close_lock = threading.Lock()

    def wait_ready(self, deadline: float) -> dict[str, Any] | None:
        """None when the handler imported; the init error otherwise."""
        message = channel.receive(self.response_fd, deadline)
        if message.get("type") == "ready":
            self.init_ms = float(message.get("init_ms", 0.0))
            return None
        return message.get("error") or {"errorType": "Runtime.InitError", "errorMessage": "init failed"}

    def _forward_then_watch(self, function: str, console: Console, on_exit: Callable[[_Worker], None] | None) -> None:
        _forward(self.process.stdout, function, console)
        if on_exit is not None and not self._closed:
            on_exit(self)

    @property
    def closed(self) -> bool:
        return self._closed

    def call(self, request: dict[str, Any], deadline: float) -> dict[str, Any]:
        try:
            channel.send(self.request_fd, request)
        except (BrokenPipeError, OSError) as error:  # nobody reads the pipe: the worker is gone
            raise _Undelivered(str(error)) from error
        return channel.receive(self.response_fd, deadline)

    def exit_status(self, wait: float = 1.0) -> int | None:
        try:
            return self.process.wait(wait)
        except subprocess.TimeoutExpired:
            return None

    def close(self, kill: bool = False, wait: bool = True) -> None:
        """Idempotent: a second close must not close fd numbers the OS has since handed to someone else.
        `wait=False` only asks the process to end (SIGTERM): its caller reaps it."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
            for fd in (self.request_fd, self.response_fd):
                with contextlib.suppress(OSError):
                    os.close(fd)
        if kill:
            self.process.kill()
            self.process.wait()
        elif not wait:
            with contextlib.suppress(ProcessLookupError):
                self.process.terminate()
        else:
            procs.stop(self.process, grace=WORKER_STOP_GRACE)


def _forward(stream: IO[bytes] | None, function: str, console: Console) -> None:
    if stream is None:
        return
    with stream:
        for raw in iter(stream.readline, b""):
            console.function_line(function, raw.decode("utf-8", "replace").rstrip("\n"))


@dataclass
class _Pool:
    spec: FunctionSpec
    size: int
    idle: list[_Worker] = field(default_factory=list)
    workers: set[_Worker] = field(default_factory=set)  # every live one, idle or busy
    live: int = 0  # workers plus those starting
    busy: int = 0
    invocations: int = 0
    cold_starts: int = 0
    overrides: dict[str, str] = field(default_factory=dict)  # environment set at run time, over the template's
    generation: int = 0  # bumped by each change of `overrides`: workers of an older one are retired
    condition: threading.Condition = field(default_factory=threading.Condition)

    def current_spec(self) -> FunctionSpec:
        if not self.overrides:
            return self.spec
        return replace(self.spec, environment={**self.spec.environment, **self.overrides})


class WorkerPool:
    """Invokes functions by logical id; each function gets up to `size` warm workers."""

    def __init__(
        self,
        functions: dict[str, FunctionSpec],
        *,
        endpoint_url: str,
        console: Console,
        size: int = 1,
        init_slots: int = 0,
    ) -> None:
        self.functions = functions
        self.endpoint_url = endpoint_url
        self.console = console
        self._pools = {name: _Pool(spec, max(1, size)) for name, spec in functions.items()}
        self._closed = False
        self._listeners: list[Callable[[], None]] = []
        # Requests' functions and background ones take turns apart: a background cold start runs at the lower
        # priority, so under load it would hold a slot for long while a request waited behind it.
        self._init_slots = {serves: threading.BoundedSemaphore(init_slots or INIT_SLOTS) for serves in (True, False)}

    def add_listener(self, listener: Callable[[], None]) -> None:
        """`listener()` runs at the start of every invocation (the pollers use it to wake up)."""
        self._listeners.append(listener)

    def call(self, function: str, event: Any) -> Any:
        """The function's result, or FunctionError."""
        invocation = self.invoke(function, event)
        if not invocation.ok:
            raise FunctionError(invocation)
        return invocation.payload

    def invoke(self, function: str, event: Any) -> Invocation:
        pool = self._pool(function)
        request_id = str(uuid.uuid4())
        for listener in self._listeners:
            listener()
        for _attempt in range(3):  # a dead worker never received the request: another one may run it
            try:
                worker, cold = self._acquire(pool)
            except _Unavailable as failure:
                self._count(pool, failure.cold)
                return Invocation(request_id, ok=False, error=failure.error, cold_start=failure.cold)
            healthy, delivered = False, True
            try:
                invocation, healthy = self._run(pool.spec, worker, request_id, event)
                invocation.cold_start = cold
                self._log_report(pool.spec, invocation, worker.init_ms if cold else None)
                return invocation
            except _Undelivered:
                delivered = False
                self._died(pool, worker, during="before its invocation reached it; it runs on another worker")
            finally:
                self._release(pool, worker, healthy)
                if delivered:
                    self._count(pool, cold)
        error = {"errorType": "Runtime.Unavailable", "errorMessage": "every worker died before the request reached it"}
        return Invocation(request_id, ok=False, error=error)

    def _acquire(self, pool: _Pool) -> tuple[_Worker, bool]:
        """An idle warm worker, or a newly started one (a cold start); _Unavailable if none can be had. A cold
        start waits for one of the machine's init slots, taking a warm worker instead if one frees meanwhile."""
        with pool.condition:
            while True:
                while not pool.idle and pool.live >= pool.size and not self._closed:
                    pool.condition.wait()
                if self._closed:
                    raise _Unavailable({"errorType": "Runtime.Unavailable", "errorMessage": "devstack is stopping"})
                if pool.idle:
                    pool.busy += 1
                    return pool.idle.pop(), False
                if (slots := self._init_slots[pool.spec.serves_requests]).acquire(blocking=False):
                    break
                # A slot freeing notifies no pool's condition (it may be another function's): look again soon.
                pool.condition.wait(INIT_SLOT_POLL)
            pool.busy += 1
            pool.live += 1
            spec, generation = pool.current_spec(), pool.generation
        try:
            worker = _Worker(spec, self.endpoint_url, self.console, generation, on_exit=self._exited)
        except Exception as error:
            slots.release()
            self._release(pool, None, healthy=False)
            message = f"cannot start a worker: {error}"
            raise _Unavailable({"errorType": "Runtime.StartError", "errorMessage": message}, cold=True) from error
        try:
            failure = worker.wait_ready(time.monotonic() + INIT_TIMEOUT_SECONDS)
        except (channel.ChannelClosed, channel.ChannelTimeout) as error:
            status = worker.exit_status(0.2)
            failure = {"errorType": "Runtime.InitError", "errorMessage": f"init failed ({error}; exit {status})"}
        finally:
            slots.release()
        if failure is None and not self._closed:
            with pool.condition:
                pool.workers.add(worker)
            return worker, True
        self._release(pool, worker, healthy=False)
        raise _Unavailable(
            failure or {"errorType": "Runtime.Unavailable", "errorMessage": "devstack is stopping"}, cold=True
        )

    def _release(self, pool: _Pool, worker: _Worker | None, healthy: bool) -> None:
        """Give back a slot taken by `_acquire`: a healthy worker stays warm, any other is discarded."""
        with pool.condition:
            pool.busy -= 1
            current = worker is not None and worker.generation == pool.generation
            if worker is not None and healthy and current and not self._closed:
                pool.idle.append(worker)
            else:
                pool.live -= 1
                if worker is not None:
                    pool.workers.discard(worker)
                    worker.close(kill=True)
            pool.condition.notify()

    @staticmethod
    def _count(pool: _Pool, cold: bool) -> None:
        with pool.condition:
            pool.invocations += 1
            pool.cold_starts += int(cold)

    def _run(self, spec: FunctionSpec, worker: _Worker, request_id: str, event: Any) -> tuple[Invocation, bool]:
        """One invocation on `worker`; returns it and whether the worker may be reused."""
        started = time.monotonic()
        deadline = started + spec.timeout
        request = {
            "request_id": request_id,
            "deadline_ms": int(time.time() * 1000 + spec.timeout * 1000),
            "invoked_function_arn": spec.arn,
            "event": event,
        }
        self.console.function_line(spec.logical_id, f"START RequestId: {request_id} Version: $LATEST", echo=False)
        try:
            response = worker.call(request, deadline)
        except channel.ChannelTimeout:
            worker.close(kill=True)
            message = f"RequestId: {request_id} Error: Task timed out after {spec.timeout:.2f} seconds"
            error = {"errorType": "Sandbox.Timedout", "errorMessage": message}
            return Invocation(request_id, ok=False, error=error, duration_ms=_ms(started)), False
        except (channel.ChannelClosed, OSError):
            status = worker.exit_status()
            self._died(self._pool(spec.logical_id), worker, during="during an invocation, which failed")
            message = f"RequestId: {request_id} Error: Runtime exited with error: {exit_text(status)}"
            error = {"errorType": "Runtime.ExitError", "errorMessage": message}
            return Invocation(request_id, ok=False, error=error, duration_ms=_ms(started)), False
        if response.get("type") == "result":
            return Invocation(request_id, ok=True, payload=response.get("payload"), duration_ms=_ms(started)), True
        return Invocation(request_id, ok=False, error=response.get("error"), duration_ms=_ms(started)), True

    # -- supervision ----------------------------------------------------------------------------------
    def _exited(self, worker: _Worker) -> None:
        """A worker's output ended without devstack closing it: it died. An idle one is taken out of the pool
        and replaced now; a busy one is its caller's to report (its invocation fails)."""
        pool = self._pool(worker.spec_id)
        with pool.condition:
            if worker.closed or worker not in pool.workers or worker not in pool.idle:
                return  # starting, retired, closed, or busy: its caller handles it
            pool.idle.remove(worker)
            pool.workers.discard(worker)
            pool.live -= 1
            pool.condition.notify()
        self._died(pool, worker, during="while idle")
        worker.close(kill=True)
        if not self._closed:
            threading.Thread(target=self._replace, args=(pool, time.monotonic()), daemon=True).start()

    def _died(self, pool: _Pool, worker: _Worker, *, during: str) -> None:
        """Tell the console once per worker: which function, which process, how it ended."""
        with pool.condition:
            if worker.reported or worker.closed or self._closed:
                return
            worker.reported = True
        status = exit_text(worker.exit_status(1.0))
        who = f"a worker of {pool.spec.logical_id} (pid {worker.process.pid})"
        self.console.say(f"devstack: {who} died {during}: {status}")

    def _replace(self, pool: _Pool, since: float) -> None:
        """Start a warm worker in place of one that died idle (with the pool's current spec, as it started),
        unless a caller has meanwhile started one (the pool is full again)."""
        with pool.condition:
            if pool.live >= pool.size:
                return
        try:
            worker, _cold = self._acquire(pool)
        except _Unavailable as failure:
            self.console.say(f"devstack: could not replace the worker of {pool.spec.logical_id}: {failure}")
            return
        self._release(pool, worker, healthy=True)
        self.console.say(
            f"devstack: the worker of {pool.spec.logical_id} was replaced (pid {worker.process.pid}) "
            f"in {time.monotonic() - since:.1f} s"
        )

    def update_functions(self, functions: dict[str, FunctionSpec]) -> list[str]:
        """New specs for the functions (the emulator was provisioned again, e.g. a KMS key has a new id): a
        function whose spec changed has its warm workers retired, so its next call starts with the new one.
        Returns the functions that changed."""
        changed = []
        for name, spec in functions.items():
            pool = self._pools.get(name)
            if pool is None or pool.spec == spec:
                continue
            with pool.condition:
                pool.spec = spec
                retired = self._retire(pool)
            for worker in retired:
                worker.close()
            changed.append(name)
        self.functions = {**self.functions, **functions}
        return changed

    @staticmethod
    def _retire(pool: _Pool) -> list[_Worker]:
        """Under pool.condition: a new generation; the idle workers leave (returned, to be closed outside the
        lock), busy ones leave after their invocation."""
        pool.generation += 1
        retired, pool.idle = pool.idle, []
        pool.workers.difference_update(retired)
        pool.live -= len(retired)
        pool.condition.notify_all()
        return retired

    def _log_report(self, spec: FunctionSpec, invocation: Invocation, init_ms: float | None) -> None:
        self.console.function_line(spec.logical_id, f"END RequestId: {invocation.request_id}", echo=False)
        report = (
            f"REPORT RequestId: {invocation.request_id} Duration: {invocation.duration_ms:.2f} ms "
            f"Memory Size: {spec.memory_mb} MB"
        )
        if init_ms is not None:
            report += f" Init Duration: {init_ms:.2f} ms"
        if not invocation.ok:
            report += f" Status: error ({(invocation.error or {}).get('errorType', 'Error')})"
        self.console.function_line(spec.logical_id, report)

    def environment(self, function: str) -> dict[str, Any]:
        """The function's run-time overrides and the environment (template + overrides) its workers start with."""
        pool = self._pool(function)
        with pool.condition:
            return {"overrides": dict(pool.overrides), "environment": dict(pool.current_spec().environment)}

    def set_environment(self, function: str, changes: dict[str, str | None]) -> dict[str, Any]:
        """Override some of the function's environment variables (None drops an override, back to the
        template's value) and retire its warm workers, so the next invocation cold-starts with them.

        KeyError for an unknown function; ValueError for a bad name or value, or a variable the runtime
        reserves (as Lambda's UpdateFunctionConfiguration refuses them). Returns `environment()` plus
        `retired`: how many warm workers were stopped (busy ones stop after their current invocation).
        """
        pool = self._pool(function)
        for name, value in changes.items():
            if name in RESERVED_VARIABLES:
                raise ValueError(f"{name} is reserved by the Lambda runtime and cannot be overridden")
            if not isinstance(name, str) or not VARIABLE_NAME.fullmatch(name):
                raise ValueError(f"not an environment variable name: {name!r}")
            if value is not None and not isinstance(value, str):
                raise ValueError(f"the value of {name} must be a string (or null to drop the override)")
        with pool.condition:
            for name, value in changes.items():
                if value is None:
                    pool.overrides.pop(name, None)
                else:
                    pool.overrides[name] = value
            busy = len(pool.workers) - len(pool.idle)
            retired = self._retire(pool)
        for worker in retired:
            worker.close()
        if changes:
            summary = ", ".join(f"{k}={'(template)' if v is None else v}" for k, v in sorted(changes.items()))
            self.console.function_line(function, f"devstack: environment changed ({summary}); next call cold-starts")
        return {**self.environment(function), "retired": len(retired) + busy}

    def _pool(self, function: str) -> _Pool:
        pool = self._pools.get(function)
        if pool is None:
            raise KeyError(f"no function {function!r}; known: {', '.join(sorted(self._pools))}")
        return pool

    def stats(self) -> dict[str, dict[str, int]]:
        return {
            name: {
                "workers": len(pool.workers),
                "busy": pool.busy,
                "invocations": pool.invocations,
                "cold_starts": pool.cold_starts,
            }
            for name, pool in self._pools.items()
        }

    def close(self) -> None:
        """Stop every worker; callers waiting for one get an error."""
        self._closed = True
        stopping: list[_Worker] = []
        for pool in self._pools.values():
            with pool.condition:
                idle, pool.idle = pool.idle, []
                busy = [worker for worker in pool.workers if worker not in idle]
                pool.workers.clear()
                pool.live -= len(idle)
                pool.condition.notify_all()
            for worker in busy:  # its caller gets "exited" and releases (closes) it
                worker.process.kill()
            stopping += idle
        # Told all at once, then waited for together: one by one, each idle worker's up-to-a-second exit added
        # up to the whole stop's time on a loaded machine.
        for worker in stopping:
            worker.close(wait=False)
        procs.reap([worker.process for worker in stopping], grace=WORKER_STOP_GRACE)
        shutil.rmtree(function_tmp(), ignore_errors=True)  # as an environment's /tmp goes with it


def exit_text(status: int | None) -> str:
    """A process's end as a person reads it: `killed by SIGKILL (exit status -9)`, `exit status 1`."""
    if status is None:
        return "exit status unknown"
    if status < 0:
        try:
            return f"killed by {signal.Signals(-status).name} (exit status {status})"
        except ValueError:
            return f"killed by signal {-status} (exit status {status})"
    return f"exit status {status}"


def _ms(started: float) -> float:
    return (time.monotonic() - started) * 1000
