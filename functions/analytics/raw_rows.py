"""A raw table's rows kept in a warm query process's DuckDB database (R-AN-4, the local engine only).

A query reads the days after the compaction's watermark from the raw JSON objects of the mirror: a year-old
company's last two raw days are ~8,000 lines, which every dashboard query parsed again (a third of its
DuckDB time, and the largest part of what a fresh stack's dashboard does not do). A raw object's content
does not change once it is landed (its key is an event id or a digest of its bytes; packing writes new keys
and deletes the old ones), so each mirrored file is parsed once per warm process: its rows are kept in a
table, and before a query reads the table, the files new or replaced in the days it reads are loaded and
the rows of files gone from those days are dropped. Rows of days before the query's first day are dropped
too (the raw window moves forward with the watermark: memory stays a few days of events).

The table's rows for the days a query reads are then those of the mirror's files, as the view over the
files would read them; days outside are not read (the query's own day bounds, `tables.scans`), as the
mirror copies only those days too.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from analytics import tables

if TYPE_CHECKING:
    import duckdb

FILE = "file"  # the column holding the mirrored file a row was read from
Signature = tuple[str, int, int, int]  # a file's day, inode, modification time (ns) and size: a replaced file differs


class KeptRawRows:
    """One raw (JSON) table's rows in `connection`'s database, under a view of the table's own name."""

    def __init__(self, connection: duckdb.DuckDBPyConnection, root: Path, table: tables.PhysicalTable) -> None:
        self.table, self.base = table, root / table.prefix
        self.rows = f'"{table.name}__rows"'
        self._loaded: dict[str, Signature] = {}
        key = table.partition
        typed = ", ".join(f'"{c.name}" {tables.duckdb_type(c.type)}' for c in table.columns)
        connection.execute(f'CREATE TABLE {self.rows} ({typed}, "{key}" VARCHAR, "{FILE}" VARCHAR)')
        columns = ", ".join(f'"{c.name}"' for c in (*table.columns, tables.Column(key, "string")))
        connection.execute(f'CREATE VIEW "{table.name}" AS SELECT {columns} FROM {self.rows}')  # noqa: S608

    def refresh(self, connection: duckdb.DuckDBPyConnection, days: tables.DayRange) -> int:
        """Make the rows of `days` those of the mirror's files; returns how many files were parsed. One
        transaction: a refresh that fails or is interrupted leaves the rows as they were."""
        first, last = days
        present = self._files(first, last)
        dropped = [
            path
            for path, (day, *_) in self._loaded.items()
            if (first is not None and day < first.isoformat())
            or (_within(day, first, last) and present.get(path) != self._loaded[path])
        ]
        new = [path for path, signature in present.items() if self._loaded.get(path) != signature]
        if not dropped and not new:
            return 0
        connection.execute("BEGIN TRANSACTION")
        try:
            if dropped:
                connection.execute(f'DELETE FROM {self.rows} WHERE "{FILE}" IN (SELECT unnest(?))', [dropped])  # noqa: S608
            if new:
                connection.execute(f"INSERT INTO {self.rows} {self._read(new)}")
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        for path in dropped:
            self._loaded.pop(path, None)
        self._loaded.update((path, present[path]) for path in new)
        return len(new)

    def _files(self, first: date | None, last: date | None) -> dict[str, Signature]:
        """The mirror's files of the days first..last (None: open), with their signatures."""
        found: dict[str, Signature] = {}
        prefix = f"{self.table.partition}="
        try:
            partitions = list(os.scandir(self.base))
        except FileNotFoundError:
            return found
        for partition in partitions:
            day = partition.name.removeprefix(prefix)
            if not partition.name.startswith(prefix) or not _within(day, first, last):
                continue
            for entry in os.scandir(partition.path):
                if entry.name.endswith(".json") and not entry.name.startswith("."):
                    stat = entry.stat()
                    found[entry.path] = (day, stat.st_ino, stat.st_mtime_ns, stat.st_size)
        return found

    def _read(self, paths: list[str]) -> str:
        files = "[" + ", ".join(tables.quote(p) for p in paths) + "]"
        names = ", ".join(f'"{c.name}"' for c in self.table.columns)
        reader = tables.read_json(self.table, files, filename=True)
        return f'SELECT {names}, "{self.table.partition}", filename FROM {reader}'  # noqa: S608


def _within(day: str, first: date | None, last: date | None) -> bool:
    return (first is None or day >= first.isoformat()) and (last is None or day <= last.isoformat())
