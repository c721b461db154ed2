"""How a 25-action TransactWriteItems scales with table size on the devstack emulator.

    python bench/emulator_transactions.py              # patched emulator, 1k then 100k items
    python bench/emulator_transactions.py --unpatched  # moto as released, 1k then 10k items

Prints one JSON object on stdout (progress goes to stderr). moto 5.2.5 deep-copies every table a
transaction names, so its cost grows with the table; devstack's patch undoes from a journal of the
touched items, so the cost must stay flat: ``ratio_100k_over_1k`` at most ``target_ratio_max``.
``run()`` returns the same figures for a bench harness.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TABLE = "bench-transactions"
BATCH = 25  # BatchWriteItem's limit
ACTIONS = 25  # moto's TransactWriteItems limit (AWS: 100)
FILL_THREADS = 4  # moto's server closes every connection: overlap the round trips
TARGET_RATIO_MAX = 2


def run(
    *, patched: bool = True, sizes: tuple[int, int] = (1_000, 100_000), runs: int = 20, warmups: int = 2
) -> dict[str, Any]:
    """Start an emulator, fill a table to each size in turn, time transactions (median) at each size."""
    from devstack import emulator

    port = emulator.free_port()
    process = emulator.start(port, patched=patched)
    try:
        endpoint = f"http://127.0.0.1:{port}"
        client = _client(endpoint)
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        figures: dict[str, float] = {}
        filled = 0
        for size in sizes:
            started = time.perf_counter()
            _fill(endpoint, filled, size)
            _log(f"filled to {size} items in {time.perf_counter() - started:.1f} s")
            filled = size
            figures[_label(size)] = _time_transactions(client, size, runs, warmups)
            _log(f"{_label(size)}: {figures[_label(size)]} ms")
    finally:
        emulator.stop(process)
    small, large = (figures[_label(size)] for size in sizes)
    result: dict[str, Any] = dict(figures)
    result[f"ratio_{_short(sizes[1])}_over_{_short(sizes[0])}"] = round(large / small, 2)
    result["target_ratio_max"] = TARGET_RATIO_MAX
    if not patched:
        result["unpatched"] = True
    return result


def _label(size: int) -> str:
    return f"transaction_{ACTIONS}_actions_ms_at_{_short(size)}"


def _short(size: int) -> str:
    return f"{size // 1000}k"


def _client(endpoint: str) -> Any:
    import boto3
    from botocore.config import Config

    # No retry: a transaction retried after a read timeout is applied twice (moto ignores
    # ClientRequestToken) and its timing would be meaningless. Unpatched moto can take minutes.
    config = Config(retries={"total_max_attempts": 1}, read_timeout=1800, max_pool_connections=FILL_THREADS)
    return boto3.session.Session().client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        config=config,
    )


def _item(index: int) -> dict[str, Any]:
    return {
        "pk": {"S": f"popug#{index // 10:06d}"},
        "sk": {"S": f"task#{index % 10}"},
        "title": {"S": f"Feed the parrots, round {index}"},
        "status": {"S": "open"},
        "amount": {"N": str(index % 97)},
    }


def _fill(endpoint: str, start: int, stop: int) -> None:
    local = threading.local()

    def write(first: int) -> None:
        if not hasattr(local, "client"):
            local.client = _client(endpoint)
        requests = [{"PutRequest": {"Item": _item(i)}} for i in range(first, min(first + BATCH, stop))]
        pending: dict[str, Any] = {TABLE: requests}
        while pending:
            pending = local.client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}

    with ThreadPoolExecutor(FILL_THREADS) as pool:
        list(pool.map(write, range(start, stop, BATCH)))


def _transaction(size: int, round_number: int) -> list[dict[str, Any]]:
    """20 conditional updates of existing items, 4 new items (an outbox), 1 check: 25 distinct keys."""
    base = (round_number * 97) % (size - ACTIONS * 10)
    existing = [_item(base + step * 10) for step in range(20)]
    actions: list[dict[str, Any]] = [
        {
            "Update": {
                "TableName": TABLE,
                "Key": {"pk": item["pk"], "sk": item["sk"]},
                "UpdateExpression": "SET #s = :assigned ADD amount :one",
                "ConditionExpression": "attribute_exists(pk)",
                "ExpressionAttributeNames": {"#s": "status"},
                "ExpressionAttributeValues": {":assigned": {"S": "assigned"}, ":one": {"N": "1"}},
            }
        }
        for item in existing
    ]
    actions += [
        {
            "Put": {
                "TableName": TABLE,
                "Item": {"pk": {"S": f"outbox#{round_number}"}, "sk": {"S": f"event#{n}"}, "body": {"S": "{}"}},
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
        for n in range(4)
    ]
    check = _item(base + 5)
    actions.append(
        {
            "ConditionCheck": {
                "TableName": TABLE,
                "Key": {"pk": check["pk"], "sk": check["sk"]},
                "ConditionExpression": "attribute_exists(pk)",
            }
        }
    )
    return actions


_rounds = iter(range(10**9))


def _time_transactions(client: Any, size: int, runs: int, warmups: int) -> float:
    timings = []
    for attempt in range(warmups + runs):
        actions = _transaction(size, next(_rounds))
        started = time.perf_counter()
        client.transact_write_items(TransactItems=actions)
        if attempt >= warmups:
            timings.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(timings), 2)


def _log(text: str) -> None:
    print(f"[emulator_transactions] {text}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--unpatched", action="store_true", help="moto as released, at 1k and 10k items, 1 run each (minutes)"
    )
    args = parser.parse_args(argv)
    # Unpatched: one transaction per size. Each one deep-copies the table (items and stream records)
    # once per action, and moto's instance tracker keeps every copy: seconds and gigabytes.
    result = run(patched=False, sizes=(1_000, 10_000), runs=1, warmups=0) if args.unpatched else run()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
