"""The auth table (single-table design) behind small functions; the only module that knows its keys.

ACCOUNT#<id> / ACCOUNT     the account (gsi1: "ACCOUNT" / email, the admin list;
                           gsi2: "DEPT#<department>" / id, to regrant a department's roles)
EMAIL#<email> / EMAIL      claims a login email for one active account
DEPTROLES#<id> / ROLES     roles granted to everyone in a department (R-AUTH-6)
INVITE#<sha256> / INVITE   a one-time set-password link (only its hash is stored)
INVITES#<id> / LATEST      the account's newest link: older ones no longer work (R-SEC-3)
MAIL#<uuid> / MAIL         an email to send (the mailer sends it from the stream, at least once)
LOGIN#<email> / GUARD      sign-in tickets of the last 15 minutes and the lock (expires on its own)
OUTBOX#<uuid> / OUTBOX     events waiting for the relay (shared.events.outbox)
INBOX#<event id> / <name>  events a consumer has applied (shared.events.consumer)
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from auth.domain import (
    LOCK_SECONDS,
    MAX_FAILURES,
    RETENTION_AFTER_DEACTIVATION_SECONDS,
    WINDOW_SECONDS,
    Account,
    LoginGuard,
)
from auth.settings import get as settings
from shared import clock, dynamo, pagination
from shared.aws import client
from shared.errors import Conflict, Gone, Unprocessable
from shared.events.outbox import outbox_put

if TYPE_CHECKING:  # the authorizer reads accounts through this module: it imports no event model
    from shared.contracts import Envelope

MAIL_TTL_SECONDS = 7 * 24 * 3600


def table() -> str:
    return settings().auth_table_name


# --- accounts ------------------------------------------------------------------------------------


def _account(item: dict[str, Any]) -> Account:
    return Account(
        account_id=item["account_id"],
        email=item.get("email"),
        name=item.get("name", ""),
        own_roles=tuple(item.get("own_roles", item.get("roles", []))),
        roles=tuple(item.get("roles", [])),
        active=bool(item.get("active", False)),
        version=int(item.get("version", 1)),
        department_id=item.get("department_id"),
        employee_version=int(item.get("employee_version", 0)),
        password_hash=item.get("password_hash"),
        revision=int(item.get("revision", 0)),
        expires_at=int(item["expires_at"]) if item.get("expires_at") and not item.get("active") else None,
        session_epoch=int(item.get("session_epoch", 0)),
    )


def get_account(account_id: str) -> Account | None:
    item = dynamo.get(table(), f"ACCOUNT#{account_id}", "ACCOUNT")
    return _account(item) if item else None


def find_by_email(email: str) -> Account | None:
    claim = dynamo.get(table(), f"EMAIL#{email}", "EMAIL")
    return get_account(claim["account_id"]) if claim else None


def _account_item(account: Account) -> dict[str, Any]:
    item = {
        "pk": f"ACCOUNT#{account.account_id}",
        "sk": "ACCOUNT",
        "gsi1pk": "ACCOUNT",
        "gsi1sk": account.email or f"~{account.account_id}",
        "account_id": account.account_id,
        "email": account.email,
        "name": account.name,
        "own_roles": list(account.own_roles),
        "roles": list(account.roles),
        "active": account.active,
        "version": account.version,
        "employee_version": account.employee_version,
        "department_id": account.department_id,
        "password_hash": account.password_hash,
        "revision": account.revision,
        "session_epoch": account.session_epoch,
        "updated_at": clock.iso(clock.now()),
    }
    if account.department_id:
        item["gsi2pk"], item["gsi2sk"] = f"DEPT#{account.department_id}", account.account_id
    if not account.active:  # a year after the deactivation, however often it is written since
        item["expires_at"] = account.expires_at or clock.epoch_seconds() + RETENTION_AFTER_DEACTIVATION_SECONDS
    return item


def account_actions(before: Account | None, after: Account) -> list[dict[str, Any]]:
    """Write `after` if the account is still as `before` was read, moving its email claim with it:
    the claim follows the email, and only active accounts hold one (a dismissed popug's email is free)."""
    after = replace(after, revision=(before.revision + 1) if before else 1)
    if before is None:
        condition, values = "attribute_not_exists(pk)", None
    else:
        condition, values = "revision = :r", {":r": before.revision}
    actions = [dynamo.put(table(), _account_item(after), condition=condition, values=values)]
    old_claim = before.email if before and before.active else None
    new_claim = after.email if after.active else None
    if old_claim != new_claim:
        if old_claim:
            actions.append(
                dynamo.delete(table(), f"EMAIL#{old_claim}", "EMAIL", condition="account_id = :a",
                              values={":a": after.account_id})
            )  # fmt: skip
        if new_claim:
            actions.append(
                dynamo.put(table(), {"pk": f"EMAIL#{new_claim}", "sk": "EMAIL", "account_id": after.account_id},
                           condition="attribute_not_exists(pk) OR account_id = :a", values={":a": after.account_id})
            )  # fmt: skip
    return actions


def save(before: Account | None, after: Account, events: list[Envelope], extra: list[dict] | None = None) -> None:
    actions = account_actions(before, after) + (extra or [])
    if events:
        actions.append(outbox_put(table(), events))
    stale = Conflict("the account changed in the meantime; try again", code="stale")
    dynamo.transact(actions, {0: stale})


def list_accounts(
    limit: int, cursor: str | None, *, prefix: str | None = None, ascending: bool = True
) -> tuple[list[Account], str | None]:
    """Every account by email (R-UI-5: a search is the start of an email, a key prefix of the index, so a
    page costs what it returns), in either direction."""
    return _page("gsi1", "gsi1pk", "ACCOUNT", limit, cursor, prefix=prefix, ascending=ascending)


def accounts_in_department(department_id: str, limit: int = 100, cursor: str | None = None):
    return _page("gsi2", "gsi2pk", f"DEPT#{department_id}", limit, cursor)


def _page(
    index: str,
    key: str,
    value: str,
    limit: int,
    cursor: str | None,
    *,
    prefix: str | None = None,
    ascending: bool = True,
) -> tuple[list[Account], str | None]:
    condition = f"{key} = :v"
    values = {":v": {"S": value}}
    if prefix:
        condition += f" AND begins_with({index}sk, :q)"
        values[":q"] = {"S": prefix}
    params: dict[str, Any] = {
        "TableName": table(),
        "IndexName": index,
        "KeyConditionExpression": condition,
        "ExpressionAttributeValues": values,
        "Limit": limit,
        "ScanIndexForward": ascending,
    }
    start = pagination.decode(cursor)
    if start and prefix and not str(start.get(f"{index}sk", "")).startswith(prefix):
        raise Unprocessable(
            "This list's place to go on from (the cursor) belongs to another search; start the list again without it.",
            code="invalid_cursor",
        )
    if start:
        params["ExclusiveStartKey"] = dynamo.to_item(start)
    page = client("dynamodb").query(**params)
    accounts = [_account(dynamo.from_item(item)) for item in page.get("Items", [])]
    last = page.get("LastEvaluatedKey")
    return accounts, pagination.encode(dynamo.from_item(last) if last else None)


# --- department grants (R-AUTH-6) ----------------------------------------------------------------


def department_roles(department_id: str | None) -> tuple[str, ...]:
    if not department_id:
        return ()
    item = dynamo.get(table(), f"DEPTROLES#{department_id}", "ROLES")
    return tuple(item.get("roles", [])) if item else ()


def department_roles_action(department_id: str, roles: list[str]) -> dict[str, Any]:
    return dynamo.put(
        table(),
        {"pk": f"DEPTROLES#{department_id}", "sk": "ROLES", "department_id": department_id, "roles": roles,
         "updated_at": clock.iso(clock.now())},
    )  # fmt: skip


# --- invitations and mail (R-AUTH-4) -------------------------------------------------------------


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invitation_actions(account_id: str, token: str, expires_at: int) -> list[dict[str, Any]]:
    """The link, and the account's pointer to it as its newest: a new invitation voids the older links."""
    return [
        dynamo.put(
            table(),
            {"pk": f"INVITE#{token_hash(token)}", "sk": "INVITE", "account_id": account_id, "used": False,
             "valid_until": expires_at, "expires_at": expires_at + 24 * 3600},
        ),
        dynamo.put(
            table(),
            {"pk": f"INVITES#{account_id}", "sk": "LATEST", "token_hash": token_hash(token),
             "updated_at": clock.iso(clock.now())},
        ),
    ]  # fmt: skip


def get_invitation(token: str) -> dict[str, Any] | None:
    """The link if it can still set a password: unused, unexpired, and the account's newest."""
    invitation = dynamo.get(table(), f"INVITE#{token_hash(token)}", "INVITE")
    if not invitation or invitation.get("used") or invitation["valid_until"] <= clock.epoch_seconds():
        return None
    latest = dynamo.get(table(), f"INVITES#{invitation['account_id']}", "LATEST")
    if latest and latest["token_hash"] != token_hash(token):
        return None  # a newer invitation was sent (links sent before pointers existed have none)
    return invitation


def redeem_invitation(before: Account, after: Account, token: str) -> None:
    """Set the password and use the link in one transaction, while the link is still unused and the newest."""
    gone = Gone("this link has expired or was already used; ask an admin for a new invitation", code="invitation_gone")
    account = account_actions(before, after)
    checks = [
        dynamo.update(
            table(), f"INVITE#{token_hash(token)}", "INVITE", "SET used = :t",
            condition="attribute_exists(pk) AND used = :f", values={":t": True, ":f": False},
        ),
        {"ConditionCheck": {
            "TableName": table(), "Key": dynamo.key(f"INVITES#{before.account_id}", "LATEST"),
            "ConditionExpression": "attribute_not_exists(pk) OR token_hash = :h",
            "ExpressionAttributeValues": {":h": {"S": token_hash(token)}},
        }},
    ]  # fmt: skip
    stale = Conflict("the account changed in the meantime; try again", code="stale")
    dynamo.transact([*account, *checks], {0: stale, len(account): gone, len(account) + 1: gone})


def mail_action(to: str, subject: str, text: str) -> dict[str, Any]:
    return dynamo.put(
        table(),
        {"pk": f"MAIL#{uuid.uuid4()}", "sk": "MAIL", "to": to, "subject": subject, "text": text,
         "expires_at": clock.epoch_seconds() + MAIL_TTL_SECONDS},
    )  # fmt: skip


def forget_mail(pk: str) -> None:
    client("dynamodb").delete_item(TableName=table(), Key=dynamo.key(pk, "MAIL"))


# --- login guard (R-AUTH-1, R-SEC-1) ------------------------------------------------------------
#
# LOGIN#<email> / GUARD holds `tickets` (a string set, see domain.LoginGuard), `locked_until` and `expires_at`.
# Every write is a single conditional UpdateItem, so the limit holds across any number of concurrent Lambdas:
# DynamoDB applies the condition and the write of one item atomically, which a read-then-write never is.

TICKET_ATTEMPTS = 2 * MAX_FAILURES + 2  # each retry follows a ticket taken or aged out by someone else


class NoTicket(Exception):
    """No sign-in may be judged for this email now; `retry_after` says for how long (seconds, at least 1)."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"retry after {retry_after} s")
        self.retry_after = max(1, retry_after)


def _guard_key(email: str) -> dict[str, Any]:
    return dynamo.key(f"LOGIN#{email}", "GUARD")


def _guard(item: dict[str, Any] | None) -> LoginGuard:
    if not item:
        return LoginGuard()
    return LoginGuard(tickets=frozenset(item.get("tickets", ())), locked_until=int(item.get("locked_until", 0)))


def get_guard(email: str) -> LoginGuard:
    return _guard(dynamo.get(table(), f"LOGIN#{email}", "GUARD"))


def locks_of(emails: list[str]) -> dict[str, int]:
    """`locked_until` per email for the admin list, in one BatchGetItem (emails are at most a page)."""
    if not emails:
        return {}
    keys = [dynamo.key(f"LOGIN#{email}", "GUARD") for email in emails]
    found = dynamo.batch_get(table(), keys)
    return {item["pk"].removeprefix("LOGIN#"): int(item.get("locked_until", 0)) for item in found}


def take_ticket(email: str, now: int) -> str:
    """A ticket to have one password judged, taken BEFORE the password is checked; `NoTicket` when the
    email is locked or its window already holds MAX_FAILURES tickets (R-SEC-1)."""
    ticket = f"{now}:{uuid.uuid4().hex[:12]}"
    dynamodb = client("dynamodb")
    for _ in range(TICKET_ATTEMPTS):
        try:
            dynamodb.update_item(
                TableName=table(),
                Key=_guard_key(email),
                UpdateExpression="ADD tickets :mine SET expires_at = :expires",
                ConditionExpression="(attribute_not_exists(tickets) OR size(tickets) < :max) "
                "AND (attribute_not_exists(locked_until) OR locked_until <= :now)",
                ExpressionAttributeValues={
                    ":mine": {"SS": [ticket]},
                    ":max": {"N": str(MAX_FAILURES)},
                    ":now": {"N": str(now)},
                    ":expires": {"N": str(now + WINDOW_SECONDS + LOCK_SECONDS)},
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            return ticket
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            seen = error.response.get("Item")
        guard = _guard(dynamo.from_item(seen) if seen else None)
        stale = guard.stale(now)
        if guard.locked_until > now or not stale:
            raise NoTicket(guard.wait(now))
        # Tickets older than the window no longer count: drop them (stale stays stale, so no condition),
        # then try again for a free place.
        dynamodb.update_item(
            TableName=table(),
            Key=_guard_key(email),
            UpdateExpression="DELETE tickets :stale",
            ExpressionAttributeValues={":stale": {"SS": stale}},
        )
    raise NoTicket(1)  # the email is being hammered: every place was taken while we tried


def give_back(email: str, ticket: str) -> None:
    """The password was right: its ticket is not a failure and frees its place (earlier failures stay)."""
    client("dynamodb").update_item(
        TableName=table(),
        Key=_guard_key(email),
        UpdateExpression="DELETE tickets :mine",
        ExpressionAttributeValues={":mine": {"SS": [ticket]}},
    )


def record_failure(email: str, now: int) -> LoginGuard:
    """The ticket stays taken (it counts as a failure for the window); the fifth failure locks the email.

    The lock is written only if the window's tickets are still held, so a right password given back
    meanwhile does not lock anyone out, and it never shortens a lock already in place."""
    guard = get_guard(email)
    failures = guard.locks_after_failure(now)
    if not failures:
        return guard
    until = now + LOCK_SECONDS
    held = {f":t{i}": {"S": ticket} for i, ticket in enumerate(failures)}
    try:
        client("dynamodb").update_item(
            TableName=table(),
            Key=_guard_key(email),
            UpdateExpression="SET locked_until = :until, expires_at = :expires",  # kept at least while locked
            ConditionExpression=" AND ".join(f"contains(tickets, {name})" for name in held)
            + " AND (attribute_not_exists(locked_until) OR locked_until < :until)",
            ExpressionAttributeValues={
                ":until": {"N": str(until)},
                ":expires": {"N": str(until + WINDOW_SECONDS)},
                **held,
            },
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        return get_guard(email)
    return replace(guard, locked_until=until)
