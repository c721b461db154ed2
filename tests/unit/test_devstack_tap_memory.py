"""The event tap remembers recent event ids only (a year's file holds millions): bounded in memory, and on a
kept state read from the file's end, where the events whose messages may come back were written."""

from __future__ import annotations

import json

from devstack import tap


def test_recent_ids_keep_the_last_ones_and_forget_the_oldest():
    ids = tap.RecentIds((f"e{i}" for i in range(5)), limit=3)
    assert len(ids) == 3 and "e0" not in ids and "e1" not in ids and all(i in ids for i in ("e2", "e3", "e4"))
    ids.add("e3")  # again: still remembered once, nothing dropped
    assert len(ids) == 3 and "e2" in ids
    ids.add("e5")
    assert "e2" not in ids and "e5" in ids


def test_a_kept_file_is_read_from_its_end_for_the_recent_ids(tmp_path, monkeypatch):
    path = tmp_path / "events.jsonl"
    lines = [json.dumps({"event_id": f"e{i}", "event_name": "TaskCreated"}) + "\n" for i in range(100)]
    path.write_text("".join(lines))
    tail = sum(len(line) for line in lines[-10:]) + 5  # ten whole lines and the end of an eleventh
    assert [e["event_id"] for e in tap._lines(path, from_byte=path.stat().st_size - tail)] == [
        f"e{i}" for i in range(90, 100)
    ]
    exact = sum(len(line) for line in lines[-10:])  # a cut right after a line loses nothing
    assert len(list(tap._lines(path, from_byte=path.stat().st_size - exact))) == 10
    assert len(list(tap._lines(path))) == 100
