"""A snapshot of moto's state: every loaded BackendDict's backends, pickled into one file.

One `pickle` of {(module, attribute): {account: {region: backend}}}, so references between backends survive.
What does not pickle as it is: locks and conditions (made new and free), `cryptography` key objects (KMS keys,
as DER bytes: the signing key survives), and moto's item attributes (`LimitedSizeDict` re-measures the whole
item on every key set: rebuilt as one dict). Written by a forked child from its copy-on-write image (the
emulator keeps serving), to a .tmp file fsynced and renamed; loaded with the garbage collector off. Equal scalar
attribute values are pickled as one object (`moto_values`), and each DynamoType is rebuilt with its attributes
inline: the seeded year loads in 20 to 33 s into 5.6 GB, against 74 to 102 s into 11.8 GB before.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devstack import journal, moto_values


def _backend_dicts() -> dict[tuple[str, str], Any]:
    """Every moto BackendDict loaded so far, by (module, attribute)."""
    from moto.core.base_backend import BackendDict

    found: dict[tuple[str, str], Any] = {}
    seen: set[int] = set()
    for name, module in list(sys.modules.items()):
        if not name.startswith("moto.") or module is None:
            continue
        for attribute, value in list(vars(module).items()):
            if isinstance(value, BackendDict) and id(value) not in seen:
                seen.add(id(value))
                found[(name, attribute)] = value
    return found


def state_image() -> dict[tuple[str, str], dict[str, dict[str, Any]]]:
    """moto's state as plain dicts: {(module, attribute): {account: {region: backend}}}."""
    return {
        key: {account: dict(regions) for account, regions in backends.items() if len(regions)}
        for key, backends in _backend_dicts().items()
        if any(len(regions) for regions in backends.values())
    }


class _Pickler(pickle.Pickler):
    """Locks and conditions are not state: they come back new and free."""

    _fresh: dict[type, Callable[[], Any]] = {
        type(threading.Lock()): threading.Lock,
        type(threading.RLock()): threading.RLock,
        threading.Condition: threading.Condition,
        threading.Event: threading.Event,
        threading.Semaphore: threading.Semaphore,
    }

    def reducer_override(self, obj: Any) -> Any:
        cls = type(obj)
        if cls.__name__ == "DynamoType" and cls.__module__ == _DYNAMO_TYPE_MODULE:
            # pickle's default rebuilds an object with a __dict__ of its own (BUILD), where one made by
            # assigning attributes keeps them inline: 143 against 79 bytes a value, and faster to load
            return _dynamo_value, (cls, obj.type, obj.value)
        maker = self._fresh.get(cls)
        if maker is not None:
            return maker, ()
        if cls.__name__ == "LimitedSizeDict":
            # moto's item attributes re-measure the whole item on every key set: unpickled key by key, a
            # year of items took minutes. Stored items were measured when written: rebuilt as one dict.
            return _sized_dict, (cls, dict(obj))
        if cls.__module__.startswith("cryptography."):
            return _crypto_key(obj)
        return NotImplemented


_DYNAMO_TYPE_MODULE = "moto.dynamodb.models.dynamo_type"
_new = object.__new__


def _dynamo_value(cls: type, kind: str, value: Any) -> Any:
    built = _new(cls)
    built.type = kind
    built.value = value
    return built


def _sized_dict(cls: type, items: dict[str, Any]) -> Any:
    built = cls.__new__(cls)
    dict.update(built, items)
    return built


def _crypto_key(key: Any) -> Any:
    """KMS keys hold `cryptography` key objects, which do not pickle: as DER bytes (the key survives)."""
    from cryptography.hazmat.primitives import serialization

    if hasattr(key, "private_bytes"):
        der = key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return _private_key, (der,)
    if hasattr(key, "public_bytes"):
        der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        return _public_key, (der,)
    return NotImplemented


def _private_key(der: bytes) -> Any:
    from cryptography.hazmat.primitives import serialization

    return serialization.load_der_private_key(der, None)


def _public_key(der: bytes) -> Any:
    from cryptography.hazmat.primitives import serialization

    return serialization.load_der_public_key(der)


def write_snapshot(path: Path) -> None:
    """Written by the forked child (`fork_snapshot`): sharing equal values changes its copy only, and would
    be as safe in the emulator itself (see `moto_values`)."""
    moto_values.share_equal_values()  # a shared value pickles once; each other use is one memo reference
    temporary = path.with_suffix(".tmp")
    with open(temporary, "wb") as handle:
        _Pickler(handle, protocol=pickle.HIGHEST_PROTOCOL).dump(state_image())
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(path)
    journal.fsync_directory(path.parent)


def fork_snapshot(path: Path) -> int:
    """Fork a child that writes the snapshot from its copy-on-write image and exits; its pid."""
    import warnings

    sys.stdout.flush()
    sys.stderr.flush()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads: the child only pickles and exits
        pid = os.fork()
    if pid == 0:
        code = 1
        try:
            write_snapshot(path)
            code = 0
        except BaseException as error:
            with contextlib.suppress(Exception):
                os.write(2, f"devstack.persistence: snapshot failed: {error!r}\n".encode())
        finally:
            os._exit(code)
    return pid


def load_snapshot(path: Path) -> None:
    import gc
    import importlib

    collecting = gc.isenabled()
    gc.disable()  # millions of new objects would set off collections that walk all of them, again and again
    try:
        with open(path, "rb") as handle:
            image = pickle.load(handle)  # noqa: S301 - our own snapshot, in our own state dir
    finally:
        gc.freeze()  # as after a bulk load: the state lives as long as the emulator, no collection need walk it
        if collecting:
            gc.enable()
    for (module_name, attribute), accounts in image.items():
        backends = getattr(importlib.import_module(module_name), attribute)
        for account, regions in accounts.items():
            per_region = backends[account]
            for region, backend in regions.items():
                dict.__setitem__(per_region, region, backend)
    _register_buckets()


def _register_buckets() -> None:
    """moto keeps S3's bucket names (one namespace for every account) in a registry beside its backends,
    which the image does not hold. Without it, the CreateBucket devstack sends for the template's buckets
    at every start (idempotent in us-east-1) made a new, empty bucket in place of the kept one: a restart
    emptied the analytics lake. Rebuilt here from the buckets themselves."""
    from moto.s3.models import s3_backends

    for account, regions in s3_backends.items():
        for backend in regions.values():
            for name, bucket in backend.buckets.items():
                s3_backends.bucket_accounts[name] = (bucket.partition, account)
