"""schemas.compat: which changes of a published event schema a consumer survives (R-EV-1, docs/event-versions.md).

Each case is an old/new pair of hand-made event schemas shaped like `schemas/generate.py`'s (the envelope,
the contract in `properties.data`, pydantic's `anyOf` for optional values, `#/definitions` references)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from schemas.compat import compatible

UUID = {"type": "string", "format": "uuid"}


def event(properties: dict[str, Any], required: list[str], **extra: Any) -> dict[str, Any]:
    """An event schema as generate.py writes one, around the given `data` fields."""
    schema = {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "title": "ates.tasks.Sample.v1",
        "type": "object",
        "properties": {
            "event_id": {"type": "string", "format": "uuid", "title": "Event Id"},
            "event_name": {"type": "string", "enum": ["Sample"]},
            "event_version": {"type": "integer", "enum": [1]},
            "event_time": {"type": "string", "format": "date-time"},
            "producer": {"type": "string", "enum": ["ates.tasks"]},
            "correlation_id": {"type": "string"},
            "data": {"type": "object", "title": "SampleV1", "properties": properties, "required": required},
        },
        "required": ["event_id", "event_name", "event_version", "event_time", "producer", "correlation_id", "data"],
    }
    schema.update(extra)
    return schema


BASE = event(
    {
        "task_id": UUID,
        "title": {"type": "string", "title": "Title"},
        "reason": {"type": "string", "enum": ["created", "shuffle"]},
        "due_date": {"anyOf": [{"type": "string", "format": "date"}, {"type": "null"}], "default": None},
        "amount": {"type": "integer"},
    },
    ["task_id", "title", "reason"],
)


def changed(edit) -> dict[str, Any]:
    new = copy.deepcopy(BASE)
    edit(new["properties"]["data"])
    return new


def test_an_unchanged_schema_is_compatible():
    assert compatible(BASE, copy.deepcopy(BASE)) == []


def test_added_optional_field_is_compatible():
    new = changed(lambda d: d["properties"].update(jira_id={"anyOf": [{"type": "string"}, {"type": "null"}]}))
    assert compatible(BASE, new) == []


def test_added_required_field_breaks():
    def edit(data):
        data["properties"]["jira_id"] = {"type": "string"}
        data["required"].append("jira_id")

    assert compatible(BASE, changed(edit)) == [
        "data.jira_id: new required field (events published without it are refused)"
    ]


def test_an_optional_field_made_required_breaks():
    assert compatible(BASE, changed(lambda d: d["required"].append("due_date"))) == [
        "data.due_date: was optional, now required (events published without it are refused)"
    ]


@pytest.mark.parametrize("field", ["title", "due_date"])
def test_removed_field_breaks_whether_it_was_required_or_optional(field):
    (reason,) = compatible(BASE, changed(lambda d: d["properties"].pop(field)))
    assert reason.startswith(f"data.{field}: field removed")


def test_type_change_breaks():
    assert compatible(BASE, changed(lambda d: d["properties"].update(title={"type": "integer"}))) == [
        "data.title: type string no longer accepted (now integer)"
    ]


def test_losing_null_narrows_the_type_and_breaks():
    new = changed(lambda d: d["properties"].update(due_date={"type": "string", "format": "date"}))
    assert compatible(BASE, new) == ["data.due_date: type null no longer accepted (now string)"]


def test_integer_widened_to_number_and_a_value_made_nullable_are_compatible():
    def edit(data):
        data["properties"]["amount"] = {"type": "number"}
        data["properties"]["title"] = {"anyOf": [{"type": "string"}, {"type": "null"}]}

    assert compatible(BASE, changed(edit)) == []


def test_format_added_or_changed_breaks():
    new = changed(lambda d: d["properties"].update(title={"type": "string", "format": "uuid"}))
    assert compatible(BASE, new) == ['data.title: format "uuid" added (was no format)']
    new = changed(lambda d: d["properties"].update(task_id={"type": "string", "format": "date"}))
    assert compatible(BASE, new) == ['data.task_id: format "date" added (was format "uuid")']


def test_a_tighter_bound_or_a_new_pattern_breaks():
    def edit(data):
        data["properties"]["amount"] = {"type": "integer", "minimum": 0}
        data["properties"]["title"] = {"type": "string", "pattern": "^[A-Z]"}

    assert compatible(BASE, changed(edit)) == [
        'data.title: pattern "^[A-Z]" added (was no pattern)',
        "data.amount: minimum raised to 0 (was none)",
    ]


def test_enum_value_removed_breaks():
    new = changed(lambda d: d["properties"]["reason"].update(enum=["created"]))
    assert compatible(BASE, new) == ['data.reason: enum value(s) ["shuffle"] removed']


def test_enum_value_added_is_compatible():
    new = changed(lambda d: d["properties"]["reason"].update(enum=["created", "shuffle", "reopened"]))
    assert compatible(BASE, new) == []


def test_annotations_and_the_order_of_required_may_change():
    def edit(data):
        data["title"] = "SampleV1Renamed"
        data["properties"]["title"] = {"type": "string", "title": "Heading", "description": "what the task is"}
        data["properties"]["due_date"]["default"] = "2026-01-01"
        data["required"].reverse()

    assert compatible(BASE, changed(edit)) == []


def test_envelope_change_breaks_even_when_it_only_widens():
    new = copy.deepcopy(BASE)
    new["properties"]["correlation_id"] = {"type": ["string", "null"]}
    new["properties"]["trace_id"] = {"type": "string"}
    assert compatible(BASE, new) == [
        'envelope.correlation_id: changed from {"type": "string"} to {"type": ["string", "null"]}',
        "envelope.trace_id: added to the envelope",
    ]


def test_nested_objects_and_arrays_through_definitions_are_compared_field_by_field():
    def with_line(line_fields: dict[str, Any], required: list[str]) -> dict[str, Any]:
        schema = event({"lines": {"type": "array", "items": {"$ref": "#/definitions/Line"}}}, ["lines"])
        schema["definitions"] = {"Line": {"type": "object", "properties": line_fields, "required": required}}
        return schema

    sku = {"type": "string"}
    old = with_line({"sku": sku, "qty": {"type": "integer"}}, ["sku"])
    assert compatible(old, with_line({"sku": sku, "qty": {"type": "integer"}, "note": {}}, ["sku"])) == []
    assert compatible(old, with_line({"sku": sku, "qty": {"type": "string"}}, ["sku", "qty"])) == [
        "data.lines[].qty: type integer no longer accepted (now string)",
        "data.lines[].qty: was optional, now required (events published without it are refused)",
    ]


def test_a_keyword_the_check_does_not_model_is_refused_when_it_changes():
    new = changed(lambda d: d["properties"]["title"].update(multipleOf=2))
    assert compatible(BASE, new) == ["data.title: 'multipleOf' changed; the check cannot prove that compatible"]


def test_unknown_fields_refused_breaks():
    assert compatible(BASE, changed(lambda d: d.update(additionalProperties=False))) == [
        "data: unknown fields are now refused (additionalProperties: false)"
    ]
