"""What an idle devstack costs (R-LOC-2: "an idle stack costs next to nothing"): CPU seconds per minute of
its whole process group, measured over a minute after it has been left alone long enough for its pollers
to go dormant. In AWS an idle stack costs nothing; locally its pollers still ask their queues and streams.

    python -m bench.idle
"""

from __future__ import annotations

import json
import os
import signal
import tempfile
import time
from pathlib import Path

from bench.process_group import group_cpu_seconds, group_rss
from devstack.launcher import start_devstack

SETTLE_SECONDS = 30.0  # pollers go dormant 15 s after the last invocation (devstack.pollers.DORMANT_AFTER)
MEASURED_SECONDS = 60.0


def run() -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        stack = start_devstack(Path(os.environ.get("ATES_BENCH_DIR") or scratch))
        try:
            group = os.getpgid(stack.process.pid)
            time.sleep(SETTLE_SECONDS)
            before = group_cpu_seconds(group)
            time.sleep(MEASURED_SECONDS)
            used = group_cpu_seconds(group) - before
            rss = sum(group_rss(group).values())
        finally:
            stack.stop(signal.SIGTERM)
    return {
        "idle_cpu_seconds_per_minute": round(used * 60 / MEASURED_SECONDS, 2),
        "idle_cpu_share_of_one_core": round(used / MEASURED_SECONDS, 4),
        "idle_rss_mib": round(rss / 2**20, 1),
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
