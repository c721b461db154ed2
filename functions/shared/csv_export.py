"""CSV downloads (R-AN-6, R-UI-5): a table of cells as RFC 4180 text that a spreadsheet opens safely.

RFC 4180: a header row, CRLF after every record, a field quoted when it holds a comma, a quote, CR or LF,
with its quotes doubled. Cells are written as the JSON answer shows them: null as an empty field, true/false
as `true`/`false`, lists and objects as their JSON text.

Formula injection (OWASP "CSV Injection"): a spreadsheet runs a cell that starts with `=`, `+`, `-`, `@`
(and a tab or CR, which some strip first) as a formula, so a task title like `=HYPERLINK(...)` would act
in the accountant's spreadsheet. Such a TEXT cell gets a leading apostrophe, which spreadsheets show as text
and do not display. Numbers are left alone: `-1500` is a debt, not a formula, and must stay a number.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

CONTENT_TYPE = "text/csv; charset=utf-8"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
NEEDS_QUOTES = (",", '"', "\r", "\n")


def cell(value: Any) -> str:
    """One field of a record, guarded and quoted."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if text.startswith(FORMULA_STARTS):
        text = "'" + text
    if any(mark in text for mark in NEEDS_QUOTES):
        text = '"' + text.replace('"', '""') + '"'
    return text


def render(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A header row (guarded like any text: a column may be named `=1+1`) and one record per row."""
    lines = [",".join(cell(str(c)) for c in columns)]
    lines += (",".join(cell(v) for v in row) for row in rows)
    return "\r\n".join(lines) + "\r\n"


def filename(stem: str) -> str:
    """A download name made only of safe characters (it goes into a header)."""
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "-" for c in stem).strip("-.")
    return f"{safe[:80] or 'result'}.csv"


def table(body: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """The table in an API answer: a query's `{columns, rows}`, or a list's `{items: [{...}]}` (its
    columns the first item's keys, in order)."""
    if "columns" in body:
        return list(body["columns"]), list(body.get("rows") or [])
    items = body.get("items") or []
    columns = list(items[0]) if items else []
    return columns, [[item.get(c) for c in columns] for item in items]


def response(event: dict[str, Any], answer: dict[str, Any], stem: str) -> dict[str, Any]:
    """A JSON answer of the API as a CSV answer, when the request asked `?format=csv` and the answer is a
    success; anything else (an error, JSON asked) passes through unchanged. A list's next page is in the
    `X-Next-Cursor` header (the CSV has rows only).

    Done on the Lambda's answer, after the route answered and its JSON was checked against its document,
    so the route keeps one typed success body and the CSV is that body, cell for cell."""
    wanted = ((event.get("queryStringParameters") or {}).get("format") or "json").lower()
    if wanted != "csv" or answer.get("statusCode") != 200:
        return answer
    body = json.loads(answer.get("body") or "{}")
    text = render(*table(body))
    headers = {k: v for k, v in (answer.get("headers") or {}).items() if k.lower() != "content-type"}
    headers["Content-Type"] = CONTENT_TYPE
    headers["Content-Disposition"] = f'attachment; filename="{filename(stem)}"'
    if body.get("next_cursor"):
        headers["X-Next-Cursor"] = body["next_cursor"]
    multi = {k: v for k, v in (answer.get("multiValueHeaders") or {}).items() if k.lower() != "content-type"}
    return {**answer, "body": text, "headers": headers, "multiValueHeaders": multi, "isBase64Encoded": False}
