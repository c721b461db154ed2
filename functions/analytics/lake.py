"""The analytics lake's S3 layout (R-AN-1, R-AN-2), and a local mirror of it for DuckDB (R-AN-4).

Layout of the lake bucket:

    raw/<EventName>/v<version>/day=<YYYY-MM-DD>/<event_id>.json
        One envelope per object as it lands (one line of JSON, the Glue JSON SerDe's format), `day` = the
        UTC date of its `event_time`. Keyed by `event_id`, so a redelivered event overwrites itself:
        landing is idempotent without reading anything first.
    raw/<EventName>/v<version>/day=<YYYY-MM-DD>/batch-<sha256>.json
        The events of one delivered batch that fall in the partition, one per line, in one object (on_event.py:
        a batch of a hundred events is a few PutObjects, not a hundred). Named by a digest of its bytes, so the
        same batch delivered again writes the same key; a partition given one event of a batch gets it as
        `<event_id>.json`, as above. The packer packs these like the objects of single events.
    raw/<EventName>/v<version>/day=<YYYY-MM-DD>/pack-<sha256>.json
        Many of those envelopes in one object, one per line (pack.py): every few minutes the landed
        objects of a partition are packed, so a busy day is a few objects, not one per event (a
        1,000-popug company lands ~5,000 a day; a query lists and opens every object of the days it
        reads). Named by a digest of its bytes, so packing the same objects again writes the same key.
        An event can be in a pack and landed again (redelivered): the logical tables read raw rows
        DISTINCT, as they already do for at-least-once delivery.
    curated/<table>/day=<YYYY-MM-DD>/part-0.parquet
        One Parquet file per compacted table and day (the business day for `transactions` and
        `closed_days`, the UTC creation day for `tasks`); compaction overwrites it whole, so running it
        again never duplicates rows.
    monthly/<table>/month=<YYYY-MM>/part-0.parquet
        A month's curated partitions of one table in one file (the roll-up), written once the watermark
        has passed the month's last day, and again when a late event changed one of its days. A year of
        a table is 12 files instead of 365: each file costs a query an open and a footer read whatever
        its size (bench/analytics_queries.py), and Athena bills a minimum per file as well.
    state/compaction.json
        {"compacted_through": "YYYY-MM-DD", "rolled_up_through": "YYYY-MM-DD", "revision": "<hex>"}: every
        closed business day up to the first is compacted (the watermark), every month up to the second (a
        month's last day) is rolled up. Queries read monthly files up to the second, curated partitions
        after it up to the watermark, and raw events after that. `revision` is new each time a compaction
        run ends, and absent while one is under way (or stopped half-way): while it stays the same, no
        curated or monthly object changes (see `Mirror.sync_all`).

Every `day=` and `month=` partition is what the Glue tables project (no crawler, no partition registry),
and what DuckDB reads as a hive partition. Objects expire with the bucket's lifecycle rule (R-AN-5).

DuckDB has no S3 access here (httpfs is not installed), so the query engine and the compaction read a
local mirror: only the prefixes (and day ranges) a query needs, only the keys that are new or changed
(by ETag), downloaded in parallel, kept in /tmp across warm invocations. A listed object that is gone
when it is downloaded was packed meanwhile: the copy lists again, so it never misses the pack.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import time
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from shared.aws import client
from shared.contracts import Envelope

RAW = "raw/"
CURATED = "curated/"
MONTHLY = "monthly/"
STATE_KEY = "state/compaction.json"
MIRROR_ROOT = Path(tempfile.gettempdir()) / "ates-lake"
DOWNLOAD_THREADS = 16  # S3 GETs are latency-bound: a day of small raw objects downloads in parallel
# The manifest is saved this often during a long copy, so a copy cut short (the function's time-out) is not
# started over: a year-old lake's raw days are ~10,000 objects, more than one request's time can copy.
MANIFEST_EVERY = 500
PACK = "pack-"  # the name of a raw object holding many envelopes (pack.py)
BATCH = "batch-"  # the name of a raw object landing several events of one delivered batch (on_event.py)
RELISTS = 3  # a copy lists again this often when objects it listed were packed away meanwhile
KEPT_LISTINGS = 256  # listings of the compacted zone a warm process keeps (a dashboard's ranges: a few a day)
_DAY = re.compile(r"^day=(\d{4}-\d{2}-\d{2})/[^/]+$")
_PARTITION = re.compile(r"^(?:day=(\d{4}-\d{2}-\d{2})|month=(\d{4}-\d{2}))/[^/]+$")


@dataclass(frozen=True)
class State:
    """How far the compaction got: the watermark, the last day of the last month rolled up, and the last
    month end the month-end tables (tables.MONTH_ENDS) were written through; and the revision of the
    compacted objects, None while a compaction run may be changing them."""

    compacted_through: date | None = None
    rolled_up_through: date | None = None
    month_ends_through: date | None = None
    revision: str | None = None


def event_day(moment: datetime) -> date:
    """The UTC date of a moment (a naive moment is taken as UTC, as the producers' clock is)."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC).date()


def raw_prefix(event_name: str, version: int) -> str:
    return f"{RAW}{event_name}/v{version}/"


def curated_prefix(table: str) -> str:
    return f"{CURATED}{table}/"


def partition(prefix: str, day: date) -> str:
    return f"{prefix}day={day.isoformat()}/"


def raw_partition(envelope: Envelope) -> str:
    """The raw partition an event lands in: its name's and version's prefix, the UTC day of its time."""
    return partition(raw_prefix(envelope.event_name, envelope.event_version), event_day(envelope.event_time))


def raw_key(envelope: Envelope) -> str:
    return f"{raw_partition(envelope)}{envelope.event_id}.json"


def raw_line(envelope: Envelope) -> str:
    """One landed event: a line of JSON, the Glue JSON SerDe's format."""
    return json.dumps(envelope.model_dump(mode="json"), separators=(",", ":"), sort_keys=True)


def pack_key(partition_prefix: str, body: bytes) -> str:
    """The key of a pack of raw envelopes in a partition: named by its bytes, so the same pack is one key."""
    return f"{partition_prefix}{PACK}{hashlib.sha256(body).hexdigest()}.json"


def pack_body(lines: Iterable[str]) -> bytes:
    """A pack's bytes: each distinct non-blank line once, sorted, so the same lines make the same pack."""
    distinct = sorted({line for line in lines if line.strip()})
    return ("\n".join(distinct) + "\n").encode()


def is_pack(key: str) -> bool:
    return key.rsplit("/", 1)[-1].startswith(PACK)


def curated_key(table: str, day: date) -> str:
    return f"{partition(curated_prefix(table), day)}part-0.parquet"


def monthly_prefix(table: str) -> str:
    return f"{MONTHLY}{table}/"


def monthly_key(table: str, month: date) -> str:
    return f"{monthly_prefix(table)}month={month:%Y-%m}/part-0.parquet"


def month_end(day: date) -> date:
    """The last day of `day`'s month."""
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def put_raw(bucket: str, envelope: Envelope) -> str:
    """Land one event (one PutObject); the same event again writes the same key with the same bytes."""
    return put_landed(bucket, [envelope])


def put_landed(bucket: str, envelopes: list[Envelope]) -> str:
    """Land the events of one raw partition in one PutObject; returns its key. One event is keyed by its id;
    several are one object of their lines, each once, sorted, named by its bytes (`batch-<sha256>.json`):
    either way the same events landed again write the same key with the same bytes."""
    (partition_prefix,) = {raw_partition(envelope) for envelope in envelopes}
    if len({envelope.event_id for envelope in envelopes}) == 1:
        key, body = raw_key(envelopes[0]), (raw_line(envelopes[0]) + "\n").encode()
    else:
        body = pack_body(raw_line(envelope) for envelope in envelopes)
        key = f"{partition_prefix}{BATCH}{hashlib.sha256(body).hexdigest()}.json"
    client("s3").put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
    return key


def read_state(bucket: str) -> State:
    """The compaction's progress (nothing compacted yet: all None). A state written before roll-ups (or
    month-end tables) existed has no `rolled_up_through` (`month_ends_through`): none is read."""
    s3 = client("s3")
    try:
        stored = json.loads(s3.get_object(Bucket=bucket, Key=STATE_KEY)["Body"].read())
    except s3.exceptions.NoSuchKey:
        return State()
    rolled, month_ends = stored.get("rolled_up_through"), stored.get("month_ends_through")
    return State(
        date.fromisoformat(stored["compacted_through"]),
        date.fromisoformat(rolled) if rolled else None,
        date.fromisoformat(month_ends) if month_ends else None,
        stored.get("revision"),
    )


def read_watermark(bucket: str) -> date | None:
    """The last compacted business day, or None when nothing is compacted yet."""
    return read_state(bucket).compacted_through


def write_watermark(
    bucket: str,
    day: date,
    rolled_up_through: date | None = None,
    month_ends_through: date | None = None,
    *,
    settled: bool = False,
) -> None:
    """Write the compaction's progress. `settled`: every compacted object is written, as it stays until the
    next run (a new revision); else a run is under way and the state has no revision."""
    stored = {"compacted_through": day.isoformat()}
    if rolled_up_through is not None:
        stored["rolled_up_through"] = rolled_up_through.isoformat()
    if month_ends_through is not None:
        stored["month_ends_through"] = month_ends_through.isoformat()
    if settled:
        stored["revision"] = uuid.uuid4().hex
    body = json.dumps(stored).encode()
    client("s3").put_object(Bucket=bucket, Key=STATE_KEY, Body=body, ContentType="application/json")


def restate(bucket: str, state: State, *, settled: bool) -> None:
    """Write `state`'s progress again, settled (a new revision) or not (none); nothing before a first
    compaction (no state to write)."""
    if state.compacted_through is not None:
        write_watermark(
            bucket, state.compacted_through, state.rolled_up_through, state.month_ends_through, settled=settled
        )


def month_end_before(day: date, through: date | None) -> date | None:
    """The last month end at or before `day` that month-end tables were written for (`through`, a month
    end itself), or None."""
    if through is None:
        return None
    return min(day if month_end(day) == day else day.replace(day=1) - timedelta(days=1), through)


def day_of_key(prefix: str, key: str) -> date | None:
    """The `day=` partition of a key right under `prefix`, or None for anything else."""
    match = _DAY.match(key[len(prefix) :]) if key.startswith(prefix) else None
    return date.fromisoformat(match[1]) if match else None


def days_of_key(prefix: str, key: str) -> tuple[date, date] | None:
    """The first and last day of the `day=` or `month=` partition of a key right under `prefix`."""
    match = _PARTITION.match(key[len(prefix) :]) if key.startswith(prefix) else None
    if not match:
        return None
    if match[1]:
        return date.fromisoformat(match[1]), date.fromisoformat(match[1])
    first = date.fromisoformat(f"{match[2]}-01")
    return first, month_end(first)


class MirrorIncomplete(Exception):
    """The copy stopped at its deadline; what it copied is kept, and the next `sync` goes on from there."""

    def __init__(self, copied: int, wanted: int) -> None:
        super().__init__(f"{copied} of {wanted} objects copied")
        self.copied, self.wanted = copied, wanted


class Mirror:
    """A local copy of part of the lake (same keys as relative paths under `root`).

    `sync` makes a prefix's partitions in a day range equal to the bucket's: new and changed keys (by
    ETag) are downloaded, keys gone from the bucket (expired, R-AN-5) are deleted. Files are replaced
    atomically, so processes sharing the directory never read half a file.
    """

    def __init__(self, bucket: str, root: Path | None = None) -> None:
        self.bucket = bucket
        self.root = (root or MIRROR_ROOT) / bucket
        self._manifest_path = self.root / ".etags.json"
        self._etags: dict[str, str] | None = None

    def path(self, key_or_prefix: str) -> Path:
        return self.root / key_or_prefix

    def sync_all(
        self,
        ranges: dict[str, tuple[date | None, date | None]],
        deadline: float | None = None,
        revision: str | None = None,
    ) -> int:
        """`sync` of several prefixes, each with its (first_day, last_day); their first listings run at once:
        each is a round trip (tens of milliseconds on S3) and a query that reads four tables waited for four.
        `revision`: the compaction state's (read before this call). A range of the compacted zone (curated/,
        monthly/) this process copied under the same revision is not listed again: nothing there changed
        since (the compaction's runs end with a new revision), so a year-old lake's query lists only its raw
        days, as a fresh lake's does."""
        prefixes = [prefix for prefix in ranges if not _KEPT.holds(self, revision, prefix, ranges[prefix])]
        with ThreadPoolExecutor(max(1, len(prefixes))) as pool:
            listings = list(pool.map(lambda prefix: self._list(prefix, *ranges[prefix]), prefixes))
        copied = 0
        for prefix, listed in zip(prefixes, listings, strict=True):
            copied += self.sync(prefix, *ranges[prefix], deadline=deadline, listed=listed)
            _KEPT.keep(self, revision, prefix, ranges[prefix], listed)
        return copied

    def sync(
        self,
        prefix: str,
        first_day: date | None = None,
        last_day: date | None = None,
        deadline: float | None = None,
        listed: dict[str, str] | None = None,
    ) -> int:
        """Mirror the partitions of `prefix` from `first_day` to `last_day` (inclusive, None = open);
        returns how many objects were downloaded. At `deadline` (time.monotonic()) it stops copying and
        raises MirrorIncomplete, keeping what it copied; so it does when listed objects were still being
        packed away after RELISTS listings. `listed`: the range's listing, when the caller has just made it."""
        copied = 0
        for _ in range(RELISTS):
            listed = listed if listed is not None else self._list(prefix, first_day, last_day)
            etags = self._manifest()
            wanted = {k: etag for k, etag in listed.items() if etags.get(k) != etag or not self.path(k).exists()}
            gone = self._download_all(wanted, deadline) if wanted else set()
            copied += len(wanted) - len(gone)
            present = {k: etag for k, etag in listed.items() if k not in gone}
            removed = self._remove_unlisted(prefix, first_day, last_day, present)
            if wanted or removed:
                self._save_manifest()
            if not gone:
                return copied
            listed = None  # some were packed away since: list again
        raise MirrorIncomplete(copied, copied + len(gone))

    def _download_all(self, wanted: dict[str, str], deadline: float | None) -> set[str]:
        """Copy `wanted`; returns the keys that were gone from the bucket (packed since they were listed)."""
        etags, copied, gone = self._manifest(), 0, set()
        pool = ThreadPoolExecutor(DOWNLOAD_THREADS)
        try:
            downloads = {pool.submit(self._download, key): key for key in wanted}
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            for download in as_completed(downloads, timeout=timeout):
                key = downloads[download]
                if not download.result():
                    gone.add(key)
                    continue
                etags[key] = wanted[key]
                copied += 1
                if copied % MANIFEST_EVERY == 0:
                    self._save_manifest()
        except TimeoutError:
            self._save_manifest()
            raise MirrorIncomplete(copied, len(wanted)) from None
        finally:  # at the deadline: the downloads under way finish on their own (their files are not counted)
            pool.shutdown(wait=False, cancel_futures=True)
        return gone

    def _list(self, prefix: str, first_day: date | None, last_day: date | None) -> dict[str, str]:
        params: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        if first_day is not None:  # keys sort by day (or month): start right before the first wanted partition
            start = f"month={first_day:%Y-%m}" if prefix.startswith(MONTHLY) else f"day={first_day.isoformat()}"
            params["StartAfter"] = f"{prefix}{start}"
        listed: dict[str, str] = {}
        for page in client("s3").get_paginator("list_objects_v2").paginate(**params):
            for item in page.get("Contents", []):
                days = days_of_key(prefix, item["Key"])
                if days is None or (first_day is not None and days[1] < first_day):
                    continue
                if last_day is not None and days[0] > last_day:
                    return listed
                listed[item["Key"]] = item["ETag"]
        return listed

    def _download(self, key: str) -> bool:
        """Copy one object; False when it is gone from the bucket."""
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        s3 = client("s3")
        try:
            body = s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except s3.exceptions.NoSuchKey:
            return False
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".part-")
        with os.fdopen(handle, "wb") as out:
            out.write(body)
        os.replace(temporary, target)
        return True

    def _remove_unlisted(self, prefix: str, first: date | None, last: date | None, listed: dict[str, str]) -> int:
        base = self.path(prefix)
        if not base.is_dir():
            return 0
        removed = 0
        for path in base.glob("*=*/*"):
            key = path.relative_to(self.root).as_posix()
            days = days_of_key(prefix, key)
            if days is None or key in listed or path.name.startswith("."):
                continue
            if (first is None or days[1] >= first) and (last is None or days[0] <= last):
                path.unlink(missing_ok=True)
                self._manifest().pop(key, None)
                removed += 1
        return removed

    def _manifest(self) -> dict[str, str]:
        if self._etags is None:
            try:
                self._etags = json.loads(self._manifest_path.read_text())
            except (OSError, ValueError):
                self._etags = {}
        return self._etags

    def _save_manifest(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.root, prefix=".etags-")
        with os.fdopen(handle, "w") as out:
            json.dump(self._manifest(), out)
        os.replace(temporary, self._manifest_path)


class KeptListings:
    """The listings of compacted ranges a warm process copied, each with the state revision it was made
    under. A compaction run removes the state's revision before it writes anything and writes a new one
    when it is done, so a listing made under a revision still stands while the state has that revision
    (a listing made during a run is kept under the revision read before it, which no later query reads).
    A file another process's copy removed meanwhile (only ever one gone from the bucket) means listing
    again."""

    def __init__(self) -> None:
        self._revision: str | None = None
        self._listings: dict[tuple[Path, str, tuple[date | None, date | None]], list[str]] = {}

    def holds(self, mirror: Mirror, revision: str | None, prefix: str, days: tuple[date | None, date | None]) -> bool:
        if revision is None or revision != self._revision:
            return False
        keys = self._listings.get((mirror.root, prefix, days))
        return keys is not None and all(mirror.path(key).exists() for key in keys)

    def keep(
        self,
        mirror: Mirror,
        revision: str | None,
        prefix: str,
        days: tuple[date | None, date | None],
        listed: dict[str, str],
    ) -> None:
        if revision is None or not prefix.startswith((CURATED, MONTHLY)):
            return
        if revision != self._revision or len(self._listings) >= KEPT_LISTINGS:
            self._revision, self._listings = revision, {}
        self._listings[(mirror.root, prefix, days)] = list(listed)


_KEPT = KeptListings()  # per warm process, like the mirror itself
