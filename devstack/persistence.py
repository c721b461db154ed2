"""The emulator's state on disk: a snapshot of moto's backends plus a journal of the calls since.

Why not a snapshot on shutdown (LocalStack's default): kill -9 or a power cut would lose everything since
the last one. Why not a snapshot per call: it costs O(state). So every call that may change state is
appended to the journal *before* its answer leaves the emulator, and replayed over the newest snapshot when
the emulator starts on the directory again. A compaction (a new snapshot, the journal started afresh) runs
in a forked child, so the emulator keeps serving while the child pickles a copy-on-write image of it.

Layout of the state directory (devstack's default: <checkout>/.devstack/state/emulator):
    snapshot-<G>.pickle   moto's backends after every journal below G (written to .tmp, fsynced, renamed)
    journal-<G>.log       the calls made after snapshot G, as devstack.journal records
Recovery loads the newest snapshot (none: empty moto) and replays journals G, G+1, ... in order; a torn
last record is cut off (devstack.journal). Files below the newest snapshot are removed once it is durable.

Replaying gives the same state because (1) calls that change the same state run one at a time, in journal
order, under that state's lock (``mutation_lock``): DynamoDB's under ``DYNAMODB_MUTATION``, every other
service's under ``MUTATION``, (2) each runs with moto's clock and
random generator pinned to the instant and seed its record holds (devstack.determinism): message ids,
receipt handles, stream record ids and sequence numbers, visibility deadlines come out the same, and (3) an
SQS long poll is journaled as the one zero-wait attempt that found messages (``receive_attempt``), so a poll
never holds the lock while it waits, and the replay never waits.

Why two locks: DynamoDB (with its streams) shares no state with the other services, so the journal's order
between a DynamoDB write and, say, an SQS delete does not change what a replay makes. With one lock, a
booking's TransactWriteItems waited behind SQS receives and deletes, EventBridge fan-outs and S3 puts: under
the load bench a write's answer took about 60 ms for 2 to 5 ms of its own CPU, while reads took 5 to 10 ms.
A call that touches both (DynamoDB's exports and imports, which read or write S3) takes both; so do a
compaction and a bulk load (``all_mutations``).

Which calls are journaled: everything but reads (GET/HEAD, operations named Get*, List*, Describe*, Query,
Scan, ..., and KMS's Sign, Verify, Encrypt, ...): a read journaled by mistake only costs space, a write missed
would be lost, so the list is of reads.
"""

from __future__ import annotations

import contextlib
import io
import os
import pickle
import random
import re
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devstack import determinism, journal
from devstack.snapshot import fork_snapshot, load_snapshot

MUTATION = threading.RLock()  # every service's state but DynamoDB's
DYNAMODB_MUTATION = threading.RLock()  # DynamoDB's tables, items and streams
_DYNAMODB_TARGET = "DynamoDB_20120810."
_DYNAMODB_AND_S3 = frozenset({"ExportTableToPointInTime", "ImportTable"})
_SNAPSHOT = re.compile(r"^snapshot-(\d+)\.pickle$")
_JOURNAL = re.compile(r"^journal-(\d+)\.log$")
_READ_PREFIXES = ("Get", "BatchGet", "Query", "Scan", "Describe", "List", "TransactGet", "Lookup", "Filter", "Head")
# KMS's cryptographic operations read the key only (`VerifyEmailIdentity` is a write: hence names, not prefixes)
_READS = frozenset({
    "Sign", "Verify", "Encrypt", "Decrypt", "ReEncrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext",
    "GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext", "GenerateRandom", "GenerateMac", "VerifyMac",
    "TestEventPattern",
})  # fmt: skip
_ENVIRON_KEYS = ("REQUEST_METHOD", "PATH_INFO", "QUERY_STRING", "CONTENT_TYPE", "CONTENT_LENGTH", "SCRIPT_NAME",
                 "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL", "wsgi.url_scheme", "REMOTE_ADDR")  # fmt: skip
# A journal this long is folded into a new snapshot: a replay costs ~1-3 ms a call (moto's whole request path)
# where a snapshot loads at C speed, so the record count bounds the restart time; the bytes bound the disk.
COMPACT_RECORDS = 20_000
COMPACT_BYTES = 128 << 20
CLOSE_COMPACT_RECORDS = 500  # a clean stop with more than this journaled folds it into a snapshot


READ, WRITE, RECEIVE = "read", "write", "receive"


def classify(environ: dict[str, Any], body: bytes | None) -> str:
    """Whether a moto call may change state (WRITE), cannot (READ), or is an SQS ReceiveMessage."""
    method = environ.get("REQUEST_METHOD", "GET")
    if method in ("GET", "HEAD", "OPTIONS"):
        return READ
    operation = operation_of(environ, body)
    if operation == "ReceiveMessage":
        return RECEIVE
    if operation and (operation in _READS or operation.startswith(_READ_PREFIXES)):
        return READ
    return WRITE


def mutation_lock(environ: dict[str, Any]) -> contextlib.AbstractContextManager[Any]:
    """The lock a write runs under: DynamoDB's own for DynamoDB, ``MUTATION`` for the rest."""
    target = environ.get("HTTP_X_AMZ_TARGET") or ""
    if target.startswith(_DYNAMODB_TARGET):
        return all_mutations() if target[len(_DYNAMODB_TARGET) :] in _DYNAMODB_AND_S3 else DYNAMODB_MUTATION
    return MUTATION


@contextlib.contextmanager
def all_mutations() -> Iterator[None]:
    """Every write stopped (always taken in this order; a holder of one lock never takes the other)."""
    with MUTATION, DYNAMODB_MUTATION:
        yield


def operation_of(environ: dict[str, Any], body: bytes | None) -> str:
    """The call's operation: X-Amz-Target's (JSON protocols), else the query protocol's `Action`, in the query
    string or the form body ("" when neither names one)."""
    operation = (environ.get("HTTP_X_AMZ_TARGET") or "").rpartition(".")[2]
    return operation or _query_action(environ.get("QUERY_STRING", ""), environ.get("CONTENT_TYPE", ""), body)


def _query_action(query: str, content_type: str, body: bytes | None) -> str:
    for source in (query, body.decode("latin-1") if body and "form-urlencoded" in content_type else ""):
        action = urllib.parse.parse_qs(source).get("Action")
        if action:
            return action[0]
    return ""


class StateDirectoryInUse(RuntimeError):
    """Another emulator holds the state directory."""


@dataclass
class Recovery:
    """What starting on a state directory found and did (shown by the emulator's health route)."""

    directory: str
    kept: bool  # there was state to restore
    snapshot: int | None  # the generation of the snapshot loaded
    replayed: int  # journal records replayed over it
    failed: int  # replayed calls that raised (the original call failed the same way)
    torn_bytes: int  # bytes of a torn last record cut off
    seconds: float
    snapshot_seconds: float = 0.0  # of `seconds`, loading the snapshot (the rest is the replay)


class Store:
    """The emulator's state directory: recovery at start, the journal while running, compaction."""

    def __init__(
        self,
        directory: Path,
        *,
        fsync_interval: float = 0.2,
        compact_bytes: int = COMPACT_BYTES,
        compact_records: int = COMPACT_RECORDS,
    ) -> None:
        self.directory = directory
        self.fsync_interval = fsync_interval
        self.compact_bytes = compact_bytes
        self.compact_records = compact_records
        self.records = 0  # in the journal being written (replayed ones included)
        self.generation = 0
        self.journal: journal.Journal | None = None
        self.recovery: Recovery | None = None
        self._compacting: threading.Thread | None = None
        self._appending = threading.Lock()  # writes under different locks append to one journal
        self._compaction_due = threading.Event()
        self.closed = False
        self.compactions = 0

    # ---------------------------------------------------------------- start
    def recover(self, app: Callable[..., Any]) -> Recovery:
        """Load the newest snapshot, replay the journals after it, open the journal for appending."""
        started = time.perf_counter()
        self.directory.mkdir(parents=True, exist_ok=True)
        self._own_directory()
        for leftover in self.directory.glob("*.tmp"):  # a compaction cut short
            leftover.unlink()
        snapshots = self._generations(_SNAPSHOT)
        journals = self._generations(_JOURNAL)
        loaded = snapshots[-1] if snapshots else None
        if loaded is not None:
            load_snapshot(self._snapshot_path(loaded))
        snapshot_seconds = time.perf_counter() - started
        base = loaded or 0
        replayed = failed = torn = 0
        for generation in [g for g in journals if g >= base]:
            path = self._journal_path(generation)
            records, good, size = journal.read(path)
            if good < size:
                journal.repair(path, good)
                torn += size - good
            for payload in records:
                replayed += 1
                failed += not _replay(app, payload)
        self.generation = max([base, *journals])
        self.journal = journal.Journal(self._journal_path(self.generation), fsync_interval=self.fsync_interval)
        self.records = replayed
        self.recovery = Recovery(
            str(self.directory), loaded is not None or replayed > 0, loaded, replayed, failed, torn,
            round(time.perf_counter() - started, 3), round(snapshot_seconds, 3),
        )  # fmt: skip
        self._remove_below(base)
        return self.recovery

    def _own_directory(self, wait: float = 5.0) -> None:
        """One emulator per state directory: two writers would interleave one journal. The lock dies with
        the process (kill -9 included); a restart waits a little for a dying predecessor to let go."""
        import fcntl

        self._lock_file = open(self.directory / "LOCK", "a+")  # noqa: SIM115 (held for the process's life)
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise StateDirectoryInUse(f"{self.directory} is in use by another emulator") from None
                time.sleep(0.1)
        self._lock_file.seek(0)
        self._lock_file.truncate()
        self._lock_file.write(f"{os.getpid()}\n")
        self._lock_file.flush()

    # ---------------------------------------------------------------- while running
    def record(self, environ: dict[str, Any], body: bytes, instant: float, seed: int) -> None:
        """Append one call. The caller holds the call's `mutation_lock`, so the records of one state follow
        the order its calls ran in. A compaction it makes due runs on a thread of its own: it takes every
        lock, which a holder of one must not wait for."""
        wanted = {k: environ[k] for k in _ENVIRON_KEYS if k in environ}
        wanted.update((k, v) for k, v in environ.items() if k.startswith("HTTP_"))
        payload = pickle.dumps((instant, seed, wanted, body), protocol=pickle.HIGHEST_PROTOCOL)
        with self._appending:
            assert self.journal is not None
            self.journal.append(payload)
            self.records += 1
            due = self.records >= self.compact_records or self.journal.size >= self.compact_bytes
            if due and self._compacting is None and not self._compaction_due.is_set():
                self._compaction_due.set()
                threading.Thread(target=self._compact_when_due, name="journal-compaction", daemon=True).start()

    def _compact_when_due(self) -> None:
        try:
            self.compact(wait=False)
        finally:
            self._compaction_due.clear()

    def compact(self, *, wait: bool = True) -> bool:
        """A new snapshot of the state as it is now; the journal restarts empty. True when it is durable."""
        with all_mutations():
            if self.closed:  # a compaction made due just before a stop: the stop took its snapshot
                return False
            if self._compacting is not None:
                if not wait:
                    return False
                self._compacting.join()
            from devstack import moto_patches

            generation = self.generation + 1
            with moto_patches.dynamodb_lock():  # no DynamoDB call half way through in the image
                child = fork_snapshot(self._snapshot_path(generation))
            assert self.journal is not None
            self.journal.close()
            self.generation = generation
            self.journal = journal.Journal(self._journal_path(generation), fsync_interval=self.fsync_interval)
            self.records = 0
            journal.fsync_directory(self.directory)
            done = threading.Event()
            outcome: list[bool] = []
            self._compacting = threading.Thread(
                target=self._finish_compaction, args=(child, generation, done, outcome), daemon=True
            )
            self._compacting.start()
        if wait:
            done.wait()
            return bool(outcome and outcome[0])
        return True

    def _finish_compaction(self, child: int, generation: int, done: threading.Event, outcome: list[bool]) -> None:
        try:
            _, status = os.waitpid(child, 0)
            ok = os.waitstatus_to_exitcode(status) == 0 and self._snapshot_path(generation).exists()
            if ok:
                self.compactions += 1
                self._remove_below(generation)
            else:
                print(f"devstack.persistence: snapshot {generation} failed (status {status}); journals kept",
                      file=sys.stderr, flush=True)  # fmt: skip
            outcome.append(ok)
        finally:
            self._compacting = None
            done.set()

    def close(self, *, compact_from: int = CLOSE_COMPACT_RECORDS) -> None:
        """On a clean stop: a snapshot when the journal holds `compact_from` calls or more (the next start then
        loads it instead of replaying them), and the journal synced. A stop cut short (kill -9 mid-snapshot)
        leaves the journal as it was: the snapshot is only an optimisation of it."""
        with all_mutations():
            if self.records >= compact_from:
                self.compact()
            if self._compacting is not None:
                self._compacting.join()
            if self.journal is not None:
                self.journal.close()
            self.closed = True

    def describe(self) -> dict[str, Any]:
        recovery = self.recovery.__dict__ if self.recovery else None
        files = sorted(self.directory.iterdir())
        return {
            "directory": str(self.directory),
            "recovery": recovery,
            "generation": self.generation,
            "journal_bytes": self.journal.size if self.journal else 0,
            "journal_records": self.journal.appended if self.journal else 0,
            "compactions": self.compactions,
            "bytes": sum(f.stat().st_size for f in files if f.is_file()),
        }

    # ---------------------------------------------------------------- files
    def _generations(self, pattern: re.Pattern[str]) -> list[int]:
        return sorted(int(m.group(1)) for p in self.directory.iterdir() if (m := pattern.match(p.name)))

    def _snapshot_path(self, generation: int) -> Path:
        return self.directory / f"snapshot-{generation}.pickle"

    def _journal_path(self, generation: int) -> Path:
        return self.directory / f"journal-{generation}.log"

    def _remove_below(self, generation: int) -> None:
        for pattern, path_of in ((_SNAPSHOT, self._snapshot_path), (_JOURNAL, self._journal_path)):
            for old in self._generations(pattern):
                if old < generation:
                    with contextlib.suppress(FileNotFoundError):
                        path_of(old).unlink()


# -------------------------------------------------------------------- the WSGI side


def durable_app(store: Store, app: Callable[..., Any]) -> Callable[..., Any]:
    """moto's WSGI app, journaling each call that may change state before answering it."""
    chooser = random.Random()

    def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        body = b""
        if method not in ("GET", "HEAD"):
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.input"] = io.BytesIO(body)
        kind = classify(environ, body)
        if kind == READ:
            return app(environ, start_response)  # type: ignore[no-any-return]
        if kind == RECEIVE:  # journaled per attempt, by the patched SQSBackend.receive_message
            _calls.current = (store, environ, body)
            try:
                return list(app(environ, start_response))
            finally:
                _calls.current = None
        answered: list[Any] = []

        def hold(status: str, headers: list[Any], exc_info: Any = None) -> Callable[[bytes], None]:
            answered[:] = [status, headers, exc_info]
            return lambda data: None

        with mutation_lock(environ):
            instant, seed = time.time(), chooser.getrandbits(63)
            with determinism.pinned(instant, seed):
                content = b"".join(app(environ, hold))
            store.record(environ, body, instant, seed)  # on disk (OS) before the caller hears of it
        start_response(*answered)
        return [content]

    return serve


_calls = threading.local()


def install_receive() -> None:
    """SQS ReceiveMessage: each zero-wait attempt under MUTATION, journaled if it changed the queue.

    moto's long poll loops inside the backend call; held under the lock it would stop every write for up to
    20 s. Here the waiting happens outside the lock (on the queue's condition), and only an attempt that
    delivered messages or moved some to the dead-letter queue is journaled, with its instant and seed.
    """
    from moto.sqs.models import SQSBackend

    original = SQSBackend.receive_message
    if getattr(original, "_devstack_durable", False):
        return
    chooser = random.Random()

    def receive_message(self: Any, queue_name: str, count: int, wait_seconds_timeout: int,
                        visibility_timeout: int, message_attribute_names: list[str] | None = None) -> Any:  # fmt: skip
        current = getattr(_calls, "current", None)
        if current is None:  # a replay (pinned by the replayer) or no state directory
            return original(self, queue_name, count, 0 if determinism.now() else wait_seconds_timeout,
                            visibility_timeout, message_attribute_names)  # fmt: skip
        store, environ, body = current
        deadline = time.monotonic() + (wait_seconds_timeout or 0)
        while True:
            with MUTATION:
                queue = self.get_queue(queue_name)
                before = len(queue._messages)
                instant, seed = time.time(), chooser.getrandbits(63)
                with determinism.pinned(instant, seed):
                    result = original(self, queue_name, count, 0, visibility_timeout, message_attribute_names)
                if result or len(queue._messages) != before:
                    store.record(environ, body, instant, seed)
            remaining = deadline - time.monotonic()
            if result or remaining <= 0:
                return result
            queue.wait_for_messages(min(1.0, remaining))  # type: ignore[arg-type]

    receive_message._devstack_durable = True  # type: ignore[attr-defined]
    SQSBackend.receive_message = receive_message  # type: ignore[method-assign]


def _replay(app: Callable[..., Any], payload: bytes) -> bool:
    instant, seed, wanted, body = pickle.loads(payload)  # noqa: S301 - our own journal, in our own state dir
    environ = {
        **wanted,
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    environ.setdefault("wsgi.url_scheme", "http")
    environ.setdefault("SERVER_NAME", "127.0.0.1")
    environ.setdefault("SERVER_PORT", "80")
    status: list[str] = []
    with all_mutations(), determinism.pinned(instant, seed):
        try:
            for _ in app(environ, lambda s, h, e=None: status.append(s) or (lambda d: None)):
                pass
        except Exception as error:  # moto failed it the first time too (or it is a bug): keep going
            print(f"devstack.persistence: replay of {wanted.get('PATH_INFO')} failed: {error!r}", file=sys.stderr)
            return False
    return bool(status) and not status[0].startswith("5")
