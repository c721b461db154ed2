"""A raw table's rows kept in the warm query database (analytics/raw_rows.py, R-AN-4): each mirrored file is
parsed once, and the rows of the days a query reads are always those of the mirror's files."""

from __future__ import annotations

import json
from datetime import date

import duckdb
import pytest

from analytics import raw_rows, tables

TABLE = tables.PHYSICAL["raw_task_priced_v1"]
ANY_DAY = (None, None)


@pytest.fixture()
def kept(tmp_path):
    connection = duckdb.connect()
    rows = raw_rows.KeptRawRows(connection, tmp_path, TABLE)
    yield rows, connection, tmp_path / TABLE.prefix
    connection.close()


def put(base, day: str, name: str, *event_ids: str) -> None:
    (base / f"day={day}").mkdir(parents=True, exist_ok=True)
    (base / f"day={day}" / name).write_text("".join(json.dumps({"event_id": e}) + "\n" for e in event_ids))


def event_ids(connection) -> list[tuple[str, str]]:
    return sorted(connection.execute(f'SELECT event_id, "day" FROM "{TABLE.name}"').fetchall())


def test_each_file_is_parsed_once_and_the_rows_follow_the_mirrors_files(kept):
    rows, connection, base = kept
    put(base, "2026-11-25", "a.json", "1", "2")
    put(base, "2026-11-26", "b.json", "3")
    assert rows.refresh(connection, ANY_DAY) == 2
    assert event_ids(connection) == [("1", "2026-11-25"), ("2", "2026-11-25"), ("3", "2026-11-26")]
    assert rows.refresh(connection, ANY_DAY) == 0  # nothing new: nothing parsed

    put(base, "2026-11-26", "c.json", "4")  # landed
    put(base, "2026-11-26", "b.json", "3", "5")  # replaced by a new copy
    assert rows.refresh(connection, ANY_DAY) == 2
    assert [e for e, _ in event_ids(connection)] == ["1", "2", "3", "4", "5"]

    (base / "day=2026-11-25" / "a.json").unlink()  # expired, or packed away
    assert rows.refresh(connection, ANY_DAY) == 0
    assert [e for e, _ in event_ids(connection)] == ["3", "4", "5"]


def test_rows_of_days_before_a_querys_first_day_are_dropped(kept):
    """The raw window moves forward with the watermark: a warm process keeps a few days of events, not all."""
    rows, connection, base = kept
    put(base, "2026-11-25", "a.json", "1")
    put(base, "2026-11-26", "b.json", "2")
    assert rows.refresh(connection, ANY_DAY) == 2
    assert rows.refresh(connection, (date(2026, 11, 26), None)) == 0
    assert event_ids(connection) == [("2", "2026-11-26")]
    assert rows.refresh(connection, ANY_DAY) == 1  # asked for again: parsed again
    assert [e for e, _ in event_ids(connection)] == ["1", "2"]


def test_a_refresh_that_fails_leaves_the_rows_as_they_were(kept):
    rows, connection, base = kept
    put(base, "2026-11-26", "a.json", "1")
    rows.refresh(connection, ANY_DAY)
    (base / "day=2026-11-26" / "a.json").unlink()
    put(base, "2026-11-26", "b.json", "2")
    (base / "day=2026-11-26" / "c.json").write_text("{not json\n")
    with pytest.raises(duckdb.Error):
        rows.refresh(connection, ANY_DAY)
    assert event_ids(connection) == [("1", "2026-11-26")]  # neither the drop nor the load half-done
    (base / "day=2026-11-26" / "c.json").unlink()
    assert rows.refresh(connection, ANY_DAY) == 1
    assert event_ids(connection) == [("2", "2026-11-26")]
