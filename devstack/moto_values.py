"""Equal scalar attribute values held once: one moto `DynamoType` for every equal S, N, B, BOOL or NULL value.

A seeded year holds 19 million attribute values in 1.4 million items, and 72% of them equal another one
(account ids, days, kinds, amounts, currencies). As separate objects they were a third of the emulator's
11.8 GB, and 22 s of the 85 s its snapshot took to load (pickle builds every object it reads; a value it
has seen is one memo lookup). So the bulk loader types equal values once (`ValuePool.typed`), and a
snapshot shares them in the state it pickles (`share_equal_values`).

Why sharing is safe: moto never changes a scalar value in place. An update stores a new `DynamoType` in
the item; only sets (ADD to SS/NS/BS appends), lists and maps are changed in place, and those are never
shared. A shared value is equal in every item that holds it, which is all an item can see of it.

For the same reason a deep copy of an item need not rebuild its scalar values (`install_shared_copies`).
moto deep-copies an item for every UpdateItem (the stream record's old image), every item a Query or Scan
returns (read after the table's lock is let go), and devstack's transaction undo copies each item a
transaction updates: a new object for every value, which was 8% of the emulator's CPU under bench.load
(py-spy, GIL samples). A copy now shares the scalars and copies sets, lists and maps as moto does.
"""

from __future__ import annotations

from typing import Any

SCALAR_TYPES = frozenset({"S", "N", "B", "BOOL", "NULL"})


class ValuePool:
    """The first `DynamoType` seen for each (type, value): the one every equal value becomes."""

    def __init__(self) -> None:
        from moto.dynamodb.models.dynamo_type import DynamoType

        self.dynamo_type = DynamoType
        self.kept: dict[tuple[str, Any], Any] = {}
        self.shared = 0  # values replaced by an equal one kept before

    def typed(self, raw: dict[str, Any]) -> Any:
        """`DynamoType(raw)` for DynamoDB JSON, the kept one when an equal scalar was typed before."""
        key = _key(*next(iter(raw.items()))) if len(raw) == 1 else None
        if key is None:
            return self.dynamo_type(raw)
        found = self.kept.get(key)
        if found is None:
            found = self.kept[key] = self.dynamo_type(raw)
        else:
            self.shared += 1
        return found

    def share(self, value: Any) -> Any:
        """The kept value equal to `value` (which is kept when it is the first), or `value` when not a scalar."""
        key = _key(getattr(value, "type", None), getattr(value, "value", None))
        if key is None:
            return value
        found = self.kept.setdefault(key, value)
        if found is not value:
            self.shared += 1
        return found


def _key(kind: Any, value: Any) -> tuple[str, Any] | None:
    """(type, value) of a scalar, the key equal values share; None for sets, lists, maps and anything else."""
    return (kind, value) if kind in SCALAR_TYPES and isinstance(value, (str, bool, bytes)) else None


def install_shared_copies() -> None:
    """`copy.deepcopy` of an item or a value shares its scalar values (idempotent)."""
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict

    if getattr(Item.__deepcopy__, "devstack_shared", False):
        return
    copy_container = DynamoType.__deepcopy__  # moto's: sets as new lists, lists and maps element by element

    def copy_value(self: Any, memo: dict[int, Any]) -> Any:
        return self if self.type in SCALAR_TYPES else copy_container(self, memo)

    def copy_item(self: Any, memo: dict[int, Any]) -> Any:
        # moto's Item.__deepcopy__ (no size check per attribute), with its values copied as above
        result = Item.__new__(Item)
        result.hash_key, result.range_key = (None if key is None else copy_value(key, memo)
                                             for key in (self.hash_key, self.range_key))  # fmt: skip
        attrs = LimitedSizeDict.__new__(LimitedSizeDict)
        dict.__init__(attrs)
        for name, value in self.attrs.items():
            dict.__setitem__(attrs, name, copy_value(value, memo))
        result.attrs = attrs
        return result

    copy_item.devstack_shared = True  # type: ignore[attr-defined]
    DynamoType.__deepcopy__ = copy_value  # type: ignore[method-assign]
    Item.__deepcopy__ = copy_item  # type: ignore[method-assign]


def share_equal_values() -> int:
    """Every DynamoDB item's equal scalar values (of live tables and backups) made one object; how many were
    replaced. Table keys go first, so an item's key is the very object its table's dict is keyed by."""
    from moto.dynamodb.models import dynamodb_backends

    pool = ValuePool()
    seen: set[int] = set()  # a backup holds its table's items (moto_backups): each is walked once
    for regions in list(dynamodb_backends.values()):
        for backend in list(regions.values()):
            tables = [*backend.tables.values(), *(backup.table for backup in backend.backups.values())]
            for table in tables:
                _share_table(pool, table, seen)
    return pool.shared


def _share_table(pool: ValuePool, table: Any, seen: set[int]) -> None:
    ranged = table.range_key_attr is not None
    for hash_key, stored in table.items.items():
        pool.share(hash_key)
        items = stored.items() if ranged else ((None, stored),)
        for range_key, item in items:
            if range_key is not None:
                pool.share(range_key)
            if id(item) in seen:
                continue
            seen.add(id(item))
            item.hash_key = pool.share(item.hash_key)
            if item.range_key is not None:
                item.range_key = pool.share(item.range_key)
            attrs = item.attrs
            for name, value in attrs.items():
                kept = pool.share(value)
                if kept is not value:
                    dict.__setitem__(attrs, name, kept)  # moto's LimitedSizeDict would re-measure the item
