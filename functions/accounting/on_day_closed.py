"""Accounting's backup is started by DayClosed (SPEC §10): right after a day's payouts, the table is backed
up (a DynamoDB on-demand backup). One backup per close whatever the redelivery: it is named after the
day, and a backup of that name already taken is not taken again (the inbox marker commits only after
the backup call, so it alone cannot stop a duplicate delivered meanwhile)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from accounting import store
from shared import clock
from shared.aws import client
from shared.contracts import Envelope
from shared.events.consumer import Consumer
from shared.observability import logger


def on_day_closed(envelope: Envelope, data: Any) -> list[dict[str, Any]]:
    name = f"after-close-{data.business_day.isoformat()}"
    dynamodb = client("dynamodb")
    recent = dynamodb.list_backups(TableName=store.table(), TimeRangeLowerBound=clock.now() - timedelta(days=7))
    if any(b["BackupName"] == name for b in recent.get("BackupSummaries", [])):
        logger.info("this close was backed up already", backup_name=name)
        return []
    backup = dynamodb.create_backup(TableName=store.table(), BackupName=name)
    logger.info("accounting backed up after the close", backup_arn=backup["BackupDetails"]["BackupArn"])
    return []


lambda_handler = Consumer("accounting.on_day_closed", store.table, {"DayClosed": on_day_closed})
