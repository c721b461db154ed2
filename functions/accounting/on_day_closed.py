"""Accounting's backup is started by DayClosed (SPEC §10): right after a day's payouts, the table is backed
up (a DynamoDB on-demand backup). One backup per close whatever the redelivery: it is named after the
day, and a backup of that name already taken is not taken again (the inbox marker commits only after
the backup call, so it alone cannot stop a duplicate delivered meanwhile).

On-demand backups are kept until deleted, so each close also deletes the after-close backups of days more
than the backup retention before it (`BACKUP_RETENTION_DAYS`, the template's BackupRetentionDays: what the
backup plans' lifecycle does for the other tables). A backup holds a year of ledger, names and emails:
kept for ever, it would keep them long past the year accounting keeps them.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from botocore.exceptions import ClientError

from accounting import domain, store
from accounting.settings import get as settings
from shared import clock
from shared.aws import client
from shared.contracts import Envelope
from shared.events.consumer import Consumer
from shared.observability import logger


def on_day_closed(envelope: Envelope, data: Any) -> list[dict[str, Any]]:
    name = domain.after_close_backup_name(data.business_day)
    dynamodb = client("dynamodb")
    recent = dynamodb.list_backups(TableName=store.table(), TimeRangeLowerBound=clock.now() - timedelta(days=7))
    if any(b["BackupName"] == name for b in recent.get("BackupSummaries", [])):
        logger.info("this close was backed up already", backup_name=name)
    else:
        backup = dynamodb.create_backup(TableName=store.table(), BackupName=name)
        logger.info("accounting backed up after the close", backup_arn=backup["BackupDetails"]["BackupArn"])
    expired = delete_expired_backups(data.business_day, settings().backup_retention_days)
    if expired:
        logger.info("deleted after-close backups past the retention", backups=expired)
    return []


def delete_expired_backups(closed: date, keep_days: int) -> list[str]:
    """Delete the table's after-close backups past the retention once `closed` is closed; their names."""
    dynamodb = client("dynamodb")
    request: dict[str, Any] = {"TableName": store.table(), "BackupType": "USER"}
    deleted = []
    while True:
        page = dynamodb.list_backups(**request)
        for backup in page.get("BackupSummaries", []):
            if backup.get("BackupStatus") == "DELETED":
                continue
            if not domain.after_close_backup_expired(backup["BackupName"], closed, keep_days):
                continue
            try:
                dynamodb.delete_backup(BackupArn=backup["BackupArn"])
            except ClientError as error:
                # gone meanwhile (a duplicate delivery deleted it), or a restore reads it now: the next close
                # tries again
                if error.response["Error"]["Code"] not in ("BackupNotFoundException", "BackupInUseException"):
                    raise
                logger.info("an expired backup is left for the next close", backup=backup["BackupName"])
                continue
            deleted.append(backup["BackupName"])
        if not page.get("LastEvaluatedBackupArn"):
            return deleted
        request["ExclusiveStartBackupArn"] = page["LastEvaluatedBackupArn"]


lambda_handler = Consumer("accounting.on_day_closed", store.table, {"DayClosed": on_day_closed})
