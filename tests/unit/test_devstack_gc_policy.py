"""devstack's long-lived processes freeze what survives a full collection and sweep when that has doubled.

Each check runs in a fresh interpreter: the policy changes the process's collector for good."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from devstack import gc_policy

ROOT = gc_policy.__file__.rsplit("/devstack/", 1)[0]


def run(code: str) -> None:
    script = "import gc, weakref\nfrom devstack import gc_policy\n" + textwrap.dedent(code)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_what_survives_a_full_collection_is_not_walked_again():
    run(
        """
        gc_policy.install()
        class State: pass
        state = [State() for _ in range(5_000)]  # what a store keeps
        gc.collect()
        walked = {id(o) for generation in range(3) for o in gc.get_objects(generation)}
        assert not any(id(s) in walked for s in state)
        assert gc.get_freeze_count() >= 5_000
        young = State()
        gc.collect(1)  # a younger collection freezes nothing: its survivors move on to be walked later
        assert any(o is young for o in gc.get_objects(2))
        """
    )


def test_without_the_policy_a_full_collection_freezes_nothing():
    run(
        """
        class State: pass
        state = [State() for _ in range(1_000)]
        gc.collect()
        assert any(o is state[0] for o in gc.get_objects(2))  # still walked by every full collection
        """
    )


def test_a_sweep_frees_cycles_that_were_frozen():
    run(
        """
        gc_policy.install()
        class Node: pass
        a, b = Node(), Node()
        a.other, b.other = b, a  # a cycle: reference counting alone never frees it
        gone = weakref.ref(a)
        gc.collect()  # both survive and are frozen
        del a, b
        gc.collect()
        assert gone() is not None  # frozen: a full collection does not find it
        assert gc_policy.sweep() >= 2
        assert gone() is None
        assert gc.get_freeze_count() > 0  # the survivors are frozen again
        """
    )


def test_a_sweep_is_due_once_full_collections_froze_as_much_again_as_a_loaded_state():
    run(
        """
        gc_policy.install()
        gc_policy.SWEEP_FLOOR = 1_000
        class State: pass
        gc.disable()  # as a snapshot's load does, then freezes what it loaded: a year's state is no reason to sweep
        loaded = [State() for _ in range(100_000)]
        gc.freeze()
        gc.enable()
        assert not gc_policy.sweep_due()
        some = [State() for _ in range(30_000)]
        gc.collect()
        assert not gc_policy.sweep_due()
        more = [State() for _ in range(200_000)]
        gc.collect()
        assert gc_policy.sweep_due()
        gc_policy.sweep()
        assert not gc_policy.sweep_due() and gc_policy.stats()["sweeps"] == 1
        """
    )


def test_full_collections_and_sweep_checks_do_not_walk_the_frozen_set():
    # Counting the frozen set walks all of it: a loaded year is millions of objects, and counting it twice
    # per full collection cost the emulator more than the collections themselves under bench.load.
    run(
        """
        counted = [0]
        count_frozen = gc.get_freeze_count
        def counting():
            counted[0] += 1
            return count_frozen()
        gc.get_freeze_count = counting
        gc_policy.install()
        gc_policy.SWEEP_FLOOR = 1_000
        class State: pass
        gc.disable()  # a snapshot's load
        loaded = [State() for _ in range(100_000)]
        gc.freeze()
        gc.enable()
        kept = []
        for _ in range(5):
            kept += [State() for _ in range(500)]
            gc.collect()
        assert counted[0] == 0
        assert not gc_policy.sweep_due() and counted[0] == 1  # past the floor: the frozen set is counted once
        assert not gc_policy.sweep_due() and counted[0] == 1  # and not again until the policy froze as much
        kept += [State() for _ in range(150_000)]
        gc.collect()
        assert gc_policy.sweep_due() and counted[0] == 2
        """
    )
