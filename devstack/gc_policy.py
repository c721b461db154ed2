"""Garbage collection for devstack's long-lived processes: the emulator and devstack's hub.

CPython's full (generation 2) collection walks every tracked object, and stops every thread while it does.
In the emulator most of those objects are its state (items, stream records, messages, the functions' code
and configuration), which lives as long as the process: walking it again finds nothing. Under bench.load
(135 s) the emulator ran 15 full collections, 4.5 s in all, the longest 0.59 s, and devstack's hub, which
serves the API and runs the pollers, 7 of up to 0.19 s: a request in flight during one waits it out.

So what survives a full collection is frozen (`gc.freeze`: kept out of later collections), as a snapshot
load already does with what it loads; the next full collection walks only what came since. Objects that
were frozen and later form unreachable cycles are then not found (reference counting still frees everything
else): 1,000 to 4,000 objects a minute in the emulator under that load, 1,000 in the hub. To bound that,
once what full collections froze since the last sweep outgrows the rest of the frozen set (a snapshot's
state included) and `SWEEP_FLOOR`, a sweep thaws it, collects everything once and freezes what is left: one
full-length pause each time the state doubles, where there was one every 9 s under load.
"""

from __future__ import annotations

import gc
import threading
import time
from typing import Any

SWEEP_CHECK_SECONDS = 30.0
# No sweep before a million objects are frozen: a fresh stack's emulator holds under one after bench.load,
# and the cycles left frozen (a few thousand a minute under that load) would take hours to reach as many.
SWEEP_FLOOR = 1_000_000


def install() -> None:
    """Freeze each full collection's survivors, and sweep when that has doubled the frozen set; once per process."""
    if _freeze_after_full_collection in gc.callbacks:
        return
    gc.callbacks.append(_freeze_after_full_collection)
    threading.Thread(target=_sweep_when_doubled, name="gc-sweep", daemon=True).start()


_full = {"collections": 0, "seconds": 0.0, "longest_seconds": 0.0, "sweeps": 0}
_started = [0.0]
_frozen_here = [0]  # objects these full collections froze since the last sweep
_rest_counted = [0]  # the rest of the frozen set when it was last counted


def stats() -> dict[str, Any]:
    """Full collections since `install` (count, seconds in all, the longest: each one a pause of every
    thread), sweeps, and how many objects are frozen now."""
    return {**_full, "frozen_objects": gc.get_freeze_count()}


def _freeze_after_full_collection(phase: str, info: dict[str, Any]) -> None:
    if info["generation"] != 2:
        return
    if phase == "start":
        _started[0] = time.perf_counter()
        return
    # Called by the collector with the younger generations merged into the oldest: what it holds now survived
    # this collection. Counted there: `gc.get_freeze_count()` walks the whole frozen set (87 ms at 10.8 million
    # objects; a loaded year's state holds more), and this runs at every full collection.
    _frozen_here[0] += len(gc.get_objects(generation=2))
    gc.freeze()
    took = time.perf_counter() - _started[0]
    _full["collections"] += 1
    _full["seconds"] += took
    _full["longest_seconds"] = max(_full["longest_seconds"], took)


def sweep_due() -> bool:
    """Whether what full collections froze since the last sweep outgrew the rest of the frozen set (the
    state a snapshot or bulk load froze included: a year's state loaded is no reason to walk it) and
    `SWEEP_FLOOR`. Counting the frozen set walks all of it, so it is counted again only when what full
    collections froze passes its last count (it grows only by loads; as frozen objects die, a sweep may come
    a little later than it could)."""
    mine = _frozen_here[0]
    if mine <= max(_rest_counted[0], SWEEP_FLOOR):
        return False
    _rest_counted[0] = gc.get_freeze_count() - mine
    return mine > _rest_counted[0]


def _sweep_when_doubled(check_seconds: float = SWEEP_CHECK_SECONDS) -> None:
    while True:
        time.sleep(check_seconds)
        if sweep_due():
            sweep()


def sweep() -> int:
    """Collect every object once, frozen ones included, then freeze the survivors; the number collected."""
    gc.unfreeze()
    try:
        return gc.collect()
    finally:
        gc.freeze()
        _frozen_here[0] = 0
        _rest_counted[0] = gc.get_freeze_count()  # after a walk of everything, one more is no cost
        _full["sweeps"] += 1
