"""Does every call devstack makes on the emulator cost the same at 1,000,000 stored items as at 1,000?

    python bench/emulator_flat.py                # patched emulator: 1k and 1M items (SPEC R-LOC-2)
    python bench/emulator_flat.py --unpatched    # moto as released: 1k and 100k items (1M takes hours)
    python bench/emulator_flat.py --sizes 1000 100000

Two ledger-like tables (the shape of template.yaml's: pk/sk, gsi1 by day, gsi2 one partition for all
items, a stream) are filled in this process straight through moto's backend (a million puts over
HTTP would take an hour), one with the small and one with the large count; then every call is
timed over HTTP through the emulator's own WSGI app (moto's response layer, devstack's routes),
alternating between the two tables, median of ``runs``. SQS and EventBridge have no table: the
queue holds a backlog of the same size (capped at 100k messages). Printed: per call the median
milliseconds at each size and the ratio large/small next to the target (at most 1.5); the
resident memory the large table takes; what a TTL sweep (devstack runs one a minute) costs at each
size; the emulator's CPU seconds per idle minute (a separate ``python -m devstack.emulator``). The
measurement runs in a child process, so its memory is returned when it ends. ``run()`` returns the
same figures for the bench harness.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TARGET_RATIO_MAX = 1.5
REGION = "us-east-1"
PER_ACCOUNT = 100  # ledger entries per account partition
PER_DAY = 500  # entries per gsi1 (day) partition
PAGE = 20
SQS_BACKLOG_MAX = 100_000
S3_NAMES_MAX = 200_000  # a versioned lake's names: live objects and the delete markers packing leaves
STREAM_RECORDS_MAX = 100_000
IDLE_SECONDS = 20.0


def run(
    *, patched: bool = True, sizes: tuple[int, int] = (1_000, 1_000_000), runs: int = 15, idle: bool = True
) -> dict[str, Any]:
    """Measure in a child process (the large table's gigabytes go with it); add the idle CPU figure."""
    args = [sys.executable, str(Path(__file__).resolve()), "--child", "--runs", str(runs), "--sizes", *map(str, sizes)]
    if not patched:
        args.append("--unpatched")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(args, check=True, stdout=subprocess.PIPE, env=env, cwd=str(ROOT))
    result: dict[str, Any] = json.loads(done.stdout)
    if idle:
        result["idle_cpu_seconds_per_minute"] = idle_cpu_per_minute(patched=patched)
    return result


# --------------------------------------------------------------------------------------------
# the child: fill, time
# --------------------------------------------------------------------------------------------


def measure(patched: bool, sizes: tuple[int, int], runs: int) -> dict[str, Any]:
    from devstack import emulator, moto_patches

    if patched:
        moto_patches.apply()
    port = emulator.free_port()
    server = emulator._make_server("127.0.0.1", port, verbose=False)
    threading.Thread(target=server.run, daemon=True).start()  # waitress, as devstack.emulator serves it
    endpoint = f"http://127.0.0.1:{server.effective_port}"
    clients = _clients(endpoint)
    rss_before = _rss_mb()
    fixtures = {}
    rss = {}
    for size in sizes:
        started = time.perf_counter()
        fixtures[size] = _Fixture(clients, size)
        rss[size] = _rss_mb()
        _log(f"filled {size:,} items in {time.perf_counter() - started:.1f} s, RSS {rss[size]:.0f} MB")
    small, large = sizes
    calls = _calls(fixtures, patched)
    figures: dict[str, Any] = {}
    for name, call in calls.items():
        timings: dict[int, list[float]] = {small: [], large: []}
        warmups = 2 if patched else 1  # unpatched moto takes seconds a call at 100k
        for attempt in range(runs + warmups):
            for size in sizes:  # alternate: the machine's noise falls on both sizes alike
                started = time.perf_counter()
                call(fixtures[size])
                if attempt >= warmups:
                    timings[size].append((time.perf_counter() - started) * 1000)
        at_small, at_large = (statistics.median(timings[size]) for size in sizes)
        # the median of the ratios of calls made one right after the other: this shared machine's load
        # drifts over seconds, and a pair sees the same load
        pairs = [b / a for a, b in zip(timings[small], timings[large], strict=True)]
        figures[name] = {
            f"ms_at_{_short(small)}": round(at_small, 2),
            f"ms_at_{_short(large)}": round(at_large, 2),
            "ratio": round(statistics.median(pairs), 2),
        }
        _log(f"{name}: {figures[name]}")
    sweeps, first_sweeps = {}, {}
    for size in sizes:  # what devstack's TTL sweeper costs the emulator once a minute, nothing expired
        first_sweeps[size] = _sweep_seconds(endpoint, fixtures[size].table)  # (the emulator indexes the TTL)
        sweeps[size] = _sweep_seconds(endpoint, fixtures[size].table)
        _log(f"a TTL sweep of {size:,} items: {sweeps[size]:.3f} s (the first: {first_sweeps[size]:.3f} s)")
    worst = max(figures.items(), key=lambda pair: pair[1]["ratio"])
    result: dict[str, Any] = {
        "calls": figures,
        "worst_call": worst[0],
        "worst_ratio": worst[1]["ratio"],
        "target_ratio_max": TARGET_RATIO_MAX,
        "sizes": list(sizes),
        f"ttl_sweep_seconds_at_{_short(small)}": round(sweeps[small], 3),
        f"ttl_sweep_seconds_at_{_short(large)}": round(sweeps[large], 3),
        f"first_ttl_sweep_seconds_at_{_short(large)}": round(first_sweeps[large], 3),
        "rss_mb_per_million_items": round((rss[large] - rss[small]) / (large - small) * 1_000_000),
        "rss_mb_with_both_tables": round(rss[large]),
        "rss_mb_before_filling": round(rss_before),
    }
    index = _index_module()
    if not patched:
        result["unpatched"] = True
    elif index is None:
        result["without_sorted_partitions"] = True  # a checkout from before them
    else:
        result["queries_answered"] = dict(index.answered)
    server.close()
    return result


def _clients(endpoint: str) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(retries={"total_max_attempts": 1}, read_timeout=3600)
    settings = {
        "endpoint_url": endpoint,
        "region_name": REGION,
        "aws_access_key_id": "bench",
        "aws_secret_access_key": "bench",
        "config": config,
    }

    class Clients:
        dynamodb = boto3.client("dynamodb", **settings)
        streams = boto3.client("dynamodbstreams", **settings)
        sqs = boto3.client("sqs", **settings)
        events = boto3.client("events", **settings)
        s3 = boto3.client("s3", **settings)

    return Clients


def _item(index: int) -> dict[str, Any]:
    return {
        "pk": {"S": f"ACCOUNT#{index // PER_ACCOUNT:07d}"},
        "sk": {"S": f"TX#{index % PER_ACCOUNT:06d}"},
        "gsi1pk": {"S": f"DAY#{index // PER_DAY:06d}"},
        "gsi1sk": {"S": f"{index:010d}"},
        "gsi2pk": {"S": "ALL"},
        "gsi2sk": {"S": f"{index:010d}"},
        "kind": {"S": "fee" if index % 3 else "reward"},
        "amount": {"N": str(index % 97)},
        "balance_after": {"N": str(index % 1013)},
        "description": {"S": f"Task {index}: feed the parrots of department {index % 17}"},
        "expires_at": {"N": str(4_000_000_000 + index)},  # TTL in 2096: nothing expires
    }


def _fill(table: Any, size: int) -> None:
    """Store ``size`` items in a moto Table as its put_item would (and devstack's index upkeep), fast.

    moto's put_item validates and re-sizes every item (~0.5 ms each: 10 minutes for a million); the
    items here are valid by construction. Only the last STREAM_RECORDS_MAX writes are on the stream,
    as if the older ones had passed DynamoDB Streams' 24 hours.
    """
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict

    upkeep = _index_module() if _patched() else None
    for index in range(size):
        attrs = _item(index)
        hash_key, range_key = DynamoType(attrs["pk"]), DynamoType(attrs["sk"])
        item = Item.__new__(Item)
        item.hash_key, item.range_key = hash_key, range_key
        item.attrs = LimitedSizeDict()
        for name, value in attrs.items():
            dict.__setitem__(item.attrs, name, DynamoType(value))
        table.items[hash_key][range_key] = item
        if index >= size - STREAM_RECORDS_MAX:
            table.stream_shard.add(None, item)
        if upkeep is not None:
            upkeep.item_changed(table, hash_key, range_key)


def _fill_queue(queue: Any, count: int) -> None:
    """A backlog of ``count`` messages, as moto's send_message stores them, fast.

    (moto's own send_message reads every queue attribute, three of them by scanning the backlog:
    filling a backlog through it is quadratic without devstack's patch.)
    """
    from moto.moto_api._internal import mock_random
    from moto.sqs.models import Message

    for index in range(count):
        message = Message(str(mock_random.uuid4()), json.dumps({"n": index}))
        message.mark_sent(delay_seconds=0)
        queue.add_message(message)


def _fill_bucket(s3: Any, bucket: str, count: int) -> None:
    """A day partition per 5,000 names: one live pack each, the rest the delete markers of the landed objects
    it packed (moto's store filled directly: a delete marker only names its key)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import FakeDeleteMarker, s3_backends

    for day in range(max(1, count // 5_000)):
        s3.put_object(Bucket=bucket, Key=f"raw/E/v1/day={day:05d}/pack-0.json", Body=b'{"n":1}\n')
    store = s3_backends[DEFAULT_ACCOUNT_ID]["aws"].buckets[bucket].keys
    packed = store[f"raw/E/v1/day={0:05d}/pack-0.json"]
    for index in range(count):
        store[f"raw/E/v1/day={index // 5_000:05d}/{index:08d}.json"] = FakeDeleteMarker(key=packed)


def _index_module() -> Any:
    """devstack's sorted partitions, or None: a checkout from before them (PYTHONPATH=<it> for "before")."""
    try:
        from devstack import moto_dynamodb_index
    except ImportError:
        return None
    return moto_dynamodb_index


def _patched() -> bool:
    from devstack import moto_patches

    return moto_patches.is_applied()


class _Fixture:
    """One table (and one queue, one bus) filled to ``size``, and the keys the calls use."""

    def __init__(self, clients: Any, size: int) -> None:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.dynamodb.models import dynamodb_backends
        from moto.sqs.models import sqs_backends

        self.clients = clients
        self.size = size
        self.table = f"ledger-{size}"
        clients.dynamodb.create_table(
            TableName=self.table,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": name, "AttributeType": "S"}
                for name in ("pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk")
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": f"gsi{n}",
                    "KeySchema": [
                        {"AttributeName": f"gsi{n}pk", "KeyType": "HASH"},
                        {"AttributeName": f"gsi{n}sk", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
                for n in (1, 2)
            ],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        _fill(dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].get_table(self.table), size)
        description = clients.dynamodb.describe_table(TableName=self.table)["Table"]
        self.stream_arn = description["LatestStreamArn"]
        shard = clients.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"][0]
        self.shard_id = shard["ShardId"]
        self.middle = size // 2
        self.account = f"ACCOUNT#{self.middle // PER_ACCOUNT:07d}"
        self.day = f"DAY#{self.middle // PER_DAY:06d}"
        self.round = 0
        # a queue with a backlog, a bus with a rule that sends to it
        self.queue_url = clients.sqs.create_queue(QueueName=f"flat-{size}")["QueueUrl"]
        _fill_queue(sqs_backends[DEFAULT_ACCOUNT_ID][REGION].get_queue(f"flat-{size}"), min(size, SQS_BACKLOG_MAX))
        self.bus = f"flat-{size}"
        clients.events.create_event_bus(Name=self.bus)
        clients.events.put_rule(Name="all", EventBusName=self.bus, EventPattern=json.dumps({"source": ["bench"]}))
        queue_arn = clients.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])
        clients.events.put_targets(
            Rule="all", EventBusName=self.bus, Targets=[{"Id": "q", "Arn": queue_arn["Attributes"]["QueueArn"]}]
        )
        # a versioned bucket like the analytics lake: the names of `size` (capped) events landed and packed
        self.bucket = f"flat-lake-{size}"
        clients.s3.create_bucket(Bucket=self.bucket)
        clients.s3.put_bucket_versioning(Bucket=self.bucket, VersioningConfiguration={"Status": "Enabled"})
        _fill_bucket(clients.s3, self.bucket, min(size, S3_NAMES_MAX))

    def next_round(self) -> int:
        self.round += 1
        return self.round

    def key(self, index: int) -> dict[str, Any]:
        item = _item(index)
        return {"pk": item["pk"], "sk": item["sk"]}


def _query_calls() -> dict[str, Callable[[_Fixture], Any]]:
    operators = {
        "eq": ("=", 1),
        "lt": ("<", 1),
        "le": ("<=", 1),
        "gt": (">", 1),
        "ge": (">=", 1),
        "between": ("BETWEEN", 2),
        "begins_with": ("begins_with", 1),
    }
    calls: dict[str, Callable[[_Fixture], Any]] = {}

    def table_values(f: _Fixture, operator: str) -> list[str]:
        if operator == "begins_with":
            return ["TX#00004"]
        if operator == "=":
            return ["TX#000050"]
        return ["TX#000020", "TX#000080"] if operator == "BETWEEN" else ["TX#000050"]

    def index_values(f: _Fixture, operator: str, day_first: int) -> list[str]:
        middle = day_first + PER_DAY // 2
        if operator == "begins_with":
            return [f"{middle:010d}"[:-1]]
        if operator == "BETWEEN":
            return [f"{middle - 100:010d}", f"{middle + 100:010d}"]
        return [f"{middle:010d}"]

    def condition(operator: str, count: int) -> str:
        if operator == "begins_with":
            return "#h = :h AND begins_with(#r, :a)"
        if operator == "BETWEEN":
            return "#h = :h AND #r BETWEEN :a AND :b"
        return f"#h = :h AND #r {operator} :a"

    for label, (operator, count) in operators.items():
        for target in ("table", "gsi1"):

            def call(f: _Fixture, operator: str = operator, count: int = count, target: str = target) -> Any:
                if target == "table":
                    names, hash_value, values = {"#h": "pk", "#r": "sk"}, f.account, table_values(f, operator)
                    extra: dict[str, Any] = {}
                else:
                    day_first = (f.middle // PER_DAY) * PER_DAY
                    names, hash_value = {"#h": "gsi1pk", "#r": "gsi1sk"}, f.day
                    values, extra = index_values(f, operator, day_first), {"IndexName": "gsi1"}
                attribute_values = {":h": {"S": hash_value}} | {
                    f":{letter}": {"S": value} for letter, value in zip("ab", values, strict=False)
                }
                return f.clients.dynamodb.query(
                    TableName=f.table,
                    KeyConditionExpression=condition(operator, count),
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=attribute_values,
                    Limit=PAGE,
                    **extra,
                )

            calls[f"query_{target}_{label}_limit_{PAGE}"] = call

    for forward in (True, False):

        def page_three(f: _Fixture, forward: bool = forward) -> Any:
            request = {
                "TableName": f.table,
                "KeyConditionExpression": "pk = :h",
                "ExpressionAttributeValues": {":h": {"S": f.account}},
                "Limit": PAGE,
                "ScanIndexForward": forward,
            }
            start = f.__dict__.get(f"start_{forward}")
            if start is None:
                start = f.__dict__[f"start_{forward}"] = _start_of_page(f, request, 3)
            return f.clients.dynamodb.query(**request, ExclusiveStartKey=start)

        calls[f"query_table_page_3_{'forward' if forward else 'backward'}"] = page_three

    def all_items_index(f: _Fixture) -> Any:
        # gsi2: one partition holding every item (as tasks' ALL_TASKS): a page from its middle
        return f.clients.dynamodb.query(
            TableName=f.table,
            IndexName="gsi2",
            KeyConditionExpression="gsi2pk = :h AND gsi2sk >= :a",
            ExpressionAttributeValues={":h": {"S": "ALL"}, ":a": {"S": f"{f.middle:010d}"}},
            Limit=PAGE,
            ScanIndexForward=False,
        )

    calls[f"query_gsi2_one_partition_of_all_items_limit_{PAGE}"] = all_items_index
    return calls


def _start_of_page(f: _Fixture, request: dict[str, Any], page: int) -> dict[str, Any]:
    start = None
    for _ in range(page - 1):
        response = f.clients.dynamodb.query(**request, **({"ExclusiveStartKey": start} if start else {}))
        start = response["LastEvaluatedKey"]
    assert start is not None
    return start


def _calls(fixtures: dict[int, _Fixture], patched: bool) -> dict[str, Callable[[_Fixture], Any]]:
    calls: dict[str, Callable[[_Fixture], Any]] = {}

    def get_item(f: _Fixture) -> Any:
        return f.clients.dynamodb.get_item(TableName=f.table, Key=f.key(f.middle))

    def batch_get_item(f: _Fixture) -> Any:
        keys = [f.key(f.middle + 7 * n) for n in range(25)]
        return f.clients.dynamodb.batch_get_item(RequestItems={f.table: {"Keys": keys}})

    calls["get_item"] = get_item
    calls["batch_get_item_25"] = batch_get_item
    calls.update(_query_calls())

    def update_item(f: _Fixture) -> Any:
        # moves the item inside gsi1's day partition, as a ledger correction would
        n = f.next_round()
        return f.clients.dynamodb.update_item(
            TableName=f.table,
            Key=f.key(f.middle + n % 50),
            UpdateExpression="SET amount = :a, gsi1sk = :s",
            ExpressionAttributeValues={":a": {"N": str(n)}, ":s": {"S": f"{f.middle:010d}#{n:06d}"}},
        )

    def put_item(f: _Fixture) -> Any:
        item = _item(f.size + f.next_round())
        return f.clients.dynamodb.put_item(TableName=f.table, Item=item, ConditionExpression="attribute_not_exists(pk)")

    def delete_item(f: _Fixture) -> Any:
        # deletes what put_item wrote, oldest first
        f.deleted = f.__dict__.get("deleted", 0) + 1
        return f.clients.dynamodb.delete_item(TableName=f.table, Key=f.key(f.size + f.deleted))

    def transact_write_items(f: _Fixture) -> Any:
        n = f.next_round()
        actions: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": f.table,
                    "Key": f.key(f.size * (step + 1) // 12),
                    "UpdateExpression": "ADD amount :one",
                    "ConditionExpression": "attribute_exists(pk)",
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            }
            for step in range(10)
        ]
        actions += [
            {
                "Put": {
                    "TableName": f.table,
                    "Item": {"pk": {"S": f"OUTBOX#{n}"}, "sk": {"S": f"EVENT#{k}"}, "body": {"S": "{}"}},
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
            for k in range(2)
        ]
        return f.clients.dynamodb.transact_write_items(TransactItems=actions)

    calls["update_item_moving_an_index_key"] = update_item
    calls["put_item"] = put_item
    calls["delete_item"] = delete_item
    if patched:  # unpatched moto deep-copies the table per action: see bench/emulator_transactions.py
        calls["transact_write_items_12_actions"] = transact_write_items

    def get_shard_iterator(f: _Fixture) -> Any:
        return f.clients.streams.get_shard_iterator(
            StreamArn=f.stream_arn, ShardId=f.shard_id, ShardIteratorType="LATEST"
        )

    def get_records(f: _Fixture) -> Any:
        # the 100 records from the middle of the shard
        shard_start = f.__dict__.get("shard_start")
        if shard_start is None:
            first = f.clients.streams.get_shard_iterator(
                StreamArn=f.stream_arn, ShardId=f.shard_id, ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            records = f.clients.streams.get_records(ShardIterator=first, Limit=1)["Records"]
            shard_start = f.shard_start = int(records[0]["dynamodb"]["SequenceNumber"])
        iterator = f.clients.streams.get_shard_iterator(
            StreamArn=f.stream_arn,
            ShardId=f.shard_id,
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            SequenceNumber=str(shard_start + min(f.size, STREAM_RECORDS_MAX) // 2),
        )["ShardIterator"]
        return f.clients.streams.get_records(ShardIterator=iterator, Limit=100)

    calls["streams_get_shard_iterator"] = get_shard_iterator
    calls["streams_get_records_100_from_the_middle"] = get_records

    def sqs_send(f: _Fixture) -> Any:
        return f.clients.sqs.send_message(QueueUrl=f.queue_url, MessageBody=json.dumps({"n": f.next_round()}))

    def sqs_receive_delete(f: _Fixture) -> Any:
        received = f.clients.sqs.receive_message(QueueUrl=f.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=600)
        entries = [{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(received["Messages"])]
        return f.clients.sqs.delete_message_batch(QueueUrl=f.queue_url, Entries=entries)

    def put_events(f: _Fixture) -> Any:
        entry = {"Source": "bench", "DetailType": "Tick", "Detail": json.dumps({"n": 1}), "EventBusName": f.bus}
        return f.clients.events.put_events(Entries=[entry] * 10)

    def s3_list_a_days_pack(f: _Fixture) -> Any:
        return f.clients.s3.list_objects_v2(Bucket=f.bucket, Prefix=f"raw/E/v1/day={0:05d}/")

    def s3_put_object(f: _Fixture) -> Any:
        return f.clients.s3.put_object(Bucket=f.bucket, Key=f"raw/E/v1/day=99999/{f.next_round()}.json", Body=b"{}")

    calls["s3_list_objects_v2_of_a_packed_day"] = s3_list_a_days_pack
    calls["s3_put_object"] = s3_put_object
    calls["sqs_send_message"] = sqs_send
    calls["sqs_receive_10_and_delete_batch"] = sqs_receive_delete
    calls["events_put_events_10"] = put_events
    return calls


def _sweep_seconds(endpoint: str, table: str) -> float:
    import io
    import tempfile

    from devstack.console import Console
    from devstack.sweeper import Sweeper

    with tempfile.TemporaryDirectory() as logs:
        sweeper = Sweeper({table: "expires_at"}, endpoint_url=endpoint, console=Console(Path(logs), out=io.StringIO()))
        started = time.perf_counter()
        sweeper.sweep()
        return time.perf_counter() - started


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


# --------------------------------------------------------------------------------------------
# idle CPU of the emulator process
# --------------------------------------------------------------------------------------------


def idle_cpu_per_minute(patched: bool = True, seconds: float = IDLE_SECONDS) -> float:
    """CPU seconds ``python -m devstack.emulator`` spends per minute when nobody calls it."""
    from devstack import emulator

    process = emulator.start(emulator.free_port(), patched=patched)
    try:
        time.sleep(2.0)  # let it finish starting
        before = _cpu_seconds(process.pid)
        time.sleep(seconds)
        used = _cpu_seconds(process.pid) - before
    finally:
        emulator.stop(process)
    return round(used * 60.0 / seconds, 3)


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime


def _short(size: int) -> str:
    return f"{size // 1_000_000}m" if size >= 1_000_000 and size % 1_000_000 == 0 else f"{size // 1000}k"


def _log(text: str) -> None:
    print(f"[emulator_flat] {text}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--unpatched", action="store_true", help="moto as released (default sizes 1k and 100k)")
    parser.add_argument("--sizes", type=int, nargs=2, help="small and large item counts")
    parser.add_argument("--runs", type=int, default=None, help="timed calls per size (median)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    patched = not args.unpatched
    sizes = tuple(args.sizes) if args.sizes else ((1_000, 1_000_000) if patched else (1_000, 100_000))
    runs = args.runs or (15 if patched else 3)
    measured = measure if args.child else (lambda p, s, r: run(patched=p, sizes=s, runs=r))
    result = measured(patched, sizes, runs)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
