"""Event source mappings, run the way Lambda's pollers run them: SQS queues and DynamoDB streams.

SQS: long-poll ReceiveMessage, invoke with Lambda's SQS event, delete what succeeded. With
`ReportBatchItemFailures` only the reported failures stay; they reappear after the visibility timeout
and the queue's redrive policy moves them to the DLQ after `maxReceiveCount` receives, as in AWS.
Messages EventBridge delivered are mended where moto falls short of AWS: the envelope gets its
`account`, and a target's `Input`/`InputPath` (which moto ignores) is applied.

DynamoDB streams: read the shard from TRIM_HORIZON or LATEST, drop records the FilterCriteria reject,
batch up to BatchSize within MaximumBatchingWindowInSeconds, and retry on failure: from the reported
sequence number (partial failure) or the whole batch (error), with a growing backoff. After
MaximumRetryAttempts the batch is given up on: Lambda's failure record (shard, sequence range, why) goes to
the mapping's OnFailure queue, as in AWS (R-SEC-4), and the shard moves on.

Where a stream poller stopped survives a restart (R-LOC-1), as Lambda keeps a mapping's position: with
`positions` (a devstack.progress file) each shard's last sequence number read is saved once everything read
up to it is delivered (or filtered out, or given up on), and the next start reads AFTER it. A shard with no
saved position starts at TRIM_HORIZON when the stack's state was kept (`resume`: records written before
the crash and never read must still be read), else at the mapping's StartingPosition.

Pollers are supervised threads: an error talking to the emulator (it died and is restarting) is retried with
a growing backoff, a stream resuming after the last record it read; a poller whose loop itself dies is
started again (fresh clients and iterators) from where it had delivered up to, and the console says so.
`crash(mapping)` makes one die on purpose, to rehearse that (`POST /_devstack/pollers/<Mapping>/crash`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

from devstack import aws, filters, json_api, stream_heads, stream_reads
from devstack.console import Console
from devstack.workers import WorkerPool

STREAM_POLL = 0.25  # while the stack is in use: Lambda reads each shard four times a second
READ_LIMIT = 1000  # records per GetRecords (DynamoDB's most): a full read means more may be waiting
DORMANT_POLL = 5.0  # after DORMANT_AFTER seconds without any invocation; the next invocation wakes it
DORMANT_AFTER = 15.0
SQS_WAIT_SECONDS = 20  # long poll, as long as SQS allows (and Lambda uses): an idle queue costs a call per 20 s
RETRY_BACKOFF_MAX = 5.0
RESTART_BACKOFF = (1.0, 30.0)  # a crashed poller waits 1 s before its restart, doubling while it keeps crashing


class PollerCrash(BaseException):
    """Raised inside a poller's loop by `Pollers.crash`, to rehearse a poller dying: not an Exception, so the
    loop's own handling of the emulator's errors does not catch it, as it would not catch what kills a thread."""


@dataclass(frozen=True)
class MappingSpec:
    """One `AWS::Lambda::EventSourceMapping`, resolved."""

    logical_id: str
    function: str  # logical id of the target function
    source_arn: str
    kind: str  # "sqs" | "dynamodb"
    batch_size: int
    batching_window: float = 0.0
    starting_position: str = "LATEST"
    patterns: list[dict[str, Any]] = field(default_factory=list)
    report_failures: bool = False
    max_retries: int = -1
    enabled: bool = True
    queue_url: str = ""
    concurrency: int = 1
    on_failure_queue_url: str = ""  # DestinationConfig.OnFailure (an SQS queue) of a stream source


def mappings_from(provisioned: Any, *, concurrency: int = 1) -> list[MappingSpec]:
    """Every event source mapping of the provisioned stack (SAM generates them from `Events`)."""
    specs = []
    for logical_id in provisioned.active("AWS::Lambda::EventSourceMapping"):
        props = provisioned.properties(logical_id)
        arn = str(props.get("EventSourceArn", ""))
        service = arn.split(":")[2] if arn.count(":") >= 5 else ""
        if service not in ("sqs", "dynamodb"):
            raise ValueError(f"{logical_id}: event source {arn!r} is not supported locally (SQS and DynamoDB only)")
        function = provisioned.function_id(str(props.get("FunctionName", "")))
        if function is None:
            raise ValueError(f"{logical_id}: function {props.get('FunctionName')!r} is not in the template")
        maximum = (props.get("ScalingConfig") or {}).get("MaximumConcurrency") or concurrency
        on_failure = str(((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination") or "")
        if on_failure and on_failure not in provisioned.queue_urls:
            raise ValueError(f"{logical_id}: OnFailure destination {on_failure!r} is not supported (SQS queues only)")
        specs.append(
            MappingSpec(
                logical_id=logical_id,
                function=function,
                source_arn=arn,
                kind=service,
                batch_size=int(props.get("BatchSize", 10 if service == "sqs" else 100)),
                batching_window=float(props.get("MaximumBatchingWindowInSeconds", 0)),
                starting_position=str(props.get("StartingPosition", "LATEST")),
                patterns=filters.compile_criteria(props.get("FilterCriteria")),
                report_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
                max_retries=int(props.get("MaximumRetryAttempts", -1)),
                enabled=bool(props.get("Enabled", True)),
                queue_url=provisioned.queue_urls.get(arn, ""),
                concurrency=max(1, min(int(maximum), concurrency, 5)) if service == "sqs" else 1,
                on_failure_queue_url=provisioned.queue_urls.get(on_failure, ""),
            )
        )
    return specs


class Pollers:
    """Runs every enabled mapping on daemon threads until `stop()`."""

    def __init__(
        self,
        mappings: list[MappingSpec],
        pool: WorkerPool,
        *,
        endpoint_url: str,
        console: Console,
        queue_targets: dict[str, list[dict[str, Any]]] | None = None,
        stream_retry_backoff: float = RETRY_BACKOFF_MAX,
        positions: Any = None,
        resume: bool = False,
    ) -> None:
        self.mappings = mappings
        self.positions = positions  # a devstack.progress.ProgressFile, or None: positions live in memory only
        self.resume = resume
        self.pool = pool
        self.endpoint_url = endpoint_url
        self.console = console
        self.queue_targets = queue_targets or {}
        self.stream_retry_backoff = stream_retry_backoff  # the longest pause between a stream batch's retries
        self._stop = threading.Event()
        self._wake = threading.Condition()
        self._last_activity = time.monotonic()
        self._threads: list[threading.Thread] = []
        self._crash: set[str] = set()  # mappings one of whose pollers is to die at its next turn
        self.restarts = 0
        self.heads = stream_heads.HeadsWatch(endpoint_url, self._wake, lambda: self.stopping)
        add_listener = getattr(pool, "add_listener", None)
        if add_listener is not None:
            add_listener(self.invoked)

    def start(self) -> None:
        if any(spec.kind == "dynamodb" and spec.enabled for spec in self.mappings):
            self.heads.start()  # not joined by `stop`: it sits in a long poll, and dies with the process
        for spec in self.mappings:
            if not spec.enabled:
                continue
            for index in range(spec.concurrency):
                name = f"poller-{spec.logical_id}-{index}"
                thread = threading.Thread(target=self._supervise, args=(spec.logical_id,), name=name, daemon=True)
                thread.start()
                self._threads.append(thread)

    def _supervise(self, mapping: str) -> None:
        """Run one poller; if its loop dies, say so and run a fresh one (new clients, shards opened again). A
        stream poller also returns when its mapping's stream was replaced (`update`): one on the new one follows."""
        delay, longest = RESTART_BACKOFF
        resume: dict[str, str] = {}  # a stream's shards: where the dead poller had delivered up to
        while not self.stopping:
            spec = self.spec_of(mapping)
            poller = SqsPoller(self, spec) if spec.kind == "sqs" else StreamPoller(self, spec, resume)
            started = time.monotonic()
            try:
                poller.run()
                resume = {}  # it returned: stopping, or its stream was replaced (a new stream starts afresh)
                continue
            except (Exception, PollerCrash) as error:
                if self.stopping:
                    return
                resume = dict(getattr(poller, "checkpoint", {}))
                if time.monotonic() - started > 60:
                    delay = RESTART_BACKOFF[0]  # it had been running fine: not a crash loop
                self.console.say(
                    f"devstack: the poller of {spec.logical_id} ({spec.kind} -> {spec.function}) died: "
                    f"{type(error).__name__}: {error}; restarting it in {delay:g} s"
                )
                if self._stop.wait(delay):
                    return
                self.restarts += 1
                self.console.say(f"devstack: the poller of {spec.logical_id} was restarted after {delay:g} s")
                delay = min(delay * 2, longest)

    def crash(self, mapping: str) -> None:
        """Make one poller of `mapping` (logical id) die at its next turn (KeyError if there is none)."""
        if not any(spec.logical_id == mapping and spec.enabled for spec in self.mappings):
            known = ", ".join(sorted(spec.logical_id for spec in self.mappings if spec.enabled))
            raise KeyError(f"no event source mapping {mapping!r} runs; known: {known}")
        with self._wake:
            self._crash.add(mapping)
        self.poke()

    def check_crash(self, spec: MappingSpec) -> None:
        """Called by each poller at every turn of its loop, outside its error handling."""
        if spec.logical_id in self._crash:
            with self._wake:
                if spec.logical_id not in self._crash:
                    return
                self._crash.discard(spec.logical_id)
            raise PollerCrash(f"made to crash (POST /_devstack/pollers/{spec.logical_id}/crash)")

    def spec_of(self, mapping: str) -> MappingSpec:
        return next(spec for spec in self.mappings if spec.logical_id == mapping)

    def update(self, mappings: list[MappingSpec]) -> int:
        """The emulator was provisioned again: a stream mapping whose stream is new (its table was created again)
        moves its poller to it, reading it from its first record (every record there was written after); queue
        mappings keep theirs (a queue's URL is its name's). Returns how many streams were new."""
        before = {spec.logical_id: spec for spec in self.mappings}
        moved = {
            spec.logical_id: replace(spec, starting_position="TRIM_HORIZON")
            for spec in mappings
            if spec.kind == "dynamodb" and spec.logical_id in before
            and before[spec.logical_id].source_arn != spec.source_arn
        }  # fmt: skip
        self.mappings = [moved.get(spec.logical_id, spec) for spec in self.mappings]
        self.poke()  # a dormant stream poller notices at once
        return len(moved)

    def stop(self, wait: float = 1.0) -> None:
        self._stop.set()
        self.poke()
        deadline = time.monotonic() + wait
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def pause(self, seconds: float) -> bool:
        """Sleep `seconds` whatever else happens, unless stopping; True when it is time to stop."""
        return self._stop.wait(seconds)

    def sleep(self, seconds: float) -> bool:
        """Sleep unless stopping; True when it is time to stop. A long (dormant) sleep ends early when
        any function is invoked, since that is what writes new stream records."""
        if seconds <= STREAM_POLL:
            return self._stop.wait(seconds)
        with self._wake:
            self._wake.wait(seconds)
        return self._stop.is_set()

    def wait_for_records(self, spec: MappingSpec, mark: tuple[int, int] | None) -> bool:
        """After a read that left nothing pending: Lambda's pace (four reads a second at most), then, while the
        heads watch is live, until the stream grows past `mark` (or SAFETY_READ passes, or the poller is to
        crash or move to a new stream); without a live watch, the dormant pace when nothing runs. True when
        it is time to stop."""
        if mark is None:
            return self.sleep(DORMANT_POLL if self.dormant else STREAM_POLL)
        if self._stop.wait(STREAM_POLL):
            return True
        deadline = time.monotonic() + stream_heads.SAFETY_READ
        with self._wake:
            while not (
                self._stop.is_set()
                or self.heads.moved(spec.source_arn, mark)
                or spec.logical_id in self._crash
                or self.spec_of(spec.logical_id) is not spec
                or time.monotonic() >= deadline
            ):
                self._wake.wait(deadline - time.monotonic())
        return self._stop.is_set()

    def poke(self) -> None:
        """Something changed (stopping, a crash asked for, streams moved): every waiting poller looks again."""
        with self._wake:
            self._last_activity = time.monotonic()
            self._wake.notify_all()

    def invoked(self) -> None:
        """A function is being invoked (what writes stream records): the stream pollers leave their dormant pace.
        Only a dormant one needs waking: the others read at Lambda's pace or wait for the heads watch, and
        waking them all at every invocation (60 a second under bench.load) cost devstack's hub a tenth of its
        CPU. A poller sleeps at the dormant pace only while `dormant` holds, which this then sees too."""
        was_dormant = self.dormant
        self._last_activity = time.monotonic()
        if was_dormant:
            self.poke()

    @property
    def dormant(self) -> bool:
        return time.monotonic() - self._last_activity > DORMANT_AFTER

    def log(self, spec: MappingSpec, message: str) -> None:
        self.console.function_line(spec.function, f"[{spec.logical_id}] {message}")


class SqsPoller:
    def __init__(self, pollers: Pollers, spec: MappingSpec) -> None:
        self.pollers = pollers
        self.spec = spec
        # the messages as the wire's JSON (json_api): botocore's model walk of each was most of a receive
        self.sqs = json_api.sqs(pollers.endpoint_url, read_timeout=SQS_WAIT_SECONDS + 10)
        self.targets = pollers.queue_targets.get(spec.source_arn, [])

    def run(self) -> None:
        backoff = 0.5
        while not self.pollers.stopping:
            self.pollers.check_crash(self.spec)
            try:
                messages = self.receive()
                if self.pollers.stopping:
                    return  # received but not handled: they reappear after the visibility timeout
                if messages:
                    self.handle(messages)
                backoff = 0.5
            except Exception as error:  # the emulator went away or hiccuped: keep the poller alive
                if self.pollers.stopping:
                    return
                self.pollers.log(self.spec, f"poll failed: {error}")
                if self.pollers.sleep(backoff):
                    return
                backoff = min(backoff * 2, RETRY_BACKOFF_MAX)

    def receive(self) -> list[dict[str, Any]]:
        """Up to BatchSize messages: a long poll for the first, then what the batching window brings. A
        receive that comes back short has emptied the queue for now, so the window is waited out before the
        next (one receive, not one per message as they trickle in); full ones go on at once."""
        messages: list[dict[str, Any]] = []
        window_end = None
        while len(messages) < self.spec.batch_size and not self.pollers.stopping:
            self.pollers.check_crash(self.spec)  # an idle queue's poller turns here, once a long poll
            asked = min(10, self.spec.batch_size - len(messages))
            response = self.sqs.call(
                "ReceiveMessage",
                {
                    "QueueUrl": self.spec.queue_url,
                    "MaxNumberOfMessages": asked,
                    "WaitTimeSeconds": SQS_WAIT_SECONDS if window_end is None else 0,
                    "AttributeNames": ["All"],
                    "MessageAttributeNames": ["All"],
                },
            )
            batch = response.get("Messages", [])
            messages.extend(batch)
            if not messages:
                continue
            if window_end is None:
                window_end = time.monotonic() + self.spec.batching_window
            if len(batch) == asked:
                continue  # more may be waiting now
            left = window_end - time.monotonic()
            if left <= 0 or self.pollers.pause(left):
                break
        return messages

    def handle(self, messages: list[dict[str, Any]]) -> None:
        records = [self.record(message) for message in messages]
        receipts = {record["messageId"]: record["receiptHandle"] for record in records}
        wanted = [r for r in records if filters.passes(self.spec.patterns, _filterable(r))]
        rejected = [r["messageId"] for r in records if r not in wanted]
        self.delete([receipts[m] for m in rejected])  # Lambda deletes what the filters drop
        if not wanted:
            return
        invocation = self.pollers.pool.invoke(self.spec.function, {"Records": wanted})
        if not invocation.ok:
            self.pollers.log(
                self.spec, f"batch of {len(wanted)} failed, left for redelivery: {invocation.error_message}"
            )
            return
        failed = (
            _failed_items(invocation.payload, {r["messageId"] for r in wanted}) if self.spec.report_failures else set()
        )
        if failed is None:  # an unusable failure report fails the whole batch, as in Lambda
            self.pollers.log(self.spec, "invalid batchItemFailures: the whole batch is left for redelivery")
            return
        self.delete([receipts[r["messageId"]] for r in wanted if r["messageId"] not in failed])

    def delete(self, receipt_handles: list[str]) -> None:
        for start in range(0, len(receipt_handles), 10):
            chunk = receipt_handles[start : start + 10]
            entries = [{"Id": str(index), "ReceiptHandle": handle} for index, handle in enumerate(chunk)]
            self.sqs.call("DeleteMessageBatch", {"QueueUrl": self.spec.queue_url, "Entries": entries})

    def record(self, message: dict[str, Any]) -> dict[str, Any]:
        """Lambda's SQS record for one received message."""
        body = self.mend(message.get("Body", ""))
        record: dict[str, Any] = {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": body,
            "attributes": message.get("Attributes", {}),
            "messageAttributes": {
                name: {
                    "stringValue": value.get("StringValue"),
                    "binaryValue": value.get("BinaryValue"),  # base64 on the wire, as in the event
                    "stringListValues": value.get("StringListValues", []),
                    "binaryListValues": value.get("BinaryListValues", []),
                    "dataType": value.get("DataType", "String"),
                }
                for name, value in (message.get("MessageAttributes") or {}).items()
            },
            "md5OfBody": hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.spec.source_arn,
            "awsRegion": self.spec.source_arn.split(":")[3],
        }
        if message.get("MD5OfMessageAttributes"):
            record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
        return record

    def mend(self, body: str) -> str:
        """What EventBridge would have delivered: moto drops `account` and ignores Input/InputPath."""
        if not self.targets or not body.startswith("{"):
            return body
        try:
            event = json.loads(body)
        except ValueError:
            return body
        if not isinstance(event, dict) or "detail-type" not in event:
            return body
        event.setdefault("account", self.spec.source_arn.split(":")[4])
        configs = {(t.get("Input"), t.get("InputPath")) for t in self.targets}
        if len(configs) == 1:  # one way in: apply it (several rules with different inputs: unknowable)
            ((constant, path),) = configs
            if constant is not None:
                return constant if isinstance(constant, str) else json.dumps(constant)
            if path:
                return json.dumps(_json_path(event, path))
        return json.dumps(event)


class StreamPoller:
    def __init__(self, pollers: Pollers, spec: MappingSpec, resume: dict[str, str] | None = None) -> None:
        self.pollers = pollers
        self.spec = spec
        self.streams = aws.client("dynamodbstreams", pollers.endpoint_url)
        self.reads = stream_reads.StreamReads(pollers.endpoint_url)  # the records as JSON, unparsed
        self.shard_of: dict[str, str] = {}  # sequence number -> shard, for the failure record of a batch
        self.last_error = False  # whether the last invocation failed as a whole (or reported failures)
        # "<stream label>/<shard id>" -> the last sequence number read: where to resume after an error (a table
        # created again, e.g. in an emulator restarted empty, has a new label: its shard is read from the start)
        self.read_up_to: dict[str, str] = dict(resume or self.saved())
        # The same, but only as far as every record read was delivered (or filtered out): where a poller started
        # in place of this one, if it dies, resumes without skipping what it held in memory (and what is saved
        # for the next start of the stack).
        self.checkpoint: dict[str, str] = dict(self.read_up_to)
        self.label = ""

    def run(self) -> None:
        iterators: dict[str, str] = {}
        batch: list[dict[str, Any]] = []
        window_end = 0.0
        backoff = 0.5
        while not self.pollers.stopping:
            if not batch:
                self.save_read_up_to()
            if self.pollers.spec_of(self.spec.logical_id) is not self.spec:
                return  # its stream was replaced: the supervising loop starts a poller on the new one
            self.pollers.check_crash(self.spec)
            try:
                if not iterators:
                    iterators = self.open_shards()
                mark = self.pollers.heads.mark(self.spec.source_arn)  # before the read: what comes after moves it
                full = False
                for shard, iterator in list(iterators.items()):
                    # Read as much as one call gives (filters usually drop most records): `deliver` cuts
                    # what passes into invocations of BatchSize, as Lambda's poller does.
                    response = self.reads.get_records(ShardIterator=iterator, Limit=READ_LIMIT)
                    full = full or len(response.get("Records", [])) >= READ_LIMIT
                    iterators[shard] = response.get("NextShardIterator") or iterator
                    records = [_stream_record(r, self.spec.source_arn) for r in response.get("Records", [])]
                    self.shard_of.update((r["dynamodb"]["SequenceNumber"], shard) for r in records)
                    if records:
                        self.read_up_to[f"{self.label}/{shard}"] = records[-1]["dynamodb"]["SequenceNumber"]
                    if records and not batch:
                        window_end = time.monotonic() + self.spec.batching_window
                    batch.extend(r for r in records if filters.passes(self.spec.patterns, r))
                if batch and (len(batch) >= self.spec.batch_size or time.monotonic() >= window_end):
                    self.deliver(batch)
                    batch = []
                    self.shard_of.clear()
                    if full or self.pollers.heads.moved(self.spec.source_arn, mark):
                        continue  # (stopping mid-batch, not all of it was delivered: the loop ends unsaved)
                    # Nothing came after what was read: wait as after an empty read, without making one (it
                    # was every other GetRecords under load).
                    self.save_read_up_to()
                backoff = 0.5
                if not batch and not full:
                    if self.pollers.wait_for_records(self.spec, mark):
                        return
                    continue
                wait = min(STREAM_POLL, max(0.05, window_end - time.monotonic())) if batch else STREAM_POLL
            except Exception as error:
                if self.pollers.stopping:
                    return
                self.pollers.log(self.spec, f"stream poll failed: {error}; retrying in {backoff:g} s")
                iterators, wait = {}, backoff  # opened again after the last record read (not from LATEST)
                backoff = min(backoff * 2, RETRY_BACKOFF_MAX)
            if self.pollers.sleep(wait):
                return

    def open_shards(self) -> dict[str, str]:
        """An iterator per shard: after the last record read when the shard was read before (resuming after an
        error loses nothing), else at the mapping's starting position."""
        description = self.streams.describe_stream(StreamArn=self.spec.source_arn)["StreamDescription"]
        kind = "TRIM_HORIZON" if self.spec.starting_position == "TRIM_HORIZON" or self.pollers.resume else "LATEST"
        self.label = str(description.get("StreamLabel", ""))
        iterators = {}
        for shard in description.get("Shards", []):
            where: dict[str, Any] = {"ShardIteratorType": kind}
            if last := self.read_up_to.get(f"{self.label}/{shard['ShardId']}"):
                where = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": last}
            iterators[shard["ShardId"]] = self.streams.get_shard_iterator(
                StreamArn=self.spec.source_arn, ShardId=shard["ShardId"], **where
            )["ShardIterator"]
        return iterators

    def saved(self) -> dict[str, str]:
        """Where the stack's last run had delivered up to ("<stream label>/<shard id>" -> sequence number)."""
        positions = self.pollers.positions
        return dict(positions.get(self.spec.logical_id) or {}) if positions is not None else {}

    def save_read_up_to(self) -> None:
        self.checkpoint = dict(self.read_up_to)
        self.save()

    def save(self) -> None:
        """Everything read up to the checkpoint is dealt with: the next start reads after it."""
        positions = self.pollers.positions
        if positions is not None and self.checkpoint:
            positions.put(self.spec.logical_id, {**self.saved(), **self.checkpoint})

    def deliver(self, batch: list[dict[str, Any]]) -> None:
        """Invoke until the batch is through: a partial failure retries from the failed record on."""
        attempt = 0
        backoff = min(0.5, self.pollers.stream_retry_backoff)
        while batch and not self.pollers.stopping:
            for start in range(0, len(batch), self.spec.batch_size):
                chunk = batch[start : start + self.spec.batch_size]
                failed_from = self.invoke(chunk)
                if failed_from is not None:
                    batch = [r for r in batch[start:] if int(r["dynamodb"]["SequenceNumber"]) >= failed_from]
                    break
            else:
                return
            attempt += 1
            if 0 <= self.spec.max_retries < attempt:
                self.give_up(batch, attempt)
                return
            if self.pollers.sleep(backoff):
                return
            backoff = min(backoff * 2, self.pollers.stream_retry_backoff)

    def give_up(self, batch: list[dict[str, Any]], invocations: int) -> None:
        """After its retries, a batch goes to the OnFailure queue as Lambda's failure records (one per shard);
        without a destination it is dropped, as Lambda drops it."""
        if not self.spec.on_failure_queue_url:
            self.pollers.log(self.spec, f"dropping {len(batch)} records after {invocations - 1} retries")
            return
        by_shard: dict[str, list[dict[str, Any]]] = {}
        for record in batch:
            by_shard.setdefault(self.shard_of.get(record["dynamodb"]["SequenceNumber"], ""), []).append(record)
        sqs = aws.client("sqs", self.pollers.endpoint_url)
        for shard, records in by_shard.items():
            failure = _failure_record(self.spec, shard, records, invocations, function_error=self.last_error)
            sqs.send_message(QueueUrl=self.spec.on_failure_queue_url, MessageBody=json.dumps(failure))
        self.pollers.log(
            self.spec, f"gave up on {len(batch)} records after {invocations - 1} retries: sent to the failure queue"
        )

    def invoke(self, chunk: list[dict[str, Any]]) -> int | None:
        """None when the chunk succeeded, else the sequence number to retry from."""
        invocation = self.pollers.pool.invoke(self.spec.function, {"Records": chunk})
        first = int(chunk[0]["dynamodb"]["SequenceNumber"])
        self.last_error = not invocation.ok
        if not invocation.ok:
            self.pollers.log(self.spec, f"batch of {len(chunk)} failed, retrying: {invocation.error_message}")
            return first
        if not self.spec.report_failures:
            return None
        sequences = {r["dynamodb"]["SequenceNumber"] for r in chunk}
        failed = _failed_items(invocation.payload, sequences)
        if failed is None:
            self.pollers.log(self.spec, "invalid batchItemFailures: retrying the whole batch")
            return first
        return min((int(s) for s in failed), default=None)


def _failure_record(
    spec: MappingSpec, shard: str, records: list[dict[str, Any]], invocations: int, *, function_error: bool
) -> dict[str, Any]:
    """What Lambda sends to a stream source's OnFailure destination: where the batch is, not the batch."""
    arrivals = [r["dynamodb"].get("ApproximateCreationDateTime") for r in records]
    return {
        "requestContext": {"requestId": str(uuid.uuid4()), "functionArn": spec.function,
                           "condition": "RetryAttemptsExhausted", "approximateInvokeCount": invocations},
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST",
                            **({"functionError": "Unhandled"} if function_error else {})},
        "version": "1.0",
        "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "DDBStreamBatchInfo": {
            "shardId": shard, "startSequenceNumber": records[0]["dynamodb"]["SequenceNumber"],
            "endSequenceNumber": records[-1]["dynamodb"]["SequenceNumber"],
            "approximateArrivalOfFirstRecord": _iso(arrivals[0]), "approximateArrivalOfLastRecord": _iso(arrivals[-1]),
            "batchSize": len(records), "streamArn": spec.source_arn,
        },
    }  # fmt: skip


def _iso(epoch: Any) -> str | None:
    return dt.datetime.fromtimestamp(float(epoch), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if epoch else None


def _failed_items(payload: Any, identifiers: set[str]) -> set[str] | None:
    """The reported failures; None if the report is unusable (Lambda then fails the whole batch)."""
    if not isinstance(payload, dict) or not payload.get("batchItemFailures"):
        return set()
    failed = set()
    for item in payload["batchItemFailures"]:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not identifier or str(identifier) not in identifiers:
            return None
        failed.add(str(identifier))
    return failed


def _filterable(record: dict[str, Any]) -> dict[str, Any]:
    """Lambda matches SQS filters against the body parsed as JSON when it is JSON."""
    with contextlib.suppress(ValueError):
        body = json.loads(record["body"])
        if isinstance(body, dict):
            return {**record, "body": body}
    return record


def _stream_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """Lambda's DynamoDB stream record: the Streams API's JSON (`stream_reads`: binary already base64) with
    eventSourceARN, its creation time in whole epoch seconds as Lambda gives it."""
    change = record.get("dynamodb") or {}
    if isinstance(change.get("ApproximateCreationDateTime"), int | float):
        change["ApproximateCreationDateTime"] = int(change["ApproximateCreationDateTime"])
    record["eventSourceARN"] = stream_arn
    return record


def _json_path(event: Any, path: str) -> Any:
    """The `$.a.b` JSONPath subset EventBridge's InputPath uses."""
    value = event
    for part in path.removeprefix("$").strip(".").split("."):
        if part:
            value = value.get(part) if isinstance(value, dict) else None
    return value
