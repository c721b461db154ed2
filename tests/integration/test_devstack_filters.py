"""Event source mapping FilterCriteria: the EventBridge pattern subset devstack's pollers apply."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devstack import filters, template

ROOT = Path(__file__).resolve().parents[2]


def outbox_record(pk: str, event_name: str = "INSERT") -> dict:
    return {
        "eventName": event_name,
        "eventSource": "aws:dynamodb",
        "dynamodb": {"Keys": {"pk": {"S": pk}, "sk": {"S": "x"}}, "NewImage": {"pk": {"S": pk}}},
    }


def test_the_templates_outbox_filter_passes_outbox_inserts_only():
    stack = template.load(ROOT / "template.yaml", {"Stage": "local"})
    mapping = stack.resources["AuthOutboxRelayFunctionOutbox"]["Properties"]
    patterns = filters.compile_criteria(mapping["FilterCriteria"])
    assert filters.passes(patterns, outbox_record("OUTBOX#123"))
    assert not filters.passes(patterns, outbox_record("ACCOUNT#123"))
    assert not filters.passes(patterns, outbox_record("OUTBOX#123", "MODIFY"))
    assert not filters.passes(patterns, outbox_record("OUTBOX#123", "REMOVE"))


@pytest.mark.parametrize(
    ("pattern", "event", "expected"),
    [
        ({"a": ["x", "y"]}, {"a": "y"}, True),
        ({"a": ["x"]}, {"a": "X"}, False),
        ({"a": ["x"]}, {}, False),
        ({"a": [5]}, {"a": 5.0}, True),
        ({"a": [True]}, {"a": 1}, False),
        ({"a": [None]}, {"a": None}, True),
        ({"a": ["x"]}, {"a": ["z", "x"]}, True),  # any element of an array
        ({"a": {"b": {"c": ["1"]}}}, {"a": {"b": {"c": "1"}}}, True),
        ({"a": {"b": ["1"]}}, {"a": "flat"}, False),
        ({"a": [{"prefix": "OUT"}]}, {"a": "OUTBOX#1"}, True),
        ({"a": [{"prefix": "OUT"}]}, {"a": "IN"}, False),
        ({"a": [{"prefix": "OUT"}]}, {"a": 5}, False),
        ({"a": [{"suffix": ".png"}]}, {"a": "x.png"}, True),
        ({"a": [{"anything-but": ["x"]}]}, {"a": "y"}, True),
        ({"a": [{"anything-but": ["x"]}]}, {"a": "x"}, False),
        ({"a": [{"anything-but": {"prefix": "x"}}]}, {"a": "xy"}, False),
        ({"a": [{"exists": False}]}, {}, True),
        ({"a": [{"exists": True}]}, {}, False),
        ({"a": [{"numeric": [">", 0, "<=", 5]}]}, {"a": 5}, True),
        ({"a": [{"numeric": [">", 0, "<=", 5]}]}, {"a": 6}, False),
        ({"a": [{"equals-ignore-case": "abc"}]}, {"a": "AbC"}, True),
        ({"a": [{"wildcard": "a*c"}]}, {"a": "abbc"}, True),
        ({"$or": [{"a": ["1"]}, {"b": ["2"]}]}, {"b": "2"}, True),
        ({"a": ["1"], "b": ["2"]}, {"a": "1", "b": "3"}, False),  # every key must match
    ],
)
def test_pattern_rules(pattern, event, expected):
    assert filters.matches(pattern, event) is expected


def test_no_filters_pass_everything_and_any_filter_may_match():
    assert filters.passes([], {"anything": 1})
    patterns = filters.compile_criteria(
        {"Filters": [{"Pattern": json.dumps({"a": ["1"]})}, {"Pattern": json.dumps({"a": ["2"]})}]}
    )
    assert filters.passes(patterns, {"a": "2"}) and not filters.passes(patterns, {"a": "3"})


def test_an_unsupported_rule_fails_at_startup_not_silently():
    with pytest.raises(filters.PatternError):
        filters.compile_criteria({"Filters": [{"Pattern": '{"a": [{"cidr": "10.0.0.0/8"}]}'}]})
    with pytest.raises(filters.PatternError):
        filters.compile_criteria({"Filters": [{"Pattern": '{"a": "not-a-list"}'}]})
