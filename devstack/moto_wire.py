"""The emulator's per-request costs that do not depend on the data stored: finding the backend for a
request, and writing DynamoDB's answer. Applied by ``moto_patches.apply()``, in the emulator process only.

Why (py-spy on the emulator under bench.load, which is one process and so the whole stack's ceiling):
- moto's ``DomainDispatcherApplication.get_backend_for_host`` runs for every request, under a lock, and
  for a plain ``sqs.us-east-1.amazonaws.com`` lists moto's package directory and tries a few hundred URL
  patterns before it answers the same backend it answered last time (about 10% of the emulator's CPU).
  The answer depends on the host string only, so it is remembered per host.
- DynamoDB's answers go through moto's generic, botocore-shape-driven serializer, which walks every
  attribute of every item through a value picker that tries several spellings of each key (about 20%
  of the emulator's CPU). An ``AttributeValue`` moto holds is already in the wire's shape, so it is
  copied as it is; anything unusual (binary values, which the wire carries in base64, or a key or
  value type the fast path does not know) still goes the generic way. ``tests/unit/test_moto_wire.py``
  compares both ways on random items.
- Every answer passes moto's ``_enrich_response``, which looks for an XML ``<RequestId>`` to fill in with a
  regular expression that tries a look-behind at every character of the body: a Query's page of items is
  scanned for a tag that a JSON answer never holds. The scan now runs only on a body that holds the tag,
  the one place it can change anything; the request id is made as before (the same random draws, which
  the journal's replay depends on).
"""

from __future__ import annotations

import functools
from typing import Any

# AttributeValue members whose wire form is the value moto keeps, as the generic serializer writes them.
_STRINGS = ("S", "N")
_STRING_SETS = ("SS", "NS")
_BOOLEANS = ("BOOL", "NULL")
_NESTED = ("M", "L")
_KNOWN = frozenset(_STRINGS + _STRING_SETS + _BOOLEANS + _NESTED)
_GENERIC = object()  # this value needs the generic serializer


def apply() -> None:
    _remember_backends_per_host()
    _serialize_dynamodb_items_directly()
    _fill_request_ids_in_xml_only()


def _fill_request_ids_in_xml_only() -> None:
    from moto.core.responses import BaseResponse
    from moto.utilities.aws_headers import gen_amzn_requestid_long

    original = BaseResponse._enrich_response
    if getattr(original, "devstack_xml_only", False):
        return

    def enrich_response(headers: dict[str, Any], body: Any) -> tuple[dict[str, Any], Any]:
        if isinstance(body, str) and "<RequestId>" in body:
            return original(headers, body)  # type: ignore[no-any-return]
        if "status" in headers:  # what moto's does besides the scan, in its order
            headers["status"] = str(headers["status"])
        gen_amzn_requestid_long(headers)
        return headers, body

    enrich_response.devstack_xml_only = True  # type: ignore[attr-defined]
    enrich_response.__wrapped__ = original  # type: ignore[attr-defined]
    BaseResponse._enrich_response = staticmethod(enrich_response)  # type: ignore[assignment]


def _remember_backends_per_host() -> None:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    original = DomainDispatcherApplication.get_backend_for_host
    if getattr(original, "devstack_cached", False):
        return

    @functools.wraps(original)
    def get_backend_for_host(self: Any, host: str | None) -> Any:
        if host is None:
            return None
        cache = self.__dict__.setdefault("_devstack_backend_of_host", {})
        if host not in cache:
            cache[host] = original(self, host)
        return cache[host]

    get_backend_for_host.devstack_cached = True  # type: ignore[attr-defined]
    DomainDispatcherApplication.get_backend_for_host = get_backend_for_host  # type: ignore[method-assign]


def wire_attribute_value(value: Any) -> Any:
    """The wire form of one AttributeValue moto holds, or ``_GENERIC`` when only the generic serializer
    can tell (binary values, unknown members, values of an unexpected type)."""
    if type(value) is not dict or not value.keys() <= _KNOWN:
        return _GENERIC
    wire: dict[str, Any] = {}
    for member, member_value in value.items():
        if member_value is None:
            continue  # the generic serializer leaves out a member that is None
        if member in _STRINGS:
            if type(member_value) is not str:
                return _GENERIC
        elif member in _STRING_SETS:
            if type(member_value) is not list or any(type(v) is not str for v in member_value):
                return _GENERIC
            member_value = list(member_value)
        elif member in _BOOLEANS:
            if type(member_value) is not bool:
                return _GENERIC
        elif member == "M":
            if type(member_value) is not dict:
                return _GENERIC
            nested = {}
            for name, item in member_value.items():
                nested[name] = wire_attribute_value(item)
                if nested[name] is _GENERIC:
                    return _GENERIC
            member_value = nested
        else:  # "L"
            if type(member_value) is not list:
                return _GENERIC
            elements = [wire_attribute_value(item) for item in member_value]
            if any(element is _GENERIC for element in elements):
                return _GENERIC
            member_value = elements
        wire[member] = member_value
    return wire


def _serialize_dynamodb_items_directly() -> None:
    from moto.core import serialize

    if "json" in serialize.SERVICE_SPECIFIC_SERIALIZERS.get("dynamodb", {}):
        return

    class DynamoDBJSONSerializer(serialize.JSONSerializer):  # type: ignore[misc,valid-type]
        def _serialize(self, serialized: Any, value: Any, shape: Any, key: str) -> None:
            if key and shape.name == "AttributeValue":
                wire = wire_attribute_value(value)
                if wire is not _GENERIC:
                    self._default_serialize(serialized, wire, shape, key)
                    return
            super()._serialize(serialized, value, shape, key)

    serialize.SERVICE_SPECIFIC_SERIALIZERS["dynamodb"] = {"json": DynamoDBJSONSerializer}
