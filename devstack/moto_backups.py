"""DynamoDB backups that share the table's items until the table changes one (copy on write).

moto's `Backup` deep-copies its table. Accounting backs itself up after every day close (SPEC §10) and keeps
35 days of backups: on the seeded year's accounting table (1.4 million items) one copy took 51 s of the
emulator, under its DynamoDB write lock (every write of every context waited), and held another whole
ledger in memory; a month of closes would not fit in the machine.

Here a backup copies the table's description and the key-to-item maps, and shares the items themselves,
each marked `SHARED`. moto changes an item in place in one place only, UpdateItem (an Update of
TransactWriteItems is an UpdateItem too): a marked item is replaced in its table by a copy of its own
first, so the backup keeps the item as it was. PutItem stores a new item and DeleteItem drops the
table's reference: neither touches the item a backup holds. A restore deep-copies the backup's items
(moto's `RestoredTable`), so a restored table shares nothing either. The backup holds no stream: a
DynamoDB backup has none, and copying a table's stream records into every backup was memory for nothing.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from typing import Any

from devstack import moto_dynamodb_index

SHARED = "_devstack_in_backup"  # set on an Item a backup holds too: copied before it is changed in place


def apply() -> None:
    """Patch moto's Backup and DynamoDBBackend.update_item (moto_patches.apply, once, before its locks)."""
    from moto.dynamodb import models as ddb
    from moto.dynamodb.models import table as tables

    original_backup_init = tables.Backup.__init__
    original_update = ddb.DynamoDBBackend.update_item

    def backup_init(
        self: Any, account_id: str, region_name: str, name: str, table: Any, *args: Any, **kwargs: Any
    ) -> None:
        # moto deep-copies what it is given: the table's own attributes, but neither items nor stream (the
        # table itself is not changed, so a read running meanwhile sees it whole)
        shell = copy.copy(table)
        shell.items, shell.stream_shard = defaultdict(dict), None
        original_backup_init(self, account_id, region_name, name, shell, *args, **kwargs)
        self.table.items = shared_items(table.items, ranged=table.range_key_attr is not None)

    def update_item(self: Any, table_name: str, key: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        own_copy_before_update(self, table_name, key)
        return original_update(self, table_name, key, *args, **kwargs)

    tables.Backup.__init__ = backup_init  # type: ignore[method-assign]
    ddb.DynamoDBBackend.update_item = update_item  # type: ignore[method-assign]


def shared_items(items: dict[Any, Any], ranged: bool) -> defaultdict[Any, Any]:
    """A table's key-to-item maps, copied, over the same items (each marked as held by a backup)."""
    copied: defaultdict[Any, Any] = defaultdict(dict)
    for hash_key, stored in items.items():
        if ranged:
            copied[hash_key] = dict(stored)
            for item in stored.values():
                item.__dict__[SHARED] = True
        else:
            copied[hash_key] = stored
            stored.__dict__[SHARED] = True
    return copied


def own_copy_before_update(backend: Any, table_name: str, key: dict[str, Any]) -> None:
    """The table's item at `key`, when a backup holds it too, replaced by a deep copy the update may change."""
    try:
        table = backend.get_table(table_name)
        hash_key, range_key = backend.get_keys_value(table, key)
    except Exception:
        return  # moto's update_item raises the same error before anything is written
    item = moto_dynamodb_index.stored_item(table, (hash_key, range_key))
    if item is None or not item.__dict__.get(SHARED):
        return
    private = copy.deepcopy(item)  # deep: sets, lists and maps in it are changed in place (no mark: moto's
    private.__dict__.pop(SHARED, None)  # Item.__deepcopy__ builds a new item from its attributes)
    if range_key is None:
        table.items[hash_key] = private
    else:
        table.items[hash_key][range_key] = private
