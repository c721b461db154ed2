"""moto's clock and randomness, pinned per call, so replaying a journaled call gives the same state.

A call replayed from the journal must make what the original call made: the same message ids and
receipt handles (a DeleteMessage replayed after it names the handle the ReceiveMessage gave), the same
stream record ids, the same visibility deadlines, send times and backup times. moto draws every id from
one ``MotoRandom`` (moto.moto_api._internal.mock_random) and reads the time through
``moto.core.utils.utcnow``; this module makes both answer, on the thread running a pinned call, from a
``random.Random(seed)`` and a fixed instant that the journal records next to the call.

Unpinned threads (reads, and everything when devstack runs without a state directory) see moto's own
clock and generator. Not covered: key material moto makes with ``os.urandom``/``cryptography`` (KMS
CreateKey), which survives through the snapshot devstack takes right after provisioning instead.
"""

from __future__ import annotations

import contextlib
import datetime
import importlib
import random
import sys
import threading
from collections.abc import Iterator
from typing import Any

_local = threading.local()
_installed = False
_install_lock = threading.Lock()

# moto services devstack's stack uses: imported up front so their modules' `utcnow` names are pinned too
# (moto imports a service on its first call, after install() would have looked).
SERVICES = (
    "dynamodb", "dynamodbstreams", "sqs", "s3", "ses", "sesv2", "kms", "events", "logs", "backup", "ssm", "athena",
    "iam", "sts",
)  # fmt: skip


def now() -> float | None:
    """The instant pinned on this thread, if any (epoch seconds)."""
    return getattr(_local, "now", None)


@contextlib.contextmanager
def pinned(instant: float, seed: int) -> Iterator[None]:
    """moto sees ``instant`` as the time and draws from ``Random(seed)`` on this thread meanwhile."""
    previous = getattr(_local, "now", None), getattr(_local, "rng", None)
    _local.now, _local.rng = instant, random.Random(seed)
    try:
        yield
    finally:
        _local.now, _local.rng = previous


def install() -> None:
    """Route moto's clock and random generator through the pins (idempotent)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        from moto.core import utils
        from moto.moto_api._internal.moto_random import MotoRandom

        for service in SERVICES:
            with contextlib.suppress(ImportError):
                importlib.import_module(f"moto.{service}.models")
                importlib.import_module(f"moto.{service}.responses")
        original_utcnow = utils.utcnow

        def utcnow() -> datetime.datetime:
            instant = getattr(_local, "now", None)
            if instant is None:
                return original_utcnow()
            return datetime.datetime.fromtimestamp(instant, datetime.UTC).replace(tzinfo=None)

        for name, module in list(sys.modules.items()):
            if (name == "moto" or name.startswith("moto.")) and getattr(module, "utcnow", None) is original_utcnow:
                module.utcnow = utcnow  # type: ignore[attr-defined]

        base_getrandbits, base_random = random.Random.getrandbits, random.Random.random

        def getrandbits(self: Any, k: int) -> int:
            rng = getattr(_local, "rng", None)
            return rng.getrandbits(k) if rng is not None else base_getrandbits(self, k)

        def draw(self: Any) -> float:
            rng = getattr(_local, "rng", None)
            return rng.random() if rng is not None else base_random(self)

        MotoRandom.getrandbits = getrandbits  # type: ignore[method-assign]
        MotoRandom.random = draw  # type: ignore[method-assign]
        _installed = True


def wall_clock() -> float:
    """Epoch seconds as moto sees them on this thread (for devstack's own stamps inside moto objects)."""
    import time

    instant = now()
    return time.time() if instant is None else instant
