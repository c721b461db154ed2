"""What durability costs (R-LOC-1, issue 15 point 5): the emulator keeping its state on disk against the same
emulator in memory, in one run, on the same calls; and a restart on a seeded company's state.

- `per_write`: the same writes (PutItem, a TransactWriteItems of 4 puts, SQS SendMessage), interleaved call by
  call on three emulators: in memory, durable with the default group commit (journal fsynced every 0.2 s:
  kill -9 loses nothing answered, a power cut at most 0.2 s), durable with an fsync before every answer.
  Figures: each op's median latency per emulator and the ratio durable / in memory (target: at most 1.3).
- `replay`: the durable emulator restarted on its journal (no snapshot since the writes: the writes were
  fewer than a clean stop snapshots): calls replayed per second, and what that makes of the longest journal a
  crash can leave (a compaction's worth: persistence.COMPACT_RECORDS calls).
- `restart`: a devstack seeded with `python -m devstack seed --popugs P --days D` (which ends with a
  snapshot), stopped, then (1) its
  emulator started alone on the state directory (snapshot load + journal replay) and (2) the whole devstack
  started again, timed to its ready line; the state's size on disk. Extrapolated to the full year (1,000
  popugs, 365 days) by the ledger's size: the recovery part (snapshot load + replay) grows with the state, the
  rest (interpreter, imports, provisioning) does not (target: at most 60 s). Only the snapshot's load time is
  scaled up; a restart after a crash adds at most `replay.worst_case_replay_seconds`.

    python -m bench durable            (or: python -m bench.durable [--popugs N] [--days N] [--writes N])
    python -m bench.durable --popugs 1000 --days 365    # the year itself, no extrapolation (about 15 minutes)
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3

from devstack import emulator, persistence
from devstack.launcher import start_devstack

TARGET_RATIO = 1.3
TARGET_RESTART_SECONDS = 60
# bench/README.md: the full year's ledger (1,000 popugs, 365 days); the state grows with it
YEAR_TRANSACTIONS = 1_061_180


def run(popugs: int = 100, days: int = 60, writes: int = 300) -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        figures = {"per_write": _per_write(Path(scratch), writes)}
        figures["replay"] = _replay(Path(scratch) / "group")
        figures["restart"] = _restart(Path(scratch), popugs, days)
    return figures


def _client(service: str, url: str) -> Any:
    return boto3.client(service, endpoint_url=url, region_name="us-east-1", aws_access_key_id="x",
                        aws_secret_access_key="x")  # fmt: skip


def _per_write(scratch: Path, writes: int) -> dict:
    setups = {"memory": None, "group": 0.2, "fsync_each": 0.0}
    processes, urls = {}, {}
    try:
        for name, interval in setups.items():
            port = emulator.free_port()
            state = scratch / name if interval is not None else None
            processes[name] = emulator.start(port, state_dir=state, fsync_interval=interval)
            urls[name] = f"http://127.0.0.1:{port}"
        tables = {n: _client("dynamodb", u) for n, u in urls.items()}
        queues = {n: _client("sqs", u) for n, u in urls.items()}
        queue_urls = {}
        for name in urls:
            tables[name].create_table(
                TableName="bench",
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                      {"AttributeName": "sk", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
                StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
            )  # fmt: skip
            queue_urls[name] = queues[name].create_queue(QueueName="bench")["QueueUrl"]
        item = {"title": {"S": "Sort the seeds " * 4}, "price": {"N": "1500"}, "status": {"S": "open"}}
        ops = {
            "PutItem": lambda n, i: tables[n].put_item(
                TableName="bench", Item={"pk": {"S": f"task#{i}"}, "sk": {"S": "task"}, **item}
            ),
            "TransactWriteItems": lambda n, i: tables[n].transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": "bench", "Item": {"pk": {"S": f"tx#{i}"}, "sk": {"S": f"{k}"}, **item}}}
                    for k in range(4)
                ]
            ),
            "SendMessage": lambda n, i: queues[n].send_message(QueueUrl=queue_urls[n], MessageBody=json.dumps(item)),
        }
        timings: dict[str, dict[str, list[float]]] = {op: {n: [] for n in urls} for op in ops}
        for i in range(writes):
            for op, call in ops.items():
                order = list(urls) if i % 2 else list(reversed(urls))  # neither goes first every time
                for name in order:
                    started = time.perf_counter()
                    call(name, i)
                    timings[op][name].append(time.perf_counter() - started)
        result: dict = {"writes_per_op": writes}
        for op, per in timings.items():
            medians = {n: statistics.median(v) * 1000 for n, v in per.items()}
            result[op] = {
                "median_ms": {n: round(m, 2) for n, m in medians.items()},
                "ratio_group_commit": round(medians["group"] / medians["memory"], 3),
                "ratio_fsync_each": round(medians["fsync_each"] / medians["memory"], 3),
            }
        result["ratio_target"] = TARGET_RATIO
        result["journal_bytes"] = emulator.state(urls["group"])["journal_bytes"]
        return result
    finally:
        for name, process in processes.items():
            if name == "group":  # a crash: the restart below replays the journal (a clean stop would snapshot)
                process.kill()
                process.wait()
            emulator.stop(process)


def _replay(state: Path) -> dict:
    port = emulator.free_port()
    started = time.perf_counter()
    process = emulator.start(port, state_dir=state, timeout=600)
    ready = time.perf_counter() - started
    try:
        recovery = emulator.state(f"http://127.0.0.1:{port}")["recovery"]
    finally:
        emulator.stop(process)
    rate = recovery["replayed"] / max(recovery["seconds"] - recovery["snapshot_seconds"], 1e-6)
    return {
        "calls_replayed": recovery["replayed"],
        "replay_seconds": recovery["seconds"],
        "calls_per_second": round(rate),
        "emulator_ready_seconds": round(ready, 2),
        # after a crash, at most a compaction's worth of calls is replayed on top of the snapshot
        "worst_case_replay_seconds": round(persistence.COMPACT_RECORDS / max(rate, 1e-6), 1),
    }


def _restart(scratch: Path, popugs: int, days: int) -> dict:
    state_dir = scratch / "seeded"
    stack = start_devstack(scratch, "--state-dir", str(state_dir))
    try:
        done = subprocess.run(
            [sys.executable, "-m", "devstack", "seed", "--popugs", str(popugs), "--days", str(days),
             "--state-file", str(stack.state_file)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"devstack seed exited {done.returncode}")
        summary = json.loads(done.stdout)
    finally:
        stack.stop(signal.SIGTERM, timeout=600)  # a year's snapshot is written at the seed's end, not here
    items = sum(summary["items"].values())
    size = sum(p.stat().st_size for p in state_dir.rglob("*") if p.is_file())
    port = emulator.free_port()
    started = time.perf_counter()
    process = emulator.start(port, state_dir=state_dir / "emulator", timeout=600)
    emulator_seconds = time.perf_counter() - started
    recovery = emulator.state(f"http://127.0.0.1:{port}")["recovery"]
    resident_mb = _resident_mb(process.pid)
    emulator.stop(process)
    again = start_devstack(scratch, "--state-dir", str(state_dir))
    devstack_seconds = again.startup_seconds
    again.stop(signal.SIGTERM, timeout=300)
    scale = YEAR_TRANSACTIONS / max(int(summary["transactions"]), 1)
    snapshot = recovery["snapshot_seconds"]  # grows with the state; the rest (interpreter, imports) does not
    return {
        "popugs": popugs,
        "days": days,
        "transactions": summary["transactions"],
        "items": items,
        "state_bytes": size,
        "emulator_restart_seconds": round(emulator_seconds, 2),
        "recovery": recovery,
        "emulator_resident_mb_after_restart": resident_mb,
        "devstack_restart_seconds": round(devstack_seconds, 2),
        "year_scale_factor": round(scale, 1),
        "year_emulator_restart_seconds_extrapolated": round(emulator_seconds + snapshot * (scale - 1), 1),
        "year_devstack_restart_seconds_extrapolated": round(devstack_seconds + snapshot * (scale - 1), 1),
        "year_state_bytes_extrapolated": int(size * scale),
        "restart_target_seconds": TARGET_RESTART_SECONDS,
    }


def _resident_mb(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0]) // 1024


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--popugs", type=int, default=100)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--writes", type=int, default=300)
    options = parser.parse_args()
    print(json.dumps(run(options.popugs, options.days, options.writes), indent=2))
