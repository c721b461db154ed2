"""What the accounting functions read from their environment (set in template.yaml)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from shared import settings


@dataclass(frozen=True)
class AccountingSettings:
    accounting_table_name: str
    # R-ACC-5: the day a transaction belongs to, and the day the schedule closes, are in this timezone.
    business_timezone: str = "UTC"
    ses_sender: str = ""
    payout_email_template: str = ""
    web_url: str = ""
    # Emails per second the mailer may send (the account's SES sending rate; 0: unpaced). Each bulk call
    # counts as one email per destination towards it.
    ses_max_send_rate: int = 14
    # Accounts one close step reads (one Query page per shard it reaches) and pays, 11 per transaction.
    close_chunk_accounts: int = 990
    # A close with no recorded progress for this long is nudged on by the next close request.
    close_stale_seconds: int = 300
    # After-close backups older than this are deleted (SPEC §10; the template's BackupRetentionDays).
    backup_retention_days: int = 35


@cache
def get() -> AccountingSettings:
    return settings.load(AccountingSettings)
