"""An append-only journal of records: the emulator writes one per mutating call before it answers.

Format of a file: records back to back, each ``length (4 bytes, little endian) | crc32 of the payload
(4 bytes) | payload``. A record is complete when its full length is there and its CRC matches. A crash
(kill -9, power loss) can only leave the *last* record short or garbled, as the file is only ever
appended to: the reader stops at the first bad record and ``repair`` cuts the file there, so the next
writer appends after the last good record. A bad record followed by good ones cannot come from a crash
(a disk fault, an edit): ``read`` reports it as ``JournalCorrupt`` rather than silently dropping writes.

Durability: ``append`` hands the record to the OS (``os.write`` on an O_APPEND descriptor) before it
returns, so a kill -9 of the process loses nothing appended. A machine crash loses what the OS had not
written out: the ``Journal``'s flusher thread fsyncs every ``fsync_interval`` seconds (group commit), so
at most that window of acknowledged writes; ``fsync_interval=0`` fsyncs in ``append`` (every write
durable on disk before its acknowledgement, at the price of a disk flush per write).
"""

from __future__ import annotations

import os
import struct
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path

_HEADER = struct.Struct("<II")
MAX_RECORD = 1 << 30  # a larger length is garbage (a torn header), not a record


class JournalCorrupt(RuntimeError):
    """A bad record in the middle of a journal: not a torn tail."""


def encode(payload: bytes) -> bytes:
    return _HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def scan(data: bytes) -> tuple[list[bytes], int]:
    """The complete records at the start of ``data`` and the offset where they end."""
    records: list[bytes] = []
    offset = 0
    view = memoryview(data)
    while offset + _HEADER.size <= len(data):
        length, crc = _HEADER.unpack_from(data, offset)
        start, end = offset + _HEADER.size, offset + _HEADER.size + length
        if length > MAX_RECORD or end > len(data):
            break
        payload = bytes(view[start:end])
        if zlib.crc32(payload) != crc:
            break
        records.append(payload)
        offset = end
    return records, offset


def read(path: Path) -> tuple[list[bytes], int, int]:
    """(records, good length, file length) of a journal file; a missing file has none.

    Raises JournalCorrupt when a complete, valid record follows the first bad one: a torn tail is the
    only damage a crash of an append-only writer can leave.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return [], 0, 0
    records, good = scan(data)
    if good < len(data) and _valid_record_after(data, good):
        raise JournalCorrupt(f"{path}: a bad record at byte {good} of {len(data)} is followed by good ones")
    return records, good, len(data)


def _valid_record_after(data: bytes, offset: int) -> bool:
    """Whether a valid record starts anywhere after ``offset`` (a cheap scan for the CRC'd framing)."""
    for start in range(offset + 1, len(data) - _HEADER.size + 1):
        length, crc = _HEADER.unpack_from(data, start)
        end = start + _HEADER.size + length
        if length > 0 and end <= len(data) and zlib.crc32(data[start + _HEADER.size : end]) == crc:
            return True
    return False


def repair(path: Path, good: int) -> None:
    """Cut a torn tail off, so the next append follows the last complete record."""
    with open(path, "r+b") as handle:
        handle.truncate(good)
        handle.flush()
        os.fsync(handle.fileno())


def fsync_directory(path: Path) -> None:
    """Make a file's creation, rename or removal in ``path`` itself durable."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class Journal:
    """One journal file open for appending, with a group-commit flusher."""

    def __init__(self, path: Path, *, fsync_interval: float = 0.2) -> None:
        self.path = path
        self.fsync_interval = fsync_interval
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._dirty = False
        self._closed = threading.Event()
        self._syncing = threading.Lock()  # the flusher never fsyncs a descriptor close() gave back
        self.size = os.fstat(self._fd).st_size
        self.appended = 0
        self._flusher: threading.Thread | None = None
        if fsync_interval > 0:
            self._flusher = threading.Thread(target=self._flush_loop, name="journal-fsync", daemon=True)
            self._flusher.start()

    def append(self, payload: bytes) -> None:
        """Write one record; the caller serialises appends (records must not interleave)."""
        record = encode(payload)
        view = memoryview(record)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        self.size += len(record)
        self.appended += 1
        if self.fsync_interval <= 0:
            os.fsync(self._fd)
        else:
            self._dirty = True

    def sync(self) -> None:
        with self._syncing:
            if not self._closed.is_set():
                self._dirty = False
                os.fsync(self._fd)

    def close(self) -> None:
        with self._syncing:
            if self._closed.is_set():
                return
            os.fsync(self._fd)
            self._closed.set()
            os.close(self._fd)

    def _flush_loop(self) -> None:
        while not self._closed.wait(self.fsync_interval):
            if self._dirty:
                self.sync()


def records(paths: list[Path]) -> Iterator[bytes]:
    for path in paths:
        yield from read(path)[0]
