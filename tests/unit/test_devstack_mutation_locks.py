"""The emulator's writes run one at a time per state (devstack.persistence): DynamoDB's under a lock of their
own, every other service's under another. A DynamoDB write does not wait behind a slow SQS, EventBridge or
S3 write; two writes to the same state still run one after the other; a call touching both waits for both;
all of them land in the one journal, in the order each state's writes ran."""

from __future__ import annotations

import io
import pickle
import threading
import time

import pytest

from devstack import journal, persistence


class HeldApp:
    """A stand-in for moto's WSGI app: a call whose body is b"hold" stays inside until released."""

    def __init__(self) -> None:
        self.inside = threading.Event()
        self.release = threading.Event()

    def __call__(self, environ, start_response):
        if environ["wsgi.input"].read() == b"hold":
            self.inside.set()
            assert self.release.wait(10)
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b"{}"]


def _write(app, target: str, body: bytes = b"{}") -> threading.Thread:
    environ = {
        "REQUEST_METHOD": "POST", "PATH_INFO": "/", "HTTP_X_AMZ_TARGET": target,
        "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body),
    }  # fmt: skip
    thread = threading.Thread(target=lambda: list(app(environ, lambda status, headers, exc_info=None: None)))
    thread.start()
    return thread


def _journaled_targets(store: persistence.Store) -> list[str]:
    records, _, _ = journal.read(store._journal_path(store.generation))
    return [pickle.loads(record)[2]["HTTP_X_AMZ_TARGET"] for record in records]


def _held_write(moto: HeldApp, app, target: str) -> threading.Thread:
    thread = _write(app, target, b"hold")
    assert moto.inside.wait(5)
    return thread


def _waits_until_released(moto: HeldApp, waiting: threading.Thread, held: threading.Thread) -> None:
    time.sleep(0.3)
    assert waiting.is_alive()
    moto.release.set()
    for thread in (held, waiting):
        thread.join(5)
        assert not thread.is_alive()


@pytest.fixture
def held(tmp_path):
    moto = HeldApp()
    store = persistence.Store(tmp_path, fsync_interval=0)
    store.recover(moto)
    yield moto, store, persistence.durable_app(store, moto)
    moto.release.set()
    store.close(compact_from=10**9)


def test_a_dynamodb_write_does_not_wait_behind_another_services_write(held):
    moto, store, app = held
    slow_delete = _held_write(moto, app, "AmazonSQS.DeleteMessageBatch")

    booking = _write(app, "DynamoDB_20120810.TransactWriteItems")
    booking.join(5)
    assert not booking.is_alive(), "the DynamoDB write waited for the SQS write"

    next_send = _write(app, "AWSEvents.PutEvents")  # the same state as the held call: it waits its turn
    _waits_until_released(moto, next_send, slow_delete)
    assert _journaled_targets(store) == [
        "DynamoDB_20120810.TransactWriteItems", "AmazonSQS.DeleteMessageBatch", "AWSEvents.PutEvents",
    ]  # fmt: skip


def test_a_dynamodb_call_that_reaches_s3_waits_for_both(held):
    moto, store, app = held
    slow_put = _held_write(moto, app, "AmazonSQS.SendMessage")
    export = _write(app, "DynamoDB_20120810.ExportTableToPointInTime")
    _waits_until_released(moto, export, slow_put)
    assert _journaled_targets(store) == ["AmazonSQS.SendMessage", "DynamoDB_20120810.ExportTableToPointInTime"]


def test_a_compaction_made_due_by_a_write_runs_beside_writes_under_either_lock(tmp_path):
    moto = HeldApp()
    store = persistence.Store(tmp_path, fsync_interval=0, compact_records=4)
    store.recover(moto)
    app = persistence.durable_app(store, moto)
    try:
        targets = ("DynamoDB_20120810.PutItem", "AmazonSQS.SendMessage")
        writes = [_write(app, target) for _ in range(4) for target in targets]
        for thread in writes:
            thread.join(10)
            assert not thread.is_alive(), "a write is stuck: the compaction and a lock wait on each other"
        deadline = time.monotonic() + 20
        while store.compactions == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert store.compactions >= 1 and store.generation >= 1
        assert (tmp_path / f"snapshot-{store.generation}.pickle").exists()
    finally:
        store.close(compact_from=10**9)
