"""The event tap: every domain event put on the template's bus, kept as one JSON line in `events.jsonl`.

devstack adds a queue and a rule of its own (not in template.yaml, never deployed) to each bus of the
template, matching every source that starts with `ates.`. A daemon thread long-polls the queue and
appends each event's `detail` (our envelope: event_id, event_name, event_version, event_time, producer,
correlation_id, data) to `<log_dir>/events.jsonl`, then deletes the messages. Redeliveries (and an event
put twice) are written once: the tap remembers the ids of the events it wrote last, those at the end of
the file included. Only recent ones: a message comes back within its visibility timeout (or, after a crash,
at the next start, having been written just before it) and a relay puts an event twice within its retries,
while a year's file holds millions of ids (a set of them all took 20 s to read at start, and grew forever).

Uses: `GET /_devstack/events.json` (a correlation id's journey) and `python -m devstack audit-ledger`, which
first waits for the tap to catch up (`wait_written`): under a load the tap may be a few thousand events
behind, and an audit of a file that misses them reports fees with no event behind them.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from devstack import aws, json_api
from devstack.console import Console

FILE_NAME = "events.jsonl"
TAP_ID = "devstack-EventTap"
PATTERN = {"source": [{"prefix": "ates."}]}  # moto 5.2.5 matches `prefix` (tests/integration/test_devstack_tap)
WAIT_SECONDS = 10  # long poll: moto waits on a condition, so an idle tap costs next to nothing
BATCH_SIZE = 10  # SQS's most per receive
# After a batch that was not full, the events gather this long before the next receive (as a Lambda's
# MaximumBatchingWindowInSeconds does): a tap that took each event as it came made a receive and a delete per
# event when events trickle in (bench.load, 1,500 operations: the tap's calls 811 -> 643, 7.8 -> 6.2% of the
# emulator's). Nobody needs the file to the millisecond: the audit waits until the tap's queue is empty
# (`wait_written`), and an event shows in a journey half a second later at most.
BATCH_WINDOW = 0.5
RETRY_BACKOFF_MAX = 5.0
RECENT_IDS = 100_000  # event ids remembered: minutes of the busiest load, far beyond any redelivery
IN_FLIGHT_WAIT = 3.0  # seconds the audit waits for the batch a tap has taken to be written
TAIL_BYTES = 16 * 1024 * 1024  # of a kept file, read at start for its recent ids (some 40,000 events)


class RecentIds:
    """The last `limit` ids added, for membership tests: a set, with the oldest dropped past the limit."""

    def __init__(self, ids: Iterable[str] = (), limit: int = RECENT_IDS) -> None:
        self.limit = limit
        self._order: deque[str] = deque()
        self._ids: set[str] = set()
        for event_id in ids:
            self.add(event_id)

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, event_id: str) -> None:
        if event_id in self._ids:
            return
        self._ids.add(event_id)
        self._order.append(event_id)
        if len(self._order) > self.limit:
            self._ids.discard(self._order.popleft())


class EventTap:
    """Creates its queue and rules in `__init__`; `start()` runs the reader thread, `stop()` ends it."""

    def __init__(
        self,
        provisioned: Any,
        endpoint_url: str,
        path: Path,
        console: Console,
        *,
        fresh: bool = True,
    ) -> None:
        self.endpoint_url = endpoint_url
        self.path = path
        self.console = console
        self.name = f"{provisioned.stack.stack_name}-{TAP_ID}"[:64]
        self.buses = [
            str(provisioned.resolver.ref(logical_id)) for logical_id in provisioned.active("AWS::Events::EventBus")
        ]
        self.sqs = aws.client("sqs", endpoint_url)
        # Receives and deletes go by the JSON protocol directly, as the SQS pollers' do (`json_api`): botocore's
        # request building and parsing, for every event of the stack, were a tenth of devstack's hub's CPU.
        self.queue = json_api.sqs(endpoint_url, read_timeout=WAIT_SECONDS + 10, caller=TAP_ID)
        self.events = aws.client("events", endpoint_url)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._seen = RecentIds()
        self.written = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        if fresh:  # the emulator is new: events of an earlier run would describe data that no longer exists
            path.write_text("")
        else:  # a kept state, or an --endpoint emulator that outlived an earlier devstack: keep its events
            recent = _lines(path, from_byte=max(0, _size(path) - TAIL_BYTES))
            self._seen = RecentIds(e["event_id"] for e in recent if isinstance(e.get("event_id"), str))
        self.queue_url = ""
        self.ensure()

    def ensure(self) -> None:
        """Create the tap's queue and rules, or find them there (idempotent): at start, and again after the
        emulator was restarted (devstack's supervisor), since they are not in the template it provisions."""
        if not self.buses:
            return
        self.queue_url = self.sqs.create_queue(QueueName=self.name)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"]
        for bus in self.buses:
            self.events.put_rule(
                Name=self.name,
                EventBusName=bus,
                EventPattern=json.dumps(PATTERN),
                State="ENABLED",
                Description="devstack's event tap (not in template.yaml)",
            )
            self.events.put_targets(Rule=self.name, EventBusName=bus, Targets=[{"Id": "tap", "Arn": arn["QueueArn"]}])

    def start(self) -> None:
        if self.buses:
            self._thread = threading.Thread(target=self.run, name="event-tap", daemon=True)
            self._thread.start()

    def stop(self, wait: float = 0.2, *, remove: bool = False) -> None:
        """End the reader (a thread inside a long poll ends with the process). `remove` deletes the rules and
        the queue: for an emulator that outlives devstack, where they would otherwise pile up events."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(wait)
        if remove:
            for bus in self.buses:
                with contextlib.suppress(Exception):
                    self.events.remove_targets(Rule=self.name, EventBusName=bus, Ids=["tap"])
                    self.events.delete_rule(Name=self.name, EventBusName=bus)
            if self.queue_url:
                with contextlib.suppress(Exception):
                    self.sqs.delete_queue(QueueUrl=self.queue_url)

    def run(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            try:
                response = self.queue.call(
                    "ReceiveMessage",
                    {"QueueUrl": self.queue_url, "MaxNumberOfMessages": BATCH_SIZE, "WaitTimeSeconds": WAIT_SECONDS},
                )
                if self._stop.is_set():
                    return  # not written: they reappear after the visibility timeout
                messages = response.get("Messages", [])
                if messages:
                    self.handle(messages)
                backoff = 0.5
                if 0 < len(messages) < BATCH_SIZE and self._stop.wait(BATCH_WINDOW):
                    return
            except Exception as error:  # the emulator went away or hiccuped: keep the tap alive
                if self._stop.is_set():
                    return
                self.console.say(f"  event tap: poll failed: {error}")
                if self._stop.wait(backoff):
                    return
                backoff = min(backoff * 2, RETRY_BACKOFF_MAX)

    def handle(self, messages: list[dict[str, Any]]) -> None:
        """Append the new envelopes (one write, flushed), then delete every message received."""
        lines = []
        for message in messages:
            envelope = _detail(message.get("Body", ""))
            if envelope is None:
                continue
            event_id = envelope.get("event_id")
            if isinstance(event_id, str):
                if event_id in self._seen:
                    continue
                self._seen.add(event_id)
            lines.append(json.dumps(envelope, separators=(",", ":"), default=str) + "\n")
        if lines:
            with self.path.open("a") as handle:
                handle.write("".join(lines))
            self.written += len(lines)
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
        self.queue.call("DeleteMessageBatch", {"QueueUrl": self.queue_url, "Entries": entries})


def _detail(body: str) -> dict[str, Any] | None:
    """The `detail` of the EventBridge event in an SQS body (None when the body is not such an event)."""
    try:
        event = json.loads(body)
    except ValueError:
        return None
    detail = event.get("detail") if isinstance(event, dict) else None
    if isinstance(detail, str):  # a producer that put a JSON string inside the JSON
        with contextlib.suppress(ValueError):
            detail = json.loads(detail)
    return detail if isinstance(detail, dict) else None


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _lines(path: Path, from_byte: int = 0) -> Iterator[dict[str, Any]]:
    """The events in `path`; from `from_byte` on, the first (partial) line skipped."""
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return
    with handle:
        if from_byte:
            handle.seek(from_byte - 1, os.SEEK_SET)
            handle.readline()  # the rest of the line the cut fell in (nothing, if it fell right after one)
        for line in handle:
            with contextlib.suppress(ValueError):  # a line being written right now
                event = json.loads(line)
                if isinstance(event, dict):
                    yield event


def read(
    path: Path, *, event_name: str | None = None, correlation_id: str | None = None, limit: int | None = None
) -> list[dict[str, Any]]:
    """The envelopes in `path`, oldest first; filters are exact matches; `limit` keeps the newest matches."""
    matches = [
        event
        for event in _lines(path)
        if (not event_name or event.get("event_name") == event_name)
        and (not correlation_id or event.get("correlation_id") == correlation_id)
    ]
    return matches[-limit:] if limit else matches


def wait_written(endpoint_url: str, timeout: float) -> bool | None:
    """Wait until every tap on the emulator has taken what it was sent (nothing visible in its queue), then
    until the batch it holds is written (nothing in flight, for a few seconds at most: what a reader that
    died had taken comes back only after the visibility timeout). True once caught up, False if `timeout`
    passed first, None when there is no tap queue to ask (no devstack there)."""
    sqs = aws.client("sqs", endpoint_url, read_timeout=10)
    try:
        urls = [u for u in sqs.list_queues().get("QueueUrls", []) if u.endswith(TAP_ID)]
    except Exception:  # nothing answers there: nothing to wait for
        return None
    if not urls:
        return None

    def pending(attribute: str) -> int:
        return sum(
            int(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[attribute])["Attributes"][attribute])
            for url in urls
        )

    deadline = time.monotonic() + timeout
    while pending("ApproximateNumberOfMessages"):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.5)
    in_flight_until = min(deadline, time.monotonic() + IN_FLIGHT_WAIT)
    while pending("ApproximateNumberOfMessagesNotVisible") and time.monotonic() < in_flight_until:
        time.sleep(0.2)
    return True
