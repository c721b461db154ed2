"""What `sam build` makes of template.yaml: how long a clean build takes, and how large each function's package is.

A clean build (an empty build and cache directory; pip's own download cache is kept, as on a developer's
machine) of the whole template, in parallel as samconfig.toml asks. Sizes are the built directories: a package
unzipped and zipped (what is uploaded), and deployed (the package with its layers, unzipped: Lambda's
limit is 250 MB). `carrying_duckdb_or_sqlglot` names the functions whose package or layers hold them:
analytics' only (issue 14).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
import zipfile
from pathlib import Path

from tests.contract.packages import functions

ROOT = Path(__file__).resolve().parent.parent
SAM = ROOT / ".tools" / "sam" / "bin" / "sam"
LAMBDA_UNZIPPED_LIMIT_MB = 250
MB = 1024 * 1024


def size(directory: Path) -> int:
    return sum(path.stat().st_size for path in directory.rglob("*") if path.is_file())


def zipped(directory: Path) -> int:
    with tempfile.TemporaryFile() as scratch:
        with zipfile.ZipFile(scratch, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(directory.rglob("*")):
                if path.is_file():
                    archive.write(path, path.relative_to(directory))
        return scratch.tell()


def build(into: Path) -> float:
    env = {**os.environ, "PATH": f"{ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}", "SAM_CLI_TELEMETRY": "0"}
    command = [str(SAM), "build", "--parallel", "--build-dir", str(into / "build"), "--cache-dir", str(into / "cache")]
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    return time.perf_counter() - started


def carries_analytics_engine(directory: Path) -> bool:
    return any((directory / sub / name).exists() for sub in ("", "python") for name in ("duckdb", "sqlglot"))


def run() -> dict:
    every = functions()
    layers = sorted({layer.logical_id for function in every for layer in function.layers})
    with tempfile.TemporaryDirectory() as scratch:
        seconds = build(Path(scratch))
        built = Path(scratch) / "build"
        own = {name: size(built / name) for name in [f.logical_id for f in every] + layers}
        largest = max((f.logical_id for f in every), key=own.__getitem__)
        packed = {name: zipped(built / name) for name in {largest, *layers}}
        carrying = sorted(
            f.logical_id
            for f in every
            if any(carries_analytics_engine(built / name) for name in [f.logical_id, *(x.logical_id for x in f.layers)])
        )
    deployed = {f.logical_id: own[f.logical_id] + sum(own[x.logical_id] for x in f.layers) for f in every}
    biggest_deployed = max(deployed, key=deployed.__getitem__)
    return {
        "sam_build_seconds": round(seconds, 1),
        "largest_package": largest,
        "largest_package_mb": round(own[largest] / MB, 1),
        "largest_package_zipped_mb": round(packed[largest] / MB, 1),
        "largest_deployed": biggest_deployed,
        "largest_deployed_mb": round(deployed[biggest_deployed] / MB, 1),
        "deployed_limit_mb": LAMBDA_UNZIPPED_LIMIT_MB,
        "layers_mb": {name: round(own[name] / MB, 1) for name in layers},
        "layers_zipped_mb": {name: round(packed[name] / MB, 1) for name in layers},
        "package_mb": {name: round(own[name] / MB, 1) for name in sorted(own) if name not in layers},
        "carrying_duckdb_or_sqlglot": carrying,
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
