"""Sort and search parameters of a list (R-UI-5), checked with messages for a person (R-UI-7): which
parameter, what it may be, what was sent. Each list says which columns it sorts by and which way each one
goes by default; a list reads its order from an index, so a sort is a choice of index and direction."""

from __future__ import annotations

from collections.abc import Mapping

from shared.errors import Unprocessable

SEARCH_MAX = 100


def direction(sorts: Mapping[str, str], sort: str | None, order: str | None, what: str) -> tuple[str, bool]:
    """(the column, ascending?) for `?sort=&order=`, or a 422 `invalid_sort` naming what is allowed.
    `sorts` maps each column to its natural order ("asc" or "desc"); the first is the default."""
    if sort is not None and sort not in sorts:
        raise Unprocessable(
            f"{what} can be sorted by {' or '.join(sorts)}, not {sort!r}.", code="invalid_sort", details={"sort": sort}
        )
    if order is not None and order not in ("asc", "desc"):
        raise Unprocessable(
            f"The sort order is asc (A to Z, lowest first) or desc (Z to A, highest first), not {order!r}.",
            code="invalid_sort",
            details={"order": order},
        )
    column = sort or next(iter(sorts))
    return column, (order or sorts[column]) == "asc"


def search_text(q: str | None, what: str) -> str | None:
    """A search as typed, with runs of spaces made one and in lower case; None when empty; a 422
    `invalid_search` when longer than any name or title start a person would type."""
    text = " ".join((q or "").split()).lower()
    if len(text) > SEARCH_MAX:
        raise Unprocessable(
            f"Search for at most {SEARCH_MAX} characters of {what} (this has {len(text)}).", code="invalid_search"
        )
    return text or None
