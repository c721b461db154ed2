"""Run `python -m devstack up` as a real process (own process group) and find its leftovers.

Shared by the e2e and browser fixtures, the `--endpoint` integration test and the benchmarks. Every
devstack started here carries `DEVSTACK_INSTANCE=<uuid>` (devstack passes it on to each child), so a
test can prove that stopping it leaves none of its processes behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
READY_TIMEOUT = 90.0
READY_PREFIX = "devstack ready: "
STACK_DUMP_WAIT = 2.0  # seconds for a stuck devstack to write its threads' stacks before it is killed


class DevstackNotReady(RuntimeError):
    """devstack did not print its ready line in time; the message holds its output."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Devstack:
    """A running devstack: where it answers, its admin, and how it started."""

    process: subprocess.Popen[str]
    instance: str
    port: int
    state_file: Path
    lines: list[str] = field(default_factory=list)
    startup_seconds: float = 0.0
    state: dict = field(default_factory=dict)
    log_dir: Path | None = None  # the functions' logs (`--log-dir`)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return self.state["api_url"]

    @property
    def endpoint_url(self) -> str:
        return self.state["endpoint_url"]

    @property
    def admin_email(self) -> str:
        return self.state["admin_email"]

    @property
    def admin_password(self) -> str:
        return self.state["admin_password"]

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def stop(self, sig: int = signal.SIGTERM, *, group: bool = False, timeout: float = 20.0) -> int:
        """Signal devstack (or its whole process group, as Ctrl-C in a terminal does) and wait for it."""
        if self.process.poll() is None:
            if group:
                os.killpg(self.process.pid, sig)
            else:
                self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGUSR1)  # devstack writes every thread's stack: what it waits on
            time.sleep(STACK_DUMP_WAIT)
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            raise AssertionError(f"devstack did not stop within {timeout} s:\n{self.output}") from None


def leftovers(instance: str) -> list[str]:
    """Processes still alive that belong to this devstack instance (environment marker), as cmdlines."""
    marker = f"DEVSTACK_INSTANCE={instance}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                found.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:  # gone, or not ours to read
            continue
    return found


def copy_state(seeded: str | Path, into: Path) -> Path:
    """A copy of a kept state directory under `into`, for a run that changes it (the emulator's lock left out)."""
    target = into / "state"
    shutil.copytree(seeded, target, ignore=shutil.ignore_patterns("LOCK"))
    return target


def start_devstack(tmp: Path, *extra: str, port: int | None = None, ready_timeout: float = READY_TIMEOUT) -> Devstack:
    """Start `python -m devstack up` and wait for its ready line (the output is shown if it never comes).

    Its state lives in a new directory under `tmp` (never the checkout's .devstack/state) unless `extra`
    names one (`--state-dir DIR`: a restart on that state) or asks for none (`--in-memory`)."""
    port = port or free_port()
    instance = uuid.uuid4().hex
    if "--state-dir" not in extra and "--in-memory" not in extra:
        extra = (*extra, "--state-dir", str(tmp / f"state-{instance}"))
    state_file = tmp / f"state-{instance}.json"
    log_dir = tmp / f"logs-{instance}"
    command = [
        sys.executable,
        "-m",
        "devstack",
        "up",
        "--port",
        str(port),
        "--state-file",
        str(state_file),
        "--log-dir",
        str(log_dir),
        "--quiet",
        *extra,
    ]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
        start_new_session=True,
        env={**os.environ, "DEVSTACK_INSTANCE": instance, "PYTHONUNBUFFERED": "1"},
    )
    stack = Devstack(process=process, instance=instance, port=port, state_file=state_file, log_dir=log_dir)
    ready = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            stack.lines.append(line.rstrip("\n"))
            if line.startswith(READY_PREFIX):
                ready.set()
        ready.set()  # EOF: it exited

    threading.Thread(target=read, daemon=True).start()
    started = time.monotonic()
    ready.wait(ready_timeout)
    stack.startup_seconds = time.monotonic() - started
    if not any(line.startswith(READY_PREFIX) for line in stack.lines):
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        raise DevstackNotReady(
            f"devstack was not ready within {ready_timeout} s (exit {process.poll()}):\n{stack.output}"
        )
    stack.state = json.loads(state_file.read_text())
    return stack
