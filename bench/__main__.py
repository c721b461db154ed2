"""`make bench`: every benchmark, one JSON object of figures on stdout (progress on stderr).

Figures are ratios or counts where the machine's noise would otherwise decide: import time as a
ratio to `import boto3`, transaction cost as a ratio between table sizes, latency as percentiles.
"""

from __future__ import annotations

import importlib
import json
import sys
import time

BENCHMARKS = [
    "bench.import_time",
    "bench.cold_start",
    "bench.packages",
    "bench.emulator_transactions",
    "bench.emulator_streams",
    "bench.emulator_flat",
    "bench.login_latency",
    "bench.shuffle",
    "bench.day_close",
    "bench.fee_latency",
    "bench.hire_burst",
    "bench.analytics_queries",
    "bench.load",
    "bench.idle",
    "bench.heal",
    "bench.year_routes",
    "bench.seed_year",
    "bench.durable",
]


def main(names: list[str]) -> int:
    figures: dict[str, object] = {}
    failed = False
    for name in names or BENCHMARKS:
        started = time.perf_counter()
        print(f"running {name}...", file=sys.stderr, flush=True)
        try:
            figures[name.removeprefix("bench.")] = importlib.import_module(name).run()
        except Exception as error:  # one broken benchmark must not hide the others' figures
            figures[name.removeprefix("bench.")] = {"error": f"{type(error).__name__}: {error}"}
            failed = True
        print(f"  done in {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    print(json.dumps(figures, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
