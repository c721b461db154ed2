"""devstack supervises the processes it runs (SPEC R-LOC-1, issue 15 point 4): one that dies is restarted,
the console says so, and callers meanwhile get a clear 503, never a hang.

- The emulator: a thread waits on its process. When it dies, the gateway answers every request with
  `503 {"error": {"code": "ServiceUnavailable", ...}}` and a Retry-After (`Outage`), the emulator is started
  again with exactly the command line, environment, port and log it first had (`emulator.restart`: whatever
  state directory its arguments name comes back with it), and the template is provisioned again: creating
  only what is missing, so it re-creates everything in an emulator that came back empty (in memory) and is
  harmless in one that kept its state. What depends on what provisioning returned follows: functions whose
  environment changed (a KMS key with a new id) get fresh workers, pollers of a stream created again start
  on the new stream from its first record, the event tap's queue and rule are put back. Then requests pass
  again, and the console gives the time it took. A request that was in flight when the emulator died and
  failed with a 5xx gets the same 503 (the failure was the outage's, not the request's).
- Function workers: `workers.WorkerPool` replaces a worker that dies (idle: at once; busy: its invocation
  fails as in Lambda, the next call gets a fresh worker).
- Pollers (threads): `pollers.Pollers` backs off while the emulator is away and restarts a poller whose loop
  dies.
"""

from __future__ import annotations

import math
import signal
import threading
import time
from typing import Any

from devstack import aws, emulator, pollers, provision, workers
from devstack.console import Console

RESTART_BACKOFF = (1.0, 30.0)  # a restart or re-provisioning that fails is tried again after 1 s, doubling
EXPECTED_HEAL_SECONDS = 5.0  # Retry-After before the first restart was measured (emulator ~2 s + provision ~2 s)


class Outage:
    """Which supervised parts are away right now, for the gateway (503 while one is), and how long a heal
    took last time (its Retry-After). `epoch` moves at every change, so a request can tell whether an
    outage began or ended while it ran."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._down: dict[str, float] = {}  # what -> since (monotonic)
        self.epoch = 0
        self.expected_seconds = EXPECTED_HEAL_SECONDS
        self.heals: list[float] = []

    def begin(self, what: str) -> None:
        with self._lock:
            self._down.setdefault(what, time.monotonic())
            self.epoch += 1

    def end(self, what: str) -> float:
        """The part is back: how long it was away (seconds)."""
        with self._lock:
            since = self._down.pop(what, time.monotonic())
            self.epoch += 1
            took = time.monotonic() - since
            self.heals.append(took)
            self.expected_seconds = max(1.0, took)
            return took

    def down(self) -> list[str]:
        with self._lock:
            return sorted(self._down)

    def retry_after(self) -> int:
        """Whole seconds until the part is expected back (at least 1)."""
        with self._lock:
            since = min(self._down.values(), default=time.monotonic())
            return max(1, math.ceil(self.expected_seconds - (time.monotonic() - since)))

    def error(self) -> dict[str, Any]:
        """The JSON body of the 503 answered while a part is away."""
        parts = " and ".join(self.down()) or "a part of the stack"
        message = (
            f"The local stack is restarting its {parts}, which stopped unexpectedly: "
            f"try again in {self.retry_after()} seconds."
        )
        return {"error": {"code": "ServiceUnavailable", "message": message}}


class Supervisor:
    """Watches the emulator devstack started (`running.emulator`) and heals the stack when it dies."""

    def __init__(self, running: Any, console: Console, restore: Restore) -> None:
        self.running = running  # up._Running: emulator, pool, pollers, tap (replaced here as they are restarted)
        self.console = console
        self.restore = restore
        self.outage = Outage()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.running.emulator is None:
            return  # --endpoint: not ours to restart
        self._thread = threading.Thread(target=self._watch, name="supervisor-emulator", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Before devstack stops its children on purpose: their exits are not deaths."""
        self._stopping.set()

    def _watch(self) -> None:
        while not self._stopping.is_set():
            process = self.running.emulator
            code = process.wait()
            # Ctrl-C in a terminal signals the whole process group: the emulator may end a moment before devstack
            # sets out to stop it. A clean or signalled exit gets a second's grace to be that, not a death.
            if code in (0, -signal.SIGINT, -signal.SIGTERM) and self._stopping.wait(1.0):
                return
            if self._stopping.is_set():
                return
            self._heal(process, code)

    def _heal(self, dead: Any, code: int) -> None:
        self.outage.begin("emulator")
        self.console.say(
            f"devstack: the emulator (pid {dead.pid}) died: {workers.exit_text(code)}; API requests get 503 "
            "until it is back; restarting it with the same arguments"
        )
        delay, longest = RESTART_BACKOFF
        process, restarted, restored = dead, 0.0, 0.0
        while True:
            try:
                if process.poll() is not None:  # dead, or died again while being provisioned
                    started = time.monotonic()
                    process = emulator.restart(process)
                    self.running.emulator = process
                    restarted = time.monotonic() - started
                if self._stopping.is_set():  # devstack stops meanwhile: so does the emulator just started
                    if process is not dead:
                        emulator.stop(process)
                    return
                started = time.monotonic()
                note = self.restore(self.running)
                restored = time.monotonic() - started
                break
            except Exception as error:
                if self._stopping.is_set():
                    return
                self.console.say(f"devstack: the emulator is not back yet ({error}); trying again in {delay:g} s")
                if self._stopping.wait(delay):
                    return
                delay = min(delay * 2, longest)
        took = self.outage.end("emulator")
        self.console.say(
            f"devstack: the emulator is back (pid {process.pid}), restarted in {took:.1f} s (its start "
            f"{restarted:.1f} s, provisioning {restored:.1f} s); {note}"
        )

    def crash_poller(self, mapping: str) -> None:
        self.running.pollers.crash(mapping)

    def status(self) -> dict[str, Any]:
        return {
            "restarting": self.outage.down(),
            "emulator_restarts": len(self.outage.heals),
            "emulator_restart_seconds": [round(s, 2) for s in self.outage.heals],
            "poller_restarts": self.running.pollers.restarts if self.running.pollers is not None else 0,
        }


class Restore:
    """What an emulator restart must put back: the template's resources (provisioned again, idempotently),
    and what devstack derived from them when it started."""

    def __init__(self, stack: Any, endpoint: str, web_origin: str, concurrency: int, previous: Any) -> None:
        self.stack = stack
        self.endpoint = endpoint
        self.web_origin = web_origin
        self.concurrency = concurrency
        self.previous = previous  # provision.Provisioned of the last provisioning

    def __call__(self, running: Any) -> str:
        tables = aws.client("dynamodb", self.endpoint).list_tables(Limit=1).get("TableNames", [])
        empty = not tables and bool(self.previous.active("AWS::DynamoDB::Table"))
        provisioned = provision.provision(self.stack, self.endpoint, web_origin=self.web_origin)
        functions = workers.functions_from(provisioned)
        emulator.serve_first(self.endpoint, workers.request_serving(functions))  # the new emulator knows none
        changed = running.pool.update_functions(functions)
        renewed = self._renew_pollers(running, provisioned)
        if running.tap is not None:
            running.tap.ensure()
        self.previous = provisioned
        if not empty:
            return "it kept its state (provisioning found what the template needs)"
        return (
            f"it came back empty (its state was in memory): the template's {len(provisioned.created)} resources "
            f"were provisioned again, {len(changed)} functions got a new environment, {renewed} stream pollers "
            "read the new streams from their start; the bootstrap admin is gone with the data "
            "(python -m devstack bootstrap-admin makes a new one)"
        )

    def _renew_pollers(self, running: Any, provisioned: Any) -> int:
        """A table created again has a new stream: its pollers move to it (queue pollers keep going)."""
        return running.pollers.update(pollers.mappings_from(provisioned, concurrency=self.concurrency))
