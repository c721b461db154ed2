"""Fixes for moto's measured hot spots, applied inside the devstack emulator process only.

Why: moto 5.2.5 is correct enough for devstack but some calls cost time proportional to the
data already stored, so a 10k-task shuffle or a year of ledger makes the local stack crawl:

- DynamoDB ``TransactWriteItems`` deep-copies the table to be able to roll back, once per action
  naming it, stream records included: a 25-action transaction on a streamed table took seconds at
  1k items and over a minute at 10k (measured: bench/emulator_transactions.py --unpatched), and
  moto's instance tracker keeps every copy alive. We undo from a journal of the touched items.
  (And each ``UpdateExpression`` is parsed twice per request: the parse is cached.)
- DynamoDB Streams ``GetRecords`` runs every record through moto's generic botocore-shape
  serializer on every read (about 3 ms a record: 1,000 records cost seconds, once per poller
  reading the table), and moto keeps every shard iterator it ever issued (a dict entry plus its
  instance tracker: ~2 KB per GetRecords call, forever). A record is serialised once, and shard
  iterators carry their position instead of naming stored state.
- DynamoDB keys are hashed through ``cast_value`` and five type tests, on every put and read and for
  every item of a snapshot being loaded: strings and binaries hash their value directly (the same hash).
- EventBridge ``PutEvents`` re-parses the same JSONPath expressions for every event and target, and builds,
  re-serialises and flattens each event's message once per rule on the bus, matching or not.
- Every call lists its handler class's methods with ``inspect.getmembers`` to find its action: listed once.
- DynamoDB ``Query`` and ``Scan`` sort the whole table for every page: devstack/moto_dynamodb_index.py
  keeps tables and indexes sorted by partition (applied from here, same rules as below).
- moto's instance tracker keeps every DynamoDB item, stream record and SQS message ever made.
- S3 ``ListObjects(V2)`` walks every key name the bucket ever held, delete markers included, for each
  page: devstack/moto_s3_index.py keeps each bucket's live names sorted (applied from here).
- SQS computes *every* queue attribute, three of them by scanning all stored messages, to read one
  flag (``ContentBasedDeduplication`` on each send, ``MessageRetentionPeriod`` for each message
  received), so a backlog slows every send and every receive; receive and delete scan the whole
  backlog too. And each receipt handle, like every answer's request id, is drawn one letter at a time.

Every patch replaces one named moto function with a copy whose only differences are marked
``devstack:``; the copies are only valid for the moto version pinned here, so ``apply()`` refuses
any other version. Behaviour is kept (errors, cancellation reasons, stream records, queue
semantics); the few deliberate differences are listed in each patch's docstring.
"""

from __future__ import annotations

import base64
import binascii
import copy
import datetime
import functools
import hashlib
import json
import string
import threading
from collections.abc import Callable, Iterator
from typing import Any

from devstack import moto_backups, moto_dynamodb_index, moto_values

MOTO_VERSION = "5.2.5"

_apply_lock = threading.Lock()
_applied = False


def apply() -> None:
    """Patch moto in this process (idempotent). Call before the first request is served."""
    global _applied
    import moto

    if moto.__version__ != MOTO_VERSION:
        raise RuntimeError(
            f"devstack.moto_patches was written against moto {MOTO_VERSION} but moto {moto.__version__} is "
            "installed: pin moto to that version, or re-read every patched function in the new moto "
            "source and update the copies and MOTO_VERSION in devstack/moto_patches.py."
        )
    from devstack import moto_expressions, moto_s3_index, moto_wire

    with _apply_lock:
        if _applied:
            return
        _patch_dynamodb()
        _patch_key_hash()
        _patch_events()
        _patch_sqs()
        _untrack_models()
        _cache_action_names()
        _draw_random_strings_at_once()
        moto_wire.apply()
        moto_expressions.apply()
        moto_s3_index.apply()
        _applied = True


def _untrack_models() -> None:
    """moto's instance tracker keeps every model object ever made, for ``/moto-api/data.json`` only.

    For DynamoDB items (each put, each query result's copy), stream records and SQS messages (each
    send, each receive's copy) that is memory growing with every call, forever. Those three are no
    longer tracked: they stay where moto keeps them (tables, shards, queues), and are missing from
    ``/moto-api/data.json`` only.
    """
    from moto.dynamodb.models.dynamo_type import Item
    from moto.dynamodb.models.table import StreamRecord
    from moto.sqs.models import Message

    def untracked(cls: type, *args: Any, **kwargs: Any) -> Any:
        return object.__new__(cls)

    for model in (Item, StreamRecord, Message):
        model.__new__ = untracked  # type: ignore[method-assign, assignment]


def _cache_action_names() -> None:
    """moto finds whether a call's action is a handler method with ``inspect.getmembers`` on the handler's
    class, on every call (about 3% of the emulator's CPU under load). A class's methods do not change once
    the patches are applied, which is before the first call: the names are listed once per class."""
    from moto.core import responses

    listed = responses.method_names_from_class

    @functools.cache
    def method_names_from_class(clazz: object) -> frozenset[str]:
        return frozenset(listed(clazz))

    responses.method_names_from_class = method_names_from_class  # type: ignore[assignment]


def key_hash(value: Any) -> int:
    """moto's ``DynamoType.__hash__`` (``hash((type, cast_value))``) without ``cast_value``'s five type tests
    for strings and binaries, whose cast value is the value itself: the same hash. Every key is hashed on
    every put and read, and once more for each item when a snapshot is loaded (a year: millions of times)."""
    kind = value.type
    if kind == "S" or kind == "B":
        return hash((kind, value.value))
    return hash((kind, value.cast_value))


def _patch_key_hash() -> None:
    from moto.dynamodb.models.dynamo_type import DynamoType

    DynamoType.__hash__ = key_hash  # type: ignore[assignment, method-assign]


def is_applied() -> bool:
    return _applied


def dynamodb_lock() -> threading.RLock:
    """The lock every DynamoDB read and write of this process holds (for devstack's own routes)."""
    return _DYNAMODB_LOCK


# --------------------------------------------------------------------------------------------
# DynamoDB: moto.dynamodb.models.DynamoDBBackend.transact_write_items
# --------------------------------------------------------------------------------------------

_ABSENT = object()

# One lock for all DynamoDB reads and writes of this process. moto's server is threaded and
# moto itself never locks, so a transaction could interleave with another request: two
# conditional writes could both pass their condition, and a reader could see half a
# transaction (or stream records of one later cancelled). Serialising costs nothing measurable:
# the GIL already runs one request at a time.
_DYNAMODB_LOCK = threading.RLock()


class _TransactionUndo:
    """The pre-transaction state of exactly the items and stream records a transaction touches.

    moto 5.2.5 snapshots with ``copy.deepcopy(self.tables[name])`` for every action: O(actions x
    (items + stream records)) per transaction, and on rollback it *replaces* the table object,
    which orphans the stream shard that existing shard iterators point to (a stream poller then
    sees the cancelled transaction's records and never sees later ones). Here the same table and shard objects stay
    in place and only the touched keys are restored, so the cost is O(actions).
    """

    def __init__(self) -> None:
        # (id(table), hash, range) -> (table, hash, range, hash_entry_was_absent, item_before)
        self.items: dict[tuple[int, Any, Any], tuple[Any, Any, Any, bool, Any]] = {}
        # id(table) -> (shard, shard.items list, its length before the transaction)
        self.streams: dict[int, tuple[Any, list[Any], int]] = {}

    def remember(self, backend: Any, table_name: str, key: dict[str, Any], copy_item: bool) -> None:
        try:
            table = backend.get_table(table_name)
            hash_key, range_key = backend.get_keys_value(table, key)
        except Exception:
            # moto raises this same error from backend.get_item before anything is written
            return
        slot = (id(table), hash_key, range_key)
        if slot in self.items:
            return
        shard = table.stream_shard
        if shard is not None and id(table) not in self.streams:
            self.streams[id(table)] = (shard, shard.items, len(shard.items))
        # .get: table.items is a defaultdict, indexing would create the partition
        entry = table.items.get(hash_key, _ABSENT)
        before = entry  # hash-only table: the item itself
        if range_key is not None:
            before = _ABSENT if entry is _ABSENT else entry.get(range_key, _ABSENT)
        if copy_item and before is not _ABSENT:
            # Update mutates the stored Item in place; Put replaces it and Delete pops it.
            before = copy.deepcopy(before)
        self.items[slot] = (table, hash_key, range_key, entry is _ABSENT, before)

    def rollback(self) -> None:
        for table, hash_key, range_key, hash_was_absent, before in reversed(list(self.items.values())):
            if range_key is None:
                if before is _ABSENT:
                    table.items.pop(hash_key, None)
                else:
                    table.items[hash_key] = before
                continue
            partition = table.items.get(hash_key)
            if partition is None:
                if before is not _ABSENT:
                    table.items[hash_key][range_key] = before
                continue
            if before is _ABSENT:
                partition.pop(range_key, None)
            else:
                partition[range_key] = before
            if hash_was_absent and not partition:
                # also undo the empty partition moto's get_item leaves behind
                del table.items[hash_key]
        for table, hash_key, range_key, _, _ in self.items.values():
            moto_dynamodb_index.item_changed(table, hash_key, range_key)  # its index entries follow
        for shard, records, length in self.streams.values():
            del records[length:]
            shard.items = records


def _patch_dynamodb() -> None:
    from moto.dynamodb import models as ddb
    from moto.dynamodbstreams import models as ddb_streams

    # Query in O(page) and the index upkeep on every write; before the lock wrappers below
    # wrap the patched update_item, so the upkeep runs under the lock too.
    moto_dynamodb_index.apply()
    moto_backups.apply()  # backups share items, copy on write: before the lock wraps update_item
    moto_values.install_shared_copies()  # an item's copy shares its scalar values

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        """Copy of moto 5.2.5 DynamoDBBackend.transact_write_items, undoing from a journal.

        Deliberate differences: any exception midway (also TransactWriteSingleOpException, which
        moto raised without rolling back) rolls back, and a table named by ARN is rolled back
        too (moto only snapshotted tables named by name). A Delete that is rolled back puts the
        item back at the end of the insertion order of its table (or partition, with a sort key):
        visible only as moto's Scan order; item contents are restored exactly.
        """
        if len(transact_items) > 100:
            raise ddb.TooManyTransactionsException()
        # devstack: journal of touched items instead of copy.deepcopy of every table named
        undo = _TransactionUndo()
        try:
            _transact_write_items_body(self, transact_items, undo)
        except BaseException:
            undo.rollback()
            raise

    def _transact_write_items_body(self: Any, transact_items: list[dict[str, Any]], undo: _TransactionUndo) -> None:
        target_items: set[tuple[str, str]] = set()

        def check_unicity(table_name: str, key: dict[str, Any]) -> None:
            item = (str(table_name), str(dict(sorted(key.items()))))
            if item in target_items:
                raise ddb.MultipleTransactionsException()
            target_items.add(item)

        errors: list[tuple[str, str, dict[str, Any]] | tuple[None, None, None]] = []
        for item in transact_items:
            original_item: dict[str, Any] | None = None
            if len(list(item.keys())) > 1:
                raise ddb.TransactWriteSingleOpException

            try:
                op_type, op = next(iter(item.items()))
                if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                    raise ValueError("Unsupported transaction operation")

                table_name = op["TableName"]
                condition_expression = op.get("ConditionExpression")
                expression_attribute_names = op.get("ExpressionAttributeNames")
                expression_attribute_values = op.get("ExpressionAttributeValues")
                return_values_on_condition_check_failure = op.get("ReturnValuesOnConditionCheckFailure")

                if op_type == "Put":
                    attrs = op["Item"]
                    table = self.get_table(table_name)
                    key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                    if table.range_key_attr is not None:
                        key[table.range_key_attr] = attrs[table.range_key_attr]
                else:
                    key = op["Key"]

                check_unicity(table_name, key)
                # devstack: remember the item before anything (even get_item) can change it
                undo.remember(self, table_name, key, copy_item=op_type == "Update")

                current = self.get_item(table_name, key)
                if condition_expression is not None:
                    condition_op = ddb.get_filter_expression(
                        condition_expression,
                        expression_attribute_names,
                        expression_attribute_values,
                    )
                    if not condition_op.expr(current):
                        if return_values_on_condition_check_failure == "ALL_OLD" and current:
                            original_item = current.to_json()["Attributes"]
                        raise ddb.ConditionalCheckFailed(item=original_item)

                if op_type == "Put":
                    attrs = op["Item"]
                    self.put_item(
                        table_name,
                        attrs,
                        condition_expression=condition_expression,
                        expression_attribute_names=expression_attribute_names,
                        expression_attribute_values=expression_attribute_values,
                    )
                elif op_type == "Delete":
                    self.delete_item(
                        table_name,
                        key,
                        condition_expression=condition_expression,
                        expression_attribute_names=expression_attribute_names,
                        expression_attribute_values=expression_attribute_values,
                    )
                elif op_type == "Update":
                    update_expression = op["UpdateExpression"]
                    self.update_item(
                        table_name,
                        key,
                        update_expression=update_expression,
                        condition_expression=condition_expression,
                        expression_attribute_names=expression_attribute_names,
                        expression_attribute_values=expression_attribute_values,
                    )
                errors.append((None, None, None))
            except (ddb.MultipleTransactionsException, ddb.MockValidationException):
                raise  # devstack: the caller rolls back
            except ddb.ConditionalCheckFailed as e:
                errors.append(("ConditionalCheckFailed", str(e.message), original_item))  # type: ignore[arg-type]
            except Exception as e:
                errors.append((type(e).__name__, str(e), original_item))  # type: ignore[arg-type]

        if any(code is not None for code, _, _ in errors):
            raise ddb.TransactionCanceledException(errors)  # devstack: the caller rolls back

    backend_cls = ddb.DynamoDBBackend
    backend_cls.transact_write_items = transact_write_items  # type: ignore[method-assign]

    # moto.dynamodb.parsing.expressions.UpdateExpressionParser.make: every Update is tokenised
    # and parsed twice per request (validation in responses, then update_item): about 1 ms each.
    # The AST is never mutated (UpdateExpressionValidator deep-copies it first), so one parse per
    # distinct expression string is enough.
    parser_cls = ddb.UpdateExpressionParser
    parser_cls.make = staticmethod(functools.lru_cache(maxsize=4096)(parser_cls.make))  # type: ignore[method-assign]
    for name in ("get_item", "put_item", "update_item", "delete_item", "query", "scan", "transact_write_items"):
        setattr(backend_cls, name, _locked(getattr(backend_cls, name), _DYNAMODB_LOCK))
    _patch_dynamodb_streams()
    streams_cls = ddb_streams.DynamoDBStreamsBackend
    for name in ("get_shard_iterator", "get_records", "read_records"):
        setattr(streams_cls, name, _locked(getattr(streams_cls, name), _DYNAMODB_LOCK))


def _locked(function: Callable[..., Any], lock: threading.RLock) -> Callable[..., Any]:
    @functools.wraps(function)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with lock:
            return function(*args, **kwargs)

    return locked


# --------------------------------------------------------------------------------------------
# DynamoDB Streams: moto.dynamodbstreams.models.DynamoDBStreamsBackend.{get_shard_iterator, get_records},
#                   moto.dynamodbstreams.responses.DynamoDBStreamsHandler.get_records
# --------------------------------------------------------------------------------------------

_ITERATOR_VERSION = "|1|"  # as in moto's (and AWS's) iterators: "<stream arn>|1|<opaque>"
_ITERATOR_TOKEN = "devstack:"


class StreamIterator:
    """What ``get_shard_iterator`` returns: only its ``arn`` (the ShardIterator string) is used.

    moto's ShardIterator is a BaseModel, so besides the backend's dict its instance tracker keeps
    every one ever made. This is a plain object, and the string names no stored state: it is the
    stream ARN and the shard position, so any number of iterators costs no memory in the emulator.
    """

    __slots__ = ("arn", "sequence_number")

    def __init__(self, table: Any, sequence_number: int) -> None:
        self.sequence_number = sequence_number
        token = f"{_ITERATOR_TOKEN}{table.stream_shard.id}:{sequence_number}".encode()
        stream_arn = f"{table.table_arn}/stream/{table.latest_stream_label}"
        self.arn = f"{stream_arn}{_ITERATOR_VERSION}{base64.b64encode(token).decode()}"


def _invalid(message: str) -> Exception:
    from moto.dynamodb.exceptions import MockValidationException

    return MockValidationException(message)


def _shard_position(backend: Any, iterator_arn: str) -> tuple[Any, int]:
    """The table and sequence number a ShardIterator string from ``StreamIterator`` points at.

    moto answered an unknown iterator with a KeyError (HTTP 500); this raises ValidationException.
    An iterator of a stream that has since been disabled, or of a table deleted and re-created, is
    refused (moto kept serving the old shard object).
    """
    from moto.dynamodb.exceptions import ResourceNotFoundException

    stream_arn, separator, opaque = str(iterator_arn).rpartition(_ITERATOR_VERSION)
    try:
        token = base64.b64decode(opaque, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        token = ""
    if not separator or not token.startswith(_ITERATOR_TOKEN) or "/stream/" not in stream_arn:
        raise _invalid("Invalid ShardIterator")
    shard_id, _, sequence = token.removeprefix(_ITERATOR_TOKEN).rpartition(":")
    table = backend._get_table_from_arn(stream_arn)  # ResourceNotFoundException if the table is gone
    shard = table.stream_shard
    if (
        shard is None
        or shard.id != shard_id
        or f"{table.table_arn}/stream/{table.latest_stream_label}" != stream_arn
        or not sequence.isdigit()
    ):
        raise ResourceNotFoundException("Requested resource not found: the stream of this ShardIterator is gone")
    return table, int(sequence)


def _record_json(record: Any) -> str:
    """The JSON of one StreamRecord as GetRecords returns it, computed once per record.

    A record never changes once written (moto builds its images from fresh dicts and strings), so the
    text is cached on it. Same members and values as moto's serializer (datetimes as epoch seconds,
    bytes as base64), with one deliberate difference: moto base64-encoded a *binary key* in ``Keys``
    twice (``DynamoType.to_json`` already encodes it); here it is encoded once, as AWS does.
    """
    cached = record.__dict__.get("_devstack_json")
    if cached is None:
        cached = json.dumps(record.to_json(), default=_wire_value)
        record._devstack_json = cached
    return str(cached)


def _wire_value(value: Any) -> Any:
    from botocore.utils import parse_to_aware_datetime
    from moto.core.serialize import TimestampSerializer

    if isinstance(value, datetime.datetime):  # ApproximateCreationDateTime: epoch seconds, ms precision
        return TimestampSerializer._timestamp_unixtimestamp(parse_to_aware_datetime(value))
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _patch_dynamodb_streams() -> None:
    from moto.dynamodbstreams import models as streams
    from moto.dynamodbstreams import responses

    def get_shard_iterator(
        self: Any, arn: str, shard_id: str, shard_iterator_type: str, sequence_number: int | str | None = None
    ) -> StreamIterator:
        """Copy of moto 5.2.5 DynamoDBStreamsBackend.get_shard_iterator that stores nothing.

        Same positions as moto's ShardIterator: TRIM_HORIZON is the shard's first record (moto
        never trims), LATEST is just after its last record now, AT_/AFTER_SEQUENCE_NUMBER at/after
        the number given. Deliberate differences: a wrong shard id is ResourceNotFoundException and
        a missing or unknown SequenceNumber/type is ValidationException (moto: AssertionError or
        TypeError, HTTP 500).
        """
        from moto.dynamodb.exceptions import ResourceNotFoundException

        table = self._get_table_from_arn(arn)
        shard = table.stream_shard
        if shard is None or shard.id != shard_id:
            raise ResourceNotFoundException(f"Requested resource not found: Shard does not exist: {shard_id}")
        if shard_iterator_type == "TRIM_HORIZON":
            position = shard.starting_sequence_number
        elif shard_iterator_type == "LATEST":
            position = shard.starting_sequence_number + len(shard.items)
        elif shard_iterator_type in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"):
            if sequence_number is None or not str(sequence_number).isdigit():
                raise _invalid(f"A valid SequenceNumber is required for ShardIteratorType {shard_iterator_type}")
            position = int(sequence_number) + (shard_iterator_type == "AFTER_SEQUENCE_NUMBER")
        else:
            raise _invalid(f"Invalid ShardIteratorType: {shard_iterator_type}")
        return StreamIterator(table, position)

    def read_records(self: Any, iterator_arn: str, limit: int) -> tuple[str, list[Any]]:
        """The StreamRecords at the iterator's position (at most ``limit``) and the next iterator.

        moto's ShardIterator.get: ``shard.items[start:start + limit]`` and an iterator after the
        last record read, or at the same position when nothing was read (a new one each call).
        """
        table, position = _shard_position(self, iterator_arn)
        shard = table.stream_shard
        start = position - shard.starting_sequence_number
        if start < 0:  # moto: AssertionError (HTTP 500)
            raise _invalid("Invalid ShardIterator: its sequence number is before the start of the shard")
        records = shard.items[start : start + int(limit)]
        return StreamIterator(table, position + len(records)).arn, records

    def get_records(self: Any, iterator_arn: str, limit: int) -> dict[str, Any]:
        """Copy of moto 5.2.5 DynamoDBStreamsBackend.get_records over ``read_records``."""
        next_iterator, records = self.read_records(iterator_arn, limit)
        return {"NextShardIterator": next_iterator, "Records": [record.to_json() for record in records]}

    def handle_get_records(self: Any) -> tuple[str, dict[str, str]]:
        """Copy of moto 5.2.5 DynamoDBStreamsHandler.get_records writing the JSON itself.

        moto's ActionResult walks each record (and each attribute value) through the botocore shape
        model on every call; the records' JSON is cached instead (see ``_record_json``).
        """
        arn = self._get_param("ShardIterator")
        limit = self._get_param("Limit")
        if limit is None:
            limit = 1000
        next_iterator, records = self.backend.read_records(arn, limit)
        body = '{"Records": [%s], "NextShardIterator": %s}' % (  # noqa: UP031 (the records are JSON already)
            ", ".join(_record_json(record) for record in records),
            json.dumps(next_iterator),
        )
        return body, {"Content-Type": "application/x-amz-json-1.0"}

    backend_cls = streams.DynamoDBStreamsBackend
    backend_cls.get_shard_iterator = get_shard_iterator  # type: ignore[method-assign, assignment]
    backend_cls.read_records = read_records  # type: ignore[attr-defined]
    backend_cls.get_records = get_records  # type: ignore[method-assign]
    responses.DynamoDBStreamsHandler.get_records = handle_get_records  # type: ignore[method-assign, assignment]


# --------------------------------------------------------------------------------------------
# EventBridge: moto.events.utils.EventTemplateParser.parse
# --------------------------------------------------------------------------------------------


def _patch_events() -> None:
    from jsonpath_ng.ext import parse as jsonpath_parse
    from moto.events import utils as events_utils

    # Parsing builds a ply lexer and parser every time (milliseconds); the parsed path is
    # immutable and reusable. The same 8 default paths are used for every event and target.
    cached_parse = functools.lru_cache(maxsize=1024)(jsonpath_parse)
    parser_cls = events_utils.EventTemplateParser

    def parse(input_template: str, input_paths_map: dict[str, Any], event: Any) -> dict[str, Any]:
        """Copy of moto 5.2.5 EventTemplateParser.parse using cached JSONPath parsing."""
        import json

        template_to_use = input_template or parser_cls.DEFAULT_EVENT_INPUT_TEMPLATE
        input_paths_map = input_paths_map or parser_cls.DEFAULT_EVENT_INPUT_PATHS_MAP
        for input_path in input_paths_map:
            input_expr = cached_parse(input_paths_map[input_path])  # devstack: cached
            matches = input_expr.find(event)
            result = parser_cls._stringify(matches[0].value) if matches else None
            if result:
                template_to_use = template_to_use.replace(f"<{input_path}>", result)

        default_inputs_map = {
            "aws.events.event.json": event,
            "aws.events.event.ingestion-time": event["ingestion-time"],
        }
        for input_path in default_inputs_map:
            result = parser_cls._stringify(default_inputs_map[input_path])
            template_to_use = template_to_use.replace(f"<{input_path}>", result)

        return json.loads(template_to_use)

    parser_cls.parse = staticmethod(parse)  # type: ignore[method-assign, assignment]
    _patch_put_events()


def _patch_put_events() -> None:
    import warnings

    from moto.core.utils import unix_time
    from moto.events import models as events_models
    from moto.events.exceptions import ValidationException
    from moto.events.utils import _BASE_EVENT_MESSAGE
    from moto.moto_api._internal import mock_random as random

    pattern_cls = events_models.EventPattern

    def matches(rule: Any, flat: dict[str, Any]) -> bool:
        """``EventPattern.matches_event`` of moto 5.2.5, on the event already flattened."""
        pattern = rule.event_pattern.get_pattern()
        return not pattern or bool(rule.event_pattern._does_event_match(flat, pattern))

    def put_events(self: Any, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Copy of moto 5.2.5 EventsBackend.put_events building each event's message once, not once per rule.

        moto deep-copied the envelope, parsed the detail JSON, read the clock twice and (in `matches_event`)
        round-tripped and flattened the message through JSON again for every rule on the bus, matching or
        not: most of PutEvents' time with devstack's eight rules. The message and its flattened form are made
        once per event, each rule matched against it, and only a matching rule gets its own copy to send
        (its `send_to_targets` matches again: one rule of eight, typically). Deliberate difference: every
        rule sees the same `time` and `ingestion-time` (moto read the clock per rule; AWS has one of each).
        """
        if len(events) > 10:
            raise ValidationException(
                "1 validation error detected: "
                "Value '[PutEventsRequestEntry]' at 'entries' failed to satisfy constraint: "
                "Member must have length less than or equal to 10"
            )
        entries: list[dict[str, Any]] = []
        for event in events:
            missing = next((name for name in ("Source", "DetailType", "Detail") if not event.get(name)), None)
            if missing:  # moto's three checks, in its order, with its messages
                reason = f"Parameter {missing} is not valid. Reason: {missing} is a required argument."
                entries.append({"ErrorCode": "InvalidArgument", "ErrorMessage": reason})
            else:
                try:
                    detail = json.loads(event["Detail"])
                    if not isinstance(detail, dict):
                        warnings.warn(
                            f"EventDetail should be of type dict - types such as {type(detail)} are ignored by AWS",
                            stacklevel=2,
                        )
                except ValueError:
                    entries.append({"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."})
                    continue
                event_id = str(random.uuid4())
                entries.append({"EventId": event_id})
                event_bus = self.describe_event_bus(self._normalize_event_bus_arn(event.get("EventBusName")))
                # devstack: the message once per event (moto built it per rule; `time` read once, see above)
                message = copy.deepcopy(_BASE_EVENT_MESSAGE)
                message["id"] = event_id
                message["detail-type"] = event["DetailType"]
                message["source"] = event["Source"]
                message["account"] = self.account_id
                message["time"] = event.get("Time", unix_time())
                message["region"] = self.region_name
                message["resources"] = event.get("Resources", [])
                message["detail"] = detail
                message["ingestion-time"] = unix_time()
                flat = pattern_cls._flatten_dict(json.loads(json.dumps(message)))  # as matches_event makes it
                for rule in event_bus.rules.values():
                    if matches(rule, flat):
                        rule.send_to_targets({**message, "detail": json.loads(event["Detail"])})
        return entries

    put_events.__wrapped__ = events_models.EventsBackend.put_events  # type: ignore[attr-defined]  # moto's, for tests
    events_models.EventsBackend.put_events = put_events  # type: ignore[method-assign]


# --------------------------------------------------------------------------------------------
# SQS: moto.sqs.models.SQSBackend.{send_message, get_queue_attributes, receive_message},
#      moto.sqs.models.Queue.delete_message
# --------------------------------------------------------------------------------------------


def queue_attributes(queue: Any, names: set[str] | None = None) -> dict[str, Any]:
    """``Queue.attributes`` of moto 5.2.5 restricted to ``names`` (all when None).

    The property computes every attribute, and three of them scan every stored message (with two
    clock reads each), so reading one flag through it costs O(backlog). Same keys, values and
    order as the property, but only the requested attributes are computed.
    """
    from moto.core.utils import camelcase_to_underscores

    def wanted(name: str) -> bool:
        return names is None or name in names

    result: dict[str, Any] = {}
    for attribute in queue.BASE_ATTRIBUTES:
        if wanted(attribute):
            result[attribute] = getattr(queue, camelcase_to_underscores(attribute))
    if queue.fifo_queue:
        for attribute in queue.FIFO_ATTRIBUTES:
            if wanted(attribute):
                result[attribute] = getattr(queue, camelcase_to_underscores(attribute))
    if queue.kms_master_key_id:
        for attribute in queue.KMS_ATTRIBUTES:
            if wanted(attribute):
                result[attribute] = getattr(queue, camelcase_to_underscores(attribute))
    if queue.policy and wanted("Policy"):
        result["Policy"] = queue.policy
    if queue.redrive_policy and wanted("RedrivePolicy"):
        import json

        result["RedrivePolicy"] = json.dumps(queue.redrive_policy)
    for key in result:
        if isinstance(result[key], bool):
            result[key] = str(result[key]).lower()
    return result


def _content_based_deduplication(queue: Any) -> Any:
    return queue_attributes(queue, {"ContentBasedDeduplication"}).get("ContentBasedDeduplication")


def _patch_sqs() -> None:
    from moto.sqs import models as sqs

    def send_message(
        self: Any,
        queue_name: str,
        message_body: str,
        message_attributes: dict[str, Any] | None = None,
        delay_seconds: int | None = None,
        deduplication_id: str | None = None,
        group_id: str | None = None,
        system_attributes: dict[str, Any] | None = None,
        validate_group_id: bool = True,
    ) -> Any:
        """Copy of moto 5.2.5 SQSBackend.send_message reading one attribute in O(1)."""
        queue = self.get_queue(queue_name)

        self._validate_message(
            queue,
            message_body=message_body,
            delay_seconds=int(delay_seconds or 0),
            deduplication_id=deduplication_id,
            group_id=group_id,
            validate_group_id=validate_group_id,
        )

        delay_seconds = int(delay_seconds) if delay_seconds is not None else queue.delay_seconds

        message_id = str(sqs.random.uuid4())
        message = sqs.Message(message_id, message_body, system_attributes)

        # devstack: was queue.attributes.get(...), which scans the backlog three times
        if _content_based_deduplication(queue) == "true":
            sha256 = hashlib.sha256()
            sha256.update(message_body.encode("utf-8"))
            message.deduplication_id = sha256.hexdigest()

        if deduplication_id is not None:
            message.deduplication_id = deduplication_id
            message.sequence_number = "".join(sqs.random.choice(string.digits) for _ in range(20))

        if group_id is not None:
            message.group_id = group_id

        if message_attributes:
            message.message_attributes = message_attributes

        if delay_seconds > sqs.MAXIMUM_MESSAGE_DELAY:
            msg = (
                f"Value {delay_seconds} for parameter DelaySeconds is invalid. "
                "Reason: DelaySeconds must be >= 0 and <= 900."
            )
            raise sqs.InvalidParameterValue(msg)

        message.mark_sent(delay_seconds=delay_seconds)

        queue.add_message(message)

        return message

    def get_queue_attributes(self: Any, queue_name: str, attribute_names: list[str]) -> dict[str, Any]:
        """Copy of moto 5.2.5 SQSBackend.get_queue_attributes computing only what is asked.

        moto computed the whole ``queue.attributes`` 1 + 2 per name times; it is also called for
        every message received (retention check), making a receive O(backlog) several times over.
        """
        queue = self.get_queue(queue_name)
        if not attribute_names:
            return {}

        valid_names = ["All", *queue.BASE_ATTRIBUTES, *queue.FIFO_ATTRIBUTES, *queue.KMS_ATTRIBUTES]
        invalid_name = next((name for name in attribute_names if name not in valid_names), None)

        if invalid_name or invalid_name == "":
            raise sqs.InvalidAttributeName(invalid_name)

        attributes = {}

        if "All" in attribute_names:
            attributes = queue.attributes
        else:
            subset = queue_attributes(queue, set(attribute_names))  # devstack: computed once, only these
            for name in (name for name in attribute_names if name in subset):
                if subset.get(name) is not None:
                    attributes[name] = subset.get(name)

        return attributes

    def receive_message(
        self: Any,
        queue_name: str,
        count: int,
        wait_seconds_timeout: int,
        visibility_timeout: int,
        message_attribute_names: list[str] | None = None,
    ) -> list[Any]:
        """Copy of moto 5.2.5 SQSBackend.receive_message scanning lazily.

        moto builds the list of every visible message (two clock reads per stored message)
        before taking the first ``count``; the scan now stops once ``count`` are taken, so a
        receive costs O(in-flight + count) instead of O(backlog).
        """
        if message_attribute_names is None:
            message_attribute_names = []
        queue = self.get_queue(queue_name)
        result: list[Any] = []
        previous_result_count = len(result)

        polling_end = sqs.unix_time() + wait_seconds_timeout
        currently_pending_groups = copy.deepcopy(queue.pending_message_groups)

        while True:
            if result or (wait_seconds_timeout and sqs.unix_time() > polling_end):
                break

            messages_to_dlq: list[Any] = []

            for message in _visible_messages(queue):  # devstack: was queue.messages (a full list)
                if not message.visible:
                    continue

                if message in queue.pending_messages:
                    queue.pending_messages.remove(message)
                    currently_pending_groups = copy.deepcopy(queue.pending_message_groups)

                if message.group_id and queue.fifo_queue and message.group_id in currently_pending_groups:
                    continue

                if (
                    queue.dead_letter_queue is not None
                    and queue.redrive_policy
                    and message.approximate_receive_count >= queue.redrive_policy["maxReceiveCount"]
                ):
                    messages_to_dlq.append(message)
                    continue

                queue.pending_messages.add(message)
                message.mark_received(visibility_timeout=visibility_timeout)
                message_copy = copy.deepcopy(message)
                sqs._filter_message_attributes(message_copy, message_attribute_names)
                if not self.is_message_valid_based_on_retention_period(queue_name, message):
                    break
                result.append(message_copy)
                if len(result) >= count:
                    break

            for message in messages_to_dlq:
                with queue._messages_lock:  # devstack: delete_message mutates the list under it
                    queue._messages.remove(message)
                queue.dead_letter_queue.add_message(message)

            if previous_result_count == len(result):
                if wait_seconds_timeout == 0:
                    break

                queue.wait_for_messages(1)
                continue

            previous_result_count = len(result)

        return result

    def delete_message(self: Any, receipt_handle: str) -> None:
        """Copy of moto 5.2.5 Queue.delete_message: one pass that stops at the message, under the lock.

        moto scanned the backlog twice and then *replaced* ``_messages`` with a rebuilt list
        without holding ``_messages_lock``, so a message sent by another thread during a delete
        could be dropped. Receipt handles are unique, so stopping at the first match deletes the
        same message.
        """
        if receipt_handle in self.deleted_messages:
            return

        with self._messages_lock:
            for index, message in enumerate(self._messages):
                if message.had_receipt_handle(receipt_handle):
                    self.pending_messages.discard(message)
                    self.deleted_messages.update(message.all_receipt_handles)
                    del self._messages[index]
                    return
        raise sqs.ReceiptHandleIsInvalid()

    def generate_receipt_handle() -> str:
        """moto 5.2.5's receipt handle (185 lowercase letters from its random source) in one draw of 185, not
        185 draws of one: 56 -> 13 µs, and every message received makes one (4% of the emulator under load).
        `choices` draws through `random()`, which devstack.determinism pins for a journaled call as it pins
        `getrandbits` (what `choice` used): a replayed receive makes the same handle."""
        return "".join(sqs.random.choices(string.ascii_lowercase, k=185))

    backend_cls = sqs.SQSBackend
    backend_cls.send_message = send_message  # type: ignore[method-assign]
    backend_cls.get_queue_attributes = get_queue_attributes  # type: ignore[method-assign]
    backend_cls.receive_message = receive_message  # type: ignore[method-assign]
    sqs.Queue.delete_message = delete_message  # type: ignore[method-assign]
    sqs.generate_receipt_handle = generate_receipt_handle  # Message.mark_received's, imported by name


def _draw_random_strings_at_once() -> None:
    """moto 5.2.5's ``MotoRandom.get_random_string`` and ``get_random_hex`` with one ``choices`` draw instead of
    a ``choice`` per character: every answer's 52-letter request id was 52 draws. Same alphabets and source."""
    from moto.moto_api._internal.moto_random import HEX_CHARS, MotoRandom

    def get_random_hex(self: Any, length: int = 8) -> str:
        return "".join(map(str, self.choices(HEX_CHARS, k=length)))

    def get_random_string(self: Any, length: int = 20, include_digits: bool = True, lower_case: bool = False) -> str:
        pool = string.ascii_letters + (string.digits if include_digits else "")
        random_str = "".join(self.choices(pool, k=length))
        return random_str.lower() if lower_case else random_str

    MotoRandom.get_random_hex = get_random_hex  # type: ignore[method-assign]
    MotoRandom.get_random_string = get_random_string  # type: ignore[method-assign]


def _visible_messages(queue: Any) -> Iterator[Any]:
    # moto's Queue.messages filter, evaluated lazily over the live list: a message appended
    # during the scan is seen (it is a visible new message), none is copied up front.
    for message in queue._messages:
        if message.visible and not message.delayed:
            yield message
