"""The emulator's DynamoDB key hash (devstack/moto_patches.py `key_hash`) is moto's own for every value:
a dict of items keyed by it finds exactly what moto's would."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from moto.dynamodb.models.dynamo_type import DynamoType

from devstack.moto_patches import key_hash

values = st.one_of(
    st.builds(lambda s: {"S": s}, st.text(max_size=20)),
    st.builds(lambda n: {"N": str(n)}, st.decimals(allow_nan=False, allow_infinity=False, places=3)),
    st.builds(lambda b: {"B": b}, st.binary(max_size=12)),
    st.builds(lambda b: {"BOOL": b}, st.booleans()),
)  # the types a key can have, and more (sets, lists and maps are unhashable in moto as here)


@settings(deadline=None)
@given(values)
def test_the_key_hash_is_motos_hash_of_type_and_cast_value(raw):
    value = DynamoType(raw)
    assert key_hash(value) == hash((value.type, value.cast_value))


def test_equal_numbers_written_differently_hash_alike():
    one, same = DynamoType({"N": "1"}), DynamoType({"N": "1.0"})
    assert one == same and key_hash(one) == key_hash(same) and one.cast_value == Decimal(1)
