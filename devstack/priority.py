"""In the emulator, background calls take turns, one at a time; the calls a person's request waits on do not.

Under load the emulator is the local stack's serial bottleneck: one process, one interpreter lock, and about
half its calls made by background work (the pollers' stream reads and deletes, the consumers' batch writes,
the relays' PutEvents, the lake's landing). Each call in flight is a thread taking the interpreter lock in
turn, so an API function's GetItem shared the lock with every background call in flight, and the switching
between many threads cost CPU of its own. With the background one call at a time (bench.load, seed 366407,
alternated, two runs each): 35.3 and 35.0 -> 42.1 and 41.3 operations a second, the emulator's CPU per
request 16.2 -> 13.0 to 13.3 ms, the write routes' p99 430 to 450 -> 290 to 330 ms; settling after the load
3.0 to 3.6 -> 3.7 to 4.5 s. The function workers already run at two CPU priorities (`workers`); this is the
same order inside the emulator.

Request-serving callers are the functions an API route or an authorizer invokes, which devstack names at its
start (`serve_first`, `POST /_devstack/foreground`); callers are known by the SDK's user agent, `app/<logical
id>` (AWS_SDK_UA_APP_ID, set by devstack's workers). Every other caller (the background functions, devstack's
pollers and tap, tests) takes a turn. SQS ReceiveMessage never does: a long poll waits up to 20 s, and
waiting while holding the turn would stop the background for as long.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from devstack import persistence


class BackgroundTurns:
    def __init__(self) -> None:
        self._turn = threading.Lock()
        self._first: frozenset[str] = frozenset()  # replaced whole: a reader sees the old set or the new one

    def serve_first(self, callers: Iterable[str]) -> None:
        self._first = frozenset(callers)

    def served_first(self) -> list[str]:
        return sorted(self._first)

    @contextmanager
    def around(self, caller: str, environ: dict[str, Any]) -> Iterator[None]:
        """A background call waits here for its turn (and holds it until moto answered); the others pass."""
        if caller in self._first or is_receive(environ):
            yield
            return
        with self._turn:
            yield


def is_receive(environ: dict[str, Any]) -> bool:
    """Whether a call is an SQS ReceiveMessage, by either protocol (a form body is read, and put back for moto)."""
    body = None
    if not environ.get("HTTP_X_AMZ_TARGET") and "form-urlencoded" in environ.get("CONTENT_TYPE", ""):
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
    return persistence.operation_of(environ, body) == "ReceiveMessage"
