"""devstack's output: startup progress with timings, and every function's log lines.

Function output is prefixed with the function's name on the console (unless `--quiet`) and always
appended to `.devstack/logs/<Function>.log`, so a quiet run can still be debugged afterwards.
Lines come from many threads (one reader per worker stream): a lock keeps them whole.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TextIO


class Console:
    def __init__(self, log_dir: Path, *, quiet: bool = False, out: TextIO | None = None) -> None:
        self.log_dir = log_dir
        self.quiet = quiet
        self.out = out or sys.stdout
        self._lock = threading.Lock()
        self._files: dict[str, IO[str]] = {}

    def say(self, line: str = "") -> None:
        """A line of devstack's own (always shown, even with --quiet)."""
        with self._lock:
            self.out.write(line + "\n")
            self.out.flush()

    @contextmanager
    def step(self, label: str) -> Iterator[list[str]]:
        """One startup step, printed with how long it took; append to the yielded list to add detail."""
        started = time.monotonic()
        detail: list[str] = []
        yield detail
        elapsed = (time.monotonic() - started) * 1000
        suffix = f": {', '.join(detail)}" if detail else ""
        self.say(f"  {label:<11} {elapsed:6.0f} ms{suffix}")

    def function_line(self, function: str, line: str, *, echo: bool = True) -> None:
        """One line a function (or devstack about a function) logged."""
        with self._lock:
            handle = self._files.get(function)
            if handle is None:
                self.log_dir.mkdir(parents=True, exist_ok=True)
                handle = self._files[function] = (self.log_dir / f"{function}.log").open("a", buffering=1)
            handle.write(line + "\n")
            if echo and not self.quiet:
                self.out.write(f"[{function}] {line}\n")
                self.out.flush()

    def close(self) -> None:
        with self._lock:
            for handle in self._files.values():
                handle.close()
            self._files.clear()
