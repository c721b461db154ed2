"""The auth table (single-table design) behind small functions; the only module that knows its keys.

ACCOUNT#<id> / ACCOUNT   the account: email, name, own roles, password hash, active, version
                         (gsi1: "ACCOUNT" / email, for the admin list)
EMAIL#<email> / EMAIL    claims the email for one account (uniqueness by condition)
LOGIN#<email> / GUARD    recent failed logins and the lock (expires on its own)
OUTBOX#<uuid> / OUTBOX   events waiting for the relay (shared.events.outbox)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from auth.domain import LOCK_SECONDS, WINDOW_SECONDS, LoginGuard
from auth.settings import get as settings
from shared import clock, dynamo, pagination
from shared.aws import client
from shared.contracts import Envelope
from shared.events.outbox import outbox_put


@dataclass(frozen=True)
class Account:
    account_id: str
    email: str
    name: str
    roles: list[str]
    active: bool
    version: int
    department_id: str | None = None
    password_hash: str | None = None

    def public(self) -> dict[str, Any]:
        """What the API shows: never the password hash."""
        return {
            "account_id": self.account_id,
            "employee_id": self.account_id,
            "email": self.email,
            "name": self.name,
            "roles": self.roles,
            "active": self.active,
            "department_id": self.department_id,
        }


def _table() -> str:
    return settings().auth_table_name


def _account(item: dict[str, Any]) -> Account:
    return Account(
        account_id=item["account_id"],
        email=item["email"],
        name=item.get("name", ""),
        roles=list(item.get("roles", [])),
        active=bool(item.get("active", False)),
        version=int(item.get("version", 1)),
        department_id=item.get("department_id"),
        password_hash=item.get("password_hash"),
    )


def get_account(account_id: str) -> Account | None:
    item = dynamo.get(_table(), f"ACCOUNT#{account_id}", "ACCOUNT")
    return _account(item) if item else None


def find_by_email(email: str) -> Account | None:
    claim = dynamo.get(_table(), f"EMAIL#{email}", "EMAIL")
    return get_account(claim["account_id"]) if claim else None


def _account_item(account: Account) -> dict[str, Any]:
    return {
        "pk": f"ACCOUNT#{account.account_id}",
        "sk": "ACCOUNT",
        "gsi1pk": "ACCOUNT",
        "gsi1sk": account.email,
        "account_id": account.account_id,
        "email": account.email,
        "name": account.name,
        "roles": account.roles,
        "active": account.active,
        "version": account.version,
        "department_id": account.department_id,
        "password_hash": account.password_hash,
        "updated_at": clock.iso(clock.now()),
    }


def create_account(account: Account, events: list[Envelope]) -> None:
    """The account, its email claim and its events in one transaction; 409-worthy if the email is taken."""
    table = _table()
    dynamo.transact(
        [
            dynamo.put(
                table,
                {"pk": f"EMAIL#{account.email}", "sk": "EMAIL", "account_id": account.account_id},
                condition="attribute_not_exists(pk)",
            ),
            dynamo.put(table, _account_item(account), condition="attribute_not_exists(pk)"),
            outbox_put(table, events),
        ]
    )


def save_account(account: Account, *, expected_version: int, events: list[Envelope]) -> None:
    """Replace the account if nobody changed it since `expected_version` was read (optimistic lock)."""
    table = _table()
    actions = [
        dynamo.put(table, _account_item(account), condition="version = :v", values={":v": expected_version}),
    ]
    if events:
        actions.append(outbox_put(table, events))
    dynamo.transact(actions)


def list_accounts(limit: int, cursor: str | None) -> tuple[list[Account], str | None]:
    params: dict[str, Any] = {
        "TableName": _table(),
        "IndexName": "gsi1",
        "KeyConditionExpression": "gsi1pk = :p",
        "ExpressionAttributeValues": {":p": {"S": "ACCOUNT"}},
        "Limit": limit,
    }
    start = pagination.decode(cursor)
    if start:
        params["ExclusiveStartKey"] = dynamo.to_item(start)
    page = client("dynamodb").query(**params)
    accounts = [_account(dynamo.from_item(item)) for item in page.get("Items", [])]
    last = page.get("LastEvaluatedKey")
    return accounts, pagination.encode(dynamo.from_item(last) if last else None)


# --- login guard (R-AUTH-1) -------------------------------------------------------------------------


def get_guard(email: str) -> LoginGuard:
    item = dynamo.get(_table(), f"LOGIN#{email}", "GUARD")
    if not item:
        return LoginGuard()
    return LoginGuard(
        failures=tuple(item.get("failures", [])),
        locked_until=int(item.get("locked_until", 0)),
        revision=int(item.get("revision", 0)),
    )


def locks_of(emails: list[str]) -> dict[str, int]:
    """`locked_until` per email for the admin list, in one BatchGetItem (emails are at most a page)."""
    if not emails:
        return {}
    keys = [dynamo.key(f"LOGIN#{email}", "GUARD") for email in emails]
    response = client("dynamodb").batch_get_item(RequestItems={_table(): {"Keys": keys}})
    found = [dynamo.from_item(i) for i in response.get("Responses", {}).get(_table(), [])]
    return {item["pk"].removeprefix("LOGIN#"): int(item.get("locked_until", 0)) for item in found}


def record_failure(email: str, now: int) -> LoginGuard:
    """Count one failed login; concurrent failures are all counted (optimistic retry on the revision)."""
    for _ in range(5):
        guard = get_guard(email)
        updated = guard.after_failure(now)
        try:
            client("dynamodb").put_item(
                TableName=_table(),
                Item=dynamo.to_item(
                    {
                        "pk": f"LOGIN#{email}",
                        "sk": "GUARD",
                        "failures": list(updated.failures),
                        "locked_until": updated.locked_until,
                        "revision": updated.revision,
                        "expires_at": now + WINDOW_SECONDS + LOCK_SECONDS,
                    }
                ),
                ConditionExpression="attribute_not_exists(pk) OR revision = :r",
                ExpressionAttributeValues={":r": {"N": str(guard.revision)}},
            )
            return updated
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
    return guard


def clear_guard(email: str) -> None:
    client("dynamodb").delete_item(TableName=_table(), Key=dynamo.key(f"LOGIN#{email}", "GUARD"))
