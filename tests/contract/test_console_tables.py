"""The SQL console's table list (web/pages/analytics-sql.js) names every table the console may read, with
each column and its type as tables.py defines them (R-AN-7: the slices are documented where people write
queries; issue 17: the list shows columns and types)."""

from __future__ import annotations

import re
from pathlib import Path

from analytics import tables

PAGE = Path(__file__).resolve().parents[2] / "web" / "pages" / "analytics-sql.js"


def listed() -> dict[str, list[tuple[str, str]]]:
    text = PAGE.read_text()
    block = text[text.index("export const TABLES = [") : text.index("export const EXAMPLES")]
    found = {}
    for entry in re.split(r'\n  \{\n    name: "', block)[1:]:
        name = entry[: entry.index('"')]
        columns = entry[entry.index("columns:") :]
        found[name] = re.findall(r'\["(\w+)", "(\w+)"\]', columns)
    return found


def defined() -> dict[str, list[tuple[str, str]]]:
    every = {**tables.LOGICAL, **tables.AGGREGATES, **tables.MONTH_ENDS, **tables.HISTORY}
    return {name: [(c.name, c.type) for c in every[name].columns] for name in tables.QUERYABLE}


def test_the_console_lists_every_queryable_table_with_its_columns_and_types():
    assert listed() == defined()
