"""The request/response channel between devstack and a worker: length-prefixed JSON over a pipe pair.

Not the worker's stdout: function code (powertools' Logger, print) writes there, and those are logs.
Each message is a 4-byte big-endian length and that many bytes of UTF-8 JSON.
"""

from __future__ import annotations

import json
import os
import select
import struct
import time
from decimal import Decimal
from typing import Any

_HEADER = struct.Struct(">I")


class ChannelClosed(EOFError):
    """The other end is gone (the worker exited or was killed)."""


class ChannelTimeout(TimeoutError):
    """No complete message before the deadline."""


def encode(message: Any) -> bytes:
    """JSON the way the Lambda Python runtime serialises a result (Decimal as a number)."""
    body = json.dumps(message, default=_default, separators=(",", ":")).encode()
    return _HEADER.pack(len(body)) + body


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def send(fd: int, message: Any) -> None:
    write_all(fd, encode(message))


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def receive(fd: int, deadline: float | None = None) -> Any:
    """The next message; waits until `deadline` (time.monotonic()) if given, forever otherwise."""
    (length,) = _HEADER.unpack(_read_exactly(fd, _HEADER.size, deadline))
    return json.loads(_read_exactly(fd, length, deadline))


def _read_exactly(fd: int, size: int, deadline: float | None) -> bytes:
    chunks: list[bytes] = []
    missing = size
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
    while missing:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not poller.poll(remaining * 1000):
                raise ChannelTimeout(f"no message within the deadline ({size - missing}/{size} bytes read)")
        chunk = os.read(fd, min(missing, 1 << 20))
        if not chunk:
            raise ChannelClosed("the other end closed the channel")
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)
