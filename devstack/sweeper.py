"""DynamoDB TTL for the emulator: moto never expires items, so devstack deletes them itself.

Every `interval` seconds (and on `python -m devstack sweep`), the items of each table with TTL enabled
whose TTL attribute is a number in the past are deleted. As in DynamoDB, only numeric epoch-second values
count; the deletes appear on the table's stream as REMOVE records.

The devstack emulator lists the expired keys from a sorted index (GET /_devstack/ttl/expired): a sweep
costs what it deletes. Against another endpoint (a plain moto server) the table is scanned, which costs
the whole table every sweep.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

from devstack import aws
from devstack.console import Console


class Sweeper:
    def __init__(
        self,
        ttl_attributes: dict[str, str],
        *,
        endpoint_url: str,
        console: Console,
        interval: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.ttl_attributes = ttl_attributes
        self.endpoint_url = endpoint_url
        self.console = console
        self.interval = interval
        self.clock = clock
        self._stop = threading.Event()
        self._lock = threading.Lock()  # a manual sweep and the timer never scan at once
        self._thread: threading.Thread | None = None

    def sweep(self) -> dict[str, int]:
        """Delete expired items now; returns how many went, per table."""
        with self._lock:
            now = int(self.clock())
            return {table: self._sweep_table(table, attribute, now) for table, attribute in self.ttl_attributes.items()}

    def _sweep_table(self, table: str, attribute: str, now: int) -> int:
        client = aws.client("dynamodb", self.endpoint_url)
        deleted = 0
        try:
            while True:
                expired = _listed_expired(self.endpoint_url, table, attribute, now)
                _delete(client, table, expired)
                deleted += len(expired)
                if len(expired) < LISTED_MAX:
                    return deleted
        except _NotListed:
            return deleted + self._scan_table(client, table, attribute, now)

    def _scan_table(self, client: Any, table: str, attribute: str, now: int) -> int:
        key_names = [k["AttributeName"] for k in client.describe_table(TableName=table)["Table"]["KeySchema"]]
        names = {f"#k{i}": name for i, name in enumerate(key_names)} | {"#ttl": attribute}
        # Filtered here, not with a FilterExpression: moto answers 500 when `<` meets a non-numeric value.
        request: dict[str, Any] = {
            "TableName": table,
            "ProjectionExpression": ", ".join([*names.keys()]),
            "ExpressionAttributeNames": names,
        }
        deleted = 0
        while True:
            page = client.scan(**request)
            expired = [
                {name: item[name] for name in key_names}
                for item in page.get("Items", [])
                if _epoch(item.get(attribute)) < now
            ]
            _delete(client, table, expired)
            deleted += len(expired)
            if "LastEvaluatedKey" not in page:
                return deleted
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def start(self) -> None:
        if self.ttl_attributes and self.interval > 0:
            self._thread = threading.Thread(target=self._loop, name="sweeper", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(1.0)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                deleted = {table: n for table, n in self.sweep().items() if n}
                if deleted:
                    self.console.say(f"devstack: TTL sweep deleted {deleted}")
            except Exception as error:  # the emulator is gone (stopping) or hiccuped: try next time
                if not self._stop.is_set():
                    self.console.say(f"devstack: TTL sweep failed: {error}")


LISTED_MAX = 1000  # keys per listing


class _NotListed(Exception):
    """The endpoint does not list expired keys (not a devstack emulator, or one running unpatched)."""


def _listed_expired(endpoint_url: str, table: str, attribute: str, now: int) -> list[dict[str, Any]]:
    query = urllib.parse.urlencode({"table": table, "attribute": attribute, "now": now, "limit": LISTED_MAX})
    try:
        with urllib.request.urlopen(f"{endpoint_url.rstrip('/')}/_devstack/ttl/expired?{query}", timeout=60) as answer:
            keys = json.loads(answer.read())["keys"]
    except urllib.error.HTTPError as error:
        if error.code != 404 or b"no table" in error.read():
            raise  # the emulator failed, or the table is gone (as a Scan would fail): this sweep fails
        raise _NotListed() from error  # no such route: not a devstack emulator, or an unpatched one
    except (ValueError, KeyError) as error:
        raise _NotListed() from error
    return [{name: _boto_value(value) for name, value in key.items()} for key in keys]


def _boto_value(value: dict[str, Any]) -> dict[str, Any]:
    # the wire's base64 for a binary key; boto3 takes (and encodes) the bytes
    return {"B": base64.b64decode(value["B"])} if "B" in value else value


def _delete(client: Any, table: str, keys: list[dict[str, Any]]) -> None:
    for start in range(0, len(keys), 25):
        chunk = [{"DeleteRequest": {"Key": key}} for key in keys[start : start + 25]]
        while chunk:
            unprocessed = client.batch_write_item(RequestItems={table: chunk}).get("UnprocessedItems", {})
            chunk = unprocessed.get(table, [])


def _epoch(value: dict[str, Any] | None) -> float:
    """A TTL attribute's value; only numbers count (DynamoDB ignores other types), others never expire."""
    try:
        return float((value or {})["N"])
    except (KeyError, ValueError):
        return float("inf")
