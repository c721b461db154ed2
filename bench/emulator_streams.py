"""Reading a DynamoDB stream the way devstack's stream poller does, on the patched and the unpatched emulator.

    python bench/emulator_streams.py                 # both emulators, 5,000 records, Limit 100
    python bench/emulator_streams.py --only patched  # one of them (--only unpatched: moto as released)
    python bench/emulator_streams.py --items 2000 --limit 10

Prints one JSON object on stdout (progress goes to stderr). Per emulator: ``read_s``, the time for
``readers`` pollers to read every record from TRIM_HORIZON with boto3, chaining NextShardIterator
with the poller's ``Limit`` (its BatchSize), as two or three mappings on one table do;
``emulator_read_s``, one more such read over plain HTTP (the emulator's share, without boto3's
parsing); and, first, ``idle_polls`` GetRecords on a drained shard, as an idle poller makes, with
the emulator's memory growth and the shard iterators moto still holds afterwards (counted in
``/moto-api/data.json`` while the emulator is almost empty, so the count is cheap to read).
moto 5.2.5 serialises every record through its generic botocore-shape serializer on every read
(milliseconds per record) and keeps every shard iterator it ever issued; devstack's patch
serialises a record once and issues iterators that hold no state. ``run()`` returns the same
figures for a bench harness.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TABLE = "bench-streams"
IDLE_TABLE = "bench-streams-idle"
BATCH = 25  # BatchWriteItem's limit
ITEMS = 5_000
LIMIT = 100  # the outbox relays' BatchSize: devstack's poller asks for at most that many records
READERS = 2  # mappings reading the same table's stream (outbox relay, mailer, ...)
IDLE_POLLS = 1_000  # about 8 minutes of one idle poller at its 0.5 s pace
IDLE_WARMUP = 300
TARGET_RATIO_MAX = 0.2  # patched read time over unpatched, as a poller sees it (boto3 parsing included)


def run(
    *,
    modes: tuple[str, ...] = ("patched", "unpatched"),
    items: int = ITEMS,
    limit: int = LIMIT,
    readers: int = READERS,
    idle_polls: int = IDLE_POLLS,
) -> dict[str, Any]:
    """Figures per emulator mode, and the patched/unpatched ratio of the read time when both ran."""
    result: dict[str, Any] = {"items": items, "limit": limit, "readers": readers, "idle_polls": idle_polls}
    for mode in modes:
        result[mode] = _measure(mode == "patched", items, limit, readers, idle_polls)
    if "patched" in result and "unpatched" in result:
        for figure in ("read_s", "emulator_read_s"):
            ratio = result["patched"][figure] / result["unpatched"][figure]
            result[f"ratio_{figure.removesuffix('_s')}_patched_over_unpatched"] = round(ratio, 4)
        result["target_ratio_max"] = TARGET_RATIO_MAX
    return result


def _measure(patched: bool, items: int, limit: int, readers: int, idle_polls: int) -> dict[str, Any]:
    from devstack import emulator

    mode = "patched" if patched else "unpatched"
    port = emulator.free_port()
    process = emulator.start(port, patched=patched)
    try:
        endpoint = f"http://127.0.0.1:{port}"
        dynamodb, streams = _client(endpoint, "dynamodb"), _client(endpoint, "dynamodbstreams")
        figures: dict[str, Any] = {}

        # 1. idle polling: memory and shard iterators left behind (an almost empty emulator: cheap to count)
        _create(dynamodb, IDLE_TABLE)
        dynamodb.put_item(TableName=IDLE_TABLE, Item=_item(0))
        iterator = _iterator(dynamodb, streams, IDLE_TABLE, "TRIM_HORIZON")
        iterator, _ = _drain(streams, iterator, limit)
        for _ in range(IDLE_WARMUP):  # the server's own first-requests allocations are not a leak
            iterator = streams.get_records(ShardIterator=iterator, Limit=limit)["NextShardIterator"]
        rss_before = _rss_kb(process.pid)
        started = time.perf_counter()
        for _ in range(idle_polls):
            iterator = streams.get_records(ShardIterator=iterator, Limit=limit)["NextShardIterator"]
        figures["idle_poll_ms"] = round((time.perf_counter() - started) * 1000 / idle_polls, 2)
        figures["idle_rss_growth_kb"] = _rss_kb(process.pid) - rss_before
        figures["live_shard_iterators"] = _live_shard_iterators(endpoint)
        _log(f"{mode}: {idle_polls} idle polls: {figures}")

        # 2. reading every record, as `readers` pollers do
        _create(dynamodb, TABLE)
        started = time.perf_counter()
        _fill(dynamodb, items)
        _log(f"{mode}: wrote {items} items in {time.perf_counter() - started:.1f} s")
        timings = []
        for reader in range(readers):
            iterator = _iterator(dynamodb, streams, TABLE, "TRIM_HORIZON")
            started = time.perf_counter()
            _, records = _drain(streams, iterator, limit)
            timings.append(time.perf_counter() - started)
            sequence = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
            if len(records) != items or sequence != sorted(set(sequence)):
                raise RuntimeError(f"reader {reader} read {len(records)} records of {items}, or out of order")
            _log(f"{mode}: reader {reader} read {len(records)} records in {timings[-1]:.2f} s")
        figures["read_s"] = round(sum(timings), 3)
        figures["read_ms_per_100_records"] = round(sum(timings) * 1000 / (readers * items) * 100, 2)
        # the emulator's share: the same pages over plain HTTP, without boto3 parsing each record's shapes
        started = time.perf_counter()
        count = _drain_raw(endpoint, _iterator(dynamodb, streams, TABLE, "TRIM_HORIZON"), limit)
        figures["emulator_read_s"] = round(time.perf_counter() - started, 3)
        if count != items:
            raise RuntimeError(f"the plain HTTP reader read {count} records of {items}")
        figures["get_records_calls_per_reader"] = -(-items // limit) + 1
        figures["rss_mb_after"] = round(_rss_kb(process.pid) / 1024, 1)
        return figures
    finally:
        emulator.stop(process)


def _client(endpoint: str, service: str) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(retries={"total_max_attempts": 1}, read_timeout=600)
    return boto3.session.Session().client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        config=config,
    )


def _create(dynamodb: Any, table: str) -> None:
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )


def _item(index: int) -> dict[str, Any]:
    """An outbox item, as the contexts write them next to a state change."""
    detail = {"task_id": f"task-{index:06d}", "assignee": f"popug-{index % 97:04d}", "title": "Feed the parrots"}
    return {
        "pk": {"S": f"OUTBOX#{index:06d}"},
        "sk": {"S": "EVENT"},
        "event_id": {"S": f"{index:032x}"},
        "source": {"S": "ates.tasks"},
        "detail_type": {"S": "TaskAssigned"},
        "version": {"N": "1"},
        "detail": {"S": json.dumps(detail)},
        "meta": {"M": {"attempt": {"N": "0"}, "tags": {"L": [{"S": "shuffle"}, {"S": "bench"}]}}},
        "expires_at": {"N": str(1_900_000_000 + index)},
    }


def _fill(dynamodb: Any, count: int) -> None:
    """One writer: unpatched moto numbers stream records without a lock, so concurrent writes can share
    a sequence number (devstack's patch serialises DynamoDB calls)."""
    for first in range(0, count, BATCH):
        requests = [{"PutRequest": {"Item": _item(i)}} for i in range(first, min(first + BATCH, count))]
        pending: dict[str, Any] = {TABLE: requests}
        while pending:
            pending = dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}


def _iterator(dynamodb: Any, streams: Any, table: str, kind: str) -> str:
    arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    return str(streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType=kind)["ShardIterator"])


def _drain(streams: Any, iterator: str, limit: int) -> tuple[str, list[dict[str, Any]]]:
    """Follow NextShardIterator with devstack's poller's Limit until a page comes back empty."""
    records: list[dict[str, Any]] = []
    while True:
        response = streams.get_records(ShardIterator=iterator, Limit=limit)
        iterator = response.get("NextShardIterator") or iterator
        if not response["Records"]:
            return iterator, records
        records.extend(response["Records"])


def _drain_raw(endpoint: str, iterator: str, limit: int) -> int:
    """``_drain`` without boto3: how long the emulator itself takes to answer the same pages."""
    headers = {
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": "DynamoDBStreams_20120810.GetRecords",
        "Authorization": "AWS4-HMAC-SHA256 Credential=bench/20250101/us-east-1/dynamodb/aws4_request, "
        "SignedHeaders=host, Signature=0",
    }
    count = 0
    while True:
        body = json.dumps({"ShardIterator": iterator, "Limit": limit}).encode()
        request = urllib.request.Request(endpoint, data=body, headers=headers, method="POST")
        with urllib.request.urlopen(request, timeout=600) as response:
            page = json.loads(response.read())
        iterator = page.get("NextShardIterator") or iterator
        if not page["Records"]:
            return count
        count += len(page["Records"])


def _live_shard_iterators(endpoint: str) -> int:
    """How many ShardIterator models moto holds (its instance tracker keeps each one it ever made)."""
    with urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=600) as response:
        data = json.loads(response.read())
    return len(data.get("dynamodbstreams", {}).get("ShardIterator", []))


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _log(text: str) -> None:
    print(f"[emulator_streams] {text}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("patched", "unpatched"), help="run one emulator (default: both)")
    parser.add_argument("--items", type=int, default=ITEMS)
    parser.add_argument("--limit", type=int, default=LIMIT, help="GetRecords Limit (the mapping's BatchSize)")
    parser.add_argument("--readers", type=int, default=READERS)
    parser.add_argument("--idle-polls", type=int, default=IDLE_POLLS)
    args = parser.parse_args(argv)
    modes = (args.only,) if args.only else ("patched", "unpatched")
    result = run(modes=modes, items=args.items, limit=args.limit, readers=args.readers, idle_polls=args.idle_polls)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
