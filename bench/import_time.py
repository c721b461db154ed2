"""Cold import time of every handler module in template.yaml, as a ratio to a bare `import boto3`.

Each handler is imported in fresh interpreters (a cold start imports once per process) on its own package's
path, as Lambda lays it out (tests/contract/packages.py: the CodeUri's directory, then its layers'), then only
the distributions its locks install and the runtime's boto3 (`python -S` on sites of their own, as devstack
runs it: devstack/sites.py; what Lambda would find, not the test environment's other packages, which the
X-Ray SDK's patch_all would import), with the template's
literal variables (the Powertools and pydantic settings) and no Lambda variables, so Powertools' Tracer is
off as outside Lambda. Each import is paired with a bare
`import boto3` run just before it, and the figure is the median of the pairs' ratios: a busy machine slows
both halves of a pair alike, so the ratio holds where the seconds do not.

The target (issue 14): every handler at most `target_ratio_max`. `traced_authorizer_ratio_to_boto3` is the
authorizer with tracing on (Lambda's variables set, no emulator): what a cold start in AWS pays, X-Ray SDK
included, for information.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from devstack import sites
from tests.contract.packages import functions, import_path

RUNS = 7
TARGET_RATIO_MAX = 2.0
AUTHORIZER = "auth.authorizer"
PROBE = "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
BASE_ENV = {"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1"}
# What Lambda sets that turns the Tracer on (LAMBDA_TASK_ROOT) and names the function.
LAMBDA_ENV = {"LAMBDA_TASK_ROOT": "/var/task", "AWS_LAMBDA_FUNCTION_NAME": "bench", "AWS_REGION": "us-east-1"}


def handlers(scratch: Path) -> dict[str, tuple[list[str], dict[str, str]]]:
    """Each handler module -> its import path (its package, its layers, the site of what its locks install) and
    its environment. Functions sharing a handler share a package."""
    found = {}
    for f in functions():
        site = [str(path) for path in sites.sites(f.directories, scratch)]
        found[f.module] = ([*import_path(f), *site], {**BASE_ENV, **dict(f.literal_environment)})
    return found


def import_seconds(module: str, path: list[str], env: dict[str, str]) -> float:
    out = subprocess.run(
        [sys.executable, "-S", "-c", PROBE.format(module=module)],
        cwd=path[0],
        capture_output=True,
        text=True,
        check=True,
        env={**env, "PYTHONPATH": os.pathsep.join(path)},
    ).stdout
    return float(out.strip())


def paired(module: str, path: list[str], env: dict[str, str] = BASE_ENV) -> tuple[float, float, float]:
    """(median ratio to boto3, median seconds, median boto3 seconds) over RUNS pairs."""
    pairs = [(import_seconds("boto3", path, env), import_seconds(module, path, env)) for _ in range(RUNS)]
    ratio = statistics.median(seconds / boto3 for boto3, seconds in pairs)
    return ratio, statistics.median(s for _, s in pairs), statistics.median(b for b, _ in pairs)


def run() -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        every = handlers(Path(scratch))
        measured = {module: paired(module, path, env) for module, (path, env) in sorted(every.items())}
        path, env = every[AUTHORIZER]
        traced = paired(AUTHORIZER, path, {**env, **LAMBDA_ENV})
    ratios = {module: round(ratio, 2) for module, (ratio, _, _) in measured.items()}
    return {
        "import_boto3_seconds": round(statistics.median(b for _, _, b in measured.values()), 4),
        "handler_import_ratio_to_boto3": ratios,
        "handler_import_seconds": {module: round(seconds, 4) for module, (_, seconds, _) in measured.items()},
        "max_handler_import_ratio_to_boto3": max(ratios.values()),
        "min_handler_import_ratio_to_boto3": min(ratios.values()),
        "median_handler_import_ratio_to_boto3": round(statistics.median(ratios.values()), 2),
        "target_ratio_max": TARGET_RATIO_MAX,
        "meets_target": max(ratios.values()) <= TARGET_RATIO_MAX,
        "traced_authorizer_ratio_to_boto3": round(traced[0], 2),
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
