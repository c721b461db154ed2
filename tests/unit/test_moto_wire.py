"""The emulator's direct writing of DynamoDB items (devstack/moto_wire.py) answers exactly what moto's generic
serializer answers, for any item moto can hold; and the remembered backend per host is moto's own answer."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devstack import moto_wire

names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=8)
numbers = st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=-(10**9), max_value=10**9)
scalars = st.one_of(
    st.builds(lambda s: {"S": s}, st.text(max_size=20)),
    st.builds(lambda n: {"N": str(n)}, numbers),
    st.builds(lambda b: {"B": b}, st.binary(max_size=12)),
    st.builds(lambda b: {"BOOL": b}, st.booleans()),
    st.just({"NULL": True}),
    st.builds(lambda s: {"SS": sorted(s)}, st.sets(st.text(max_size=6), min_size=1, max_size=4)),
    st.builds(lambda s: {"NS": sorted(str(n) for n in s)}, st.sets(st.integers(-99, 99), min_size=1, max_size=4)),
    st.builds(lambda s: {"BS": sorted(s)}, st.sets(st.binary(min_size=1, max_size=6), min_size=1, max_size=3)),
)
attribute_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.builds(lambda m: {"M": m}, st.dictionaries(names, inner, max_size=4)),
        st.builds(lambda items: {"L": items}, st.lists(inner, max_size=4)),
    ),
    max_leaves=12,
)
items = st.dictionaries(names, attribute_values, min_size=1, max_size=6)


def _serialize(operation: str, result: dict[str, Any], *, direct: bool) -> Any:
    from moto.core import serialize
    from moto.core.utils import get_service_model

    moto_wire.apply()
    service = get_service_model("dynamodb")
    cls = serialize.SERVICE_SPECIFIC_SERIALIZERS["dynamodb"]["json"] if direct else serialize.JSONSerializer
    serializer = cls(
        operation_model=service.operation_model(operation),
        pretty_print=False,
        value_picker=serialize.XFormedAttributePicker(response_transformers=None),
    )
    return json.loads(serializer.serialize(result)["body"])


def _as_moto_holds(item: dict[str, Any]) -> dict[str, Any]:
    """The item as moto's Item.to_json() gives it (what the DynamoDB actions answer)."""
    from moto.dynamodb.models.dynamo_type import Item

    return Item(hash_key=None, range_key=None, attrs=item).to_json()["Attributes"]


@settings(max_examples=300, deadline=None)
@given(st.lists(items, min_size=1, max_size=5))
def test_query_answer_is_what_the_generic_serializer_answers(page: list[dict[str, Any]]) -> None:
    held = [_as_moto_holds(item) for item in page]
    result = {"Items": held, "Count": len(held), "ScannedCount": len(held), "LastEvaluatedKey": held[-1]}
    assert _serialize("Query", result, direct=True) == _serialize("Query", result, direct=False)


@settings(max_examples=100, deadline=None)
@given(items)
def test_get_item_answer_is_what_the_generic_serializer_answers(item: dict[str, Any]) -> None:
    result = {"Item": _as_moto_holds(item)}
    assert _serialize("GetItem", result, direct=True) == _serialize("GetItem", result, direct=False)


def test_binary_values_are_left_to_the_generic_serializer_which_writes_base64() -> None:
    held = _as_moto_holds({"k": {"S": "a"}, "blob": {"B": b"\x00\xff"}, "deep": {"M": {"b": {"BS": [b"x"]}}}})
    answer = _serialize("GetItem", {"Item": held}, direct=True)
    assert answer["Item"]["blob"] == {"B": "AP8="} and answer["Item"]["deep"] == {"M": {"b": {"BS": ["eA=="]}}}
    assert moto_wire.wire_attribute_value({"B": b"x"}) is moto_wire._GENERIC


@pytest.mark.parametrize(
    "host",
    ["sqs.us-east-1.amazonaws.com", "dynamodb", "dynamodbstreams", "events.eu-west-1.amazonaws.com", "moto_api",
     "nonsense.example", None],
)  # fmt: skip
def test_backend_per_host_is_what_moto_finds(host: str | None) -> None:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    moto_wire.apply()
    original = DomainDispatcherApplication.get_backend_for_host.__wrapped__
    app = DomainDispatcherApplication(create_backend_app)
    first, again = app.get_backend_for_host(host), app.get_backend_for_host(host)
    assert first == again == original(app, host)


@pytest.mark.parametrize(
    "body",
    ['{"Items": [{"note": {"S": "no tag here"}}]}', b"\x00binary", "<R><RequestId>old</RequestId></R>",
     '{"note": {"S": "<RequestId>in a JSON string</RequestId>"}}'],
)  # fmt: skip
def test_a_request_id_is_filled_in_as_moto_does_and_a_body_without_the_tag_is_not_scanned(body, monkeypatch) -> None:
    from moto.core import responses

    moto_wire.apply()
    original = responses.BaseResponse._enrich_response.__wrapped__
    scanned: list[Any] = []
    real_sub = responses.re.sub
    monkeypatch.setattr(responses.re, "sub", lambda *args, **kwargs: scanned.append(args) or real_sub(*args, **kwargs))
    ours = responses.BaseResponse._enrich_response({"status": 200}, body)
    assert bool(scanned) == (isinstance(body, str) and "<RequestId>" in body)
    assert ours[0]["status"] == "200" and len(ours[0]["x-amzn-requestid"]) == 52
    theirs, answered = original({"status": 200}, body)  # moto's own, with an id of its own
    if isinstance(answered, str):
        answered = answered.replace(theirs["x-amzn-requestid"], ours[0]["x-amzn-requestid"])
    assert ours[1] == answered
