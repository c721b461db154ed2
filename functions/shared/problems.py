"""What is wrong with a request, said for a person (R-UI-7): one sentence per field naming it in words, what
is wrong and what to do, never a field path (`query.q`), a regular expression or pydantic's wording. The
machine detail travels beside it in `error.fields` (`[{field, in, problem, message}]`), for the front to put
each message next to its field and for programs to branch on.

Every route's validation failures come through `from_validation` (shared.http's handler), and the domain's
own field checks (a task's title, a date parameter) through `FieldProblem` and `invalid`, so the API answers
one shape and one voice whoever found the problem.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from shared.errors import Unprocessable

MAX_SHOWN = 5  # a form with more problems than this says the first five; `fields` lists them all
UUID_EXAMPLE = "6f1c3a52-5d0e-4c47-9a55-5b7f0a3d2e11"
INDEXED = re.compile(r"(.*)\[(\d+)\]", re.DOTALL)

# How the API's parameter and field names read in a sentence. A name not listed reads as its words
# (`due_date` -> "the due date"), which is right for most; these are the ones that are not.
LABELS = {
    "q": "the search text",
    "limit": "the page size",
    "cursor": "the page position (cursor)",
    "from": "the start date",
    "from_": "the start date",
    "to": "the end date",
    "date": "the date",
    "day": "the business day",
    "jira_id": "the Jira id",
    "sql": "the SQL query",
    "max_rows": "the row limit",
    "head_id": "the head of the department",
    "parent_id": "the parent department",
    "assignee_id": "the assignee",
    "email": "the email address",
    "token": "the link's token",
    "format": "the format",
}


@dataclass(frozen=True)
class FieldProblem:
    field: str  # as the API names it: `q`, `name`, `roles[0]`
    location: str  # query | path | body | header
    problem: str  # for programs: `missing`, `too_long`, `not_an_id`, ... (pydantic's type where there is one)
    message: str  # one sentence for a person

    def public(self) -> dict[str, str]:
        return {"field": self.field, "in": self.location, "problem": self.problem, "message": self.message}


def invalid(problems: Iterable[FieldProblem], code: str = "validation_error") -> Unprocessable:
    """The 422 for these problems: every message in `message`, and each in `fields`."""
    problems = list(problems)
    shown = [p.message for p in problems[:MAX_SHOWN]]
    if len(problems) > MAX_SHOWN:
        shown.append(f"And {len(problems) - MAX_SHOWN} more: see each field.")
    message = " ".join(shown) or "The request is not valid."
    return Unprocessable(message, code=code, details={"fields": [p.public() for p in problems]})


def label(field: str) -> str:
    """`due_date` -> "the due date"; `roles[1]` -> "item 2 of the roles". A name is whatever a caller sent (an
    unknown key can hold any character, `[` included): only a trailing `[<digits>]` is an index."""
    indexed = INDEXED.fullmatch(field)
    base, index = (indexed.group(1), int(indexed.group(2))) if indexed else (field, None)
    words = LABELS.get(base) or "the " + base.replace("_", " ").strip()
    if base.endswith("_id") and base not in LABELS:
        words = "the " + base[: -len("_id")].replace("_", " ") + " id"
    if index is not None:
        return f"item {index + 1} of {words}"
    return words


def sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "?", "!")) else text + "."


# --- pydantic's errors -------------------------------------------------------------------------------------


def from_validation(errors: Iterable[Mapping[str, Any]]) -> list[FieldProblem]:
    return [_problem(error) for error in errors]


def _safe_text(value: Any) -> str:
    """A caller's key as text that JSON can carry (a lone surrogate cannot be encoded: it becomes U+FFFD)."""
    return str(value).encode("utf-8", "replace").decode("utf-8")


def _where(loc: tuple[Any, ...]) -> tuple[str, str]:
    """pydantic's `loc` (`("query", "q")`, `("body", "roles", 0)`) -> (field, location)."""
    location = str(loc[0]) if loc and loc[0] in ("query", "path", "body", "header", "cookie") else "body"
    parts = list(loc[1:] if loc and loc[0] == location else loc)
    field = ""
    for part in parts:
        if isinstance(part, int):
            field += f"[{part}]"
        else:
            field = f"{field}.{_safe_text(part)}" if field else _safe_text(part)
    return field, location


def _problem(error: Mapping[str, Any]) -> FieldProblem:
    field, location = _where(tuple(error.get("loc") or ()))
    kind = str(error.get("type") or "invalid")
    ctx = error.get("ctx") or {}
    what = label(field.rsplit(".", 1)[-1]) if field else "the request body"
    text = _explain(kind, what, ctx, error.get("input"), str(error.get("msg") or ""))
    return FieldProblem(field=field or "body", location=location, problem=kind, message=sentence(text))


def _count(n: Any, one: str) -> str:
    return f"{n} {one}" if n == 1 else f"{n} {one}s"


def _explain(kind: str, what: str, ctx: Mapping[str, Any], value: Any, msg: str) -> str:
    if kind == "missing":
        return f"{what} is required: fill it in"
    if kind == "string_too_long":
        size = f" (this one has {len(value)})" if isinstance(value, str) else ""
        return f"{what} is too long: use at most {_count(ctx.get('max_length'), 'character')}{size}"
    if kind == "string_too_short":
        if ctx.get("min_length") == 1:
            return f"{what} cannot be empty: fill it in"
        return f"{what} is too short: use at least {_count(ctx.get('min_length'), 'character')}"
    if kind in ("string_pattern_mismatch", "uuid_parsing", "uuid_type", "uuid_version"):
        if kind.startswith("uuid") or "[0-9a-fA-F]{8}" in str(ctx.get("pattern", "")):
            return (
                f"{what} is not a valid id: ids look like {UUID_EXAMPLE}. Check the link, "
                "or pick it from a list instead of typing it"
            )
        return f"{what} is not written the way it should be"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"{what} must be a whole number, like 20"
    if kind in ("float_parsing", "float_type"):
        return f"{what} must be a number"
    if kind in ("greater_than_equal", "greater_than"):
        bound = ctx.get("ge", ctx.get("gt"))
        return f"{what} must be {'at least' if kind == 'greater_than_equal' else 'more than'} {bound}"
    if kind in ("less_than_equal", "less_than"):
        bound = ctx.get("le", ctx.get("lt"))
        return f"{what} must be {'at most' if kind == 'less_than_equal' else 'less than'} {bound}"
    if kind in ("literal_error", "enum"):
        return f"{what} must be one of {ctx.get('expected', 'the listed values')}"
    if kind == "extra_forbidden":
        return f"{what} is not something this request takes: leave it out"
    if kind in ("string_type", "string_unicode"):
        return f"{what} must be text"
    if kind in ("bool_type", "bool_parsing"):
        return f"{what} must be true or false"
    if kind in ("list_type", "tuple_type", "set_type"):
        return f"{what} must be a list"
    if kind in ("dict_type", "model_type", "model_attributes_type", "dataclass_type"):
        return f"{what} must be an object with named fields"
    if kind == "too_long":
        return f"{what} has too many items: at most {ctx.get('max_length')}"
    if kind == "too_short":
        return f"{what} needs at least {_count(ctx.get('min_length'), 'item')}"
    if kind in ("date_parsing", "date_from_datetime_parsing", "date_type", "date_from_datetime_inexact"):
        return f"{what} must be a date written like 2026-12-31"
    if kind in ("datetime_parsing", "datetime_type", "datetime_from_date_parsing"):
        return f"{what} must be a date and time written like 2026-12-31T09:30:00Z"
    if kind == "value_error":
        if msg.startswith("value is not a valid email address"):
            reason = sentence(str(ctx.get("reason") or "")) or "It is not written like one."
            return f"{what} is not valid: {reason[0].lower()}{reason[1:]} Write it like kesha@uberpopug.com"
        reason = ctx.get("error")
        if reason:  # our own validators' messages are written for people already
            return str(reason)
    return f"{what} is not valid: check it and try again"


# --- dates in parameters (the accounting and analytics routes parse them strictly themselves) -------------


def not_a_date(field: str, value: object, location: str = "query", *, calendar: bool = False) -> Unprocessable:
    """The 422 `invalid_date` of a date parameter: not written like 2026-11-27, or (`calendar`) no such day."""
    what = sentence(label(field)).rstrip(".")
    if calendar:
        message, problem = f"{what} {value!r} is not a day of the calendar: check the month and the day.", "no_such_day"
    else:
        message, problem = f"{what} {value!r} is not a date: write it like 2026-11-27 (year, month, day).", "not_a_date"
    return invalid([FieldProblem(field, location, problem, message)], code="invalid_date")


def bad_range(first: object, last: object, max_days: int) -> Unprocessable:
    """The 422 `invalid_range` of a `from`..`to` pair: backwards, or longer than `max_days`."""
    if str(last) < str(first):
        message, problem = f"The end date ({last}) is before the start date ({first}): swap them.", "backwards"
    else:
        message, problem = f"A range covers at most {max_days} days: choose a shorter one.", "too_long"
    fields = [FieldProblem("from", "query", problem, message), FieldProblem("to", "query", problem, message)]
    error = invalid(fields[:1], code="invalid_range")
    error.details = {"fields": [f.public() for f in fields]}
    return error
