"""Sorted partitions for moto's DynamoDB, so a Query costs what it costs in DynamoDB: its page.

Why: moto 5.2.5 ``Table.query`` builds and sorts a list of *every item of the table* (for a query on
the table as much as on an index), then walks from the first item of the partition to the
``ExclusiveStartKey``: one Query of a 20-item page cost O(table) (API time-outs at 50,000 items;
a year of ledger is a million). SPEC R-LOC-2 wants the emulator's costs flat as data grows.

What: for every table, and every index of it, a dict from partition key value to the partition's
items sorted exactly as moto sorts them (the same attributes, the same order), kept current on
every write path: ``Table.put_item`` and ``Table.delete_item`` (PutItem, BatchWriteItem, PartiQL,
imports, transactions, TTL deletes), ``DynamoDBBackend.update_item`` (which changes the stored
item in place: an index key may change) and the rollback of devstack's TransactWriteItems
(``item_changed``). A Query then bisects to its key range and to its ``ExclusiveStartKey``
inside one partition and stops at ``Limit`` or 1 MB, running moto's own loop body on the items it
reads, so results, order, ``LastEvaluatedKey``, ``Count`` and ``ScannedCount`` are moto's.

Every query the fast path is not sure to answer exactly as moto does (legacy ``KeyConditions`` or
``QueryFilter``, multi-attribute index keys, key values of another type than the table declares,
an ``ExclusiveStartKey`` lacking a key attribute, a malformed request moto answers with an
error...) runs moto's own query, unchanged. The structures are rebuilt (once, O(table)) when a
table's indexes change or its items are replaced (a restored table, a new GSI).

Also here: ``len(table)`` (DescribeTable's ItemCount) in O(1); a table Scan that starts its page at
its start key (moto sorts the whole table per page); for devstack's TTL sweeper, the keys of the
expired items from a sorted index (``expired_keys``); an Item's size checked once, not once per
attribute.
"""

from __future__ import annotations

import bisect
import copy
import functools
import itertools
from collections.abc import Iterable
from typing import Any

_STATE = "_devstack_index"
# Tests and benchmarks turn this off to ask moto's own query (or scan) the same question on the same data.
fast_queries = True
# How many queries and scans each path answered (tests assert the fast one was taken; benchmarks report it).
answered = {"fast": 0, "moto": 0}
_CHUNK = 512  # a partition's chunk size (see _Partition)
_ITEM_SIZE_MAX = 400 * 1024  # moto refuses larger items (ItemSizeTooLarge), as DynamoDB does


class _Partition:
    """One partition of a view: sort keys (tuples of cast values) ascending, each with its item's primary key.

    Kept in chunks of at most ``2 * _CHUNK`` (a list per chunk, and each chunk's greatest key): an
    insert or a delete moves at most a chunk, so writing to a partition of a million items (one
    index value for all tasks, say) costs what it costs in a small one. Positions are global.
    """

    __slots__ = ("_ends", "key_chunks", "maxes", "pk_chunks")

    def __init__(self) -> None:
        self.key_chunks: list[list[tuple[Any, ...]]] = []
        self.pk_chunks: list[list[tuple[Any, Any]]] = []
        self.maxes: list[tuple[Any, ...]] = []
        self._ends: list[int] | None = []  # position after each chunk; None: recompute

    def __len__(self) -> int:
        ends = self._positions()
        return ends[-1] if ends else 0

    def add(self, key: tuple[Any, ...], pk: tuple[Any, Any]) -> None:
        self._ends = None
        if not self.key_chunks:
            self.key_chunks.append([key])
            self.pk_chunks.append([pk])
            self.maxes.append(key)
            return
        chunk = min(bisect.bisect_left(self.maxes, key), len(self.maxes) - 1)
        keys, pks = self.key_chunks[chunk], self.pk_chunks[chunk]
        at = bisect.bisect_left(keys, key)
        keys.insert(at, key)
        pks.insert(at, pk)
        self.maxes[chunk] = keys[-1]
        if len(keys) > 2 * _CHUNK:
            self.key_chunks[chunk : chunk + 1] = [keys[:_CHUNK], keys[_CHUNK:]]
            self.pk_chunks[chunk : chunk + 1] = [pks[:_CHUNK], pks[_CHUNK:]]
            self.maxes[chunk : chunk + 1] = [keys[_CHUNK - 1], keys[-1]]

    def remove(self, key: tuple[Any, ...], pk: tuple[Any, Any]) -> None:
        self._ends = None
        for chunk in range(bisect.bisect_left(self.maxes, key), len(self.maxes)):
            keys, pks = self.key_chunks[chunk], self.pk_chunks[chunk]
            at = bisect.bisect_left(keys, key)
            while at < len(keys) and keys[at] == key:
                if pks[at] == pk:
                    del keys[at]
                    del pks[at]
                    if keys:
                        self.maxes[chunk] = keys[-1]
                    else:
                        del self.key_chunks[chunk], self.pk_chunks[chunk], self.maxes[chunk]
                    return
                at += 1
            if at < len(keys):
                break
        raise AssertionError(f"devstack index out of step with the table: {key} not found")

    def pk_at(self, position: int) -> tuple[Any, Any]:
        ends = self._positions()
        chunk = bisect.bisect_right(ends, position)
        return self.pk_chunks[chunk][position - (ends[chunk - 1] if chunk else 0)]

    def left(self, key: Any, by_first: bool = False) -> int:
        """bisect_left over all keys (by their first member only when ``by_first``)."""
        return self._bisect(bisect.bisect_left, key, _first if by_first else None)

    def right(self, key: Any, by_first: bool = False) -> int:
        return self._bisect(bisect.bisect_right, key, _first if by_first else None)

    def _bisect(self, how: Any, key: Any, by: Any) -> int:
        ends = self._positions()
        chunk = how(self.maxes, key, key=by)
        if chunk == len(self.maxes):
            return ends[-1] if ends else 0
        return (ends[chunk - 1] if chunk else 0) + how(self.key_chunks[chunk], key, key=by)

    def _positions(self) -> list[int]:
        if self._ends is None:
            self._ends = list(itertools.accumulate(map(len, self.key_chunks)))
        return self._ends


class _View:
    """The table itself (``name`` None) or one of its indexes, as moto's Query sorts it.

    ``sort_attrs`` is moto's ``_generate_attr_to_sort_by`` for that query: the partition attribute
    first, then the index range key(s), then the table's keys. ``types`` the declared type of each.
    An item is in the view when it has the partition attribute and the index's range key (moto's
    rules); one whose key values are of another type than declared is *irregular*: moto would
    compare it across types, so queries of a view holding any fall back to moto's own query.
    """

    __slots__ = (
        "irregular",
        "name",
        "order",
        "partitions",
        "range_attr",
        "required",
        "sort_attrs",
        "supported",
        "types",
    )

    def __init__(self, name: str | None, sort_attrs: list[str], types: list[str | None], required: list[str]) -> None:
        self.name = name
        self.sort_attrs = sort_attrs
        self.types = types
        self.required = required
        self.range_attr = sort_attrs[1] if len(sort_attrs) > 1 else None
        self.partitions: dict[Any, _Partition] = {}
        # the table's own view only: its partition values in order, for Scan (moto scans in key order)
        self.order: _Partition | None = _Partition() if name is None else None
        self.irregular: set[tuple[Any, Any]] = set()
        self.supported = all(t is not None for t in types)

    def entry(self, item: Any) -> tuple[Any, tuple[Any, ...]] | bool | None:
        """(partition value, sort key) of ``item`` in this view; None if not in it; False if irregular."""
        attrs = item.attrs
        for name in self.required:
            if attrs.get(name) is None:
                return None
        values = []
        for name, declared in zip(self.sort_attrs, self.types, strict=True):
            value = attrs.get(name)
            if value is None or value.type != declared:
                return False
            values.append(value.cast_value)
        return values[0], tuple(values[1:])


class _ExpiryView:
    """Items by the number in one TTL attribute, for devstack's sweeper (``expired_keys``).

    moto never expires items; devstack's sweeper deletes the expired ones itself. Scanning every
    table for them once a minute cost O(table) a minute, forever (a year of ledger: the emulator
    never idle). Same rule as the sweeper's: only a number (epoch seconds) counts.
    """

    __slots__ = ("attribute", "irregular", "name", "order", "partitions", "supported")

    def __init__(self, attribute: str) -> None:
        self.attribute = attribute
        self.name = ("ttl", attribute)
        self.partitions: dict[Any, _Partition] = {}
        self.order = None
        self.irregular: set[tuple[Any, Any]] = set()
        self.supported = True

    def entry(self, item: Any) -> tuple[Any, tuple[Any, ...]] | None:
        value = item.attrs.get(self.attribute)
        if value is None or value.type != "N":
            return None
        try:
            return self.attribute, (float(value.value),)
        except (TypeError, ValueError):
            return None


class _State:
    """The views of one table and, per item, where it is in each (to remove it when it changes)."""

    def __init__(self, table: Any) -> None:
        self.items = table.items
        self.global_indexes = table.global_indexes
        self.indexes = table.indexes
        self.views: list[Any] = _views(table)
        self.by_name = {view.name: view for view in self.views}
        # (hash DynamoType, range DynamoType | None) -> ((view, partition value, sort key) | (view, None, None), ...)
        self.placed: dict[tuple[Any, Any], tuple[tuple[_View, Any, Any], ...]] = {}

    def current(self, table: Any) -> bool:
        return (
            self.items is table.items and self.global_indexes is table.global_indexes and self.indexes is table.indexes
        )

    def expiry(self, table: Any, attribute: str) -> _Partition:
        """The items with a number in ``attribute``, by that number (placed on first use, then kept)."""
        view = self.by_name.get(("ttl", attribute))
        if view is None:
            view = _ExpiryView(attribute)
            self.views.append(view)
            self.by_name[view.name] = view
            for pk, placed in self.placed.items():
                entry = view.entry(stored_item(table, pk))
                if entry is not None:
                    partition = view.partitions.setdefault(attribute, _Partition())
                    partition.add(entry[1], pk)
                    self.placed[pk] = (*placed, (view, attribute, entry[1]))
        return view.partitions.get(attribute) or _Partition()

    def __deepcopy__(self, memo: dict[int, Any]) -> None:
        # a copied table (a backup, a restore) rebuilds its own on first use
        return None

    def place(self, table: Any, pk: tuple[Any, Any]) -> None:
        for view, partition_value, key in self.placed.pop(pk, ()):
            if partition_value is None:
                view.irregular.discard(pk)
                continue
            partition = view.partitions[partition_value]
            partition.remove(key, pk)
            if not len(partition):
                del view.partitions[partition_value]
                if view.order is not None:
                    view.order.remove((partition_value,), partition_value)
        item = stored_item(table, pk)
        if item is None:
            return
        placed = []
        for view in self.views:
            if not view.supported:
                continue
            entry = view.entry(item)
            if entry is None:
                continue
            if entry is False:
                view.irregular.add(pk)
                placed.append((view, None, None))
                continue
            partition_value, key = entry  # type: ignore[misc]
            partition = view.partitions.get(partition_value)
            if partition is None:
                partition = view.partitions[partition_value] = _Partition()
                if view.order is not None:
                    view.order.add((partition_value,), partition_value)
            partition.add(key, pk)
            placed.append((view, partition_value, key))
        self.placed[pk] = tuple(placed)


def _views(table: Any) -> list[_View]:
    """The table's views, their sort attributes computed by moto's own code, as Table.query does."""
    from moto.dynamodb.models.table import GlobalSecondaryIndex

    declared = {a["AttributeName"]: a["AttributeType"] for a in table.attr}
    declared[table.hash_key_attr] = table.hash_key_type
    if table.range_key_attr:
        declared[table.range_key_attr] = table.range_key_type
    views = [
        _View(
            None,
            table._generate_attr_to_sort_by([table.hash_key_attr], [table.range_key_attr]),
            [],
            [table.hash_key_attr],
        )
    ]
    for index in table.all_indexes():
        hash_keys = [k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"]
        range_keys = [k["AttributeName"] for k in index.schema if k["KeyType"] == "RANGE"]
        if len(hash_keys) != 1 or len(range_keys) > 1:
            view = _View(index.name, [*hash_keys, *range_keys], [], [])
            view.supported = False  # multi-attribute keys: moto's own query
            views.append(view)
            continue
        range_attrs: list[str | None]
        if range_keys:
            range_attrs = [range_keys[0], table.range_key_attr]
        elif isinstance(index, GlobalSecondaryIndex) and table.range_key_attr:
            range_attrs = [table.range_key_attr, table.range_key_attr]
        else:
            range_attrs = [table.hash_key_attr, table.range_key_attr]
        sort_attrs = table._generate_attr_to_sort_by([hash_keys[0], table.hash_key_attr], range_attrs)
        views.append(_View(index.name, sort_attrs, [], [hash_keys[0], *range_keys]))
    for view in views:
        view.types = [declared.get(name) for name in view.sort_attrs]
        view.supported = view.supported and all(t is not None for t in view.types)
    return views


def stored_item(table: Any, pk: tuple[Any, Any]) -> Any:
    """The table's item at (hash key, range key or None), or None; never stores an empty partition."""
    hash_key, range_key = pk
    if table.range_key_attr is None:
        return table.items.get(hash_key)
    partition = table.items.get(hash_key)  # .get: indexing the defaultdict would create it
    return None if partition is None else partition.get(range_key)


def _state(table: Any) -> _State:
    state = table.__dict__.get(_STATE)
    if state is None or not state.current(table):
        state = _State(table)
        table.__dict__[_STATE] = state
        for pk in list(_all_pks(table)):
            state.place(table, pk)
    return state


def _all_pks(table: Any) -> Iterable[tuple[Any, Any]]:
    if table.range_key_attr is None:
        for item in table.items.values():
            yield (item.hash_key, None)
        return
    for partition in table.items.values():
        for item in partition.values():
            yield (item.hash_key, item.range_key)


def item_changed(table: Any, hash_key: Any, range_key: Any) -> None:
    """The item at this primary key was written, replaced, updated, deleted or restored: re-place it."""
    _state(table).place(table, (hash_key, range_key if table.range_key_attr else None))


def expired_keys(table: Any, attribute: str, now: float, limit: int) -> list[dict[str, Any]]:
    """Keys (DynamoDB JSON) of at most ``limit`` items whose number in ``attribute`` is below ``now``, oldest first."""
    partition = _state(table).expiry(table, attribute)
    keys = []
    for position in range(min(partition.left((now,)), limit)):
        hash_key, range_key = partition.pk_at(position)
        key = {table.hash_key_attr: hash_key.to_json()}
        if table.range_key_attr is not None:
            key[table.range_key_attr] = range_key.to_json()
        keys.append(key)
    return keys


# --------------------------------------------------------------------------------------------
# Query
# --------------------------------------------------------------------------------------------


def _fast_query(
    table: Any,
    hash_key: Any,
    range_comparison: str | None,
    range_objs: list[Any],
    limit: int | None,
    exclusive_start_key: dict[str, Any] | None,
    scan_index_forward: bool,
    projection_expressions: Any,
    index_name: str | None,
    consistent_read: bool,
    filter_expression: Any,
    hash_key_conditions: list[tuple[str, Any]] | None,
    range_key_conditions: list[tuple[str, str, list[Any]]] | None,
    filter_kwargs: dict[str, Any],
) -> tuple[list[Any], int, dict[str, Any] | None] | None:
    """moto's Table.query over one sorted partition, or None when only moto's own query is sure to be exact."""
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import RESULT_SIZE_LIMIT

    if filter_kwargs or hash_key is None or len(hash_key_conditions or ()) != 1:
        return None
    if limit is not None and (type(limit) is not int or limit < 1):
        return None
    if index_name is not None:
        index = {i.name: i for i in table.all_indexes()}.get(index_name)
        if index is None or (consistent_read and index in table.global_indexes):
            return None  # moto's errors
    state = _state(table)
    view = state.by_name.get(index_name)
    if view is None or not view.supported or view.irregular:
        return None
    hash_name, hash_value = hash_key_conditions[0]  # type: ignore[index]
    if hash_name != view.sort_attrs[0] or hash_value != hash_key or hash_key.type != view.types[0]:
        return None
    range_conditions = range_key_conditions or []
    if len(range_conditions) > 1 or bool(range_conditions) != bool(range_comparison):
        return None
    if range_comparison:
        name, _, _ = range_conditions[0]
        if name != view.range_attr or name is None or (index_name is not None and len(view.required) < 2):
            return None  # (an index without a range key: moto raises)
        if any(obj.type != view.types[1] for obj in range_objs):
            return None
        if range_comparison == "BEGINS_WITH" and view.types[1] not in ("S", "B"):
            return None
        if len(range_objs) != (2 if range_comparison == "BETWEEN" else 1):
            return None

    part_value = hash_key.cast_value
    partition = view.partitions.get(part_value)
    if partition is None:
        partition = _Partition()
    count = len(partition)

    low, high = 0, count
    if range_comparison:
        low, high = _window(partition, range_comparison, [obj.cast_value for obj in range_objs])
        high = max(low, high)

    # ExclusiveStartKey: moto skips the items that "come before or at" it (_item_comes_before_dct)
    start = 0 if scan_index_forward else count
    if exclusive_start_key is not None:
        esk: list[Any] = []
        for name, declared in zip(view.sort_attrs, view.types, strict=True):
            raw = exclusive_start_key.get(name)
            if not isinstance(raw, dict):
                return None
            value = DynamoType(raw)
            if value.type != declared:
                return None
            esk.append(value.cast_value)
        esk_part, esk_rest = esk[0], tuple(esk[1:])
        if esk_part == part_value:
            start = partition.right(esk_rest) if scan_index_forward else partition.left(esk_rest)
        elif (part_value < esk_part) == scan_index_forward:
            start = count if scan_index_forward else 0  # every item comes before it
    if scan_index_forward:
        in_window: Iterable[int] = range(max(start, low), high)
        after = range(max(high, start), count)
    else:
        in_window = range(min(high, start) - 1, low - 1, -1)
        after = range(min(low, start) - 1, -1, -1)

    range_attr = view.range_attr if range_comparison else None
    items = table.items
    has_range = table.range_key_attr is not None

    def stored(position: int) -> Any:
        item_hash, item_range = partition.pk_at(position)
        return items[item_hash][item_range] if has_range else items[item_hash]

    # moto's loop over its sorted list, from the first item after the ExclusiveStartKey on. Items
    # before the key range never change anything there (no result yet, and no item is over
    # 1 MB); items after it only end the page (Limit reached, or 1 MB).
    results: list[Any] = []
    result_size = 0
    scanned_count = 0
    last_evaluated_key = None
    ended = False
    for position in in_window:
        result = stored(position)
        reached_length_limit = len(results) == limit
        reached_size_limit = (result_size + result.size()) > RESULT_SIZE_LIMIT
        if reached_length_limit or reached_size_limit:
            last_evaluated_key = table._get_last_evaluated_key(results[-1], index_name)
            ended = True
            break
        if not range_comparison:
            results.append(result)
            result_size += result.size()
            scanned_count += 1
        else:
            value = result.attrs.get(range_attr)
            if value is not None and value.compare(range_comparison, range_objs):
                results.append(result)
                result_size += result.size()
                scanned_count += 1
    if not ended and results and len(after):
        if len(results) == limit:
            last_evaluated_key = table._get_last_evaluated_key(results[-1], index_name)
        elif result_size + _ITEM_SIZE_MAX > RESULT_SIZE_LIMIT:
            for position in after:
                if (result_size + stored(position).size()) > RESULT_SIZE_LIMIT:
                    last_evaluated_key = table._get_last_evaluated_key(results[-1], index_name)
                    break

    # moto's tail, unchanged
    results = copy.deepcopy(results)
    if index_name:
        index = table.get_index(index_name)
        results = [index.project(r) for r in results]
    if filter_expression is not None:
        results = [item for item in results if filter_expression.expr(item)]
    if projection_expressions:
        results = [r.project(projection_expressions) for r in results]
    return results, scanned_count, last_evaluated_key


def _fast_scan(
    table: Any,
    filters: dict[str, Any],
    limit: int | None,
    exclusive_start_key: dict[str, Any] | None,
    filter_expression: Any,
    index_name: str | None,
    projection_expression: Any,
    segments: tuple[Any, Any],
) -> tuple[list[Any], int, dict[str, Any] | None] | None:
    """moto's Table.scan of the table (not an index) from its start key on, or None: moto's own scan.

    moto sorts every item of the table for every page and walks from the first to the start key;
    here the walk starts at the start key (partition values in order, then the partition's items).
    """
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import RESULT_SIZE_LIMIT

    if index_name or filters or segments != (None, None):
        return None
    if limit is not None and (type(limit) is not int or limit < 1):
        return None
    state = _state(table)
    view = state.by_name[None]
    order = view.order
    assert order is not None
    first, skip_to = 0, None
    if exclusive_start_key is not None:
        esk: list[Any] = []
        for name, declared in zip(view.sort_attrs, view.types, strict=True):
            raw = exclusive_start_key.get(name)
            if not isinstance(raw, dict):
                return None
            value = DynamoType(raw)
            if value.type != declared:
                return None
            esk.append(value.cast_value)
        # partitions before the key's are skipped whole; in its own, the items up to the key
        first = order.left((esk[0],))
        skip_to = (esk[0], tuple(esk[1:]))

    items = table.items
    has_range = table.range_key_attr is not None

    def in_order() -> Iterable[Any]:
        for position in range(first, len(order)):
            partition_value = order.pk_at(position)
            partition = view.partitions[partition_value]
            start = 0
            if skip_to is not None and partition_value == skip_to[0]:
                start = partition.right(skip_to[1])
            for at in range(start, len(partition)):
                item_hash, item_range = partition.pk_at(at)
                yield items[item_hash][item_range] if has_range else items[item_hash]

    # moto's loop (without segments and ScanFilter: those ran moto's own scan)
    results: list[Any] = []
    result_size = 0
    scanned_count = 0
    last_evaluated_key = None
    for item in in_order():
        reached_length_limit = len(results) == limit
        reached_size_limit = (result_size + item.size()) > RESULT_SIZE_LIMIT
        if reached_length_limit or reached_size_limit:
            last_evaluated_key = table._get_last_evaluated_key(results[-1], index_name)
            break
        results.append(copy.deepcopy(item))
        result_size += item.size()
        scanned_count += 1

    if filter_expression is not None:
        results = [item for item in results if filter_expression.expr(item)]
    if projection_expression:
        results = [r.project(projection_expression) for r in results]
    return results, scanned_count, last_evaluated_key


def _window(partition: _Partition, comparison: str, values: list[Any]) -> tuple[int, int]:
    """Positions [low, high) of the sort keys whose first member can satisfy the key condition.

    A superset is enough for correctness (moto's comparison still runs on every item in it); these
    bounds are exact, so nothing outside is read.
    """
    first = values[0]
    count = len(partition)
    if comparison == "=":
        return partition.left(first, by_first=True), partition.right(first, by_first=True)
    if comparison == "<":
        return 0, partition.left(first, by_first=True)
    if comparison == "<=":
        return 0, partition.right(first, by_first=True)
    if comparison == ">":
        return partition.right(first, by_first=True), count
    if comparison == ">=":
        return partition.left(first, by_first=True), count
    if comparison == "BETWEEN":
        return partition.left(first, by_first=True), partition.right(values[1], by_first=True)
    if comparison == "BEGINS_WITH":
        # every string that starts with the prefix sorts in [prefix, the prefix's successor)
        successor = _successor(first) if isinstance(first, str) else None
        high = count if successor is None else partition.left(successor, by_first=True)
        return partition.left(first, by_first=True), high
    return 0, count


def _first(key: tuple[Any, ...]) -> Any:
    return key[0]


def _successor(prefix: str) -> str | None:
    """The least string greater than every string starting with ``prefix`` (None: there is none)."""
    while prefix:
        last = ord(prefix[-1])
        if last < 0x10FFFF:
            return prefix[:-1] + chr(last + 1)
        prefix = prefix[:-1]
    return None


# --------------------------------------------------------------------------------------------
# applying
# --------------------------------------------------------------------------------------------


def apply() -> None:
    """Patch moto's Table and DynamoDBBackend (called by moto_patches.apply, once)."""
    from moto.dynamodb import models as ddb
    from moto.dynamodb.models import dynamo_type
    from moto.dynamodb.models.table import Table

    original_query = Table.query
    original_scan = Table.scan
    original_put = Table.put_item
    original_delete = Table.delete_item
    original_update = ddb.DynamoDBBackend.update_item

    @functools.wraps(original_query)
    def query(
        self: Any,
        hash_key: Any,
        range_comparison: Any,
        range_objs: Any,
        limit: Any,
        exclusive_start_key: Any,
        scan_index_forward: Any,
        projection_expressions: Any,
        index_name: Any = None,
        consistent_read: Any = False,
        filter_expression: Any = None,
        hash_key_conditions: Any = None,
        range_key_conditions: Any = None,
        **filter_kwargs: Any,
    ) -> Any:
        answer = (
            None
            if not fast_queries
            else _fast_query(
                self,
                hash_key,
                range_comparison,
                range_objs,
                limit,
                exclusive_start_key,
                scan_index_forward,
                projection_expressions,
                index_name,
                consistent_read,
                filter_expression,
                hash_key_conditions,
                range_key_conditions,
                filter_kwargs,
            )
        )
        if answer is not None:
            answered["fast"] += 1
            return answer
        answered["moto"] += 1
        return original_query(
            self,
            hash_key,
            range_comparison,
            range_objs,
            limit,
            exclusive_start_key,
            scan_index_forward,
            projection_expressions,
            index_name,
            consistent_read,
            filter_expression,
            hash_key_conditions=hash_key_conditions,
            range_key_conditions=range_key_conditions,
            **filter_kwargs,
        )

    @functools.wraps(original_scan)
    def scan(
        self: Any,
        filters: Any,
        limit: Any,
        exclusive_start_key: Any,
        filter_expression: Any = None,
        index_name: Any = None,
        consistent_read: Any = False,
        projection_expression: Any = None,
        segments: Any = (None, None),
    ) -> Any:
        answer = None
        if fast_queries:
            answer = _fast_scan(
                self,
                filters,
                limit,
                exclusive_start_key,
                filter_expression,
                index_name,
                projection_expression,
                segments,
            )
        if answer is not None:
            answered["fast"] += 1
            return answer
        answered["moto"] += 1
        return original_scan(
            self,
            filters,
            limit,
            exclusive_start_key,
            filter_expression,
            index_name,
            consistent_read,
            projection_expression,
            segments=segments,
        )

    @functools.wraps(original_put)
    def put_item(self: Any, *args: Any, **kwargs: Any) -> Any:
        item = original_put(self, *args, **kwargs)
        item_changed(self, item.hash_key, item.range_key)
        return item

    @functools.wraps(original_delete)
    def delete_item(self: Any, hash_key: Any, range_key: Any) -> Any:
        item = original_delete(self, hash_key, range_key)
        if item is not None:
            item_changed(self, item.hash_key, item.range_key)
        return item

    @functools.wraps(original_update)
    def update_item(self: Any, table_name: str, key: Any, *args: Any, **kwargs: Any) -> Any:
        # The stored item is changed in place (an index key may change): re-place it afterwards,
        # also when moto raised halfway.
        try:
            return original_update(self, table_name, key, *args, **kwargs)
        finally:
            _update_done(self, table_name, key)

    def length(self: Any) -> int:
        """Copy of moto 5.2.5 Table.__len__ in O(1): the number of items placed in the table's view."""
        from devstack import moto_patches

        with moto_patches.dynamodb_lock():  # DescribeTable is not among the locked calls; writes are
            state = self.__dict__.get(_STATE)
            if state is None or not state.current(self):
                # views not built (a backup's table, never queried): count as moto does, in O(partitions);
                # building them for a year's ledger took 54 s, for a DescribeBackup
                return sum(len(stored) for stored in self.items.values()) if self.has_range_key else len(self.items)
            return len(state.placed)

    Table.query = query  # type: ignore[method-assign]
    Table.scan = scan  # type: ignore[method-assign]
    Table.put_item = put_item  # type: ignore[method-assign]
    Table.delete_item = delete_item  # type: ignore[method-assign]
    Table.__len__ = length  # type: ignore[method-assign]
    ddb.DynamoDBBackend.update_item = update_item  # type: ignore[method-assign]
    dynamo_type.Item.__init__ = _item_init  # type: ignore[method-assign]
    Table.get_item = _get_item  # type: ignore[method-assign]


def _get_item(self: Any, hash_key: Any, range_key: Any = None, projection_expression: Any = None) -> Any:
    """Copy of moto 5.2.5 Table.get_item that leaves no empty partition behind.

    ``self.items[hash_key][range_key]`` on moto's defaultdict stored an empty dict for every
    partition key asked for and not found: memory that grew with every missed GetItem (an
    idempotency check of a new event id, say). Same results and errors.
    """
    from moto.dynamodb.exceptions import MockValidationException

    if self.has_range_key and not range_key:
        raise MockValidationException("Table has a range key, but no range key was passed into get_item")
    try:
        result = None

        if range_key:
            result = self.items.get(hash_key, {})[range_key]  # devstack: was self.items[hash_key][range_key]
        elif hash_key in self.items:
            result = self.items[hash_key]

        if projection_expression and result:
            result = result.project(projection_expression)

        return result
    except KeyError:
        return None


def _item_init(self: Any, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
    """Copy of moto 5.2.5 Item.__init__ that checks the item's size once, not once per attribute.

    moto's LimitedSizeDict re-sizes the whole item for every attribute set (O(attributes^2) per
    put: two thirds of a 10-attribute put). Sizes only add up, so the sum exceeds the limit at
    some attribute exactly when it exceeds it at the last: the same ItemSizeTooLarge, same items.
    """
    from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict
    from moto.dynamodb.models.utilities import bytesize

    self.hash_key = hash_key
    self.range_key = range_key
    self.attrs = LimitedSizeDict()
    size = 0
    for key, value in attrs.items():
        typed = DynamoType(value)
        dict.__setitem__(self.attrs, key, typed)  # devstack: without LimitedSizeDict's per-set check
        size += bytesize(key) + typed.size()
    if size > 405000:  # LimitedSizeDict's limit
        from moto.dynamodb.exceptions import ItemSizeTooLarge

        raise ItemSizeTooLarge


def _update_done(backend: Any, table_name: str, key: Any) -> None:
    from moto.dynamodb.models.dynamo_type import DynamoType

    table = backend.tables.get(table_name)
    if table is None:
        try:
            table = backend.get_table(table_name)  # by ARN
        except Exception:
            return
    # the primary key as moto's update_item reads it
    if not isinstance(key, dict) or table.hash_key_attr not in key:
        return
    range_key = None
    if table.range_key_attr is not None:
        if table.range_key_attr not in key:
            return
        range_key = DynamoType(key[table.range_key_attr])
    item_changed(table, DynamoType(key[table.hash_key_attr]), range_key)
