"""Cold import time of every handler module in template.yaml, as a ratio to a bare `import boto3`.

Each figure is the median of several fresh interpreters (a cold start imports once per process),
so it is what a Lambda cold start pays for our code on top of the SDK it would load anyway.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
RUNS = 5
PROBE = "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"


def handler_modules() -> list[str]:
    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=Loader)
    handlers = {
        r["Properties"]["Handler"].rsplit(".", 1)[0]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Serverless::Function"
    }
    return sorted(handlers)


def cold_import_seconds(module: str) -> float:
    samples = []
    for _ in range(RUNS):
        out = subprocess.run(
            [sys.executable, "-c", PROBE.format(module=module)],
            cwd=ROOT / "functions",
            capture_output=True,
            text=True,
            check=True,
            env={"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1"},
        ).stdout
        samples.append(float(out.strip()))
    return statistics.median(samples)


def run() -> dict:
    baseline = cold_import_seconds("boto3")
    modules = {m: cold_import_seconds(m) for m in handler_modules()}
    return {
        "import_boto3_seconds": round(baseline, 4),
        "handler_import_ratio_to_boto3": {m: round(s / baseline, 2) for m, s in modules.items()},
        "handler_import_seconds": {m: round(s, 4) for m, s in modules.items()},
        "slowest_handler_seconds": round(max(modules.values()), 4),
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
