"""A burst of hires on a busy machine: how long until every invitation is in the mailbox, and whether any
function's invocation timed out meanwhile.

Eight hires at once fan out to four consumers each and a queue has five pollers, so the burst asks for a dozen
cold starts together; on two cores that other work keeps busy (BUSY_LOOPS plain CPU loops, as a test suite's
other process or a browser would), each import then took a dozen times its CPU, past the consumers' 10 s
timeout, and the timed-out message waited out its queue's visibility timeout (60 s): the security tests' cast
once waited for an invitation longer than their 30 s. devstack.workers' init slots are what this measures.

    python -m bench.hire_burst
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from devstack.launcher import start_devstack
from tests.e2e.popugs import Client, hire

HIRES = 8
BUSY_LOOPS = 6
WAIT_SECONDS = 150.0
TIMED_OUT = re.compile(r"^REPORT .*Status: error \(Sandbox\.Timedout\)")
COLD = re.compile(r"^REPORT .*Init Duration: ([0-9.]+) ms")


def run() -> dict:
    hires = int(os.environ.get("ATES_BENCH_HIRES") or HIRES)
    loops = int(os.environ.get("ATES_BENCH_BUSY_LOOPS") or BUSY_LOOPS)
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(os.environ.get("ATES_BENCH_DIR") or scratch)
        stack = start_devstack(root, "--workers", "8")
        busy: list[subprocess.Popen[bytes]] = []
        try:
            admin = Client.signed_in(stack.api_url, stack.admin_email, stack.admin_password)
            busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(loops)]
            started = time.monotonic()
            with ThreadPoolExecutor(hires) as threads:
                emails = [email for _, email in threads.map(lambda n: hire(admin, f"Burst{n}"), range(hires))]
            hired = time.monotonic() - started
            invited = _wait_for_invitations(stack.url, emails, started)
        finally:
            for loop in busy:
                loop.kill()
            stack.stop(signal.SIGTERM)
        reports = [line for log in root.glob("logs-*/*.log") for line in log.read_text(errors="replace").splitlines()]
    inits = sorted(float(m.group(1)) for line in reports if (m := COLD.match(line)))
    return {
        "hire_burst_hires": hires,
        "hire_burst_busy_loops": loops,
        "hire_burst_seconds_to_hire_all": round(hired, 1),
        "hire_burst_seconds_to_every_invitation": max(invited.values()) if len(invited) == hires else None,
        "hire_burst_invitations_missing": hires - len(invited),
        "hire_burst_invocations_timed_out": sum(bool(TIMED_OUT.match(line)) for line in reports),
        "hire_burst_cold_starts": len(inits),
        "hire_burst_longest_init_ms": inits[-1] if inits else None,
    }


def _wait_for_invitations(url: str, emails: list[str], started: float) -> dict[str, float]:
    """Seconds from the burst's start to each address's invitation in devstack's mailbox."""
    seen: dict[str, float] = {}
    while len(seen) < len(emails) and time.monotonic() - started < WAIT_SECONDS:
        mails = requests.get(f"{url}/_devstack/mailbox.json", timeout=30).json()["items"]
        for email in emails:
            if email not in seen and any(email in mail["to"] for mail in mails):
                seen[email] = round(time.monotonic() - started, 1)
        time.sleep(0.3)
    return seen


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
