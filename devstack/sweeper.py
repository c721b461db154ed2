"""DynamoDB TTL for the emulator: moto never expires items, so devstack deletes them itself.

Every `interval` seconds (and on `python -m devstack sweep`), each table with TTL enabled is scanned for
items whose TTL attribute is a number in the past, and those are deleted. As in DynamoDB, only numeric
epoch-second values count; the deletes appear on the table's stream as REMOVE records.
"""

from __future__ import annotations

import threading
import time
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
            for start in range(0, len(expired), 25):
                chunk = [{"DeleteRequest": {"Key": key}} for key in expired[start : start + 25]]
                while chunk:
                    unprocessed = client.batch_write_item(RequestItems={table: chunk}).get("UnprocessedItems", {})
                    chunk = unprocessed.get(table, [])
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


def _epoch(value: dict[str, Any] | None) -> float:
    """A TTL attribute's value; only numbers count (DynamoDB ignores other types), others never expire."""
    try:
        return float((value or {})["N"])
    except (KeyError, ValueError):
        return float("inf")
