"""The SQL console's guard (R-AN-3): a read-only console over the analytics tables, SELECT only, with
bounded rows. Anything but a single query over our tables is refused with a 422 (`query_refused`,
with the reason) and runs nothing.

What passes: exactly one statement (a trailing `;` and comments are fine), which is a query (SELECT,
WITH ... SELECT, UNION/INTERSECT/EXCEPT of selects) reading only the logical tables `transactions`,
`tasks` and `closed_days` (unqualified) or the CTEs it defines where they are in scope, plus UNNEST
and VALUES, which read nothing. What is refused: DDL, DML, session and engine statements (SET, USE,
PRAGMA, COPY, ATTACH, LOAD, INSTALL, CALL, EXPORT, EXPLAIN, SHOW, ...), SELECT ... INTO, locking
clauses, any table that is not one of ours (information_schema, another database or catalog, a file
path), every table-valued function, and the functions that read files, URLs, settings or the
environment, or run SQL of their own (read_*, *_scan, glob, query, getenv, current_setting, ...).

The guard is an allowlist of tables and a denylist of functions, checked on the parsed tree in the
Athena dialect and again on its DuckDB translation (what runs locally). The SQL it returns is generated
from the tree, without comments, with a LIMIT of at most `max_rows + 1` (the extra row is how the
query layer knows the answer was truncated).

The checks on the parsed tree are `console_sql`'s, imported with the first query a process guards, not with
this module: sqlglot is about a quarter of the analytics API's cold import, and its dashboards parse no SQL.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.errors import Unprocessable

MAX_SQL_CHARS = 10_000


@dataclass(frozen=True)
class Guarded:
    sql: str  # the normalised query (Athena dialect) to run
    limit: int  # the LIMIT it carries


def refuse(reason: str) -> Unprocessable:
    return Unprocessable(f"query refused: {reason}", code="query_refused")


def guard(sql: str, max_rows: int) -> Guarded:
    """The one read-only query in `sql`, normalised and bounded; or a 422 `query_refused` saying why."""
    from analytics import console_sql  # see the module's docstring

    try:
        return console_sql.guard(sql, max_rows)
    except RecursionError:
        raise refuse("the query is nested too deeply") from None
