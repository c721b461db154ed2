"""Which DynamoDB streams have new records, so a stream poller reads a shard only when it grew.

Lambda's pollers read each shard four times a second whether or not anything was written. Done over HTTP
against the emulator, that is 8 mappings x 4 = 32 GetRecords a second, each through botocore on one side and
moto's dispatch on the other: under load about a fifth of every call the emulator answers, and the CPU it
takes is the CPU the functions wait for on a 2-core machine. The emulator knows when a shard grows, so it
says so:

- emulator side (`install`, `answer`): moto's `StreamShard.add` counts the records appended per table;
  `GET /_devstack/streams/heads?after=V&wait=S` answers at once when the count's version is past V, else
  when it moves or after S seconds (a long poll, like SQS's), with every table's count.
- devstack side (`HeadsWatch`): one thread keeps that long poll open and notifies the pollers' condition;
  a poller notes a table's count before each read and, with nothing pending, waits until it moves instead
  of reading again. Reads still keep Lambda's pace (at most four a second per shard), so batches fill under
  load exactly as before; only the empty reads go. Each answer carries the emulator's `epoch` (fixed per
  process): an emulator restarted, or a watch that failed, makes every poller read again, and while the
  watch is not live the pollers poll as Lambda does. Polls are also kept at `SAFETY_READ` seconds at the
  latest, so even a count that somehow did not move costs a delay, never a record.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable
from typing import Any

import urllib3

PATH = "/_devstack/streams/heads"
LONGEST_WAIT = 20.0  # as SQS's longest long poll: an idle stack costs one call per 20 s here
SAFETY_READ = 30.0  # a poller whose count did not move reads its shard anyway after this long
RETRY = (0.5, 5.0)  # the watch's pause after a failed call, doubling up to the second


class Heads:
    """The emulator's side: records appended per table ARN since this process started."""

    def __init__(self) -> None:
        self.epoch = uuid.uuid4().hex
        self.version = 0
        self.counts: dict[str, int] = {}
        self.changed = threading.Condition()

    def appended(self, table_arn: str) -> None:
        with self.changed:
            self.version += 1
            self.counts[table_arn] = self.counts.get(table_arn, 0) + 1
            self.changed.notify_all()

    def wait(self, after: int, seconds: float) -> dict[str, Any]:
        with self.changed:
            self.changed.wait_for(lambda: self.version != after, timeout=max(0.0, min(seconds, LONGEST_WAIT)))
            return {"epoch": self.epoch, "version": self.version, "tables": dict(self.counts)}


HEADS = Heads()
_installed = False


def install() -> None:
    """Count every record moto appends to a stream (idempotent; the emulator calls it once at start)."""
    global _installed
    if _installed:
        return
    from moto.dynamodb.models.table import StreamShard

    add = StreamShard.add

    def counted_add(self: Any, old: Any, new: Any) -> None:
        add(self, old, new)
        HEADS.appended(self.table.table_arn)

    StreamShard.add = counted_add
    _installed = True


def installed() -> bool:
    """Whether counts move in this process: the route is only answered then (else pollers would wait on
    counts that never move)."""
    return _installed


def answer(query_string: str) -> dict[str, Any]:
    """The route's body for `?after=V&wait=S` (both optional: no wait answers at once)."""
    query = urllib.parse.parse_qs(query_string)
    try:
        after = int(query.get("after", ["-1"])[0])
        seconds = float(query.get("wait", ["0"])[0])
    except ValueError:
        after, seconds = -1, 0.0
    return HEADS.wait(after, seconds)


def table_of(stream_arn: str) -> str:
    """`arn:...:table/Name/stream/LABEL` -> `arn:...:table/Name` (moto's key for the table's count)."""
    return stream_arn.split("/stream/", 1)[0]


class HeadsWatch:
    """devstack's side: keeps the emulator's counts current for the pollers, on `changed` (their condition)."""

    def __init__(self, endpoint_url: str, changed: threading.Condition, stopping: Callable[[], bool]) -> None:
        self.url = endpoint_url.rstrip("/") + PATH
        # One kept-alive connection: under load the count moves at every write, so the watch asks again
        # dozens of times a second, and a new connection and urllib's opener each time were a tenth of the hub.
        self.http = urllib3.PoolManager(maxsize=1, retries=False)
        self.timeout = urllib3.Timeout(connect=5.0, read=LONGEST_WAIT + 10)
        self.changed = changed
        self.stopping = stopping
        self.live = False
        self.epoch = ""
        self.version = -1
        self.generation = 0  # moves when every count must be taken as changed (a new emulator, a failed watch)
        self.counts: dict[str, int] = {}

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="stream-heads-watch", daemon=True)
        thread.start()
        return thread

    def run(self) -> None:
        delay, longest = RETRY
        while not self.stopping():
            try:
                query = urllib.parse.urlencode({"after": self.version, "wait": LONGEST_WAIT})
                response = self.http.request("GET", f"{self.url}?{query}", timeout=self.timeout)
                if response.status != 200:
                    raise ValueError(f"HTTP {response.status}")
                self.update(json.loads(response.data))
                delay = RETRY[0]
            except (OSError, ValueError, KeyError, urllib3.exceptions.HTTPError):  # restarting, or no such route
                self.fail()
                time.sleep(delay)
                delay = min(delay * 2, longest)

    def update(self, body: dict[str, Any]) -> None:
        with self.changed:
            if body["epoch"] != self.epoch or not self.live:
                self.generation += 1
            self.epoch, self.version, self.counts, self.live = body["epoch"], body["version"], body["tables"], True
            self.changed.notify_all()

    def fail(self) -> None:
        with self.changed:
            if self.live:
                self.live = False
                self.generation += 1
                self.changed.notify_all()

    def mark(self, stream_arn: str) -> tuple[int, int] | None:
        """What a poller notes just before reading: None while the watch is not live (poll as Lambda does)."""
        with self.changed:
            return (self.generation, self.counts.get(table_of(stream_arn), 0)) if self.live else None

    def moved(self, stream_arn: str, mark: tuple[int, int] | None) -> bool:
        """Whether the shard may have grown since `mark` (always, when there is no mark or no live watch)."""
        return mark is None or self.mark(stream_arn) != mark
