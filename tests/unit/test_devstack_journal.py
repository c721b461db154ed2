"""The emulator journal's format (R-LOC-1): a crash leaves at most a torn last record, which is dropped;
anything else wrong is reported, never silently skipped."""

from __future__ import annotations

import pytest

from devstack import journal


def _write(path, payloads):
    for payload in payloads:
        with open(path, "ab") as handle:
            handle.write(journal.encode(payload))


def test_records_come_back_in_order(tmp_path):
    path = tmp_path / "journal-0.log"
    log = journal.Journal(path, fsync_interval=0)
    for payload in (b"first", b"", b"x" * 70_000):
        log.append(payload)
    log.close()
    records, good, size = journal.read(path)
    assert records == [b"first", b"", b"x" * 70_000]
    assert good == size == path.stat().st_size


@pytest.mark.parametrize("cut", [1, 4, 7, 8, 12])
def test_a_torn_last_record_is_dropped_and_cut_off(tmp_path, cut):
    path = tmp_path / "journal-0.log"
    _write(path, [b"kept-1", b"kept-2", b"torn-record"])
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) - cut])
    records, good, size = journal.read(path)
    assert records == [b"kept-1", b"kept-2"]
    assert good < size
    journal.repair(path, good)
    log = journal.Journal(path, fsync_interval=0)  # the next writer appends after the last good record
    log.append(b"after")
    log.close()
    assert journal.read(path)[0] == [b"kept-1", b"kept-2", b"after"]


def test_a_garbled_last_record_fails_its_crc_and_is_dropped(tmp_path):
    path = tmp_path / "journal-0.log"
    _write(path, [b"kept", b"garbled!"])
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    assert journal.read(path)[0] == [b"kept"]


def test_a_bad_record_before_good_ones_is_corruption_not_a_torn_tail(tmp_path):
    path = tmp_path / "journal-0.log"
    _write(path, [b"one", b"two", b"three"])
    data = bytearray(path.read_bytes())
    data[8] ^= 0xFF  # inside the first record's payload
    path.write_bytes(bytes(data))
    with pytest.raises(journal.JournalCorrupt):
        journal.read(path)


def test_an_absurd_length_is_a_torn_header(tmp_path):
    path = tmp_path / "journal-0.log"
    _write(path, [b"kept"])
    with open(path, "ab") as handle:
        handle.write(b"\xff\xff\xff\x7f\x00")
    assert journal.read(path)[0] == [b"kept"]


def test_a_missing_journal_is_empty(tmp_path):
    assert journal.read(tmp_path / "journal-9.log") == ([], 0, 0)


def test_the_group_commit_flusher_stops_with_the_journal(tmp_path):
    log = journal.Journal(tmp_path / "journal-0.log", fsync_interval=0.01)
    log.append(b"a")
    log.close()
    log.close()  # twice is harmless
    assert journal.read(tmp_path / "journal-0.log")[0] == [b"a"]
