"""What a running devstack uses, over every process of its group (the stack, the emulator, the function
workers): resident memory, sampled in the background while a benchmark runs, and CPU time.

Why the whole group: a leak or a busy loop can sit in any of them (the emulator's stored items and stream
records, a worker's caches, the tap's kept events, a poller), and the machine pays for the sum.
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")
MIB = 1024 * 1024


def _members(pgid: int) -> Iterator[tuple[Path, list[str]]]:
    """Each live process of the group: its /proc directory and the fields of its stat after the command."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if int(stat[2]) == pgid:  # fields after the command: state, ppid, pgrp, ...
            yield entry, stat


def group_cpu_seconds(pgid: int) -> float:
    """User and system CPU time of the group's live processes."""
    return sum(group_cpu_seconds_by_kind(pgid).values())


def group_cpu_seconds_by_kind(pgid: int) -> dict[str, float]:
    """User and system CPU time of the group's live processes per kind (see `group_rss`): where a load's
    CPU goes, a figure the machine's speed moves far less than latency (a worker that exited meanwhile is
    not counted; the stack keeps its workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = {"emulator": 0.0, "workers": 0.0, "stack": 0.0}
    for entry, stat in _members(pgid):
        kind = _kind(entry)
        if kind:
            cpu[kind] += (int(stat[11]) + int(stat[12])) / ticks
    return cpu


def group_rss(pgid: int) -> dict[str, int]:
    """Bytes resident per process kind ("emulator", "workers", "stack") of the process group `pgid`."""
    rss = {"emulator": 0, "workers": 0, "stack": 0}
    for entry, _ in _members(pgid):
        try:
            resident = int((entry / "statm").read_text().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):  # gone meanwhile
            continue
        kind = _kind(entry)
        if kind:
            rss[kind] += resident
    return rss


def _kind(entry: Path) -> str | None:
    """ "emulator", "workers" (the function workers) or "stack" (devstack itself); None when gone meanwhile."""
    try:
        command = (entry / "cmdline").read_bytes()
    except OSError:
        return None
    if b"devstack.emulator" in command:
        return "emulator"
    return "workers" if b"devstack.worker" in command else "stack"


class RssSampler:
    """Samples `group_rss` every `interval` seconds from `start()` until `stop()`."""

    def __init__(self, pgid: int, interval: float = 10.0) -> None:
        self.pgid, self.interval = pgid, interval
        self.samples: list[tuple[float, dict[str, int]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._started = 0.0

    def start(self) -> RssSampler:
        self._started = time.monotonic()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            self.samples.append((time.monotonic() - self._started, group_rss(self.pgid)))
            if self._stop.wait(self.interval):
                return

    def figures(self) -> dict[str, object]:
        """Total MiB at the first and last sample, the largest, and the growth: the median of the last quarter
        of the samples over the median of the second quarter (the first quarter is warm-up: workers start,
        caches fill), which is what "flat within 10%" is judged on."""
        if not self.samples:
            return {}
        totals = [sum(sample.values()) / MIB for _, sample in self.samples]
        quarter = max(1, len(totals) // 4)
        settled = statistics.median(totals[quarter : 2 * quarter] or totals)
        last = statistics.median(totals[-quarter:])
        return {
            "rss_samples": len(totals),
            "rss_sampled_seconds": round(self.samples[-1][0], 1),
            "rss_mib_first": round(totals[0], 1),
            "rss_mib_last": round(totals[-1], 1),
            "rss_mib_max": round(max(totals), 1),
            "rss_mib_last_by_kind": {k: round(v / MIB, 1) for k, v in self.samples[-1][1].items()},
            "rss_growth_last_quarter_over_second": round(last / settled, 3),
            "rss_growth_target": 1.10,
        }
