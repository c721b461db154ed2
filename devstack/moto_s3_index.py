"""A sorted index of each S3 bucket's live key names, so a ListObjects costs what it lists.

Why: moto 5.2.5 answers every ListObjects(V2) page by copying and walking every name the bucket has
ever held (`_VersionedKeyStore`), delete markers included, then sorting what matched the prefix. The
analytics lake is versioned and its packing (analytics/pack.py) deletes each landed event's object, so
the lake's names grow by ~5,000 delete markers a day of a 1,000-popug company, and moto never expires
them (lifecycle rules are not enforced). Measured on a seeded year: a LIST of 3 keys took 50 ms on the
lake (30,000 names) against 3 ms on a small bucket, and every analytics query lists several prefixes.

What: per key store, the sorted names whose latest version is not a delete marker, kept current on the
store's write paths (`__setitem__`: PutObject, CopyObject, a delete marker; `setlist`: a versioned
delete, a multipart upload; `pop` and `del`: deletes). A listing walks only the names from its prefix,
or from its start key (StartAfter or continuation token) when that is later, and ListObjectsV2 stops at
max-keys + 1 names. The rest of each listing is moto's own code (copied below, the differences marked
`devstack:`), so keys, order, truncation and tokens are moto's. A listing with a delimiter (which nothing
in the stack sends) is moto's own, walk and all: moto folds a name into a folder (CommonPrefixes) before
it drops delete markers, so its folders need every name.
"""

from __future__ import annotations

import bisect
import threading
from typing import Any

_INDEX = "_devstack_live_names"
# Tests turn this off to ask moto's own listing the same question on the same data.
fast_listing = True
_moto: dict[str, Any] = {}  # moto's own list_objects and list_objects_v2
_lock = threading.Lock()  # listings read the index outside the emulator's write lock


def _live(versions: list[Any] | None) -> bool:
    from moto.s3.models import FakeDeleteMarker

    return bool(versions) and not isinstance(versions[-1], FakeDeleteMarker)


def _names(store: dict[str, list[Any]]) -> list[str]:
    """The store's index, built on first use (a store loaded from a snapshot made before it had one)."""
    names = store.__dict__.get(_INDEX)
    if names is None:
        # dict.copy: the store's own lists in one step (writers do not take this lock, and moto's items()
        # would yield each key's latest version)
        names = sorted(name for name, versions in dict.copy(store).items() if _live(versions))
        store.__dict__[_INDEX] = names
    return names


def changed(store: dict[str, list[Any]], name: str) -> None:
    """Bring `name`'s place in the index in line with the store."""
    with _lock:
        names = store.__dict__.get(_INDEX)
        if names is None:  # not listed yet (or being loaded from a snapshot): built whole at its first listing
            return
        at = bisect.bisect_left(names, name)
        present = at < len(names) and names[at] == name
        live = _live(dict.get(store, name))
        if live and not present:
            names.insert(at, name)
        elif present and not live:
            del names[at]


def candidates(store: dict[str, list[Any]], prefix: str | None, after: str | None, limit: int | None) -> list[str]:
    """The live names starting with `prefix` and greater than `after`, in order, at most `limit` of them."""
    prefix = prefix or ""
    with _lock:
        names = _names(store)
        start = bisect.bisect_left(names, prefix)
        if after is not None and after >= prefix:
            start = max(start, bisect.bisect_right(names, after))
        end = bisect.bisect_left(names, prefix[:-1] + chr(ord(prefix[-1]) + 1)) if prefix else len(names)
        if limit is not None:
            end = min(end, start + limit)
        return names[start:end]


def apply() -> None:
    from moto.s3.models import S3Backend
    from moto.s3.utils import _VersionedKeyStore

    def keeping_index(method: Any) -> Any:
        def write(self: Any, key: str, *args: Any) -> Any:
            result = method(self, key, *args)
            changed(self, key)
            return result

        return write

    for name in ("__setitem__", "setlist", "pop", "__delitem__"):
        setattr(_VersionedKeyStore, name, keeping_index(getattr(_VersionedKeyStore, name)))
    _moto.update(list_objects=S3Backend.list_objects, list_objects_v2=S3Backend.list_objects_v2)
    S3Backend.list_objects = list_objects  # type: ignore[method-assign]
    S3Backend.list_objects_v2 = list_objects_v2  # type: ignore[method-assign]


def list_objects(
    self: Any,
    bucket: Any,
    prefix: str | None,
    delimiter: str | None,
    marker: str | None,
    max_keys: int | None,
    *,
    after: str | None = None,  # devstack: only names greater than this one can be in the answer
    limit: int | None = None,  # devstack: ... and only the first `limit` of them
) -> Any:
    from moto.s3.exceptions import MethodNotAllowed
    from moto.s3.models import FakeDeleteMarker, FakeTableStorageBucket

    if not fast_listing or delimiter:
        return _moto["list_objects"](self, bucket, prefix, delimiter, marker, max_keys)
    if isinstance(bucket, FakeTableStorageBucket):
        raise MethodNotAllowed()
    key_results = set()
    folder_results: set[str] = set()  # devstack: no delimiter here, so no folders
    for key_name in candidates(bucket.keys, prefix, after, limit):  # devstack: not every name ever held
        key = bucket.keys.get(key_name)
        if key is not None:  # devstack: (else deleted since the index was read)
            key_results.add(key)

    key_results = filter(lambda key: not isinstance(key, FakeDeleteMarker), key_results)  # type: ignore
    key_results = sorted(key_results, key=lambda key: key.name)  # type: ignore
    folder_results = sorted(folder_results)  # type: ignore[assignment]

    if marker:
        limit_name = self._pagination_tokens.get(marker) or marker
        key_results = self._get_results_from_token(key_results, limit_name)

    if max_keys is not None:
        key_results, is_truncated, next_marker = self._truncate_result(key_results, max_keys)
    else:
        is_truncated = False
        next_marker = None

    return key_results, folder_results, is_truncated, next_marker


def list_objects_v2(
    self: Any,
    bucket: Any,
    prefix: str | None,
    delimiter: str | None,
    continuation_token: str | None,
    start_after: str | None,
    max_keys: int,
) -> Any:
    from moto.s3.exceptions import MethodNotAllowed
    from moto.s3.models import FakeTableStorageBucket

    if not fast_listing or delimiter:
        return _moto["list_objects_v2"](self, bucket, prefix, delimiter, continuation_token, start_after, max_keys)
    if isinstance(bucket, FakeTableStorageBucket):
        raise MethodNotAllowed()
    limit = self._pagination_tokens.get(continuation_token) if continuation_token else start_after
    # devstack: the walk starts after the page's start key and stops after one key more than the page holds
    # (what tells the page is truncated)
    result_keys, result_folders, _, _ = list_objects(
        self, bucket, prefix, delimiter, marker=None, max_keys=None,
        after=limit if isinstance(limit, str) else None, limit=max_keys + 1,
    )  # fmt: skip
    all_keys = result_keys + result_folders
    all_keys.sort(key=self._get_name)

    if continuation_token or start_after:
        all_keys = self._get_results_from_token(all_keys, limit)

    truncated_keys, is_truncated, next_continuation_token = self._truncate_result(all_keys, max_keys)

    return truncated_keys, is_truncated, next_continuation_token
