"""Child processes that cannot outlive devstack, and the marker that proves it.

Every child (emulator, workers) gets `DEVSTACK_INSTANCE=<uuid>` in its environment, so a test can scan
/proc for leftovers of one instance, and PR_SET_PDEATHSIG so the kernel kills it if devstack dies
without cleaning up (kill -9, a crash). The death signal fires when the *thread* that forked the child
ends, not the process: children are therefore always forked from one long-lived spawner thread, never
from a short-lived request thread of the gateway.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

INSTANCE_VARIABLE = "DEVSTACK_INSTANCE"
_PR_SET_PDEATHSIG = 1

try:  # resolved here, in the parent: the child must not import or allocate between fork and exec
    _prctl = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True).prctl
except (OSError, AttributeError):  # not Linux: children are still stopped on a clean exit
    _prctl = None


def instance_id() -> str:
    """This devstack's instance marker, inherited by every child (kept if the caller chose one)."""
    return os.environ.setdefault(INSTANCE_VARIABLE, uuid.uuid4().hex)


def die_with_parent() -> None:
    """`preexec_fn`: SIGKILL this child when its parent goes away."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


_spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="devstack-spawner")


def spawn(args: list[str], **popen: Any) -> subprocess.Popen[bytes]:
    """`subprocess.Popen(args, **popen)` forked from the long-lived spawner thread, dying with devstack."""
    popen.setdefault("preexec_fn", die_with_parent)
    return _spawner.submit(subprocess.Popen, args, **popen).result()


def reap(processes: list[subprocess.Popen[Any]], grace: float) -> None:
    """Wait for processes already told to end, together: whichever is still there after `grace` seconds
    (counted once, for all of them) is killed."""
    deadline = time.monotonic() + grace
    for process in processes:
        try:
            process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            process.wait()


def stop(process: subprocess.Popen[Any], grace: float = 2.0) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds; always reaps the child."""
    if process.poll() is not None:
        return
    try:
        process.terminate()
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    except ProcessLookupError:
        pass
