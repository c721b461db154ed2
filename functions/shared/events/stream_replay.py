"""Replaying a stream batch that was given up on (R-SEC-4).

A stream source retries a failing batch a bounded number of times; then Lambda sends a failure record to the
function's failure queue (the shard and the first and last sequence numbers of the batch, not its records) and
the shard moves on, so one poison record blocks nothing behind it. Operations see the failure among the dead
letters and, once the cause is fixed, redrive it to the function's replay queue. Its messages reach the same
handler, wrapped by `replays_stream`: the batch is read back from the stream and handled as it was the first
time. Stream records live 24 hours; a replay after that finds nothing to read, fails, and the failure record
returns to the failure queue (the replay queue's redrive policy), saying so.

Lambda's stream filter does not apply to records read back, so the wrapper keeps what the source's filter
keeps (INSERTs of one key prefix).
"""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from shared.aws import client
from shared.observability import logger

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
READ_LIMIT = 1000


class NothingToReplay(Exception):
    """The stream no longer holds the batch (older than 24 hours) or the failure record is not one."""


def replays_stream(key_prefix: str) -> Callable[[Handler], Handler]:
    """A stream handler that also takes its replay queue's messages (Lambda failure records)."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
            messages = event.get("Records") or []
            if not messages or messages[0].get("eventSource") != "aws:sqs":
                return handler(event, context)
            failed = []
            for message in messages:
                try:
                    records = [r for r in read_back(json.loads(message["body"])) if _kept(r, key_prefix)]
                    result = handler({"Records": records}, context) or {}
                    if result.get("batchItemFailures"):
                        raise RuntimeError(f"{len(result['batchItemFailures'])} replayed records failed again")
                    logger.info("stream batch replayed", records=len(records))
                except Exception:
                    failure = message["body"][:2000]
                    logger.exception("replaying a stream batch failed; it stays a failure", failure=failure)
                    failed.append({"itemIdentifier": message["messageId"]})
            return {"batchItemFailures": failed}

        return handle

    return wrap


def read_back(failure: dict[str, Any]) -> list[dict[str, Any]]:
    """The records of a failed batch, from its shard, in Lambda's event shape."""
    info = failure.get("DDBStreamBatchInfo")
    if not isinstance(info, dict):
        raise NothingToReplay("not a DynamoDB stream failure record (no DDBStreamBatchInfo)")
    streams = client("dynamodbstreams")
    iterator = streams.get_shard_iterator(
        StreamArn=info["streamArn"], ShardId=info["shardId"],
        ShardIteratorType="AT_SEQUENCE_NUMBER", SequenceNumber=info["startSequenceNumber"],
    )["ShardIterator"]  # fmt: skip
    last = int(info["endSequenceNumber"])
    records: list[dict[str, Any]] = []
    while iterator:
        response = streams.get_records(ShardIterator=iterator, Limit=READ_LIMIT)
        for record in response.get("Records", []):
            if int(record["dynamodb"]["SequenceNumber"]) > last:
                return records
            records.append({**_jsonable(record), "eventSourceARN": info["streamArn"]})
        if not response.get("Records"):
            break  # the shard holds nothing further
        iterator = response.get("NextShardIterator")
    if not records:
        raise NothingToReplay(f"the stream no longer holds records {info['startSequenceNumber']}..{last}")
    return records


def _kept(record: dict[str, Any], key_prefix: str) -> bool:
    keys = record.get("dynamodb", {}).get("Keys", {})
    return record.get("eventName") == "INSERT" and keys.get("pk", {}).get("S", "").startswith(key_prefix)


def _jsonable(value: Any) -> Any:
    """What the Streams API returns, as Lambda delivers it: times as epoch seconds, binary as base64."""
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime):
        return int(value.timestamp())
    return value
