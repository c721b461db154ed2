"""Restore one context's table from a backup or a point in time, without publishing any old event again
(R-EV-2) and without sending any mail again (SPEC §10). The same command serves AWS and devstack:

    python -m shared.ops.restore --table <physical table name> (--backup <ARN> | --latest | --at <ISO time>)
                                 [--endpoint URL] [--dry-run] [--role-arn ARN] [--keep-temporary]

(run from `functions/`, or with it on PYTHONPATH). Progress goes to stderr, the summary to stdout as JSON.

Why it works this way:

- A DynamoDB restore (RestoreTableFromBackup, RestoreTableToPointInTime, AWS Backup's restore job) always
  creates a NEW table; it never overwrites an existing one. The live table belongs to CloudFormation (its
  name, stream, TTL, PITR, alarms, and every function's environment and event source mapping point at it),
  so swapping in a restored table would mean a stack change that replaces resources, a new stream that no
  mapping reads, and functions pointed at a table the stack does not know.
- So the backup is restored into a TEMPORARY table, and the live table is then made equal to it item by
  item through ordinary writes: a backup item that is missing from the live table or differs from it is
  put back, a live item the backup lacks is deleted. The live table keeps its name, stream, settings, and
  the functions' mappings; its indexes follow by themselves.
- Those writes do go through the live table's stream. Its consumers are selected by the template's
  FilterCriteria: the outbox relays take INSERTs of `OUTBOX#...` keys, the mailers INSERTs of `MAIL#...`
  keys. Outbox and mail items are therefore never written back (an outbox item's events were published
  when it was first written; a mail item was sent then): they are SKIPPED, and the live ones are left as
  they are (they expire by TTL). Everything else, inbox markers included, goes back to the backup's state,
  so an event consumed after the backup is no longer marked as applied and is applied again if it is
  redelivered (e.g. redriven), exactly like the state it had changed.
- Items that drive a job from the stream (a close's `DAY#`, a shuffle's `JOB#`; see the template's
  FilterCriteria on `status`) are written LAST, once everything such a job reads is back. A backup taken
  while a job was running resumes that job: prefer a backup taken when none was (accounting's after-close
  backups are).
- Run it while the context is quiet (no API traffic, its queues drained): writes made during the restore
  may be overwritten or deleted. Running it again is safe (it compares first): a restore cut short is
  finished by the same command. Other contexts are not rolled back: events published after the backup
  were consumed by them and stay consumed.

Sources: a DynamoDB backup ARN (`arn:aws:dynamodb:...:table/T/backup/...`: RestoreTableFromBackup); an
AWS Backup recovery point ARN (`arn:aws:backup:...:recovery-point:...`, taken by the template's backup plans
when AWS Backup's advanced DynamoDB features are on: restored by an AWS Backup restore job, which needs
`--role-arn`, e.g. the stack's BackupRole); `--latest`: the newest available backup of the table (AWS Backup
recovery points are considered too when `--role-arn` is given); `--at`: point-in-time recovery of the live
table itself (RestoreTableToPointInTime), as of that instant (UTC unless the time says otherwise).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TextIO

OUTBOX_PREFIX = "OUTBOX#"
MAIL_PREFIX = "MAIL#"
# Never written back: the relays publish every OUTBOX# INSERT, the mailers send every MAIL# INSERT.
NEVER_WRITTEN_BACK: tuple[str, ...] = (OUTBOX_PREFIX, MAIL_PREFIX)
# Written after everything else: their INSERT/MODIFY starts a job step that reads the rest of the table.
WRITTEN_LAST: tuple[str, ...] = ("DAY#", "JOB#")

BATCH_WRITE = 25  # BatchWriteItem's limit
BATCH_GET = 100  # BatchGetItem's limit
MAX_ATTEMPTS = 12  # for what DynamoDB leaves unprocessed (throttling), with exponential backoff
DEFAULT_TIMEOUT = 3600.0  # seconds to wait for the temporary table (a large restore takes a while in AWS)
POLL_SECONDS = 5.0
PROGRESS_EVERY = 5.0  # seconds between progress lines while comparing


class RestoreError(RuntimeError):
    """The restore cannot go on; the message says why (printed without a traceback)."""


@dataclass
class Summary:
    table: str
    source: str
    temporary: str = ""
    dry_run: bool = False
    restored: Counter[str] = field(default_factory=Counter)  # put back (missing or different), per key kind
    deleted: Counter[str] = field(default_factory=Counter)  # live items the backup lacks
    skipped: Counter[str] = field(default_factory=Counter)  # outbox/mail items of the backup NOT written back
    kept: Counter[str] = field(default_factory=Counter)  # live outbox/mail items the backup lacks, left alone
    unchanged: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "source": self.source,
            "temporary_table": self.temporary,
            "dry_run": self.dry_run,
            "restored": sum(self.restored.values()),
            "deleted": sum(self.deleted.values()),
            "skipped": sum(self.skipped.values()),
            "kept": sum(self.kept.values()),
            "unchanged": self.unchanged,
            "by_kind": {
                name: dict(sorted(getattr(self, name).items())) for name in ("restored", "deleted", "skipped", "kept")
            },
            "seconds": round(self.seconds, 1),
        }


@dataclass(frozen=True)
class Source:
    kind: str  # "backup" (DynamoDB), "recovery-point" (AWS Backup) or "point-in-time"
    arn: str = ""
    at: datetime | None = None

    def describe(self) -> str:
        return f"point in time {self.at.isoformat()}" if self.at else f"{self.kind} {self.arn}"


class Progress:
    """Lines on stderr, prefixed, throttled where asked."""

    def __init__(self, out: TextIO | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.out = out or sys.stderr
        self.clock = clock
        self._last = 0.0

    def say(self, message: str) -> None:
        print(f"restore: {message}", file=self.out, flush=True)
        self._last = self.clock()

    def tick(self, message: str) -> None:
        if self.clock() - self._last >= PROGRESS_EVERY:
            self.say(message)


def restore(
    table: str,
    *,
    backup_arn: str | None = None,
    latest: bool = False,
    at: datetime | None = None,
    dry_run: bool = False,
    role_arn: str | None = None,
    keep_temporary: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    endpoint_url: str | None = None,
    dynamodb: Any = None,
    backup: Any = None,
    progress: Progress | None = None,
) -> Summary:
    """Make the live `table` equal to the backup (or point in time), as the module docstring explains.
    Clients for `endpoint_url` (None: AWS, or whatever AWS_ENDPOINT_URL says) unless given."""
    if sum(bool(x) for x in (backup_arn, latest, at)) != 1:
        raise RestoreError("name exactly one source: a backup ARN, --latest, or --at TIME")
    progress = progress or Progress()
    dynamodb = dynamodb or _client("dynamodb", endpoint_url)
    if backup is None and (role_arn or _is_recovery_point(str(backup_arn))):
        backup = _client("backup", endpoint_url)  # AWS Backup: listing and restoring recovery points
    started = time.monotonic()
    live = _describe(dynamodb, table)
    key_names = [k["AttributeName"] for k in live["KeySchema"]]
    if at is not None:
        moment = at if at.tzinfo else at.replace(tzinfo=UTC)
        _check_point_in_time(dynamodb, table, moment)
        source = Source("point-in-time", at=moment)
    elif latest:
        source = _latest(dynamodb, backup, live, role_arn, progress)
    else:
        source = Source("recovery-point" if _is_recovery_point(str(backup_arn)) else "backup", arn=str(backup_arn))
    summary = Summary(table=table, source=source.describe(), dry_run=dry_run)
    temporary = summary.temporary = _temporary_name(table)
    progress.say(f"restoring {source.describe()} into the temporary table {temporary}")
    created = False
    try:
        created = _restore_into(dynamodb, backup, table, temporary, source, role_arn, timeout, progress)
        _wait_active(dynamodb, temporary, timeout, progress)
        progress.say(f"{temporary} is ACTIVE; making {table} equal to it{' (dry run)' if dry_run else ''}")
        try:
            _reconcile(dynamodb, table, temporary, key_names, summary, dry_run, progress)
        except Exception as error:
            if dry_run:
                raise
            raise RestoreError(
                f"stopped while writing to {table} ({type(error).__name__}: {error}); the table is partly "
                "restored: run the same command again (it compares, so it finishes the job)"
            ) from error
    finally:
        if created and not keep_temporary:
            try:
                dynamodb.delete_table(TableName=temporary)
                progress.say(f"deleted the temporary table {temporary}")
            except Exception as error:  # never hide the restore's own outcome behind a cleanup failure
                progress.say(f"could not delete the temporary table {temporary}: {error}; delete it by hand")
        elif created:
            progress.say(f"kept the temporary table {temporary} (--keep-temporary): delete it when done")
    summary.seconds = time.monotonic() - started
    verb = "would restore" if dry_run else "restored"
    progress.say(
        f"done: {verb} {sum(summary.restored.values())}, {'would delete' if dry_run else 'deleted'} "
        f"{sum(summary.deleted.values())}, skipped {sum(summary.skipped.values())} outbox/mail items of the "
        f"backup (never written back), kept {sum(summary.kept.values())} live ones, {summary.unchanged} unchanged"
    )
    return summary


# --- the source --------------------------------------------------------------------------------------


def _is_recovery_point(arn: str) -> bool:
    parts = arn.split(":")
    return len(parts) > 5 and parts[2] == "backup" and parts[5].startswith("recovery-point")


def _latest(dynamodb: Any, backup: Any, live: dict[str, Any], role_arn: str | None, progress: Progress) -> Source:
    """The newest available backup of the table: DynamoDB's (any type), and AWS Backup's when it can restore."""
    found: list[tuple[datetime, Source]] = []
    request: dict[str, Any] = {"TableName": live["TableName"], "BackupType": "ALL"}
    while True:
        page = dynamodb.list_backups(**request)
        for summary in page.get("BackupSummaries", []):
            if summary.get("BackupStatus") == "AVAILABLE":
                found.append((_aware(summary["BackupCreationDateTime"]), Source("backup", arn=summary["BackupArn"])))
        if not page.get("LastEvaluatedBackupArn"):
            break
        request["ExclusiveStartBackupArn"] = page["LastEvaluatedBackupArn"]
    if role_arn and backup is not None:
        request = {"ResourceArn": live["TableArn"]}
        while True:
            page = backup.list_recovery_points_by_resource(**request)
            for point in page.get("RecoveryPoints", []):
                if point.get("Status") == "COMPLETED":
                    arn = point["RecoveryPointArn"]
                    kind = "recovery-point" if _is_recovery_point(arn) else "backup"
                    found.append((_aware(point["CreationDate"]), Source(kind, arn=arn)))
            if not page.get("NextToken"):
                break
            request["NextToken"] = page["NextToken"]
    if not found:
        raise RestoreError(f"no available backup of {live['TableName']}")
    when, source = max(found, key=lambda pair: pair[0])
    progress.say(f"the latest backup of {live['TableName']} is {source.arn} ({when.isoformat()})")
    return source


def _check_point_in_time(dynamodb: Any, table: str, at: datetime) -> None:
    description = dynamodb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
    pitr = description.get("PointInTimeRecoveryDescription") or {}
    if pitr.get("PointInTimeRecoveryStatus") != "ENABLED":
        raise RestoreError(f"point-in-time recovery is not enabled on {table}")
    earliest = pitr.get("EarliestRestorableDateTime")
    if earliest is not None and at < _aware(earliest):
        raise RestoreError(f"{at.isoformat()} is before the earliest restorable time {_aware(earliest).isoformat()}")
    if at > datetime.now(UTC):
        raise RestoreError(f"{at.isoformat()} is in the future")


def _temporary_name(table: str) -> str:
    return f"{table[:200]}-restore-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"


def _restore_into(
    dynamodb: Any,
    backup: Any,
    table: str,
    temporary: str,
    source: Source,
    role_arn: str | None,
    timeout: float,
    progress: Progress,
) -> bool:
    """Start the restore into `temporary`; True once that table exists (so it must be deleted after).
    The temporary table needs no index (only a Scan and key lookups read it) and is billed on demand."""
    if source.kind == "point-in-time":
        dynamodb.restore_table_to_point_in_time(
            SourceTableName=table, TargetTableName=temporary, RestoreDateTime=source.at,
            BillingModeOverride="PAY_PER_REQUEST", GlobalSecondaryIndexOverride=[], LocalSecondaryIndexOverride=[],
        )  # fmt: skip
        return True
    if source.kind == "backup":
        dynamodb.restore_table_from_backup(
            TargetTableName=temporary, BackupArn=source.arn, BillingModeOverride="PAY_PER_REQUEST",
            GlobalSecondaryIndexOverride=[], LocalSecondaryIndexOverride=[],
        )  # fmt: skip
        return True
    if not role_arn:
        raise RestoreError("an AWS Backup recovery point is restored by AWS Backup: pass --role-arn (the BackupRole)")
    job = backup.start_restore_job(
        RecoveryPointArn=source.arn, IamRoleArn=role_arn, ResourceType="DynamoDB",
        Metadata={"targetTableName": temporary},
    )["RestoreJobId"]  # fmt: skip
    deadline = time.monotonic() + timeout
    while True:
        status = backup.describe_restore_job(RestoreJobId=job)
        if status["Status"] == "COMPLETED":
            return True
        if status["Status"] in ("ABORTED", "FAILED"):
            raise RestoreError(f"AWS Backup restore job {job} {status['Status']}: {status.get('StatusMessage', '')}")
        if time.monotonic() > deadline:
            raise RestoreError(f"AWS Backup restore job {job} did not finish in {timeout:g} s; it goes on in AWS")
        progress.tick(f"AWS Backup restore job {job}: {status['Status']} {status.get('PercentDone', '')}")
        time.sleep(POLL_SECONDS)


def _wait_active(dynamodb: Any, table: str, timeout: float, progress: Progress) -> None:
    deadline = time.monotonic() + timeout
    while True:
        status = _describe(dynamodb, table)["TableStatus"]
        if status == "ACTIVE":
            return
        if time.monotonic() > deadline:
            raise RestoreError(f"{table} is still {status} after {timeout:g} s; run again with a longer --timeout")
        progress.tick(f"waiting for {table} ({status})")
        time.sleep(POLL_SECONDS)


# --- making the live table equal to the temporary one ---------------------------------------------------


def _reconcile(
    dynamodb: Any,
    live: str,
    temporary: str,
    key_names: list[str],
    summary: Summary,
    dry_run: bool,
    progress: Progress,
) -> None:
    hash_key = key_names[0]
    writer = _BatchWriter(dynamodb, live, dry_run)
    deferred: list[dict[str, Any]] = []
    compared = 0
    # 1. The backup's items, page by page, against the live ones with the same keys.
    for page in _scan(dynamodb, temporary):
        by_key = {_key_of(item, key_names): item for item in page}
        current = _batch_get(dynamodb, live, [_key(item, key_names) for item in by_key.values()], key_names)
        for key, item in by_key.items():
            kind = _kind(item, hash_key)
            if current.get(key) is not None and _same(current[key], item):
                summary.unchanged += 1
            elif _starts(item, hash_key, NEVER_WRITTEN_BACK):
                summary.skipped[kind] += 1
            elif _starts(item, hash_key, WRITTEN_LAST):
                deferred.append(item)
                summary.restored[kind] += 1
            else:
                writer.put(item)
                summary.restored[kind] += 1
        compared += len(page)
        progress.tick(f"compared {compared} backup items; {sum(summary.restored.values())} to put back")
    writer.flush()
    progress.say(f"compared {compared} backup items; put back {sum(summary.restored.values()) - len(deferred)}")
    # 2. The live keys the backup lacks.
    scanned = 0
    projection = {"ProjectionExpression": ", ".join(f"#k{i}" for i in range(len(key_names))),
                  "ExpressionAttributeNames": {f"#k{i}": name for i, name in enumerate(key_names)}}  # fmt: skip
    for page in _scan(dynamodb, live, **projection):
        in_backup = _batch_get(dynamodb, temporary, [_key(item, key_names) for item in page], key_names)
        for item in page:
            if _key_of(item, key_names) in in_backup:
                continue
            if _starts(item, hash_key, NEVER_WRITTEN_BACK):
                summary.kept[_kind(item, hash_key)] += 1
            else:
                writer.delete(_key(item, key_names))
                summary.deleted[_kind(item, hash_key)] += 1
        scanned += len(page)
        progress.tick(f"checked {scanned} live keys; {sum(summary.deleted.values())} to delete")
    writer.flush()
    progress.say(f"checked {scanned} live keys; deleted {sum(summary.deleted.values())}")
    # 3. What starts jobs, now that what they read is back.
    for item in deferred:
        writer.put(item)
    writer.flush()
    if deferred:
        progress.say(f"put back {len(deferred)} job items last ({', '.join(WRITTEN_LAST)})")


class _BatchWriter:
    """BatchWriteItem in 25s, retrying what DynamoDB leaves unprocessed, with exponential backoff."""

    def __init__(self, dynamodb: Any, table: str, dry_run: bool) -> None:
        self.dynamodb, self.table, self.dry_run = dynamodb, table, dry_run
        self.pending: list[dict[str, Any]] = []

    def put(self, item: dict[str, Any]) -> None:
        self._add({"PutRequest": {"Item": item}})

    def delete(self, key: dict[str, Any]) -> None:
        self._add({"DeleteRequest": {"Key": key}})

    def _add(self, request: dict[str, Any]) -> None:
        self.pending.append(request)
        if len(self.pending) >= BATCH_WRITE:
            self.flush()

    def flush(self) -> None:
        while self.pending:
            chunk, self.pending = self.pending[:BATCH_WRITE], self.pending[BATCH_WRITE:]
            if self.dry_run:
                continue
            for attempt in range(MAX_ATTEMPTS):
                left = self.dynamodb.batch_write_item(RequestItems={self.table: chunk}).get("UnprocessedItems", {})
                chunk = left.get(self.table, [])
                if not chunk:
                    break
                time.sleep(min(0.05 * 2**attempt, 5.0))
            else:
                raise RestoreError(f"{len(chunk)} writes to {self.table} stayed unprocessed; run the restore again")


def _scan(dynamodb: Any, table: str, **extra: Any) -> Iterator[list[dict[str, Any]]]:
    request: dict[str, Any] = {"TableName": table, "ConsistentRead": True, **extra}
    while True:
        page = dynamodb.scan(**request)
        yield page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _batch_get(
    dynamodb: Any, table: str, keys: list[dict[str, Any]], key_names: list[str]
) -> dict[tuple[str, ...], dict[str, Any]]:
    """The items with these keys (consistent reads), by key; UnprocessedKeys retried with backoff."""
    found: dict[tuple[str, ...], dict[str, Any]] = {}
    for start in range(0, len(keys), BATCH_GET):
        request: dict[str, Any] = {table: {"Keys": keys[start : start + BATCH_GET], "ConsistentRead": True}}
        for attempt in range(MAX_ATTEMPTS):
            response = dynamodb.batch_get_item(RequestItems=request)
            for item in response.get("Responses", {}).get(table, []):
                found[_key_of(item, key_names)] = item
            request = response.get("UnprocessedKeys") or {}
            if not request:
                break
            time.sleep(min(0.05 * 2**attempt, 5.0))
        else:
            raise RestoreError(f"reads of {table} stayed unprocessed; run the restore again")
    return found


def _key(item: dict[str, Any], key_names: list[str]) -> dict[str, Any]:
    return {name: item[name] for name in key_names}


def _key_of(item: dict[str, Any], key_names: list[str]) -> tuple[str, ...]:
    """The key as something hashable."""
    return tuple(json.dumps(item[name], sort_keys=True) for name in key_names)


def _kind(item: dict[str, Any], hash_key: str) -> str:
    """What sort of item (the partition key up to its first `#`): counts in the summary read by kind."""
    value = item.get(hash_key, {}).get("S")
    return value.split("#", 1)[0] if isinstance(value, str) else "other"


def _starts(item: dict[str, Any], hash_key: str, prefixes: tuple[str, ...]) -> bool:
    value = item.get(hash_key, {}).get("S")
    return isinstance(value, str) and value.startswith(prefixes)


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return _canonical(a) == _canonical(b)


def _canonical(value: Any) -> Any:
    """An attribute value in one form: sets are unordered, numbers compare by value."""
    if isinstance(value, dict):
        if len(value) == 1:
            tag, inner = next(iter(value.items()))
            if tag == "N":
                return ("N", Decimal(inner).normalize())
            if tag == "NS":
                return ("NS", sorted(Decimal(v).normalize() for v in inner))
            if tag in ("SS", "BS"):
                return (tag, sorted(inner))
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    return value


# --- plumbing ---------------------------------------------------------------------------------------------


def _describe(dynamodb: Any, table: str) -> dict[str, Any]:
    try:
        return dynamodb.describe_table(TableName=table)["Table"]
    except Exception as error:
        if _code(error) == "ResourceNotFoundException":
            raise RestoreError(f"no table {table}") from error
        raise


def _aware(moment: Any) -> datetime:
    if isinstance(moment, int | float | Decimal):
        return datetime.fromtimestamp(float(moment), UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _code(error: Exception) -> str:
    return str((getattr(error, "response", None) or {}).get("Error", {}).get("Code", ""))


def _client(service: str, endpoint: str | None) -> Any:
    """A client for AWS, or for the endpoint given with --endpoint (devstack's emulator, which takes any
    credentials: dummy ones are used when none are configured, so a developer's profile is not needed)."""
    import boto3

    session = boto3.session.Session()
    if endpoint and session.get_credentials() is None:
        session = boto3.session.Session(
            aws_access_key_id="restore", aws_secret_access_key="restore", region_name=session.region_name
        )
    region = session.region_name or ("us-east-1" if endpoint else None)
    return session.client(service, endpoint_url=endpoint, region_name=region)


def _time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from error
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m shared.ops.restore",
        description="Restore a table from a backup or a point in time, without republishing events or resending "
        "mail (outbox and mail items are never written back).",
    )
    parser.add_argument("--table", required=True, help="the live table's physical name")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--backup", metavar="ARN", help="a DynamoDB backup ARN or an AWS Backup recovery point ARN")
    source.add_argument("--latest", action="store_true", help="the newest available backup of the table")
    source.add_argument("--at", type=_time, metavar="TIME", help="point-in-time recovery, ISO 8601 (UTC by default)")
    parser.add_argument("--endpoint", metavar="URL", help="an AWS-compatible endpoint (devstack's emulator)")
    parser.add_argument("--dry-run", action="store_true", help="compare and report; write nothing to the table")
    parser.add_argument("--role-arn", help="IAM role for AWS Backup restore jobs (the stack's BackupRole)")
    parser.add_argument("--keep-temporary", action="store_true", help="do not delete the temporary table")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds to wait for the restore")
    args = parser.parse_args(argv)
    try:
        summary = restore(
            args.table,
            backup_arn=args.backup,
            latest=args.latest,
            at=args.at,
            dry_run=args.dry_run,
            role_arn=args.role_arn,
            keep_temporary=args.keep_temporary,
            timeout=args.timeout,
            endpoint_url=args.endpoint,
        )
    except RestoreError as error:
        print(f"restore: {error}", file=sys.stderr)
        return 1
    except Exception as error:  # an AWS error before anything was written (access, a wrong ARN, ...)
        if _code(error):
            print(f"restore: {_code(error)}: {error}", file=sys.stderr)
            return 1
        raise
    print(json.dumps(summary.as_dict(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
