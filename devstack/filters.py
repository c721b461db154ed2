"""Event source mapping `FilterCriteria`: the EventBridge event-pattern language, the subset templates use.

Lambda applies these patterns to stream records and queue messages before invoking; records that no
filter matches are dropped (and, for SQS, deleted). Supported: exact values (strings, numbers,
booleans, null), `prefix`, `suffix`, `equals-ignore-case`, `anything-but`, `exists`, `numeric`,
`wildcard`, nested objects, arrays in the event (any element may match) and `$or`.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable
from typing import Any

_MISSING = object()
_NUMERIC: dict[str, Callable[[float, float], bool]] = {
    "=": operator.eq,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


class PatternError(ValueError):
    """A filter pattern devstack cannot evaluate; raised at startup, not silently ignored."""


def compile_criteria(criteria: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The parsed patterns of `FilterCriteria` (an empty list means: everything passes)."""
    patterns = []
    for entry in (criteria or {}).get("Filters") or []:
        raw = entry.get("Pattern", "{}")
        pattern = json.loads(raw) if isinstance(raw, str) else raw
        if not isinstance(pattern, dict):
            raise PatternError(f"a filter pattern must be a JSON object: {raw!r}")
        _validate(pattern)
        patterns.append(pattern)
    return patterns


def passes(patterns: list[dict[str, Any]], event: dict[str, Any]) -> bool:
    """Whether `event` passes the criteria: no patterns, or any pattern matches."""
    return not patterns or any(matches(pattern, event) for pattern in patterns)


def matches(pattern: dict[str, Any], event: Any) -> bool:
    """Whether `event` matches one EventBridge pattern."""
    if not isinstance(event, dict):
        return False
    for key, expected in pattern.items():
        if key == "$or":
            if not any(matches(option, event) for option in expected):
                return False
            continue
        value = event.get(key, _MISSING)
        if isinstance(expected, dict):
            if isinstance(value, list):
                if not any(matches(expected, item) for item in value):
                    return False
            elif not matches(expected, value):
                return False
        elif not _any_rule(expected, value):
            return False
    return True


def _any_rule(rules: list[Any], value: Any) -> bool:
    if value is not _MISSING and isinstance(value, list):
        return any(_any_rule(rules, item) for item in value) if value else False
    return any(_rule(rule, value) for rule in rules)


def _rule(rule: Any, value: Any) -> bool:
    if not isinstance(rule, dict):
        return value is not _MISSING and _same(rule, value)
    ((name, argument),) = rule.items()
    if name == "exists":
        return (value is not _MISSING) == bool(argument)
    if value is _MISSING:
        return False
    if name == "prefix":
        return _text_rule(argument, value, str.startswith)
    if name == "suffix":
        return _text_rule(argument, value, str.endswith)
    if name == "equals-ignore-case":
        return isinstance(value, str) and value.lower() == str(argument).lower()
    if name == "wildcard":
        regex = ".*".join(re.escape(part) for part in str(argument).split("*"))
        return isinstance(value, str) and re.fullmatch(regex, value, re.DOTALL) is not None
    if name == "anything-but":
        if isinstance(argument, dict):
            return not _rule(argument, value)
        options = argument if isinstance(argument, list) else [argument]
        return not any(_same(option, value) for option in options)
    if name == "numeric":
        return _numeric(argument, value)
    raise PatternError(f"unsupported pattern rule {name!r}")


def _text_rule(argument: Any, value: Any, test: Callable[[str, str], bool]) -> bool:
    if not isinstance(value, str):
        return False
    if isinstance(argument, dict) and "equals-ignore-case" in argument:
        return test(value.lower(), str(argument["equals-ignore-case"]).lower())
    return test(value, str(argument))


def _numeric(argument: list[Any], value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    pairs = zip(argument[::2], argument[1::2], strict=True)
    return all(_NUMERIC[op](value, float(limit)) for op, limit in pairs)


def _same(expected: Any, value: Any) -> bool:
    """Exact match; numbers compare by value, but a boolean is never a number."""
    if isinstance(expected, bool) or isinstance(value, bool):
        return type(expected) is type(value) and expected == value
    if isinstance(expected, int | float) and isinstance(value, int | float):
        return float(expected) == float(value)
    return type(expected) is type(value) and expected == value


def _validate(pattern: dict[str, Any]) -> None:
    known = {"prefix", "suffix", "equals-ignore-case", "wildcard", "anything-but", "numeric", "exists"}
    for key, expected in pattern.items():
        if key == "$or":
            for option in expected:
                _validate(option)
        elif isinstance(expected, dict):
            _validate(expected)
        elif not isinstance(expected, list):
            raise PatternError(f"pattern value of {key!r} must be a list or an object, got {expected!r}")
        else:
            for rule in expected:
                if isinstance(rule, dict) and (len(rule) != 1 or next(iter(rule)) not in known):
                    raise PatternError(f"unsupported pattern rule {rule!r}")
