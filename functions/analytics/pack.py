"""Packing the lake's raw partitions (R-AN-1): every few minutes, the events landed one object each
(`lake.raw_key`) in a raw partition are put together in one object, a pack (`lake.pack_key`), and the
landed objects are deleted.

Why: landing one object per event keeps landing idempotent without a read, but a query pays for every
object of the raw days it reads: one LIST entry and one open each. A 1,000-popug company lands ~5,000
events a day, and with the transactions' two-day lead (tables.py) the logical tables read ~10,000 raw
objects: the dashboard took 5.8 s on a year-old stack against 50 ms on a fresh one (bench/year_routes.py).
Packed, the same days are a few objects. Athena lists, opens and bills per object in the same way.

A pack holds its objects' lines, each distinct line once, in sorted order; it is named by a digest of its
bytes, so packing the same objects again (a run that crashed between writing the pack and deleting what
it packed, or two runs at once) writes the same key. It is written before its objects are deleted, so
every event is always in the lake: for a moment in both, which the logical tables read DISTINCT (as they
do an event delivered twice). A query copying the lake meanwhile lists again (lake.Mirror).

A partition's packs are merged into one when there are more than MAX_PACKS, so a day of events is at most
MAX_PACKS + 1 objects, and a run writes the events landed since the last run, not the whole day again
(the local emulator journals every object written).

Packing the raw days a compacted day reads makes that day look late to the compaction (a newer object in
its raw window, compact.stale_days), which compacts it again: harmless, and rare, as a UTC day's events
land during that day, and its last ones are packed minutes after it ends, before the nightly compaction.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from analytics import lake
from analytics.settings import get as settings
from shared.aws import client
from shared.contracts import REGISTRY
from shared.observability import logger, tracer

MAX_PACKS = 8
DELETE_BATCH = 1000  # DeleteObjects' largest request
READ_THREADS = 16  # GETs of small objects are latency-bound
RESERVE_SECONDS = 30.0  # stop starting partitions this long before the function's time-out


@tracer.capture_lambda_handler
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    remaining = context.get_remaining_time_in_millis() / 1000 if context else 900.0
    return pack_all(settings().lake_bucket, deadline=time.monotonic() + remaining - RESERVE_SECONDS)


def pack_all(bucket: str, deadline: float | None = None) -> dict[str, Any]:
    """Pack every raw partition that needs it, table by table, until `deadline` (time.monotonic())."""
    packed: list[dict[str, Any]] = []
    for contract in REGISTRY.contracts:
        prefix = lake.raw_prefix(contract.name, contract.version)
        for partition, keys in partitions(bucket, prefix).items():
            if deadline is not None and time.monotonic() >= deadline:
                logger.info("partitions left for the next run", prefix=partition)
                return {"packed": packed, "finished": False}
            chosen = to_pack(keys)
            if chosen:
                key, events = pack(bucket, partition, chosen)
                packed.append({"partition": partition, "objects": len(chosen), "events": events, "pack": key})
    if packed:
        logger.info("raw partitions packed", partitions=len(packed), objects=sum(p["objects"] for p in packed))
    return {"packed": packed, "finished": True}


def partitions(bucket: str, prefix: str) -> dict[str, list[str]]:
    """The keys of each `day=` partition under a raw prefix, by partition prefix."""
    found: dict[str, list[str]] = {}
    for page in client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            day = lake.day_of_key(prefix, item["Key"])
            if day is not None:
                found.setdefault(lake.partition(prefix, day), []).append(item["Key"])
    return found


def to_pack(keys: list[str]) -> list[str]:
    """What to put in one pack from a partition's keys: its landed objects (when there are two or more
    objects), or everything once the packs would be more than MAX_PACKS; nothing when it is packed."""
    landed = [k for k in keys if not lake.is_pack(k)]
    packs = len(keys) - len(landed)
    if (not landed and packs <= 1) or len(keys) == 1:
        return []
    return sorted(keys) if packs + (1 if landed else 0) > MAX_PACKS else sorted(landed)


def pack(bucket: str, partition: str, keys: list[str]) -> tuple[str, int]:
    """Write one pack of `keys`' lines, then delete `keys`; returns the pack's key and its line count. A key
    gone meanwhile (packed by another run) is left out: its lines are in that run's pack."""
    s3 = client("s3")

    def read(key: str) -> bytes:
        try:
            return s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except s3.exceptions.NoSuchKey:
            return b""

    with ThreadPoolExecutor(READ_THREADS) as pool:
        bodies = list(pool.map(read, keys))
    body = lake.pack_body(line for each in bodies for line in each.decode().splitlines())
    key = lake.pack_key(partition, body)
    s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
    done = [k for k in keys if k != key]
    for start in range(0, len(done), DELETE_BATCH):
        batch = [{"Key": k} for k in done[start : start + DELETE_BATCH]]
        s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
    return key, body.count(b"\n")
