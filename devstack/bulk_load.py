"""A bulk load of DynamoDB items into the emulator's tables, with no stream records: what DynamoDB's
ImportTable does in AWS (an import writes no stream records and fires no trigger), for `devstack seed`.

Runs inside the emulator process, behind `POST /_devstack/dynamodb/load {"table": NAME, "path": FILE}`
(loopback only, like every `/_devstack/` route): FILE holds one item a line in DynamoDB JSON
(`{"pk": {"S": ...}, ...}`), written by the seeder on the same machine. Why not BatchWriteItem: every
write would be a stream record, so the outbox relays and the close's stream consumers would read a
million records they must then ignore (or, for DAY# and MAIL# items, act on), and moto's own item
construction costs ~2.5 ms an item (its size check re-measures the whole item on each attribute). Here
an item costs tens of microseconds.

Items are stored exactly where moto's `Table.put_item` stores them (`table.items[hash][range]`), as the
same `Item` and `DynamoType` objects, under the lock `moto_patches` takes for every DynamoDB call; an
item of an existing key is replaced, as PutItem would; devstack's own Query/TTL index of the table, where
there is one, is told of each item as PutItem tells it. Keys are checked against the table's key schema.
Not kept: moto's instance tracker (it only serves `reset`, and would hold every item a second time).
"""

from __future__ import annotations

import gc
import json
import time
from pathlib import Path
from sys import intern
from typing import Any

LOAD_PATH = "/_devstack/dynamodb/load"


class LoadError(ValueError):
    """The request names no such table, or an item does not fit the table's keys."""


def find_table(name: str) -> Any:
    """The moto table of that name, in whichever account and region it lives (devstack uses one)."""
    from moto.dynamodb.models import dynamodb_backends

    for regions in list(dynamodb_backends.values()):
        for backend in list(regions.values()):
            table = backend.tables.get(name)
            if table is not None:
                return table
    raise LoadError(f"no table {name!r} in the emulator")


def load(table_name: str, path: Path) -> dict[str, Any]:
    """Store every item of `path` in the table; returns {table, items, seconds}."""
    started = time.monotonic()
    table = find_table(table_name)
    hash_attr, range_attr = table.hash_key_attr, table.range_key_attr
    collecting = gc.isenabled()
    gc.disable()  # millions of new objects would trigger collections that walk all of them, again and again
    try:
        count = _load_file(table, path, hash_attr, range_attr)
    finally:
        # The loaded items live as long as the emulator: freeze them out of the collector's reach, so no later
        # collection (the emulator's own, every few thousand requests) walks a year of items either.
        gc.freeze()
        if collecting:
            gc.enable()
    return {"table": table_name, "items": count, "seconds": round(time.monotonic() - started, 3)}


def _load_file(table: Any, path: Path, hash_attr: str, range_attr: str | None) -> int:
    from moto.dynamodb.models.dynamo_type import Item, LimitedSizeDict

    from devstack.moto_patches import _DYNAMODB_LOCK
    from devstack.moto_values import ValuePool

    pool = ValuePool()  # equal values typed once (account ids, days, kinds): the seeded year in a quarter less memory

    count = 0
    with path.open() as lines:
        batch: list[dict[str, Any]] = []
        for line in lines:
            if line.strip():
                batch.append(json.loads(line))
            if len(batch) >= 10_000:
                count += _store(table, batch, hash_attr, range_attr, pool.typed, Item, LimitedSizeDict, _DYNAMODB_LOCK)
                batch = []
        count += _store(table, batch, hash_attr, range_attr, pool.typed, Item, LimitedSizeDict, _DYNAMODB_LOCK)
    return count


def _store(table: Any, batch: list[dict[str, Any]], hash_attr: str, range_attr: str | None, typed: Any,
           item_cls: Any, attrs_cls: Any, lock: Any) -> int:  # fmt: skip
    built = []
    for attrs in batch:
        if hash_attr not in attrs or (range_attr is not None and range_attr not in attrs):
            raise LoadError(f"an item of {table.name} lacks its key ({hash_attr}, {range_attr}): {attrs}")
        item = object.__new__(item_cls)  # moto's BaseModel.__new__ would track it forever
        item.attrs = attrs_cls.__new__(attrs_cls)
        # attribute names interned: one string each for the whole table, not one per item (json.loads makes new ones)
        dict.update(item.attrs, {intern(name): typed(value) for name, value in attrs.items()})
        item.hash_key = item.attrs[hash_attr]
        item.range_key = item.attrs[range_attr] if range_attr is not None else None
        built.append(item)
    changed = _index_hook()
    with lock:  # one writer at a time, as for every DynamoDB call of this emulator
        for item in built:
            if item.range_key is not None:
                table.items[item.hash_key][item.range_key] = item
            else:
                table.items[item.hash_key] = item
            if changed is not None:
                changed(table, item.hash_key, item.range_key)
    return len(built)


def _index_hook() -> Any:
    """devstack's sorted partitions for Query and TTL (`devstack.moto_dynamodb_index`, issue 14 point 1), where
    present, must hear of every stored item as they hear of PutItem's; None without them."""
    try:
        from devstack import moto_dynamodb_index
    except ImportError:
        return None
    return getattr(moto_dynamodb_index, "item_changed", None)


def handle(body: bytes) -> tuple[str, dict[str, Any]]:
    """The HTTP answer (status line, JSON body) to a load request."""
    try:
        request = json.loads(body or b"{}")
        return "200 OK", load(str(request["table"]), Path(str(request["path"])))
    except (KeyError, TypeError, ValueError) as error:  # LoadError and JSON errors are ValueErrors
        return "400 Bad Request", {"error": f"{type(error).__name__}: {error}"}
    except OSError as error:
        return "400 Bad Request", {"error": f"cannot read the items: {error}"}
