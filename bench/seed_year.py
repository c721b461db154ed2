"""`python -m devstack seed` at full size (R-LOC-3, issue 14 point 2): a fresh devstack, a year of 1,000 popugs
seeded into it; the figures are the seed's own wall time (target: at most 15 minutes on this 2-core machine),
the items written per context, and the resident memory (RSS) the emulator and the whole devstack hold after it.

    python -m bench seed_year            (or: python -m bench.seed_year [--popugs N] [--days N])
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from devstack.launcher import start_devstack

TARGET_SECONDS = 15 * 60


def run(popugs: int = 1000, days: int = 365, seed: int = 1) -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        stack = start_devstack(Path(scratch))
        try:
            started = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "devstack", "seed", "--popugs", str(popugs), "--days", str(days),
                 "--seed", str(seed), "--state-file", str(stack.state_file)],
                stdout=subprocess.PIPE, stderr=None, text=True, check=False,
            )  # fmt: skip
            wall = time.perf_counter() - started
            if done.returncode != 0:
                raise RuntimeError(f"devstack seed exited {done.returncode}")
            summary = json.loads(done.stdout)
        finally:
            stack.stop(signal.SIGTERM)
    return {
        "popugs": summary["popugs"],
        "closed_days": summary["closed_days"],
        "transactions": summary["transactions"],
        "tasks": summary["tasks"],
        "seconds": round(wall, 1),
        "seconds_target": TARGET_SECONDS,
        "seed_seconds": summary["seconds"],
        "items_written": summary["items"],
        "load_seconds": summary["load_seconds"],
        "lake": summary["lake"],
        "rss_mb_after": summary["memory_rss_mb"],
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--popugs", type=int, default=1000)
    parser.add_argument("--days", type=int, default=365)
    options = parser.parse_args()
    print(json.dumps(run(options.popugs, options.days), indent=2))
