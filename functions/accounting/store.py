"""The accounting table behind small functions; the only module that knows its keys.

    CALENDAR / CALENDAR           first_day, next_open (every earlier day is closed), closing, retained_from
    BALANCE#<s> / <employee_id>   a popug's account: balance, opening, seq, day_delta, paid_through, name,
                                  email, rev. <s> is the id's first hex digit: 16 partitions that a close
                                  walks in id order with consistent Queries.
        gsi1: ACCOUNTS / <name>#<id>                   every account by name (the admins' list, name search)
        gsi2: ACCOUNTS / <balance, shifted>#<id>       every account by balance (Balances sorted by balance)
    ACCOUNT#<id> / TX#<seq>       one ledger transaction (seq: 10 digits, so the ledger sorts in order)
        gsi1: DAY#<business_day> / <id>#<seq>          a day's transactions, by account (emails, expiry)
    TASK#<id> / TASK              a task's price (set once), title and jira id, whether it was rewarded
    STATS#<s> / <date>            fees and rewards of a day, per shard of accounts (no single hot item)
    DAY#<date> / DAY              a day's close and its progress; its stream record drives the next step
    DAY#<date> / TALLY            what the close of the day counted (payouts, emails)
    MAIL#<date>#<uuid> / MAIL     one bulk send of payout emails (queued -> sent), from the table's stream
    OUTBOX#<uuid> / OUTBOX        events for the relay;  INBOX#<event_id> / <consumer>: applied events

Every write of an account is conditional on the `rev` it was read at, so two writers never both win.

Expiry (SPEC §10: accounting keeps a year, balances forever): CALENDAR and BALANCE items never expire;
ledger entries leave through the close's retention step (their sum moves into the opening amount, R-ACC-7);
STATS# and DAY# items expire by TTL (`expires_at`) a year after their day, with that day's ledger entries,
and a TASK# a year after its reward (an open task stays); outbox, inbox and mail items within days.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any

from accounting.domain import (
    Account,
    AccountOrder,
    Calendar,
    DayClose,
    Price,
    TaskInfo,
    Transaction,
    balance_sort_key,
    dates,
    name_key,
    retained_until,
)
from accounting.settings import get as settings
from shared import dynamo, pagination
from shared.aws import client
from shared.contracts import Envelope
from shared.errors import Unprocessable
from shared.events.outbox import outbox_put

CALENDAR_KEY = ("CALENDAR", "CALENDAR")
SHARDS = "0123456789abcdef"
ACCOUNTS = "ACCOUNTS"
MAIL_TTL_SECONDS = 30 * 24 * 3600
STATUS = {"#s": "status"}


def table() -> str:
    return settings().accounting_table_name


def _retained_until(day: str) -> int:
    """The TTL of what is kept about business day `day` (its statistics, its close): a year."""
    return retained_until(date.fromisoformat(day), settings().business_timezone)


def shard_of(employee_id: str) -> str:
    return employee_id[0].lower()


def _balance_key(employee_id: str) -> tuple[str, str]:
    return f"BALANCE#{shard_of(employee_id)}", employee_id


# --- the calendar ------------------------------------------------------------------------------------


def _calendar(item: dict[str, Any]) -> Calendar:
    return Calendar(
        first_day=date.fromisoformat(item["first_day"]), next_open=date.fromisoformat(item["next_open"]),
        closing=date.fromisoformat(item["closing"]) if item.get("closing") else None,
    )  # fmt: skip


def get_calendar() -> Calendar | None:
    item = dynamo.get(table(), *CALENDAR_KEY)
    return _calendar(item) if item else None


def ensure_calendar(today: date) -> Calendar:
    """The calendar; the first call ever starts it at `today` (the day the system first ran, R-ACC-5)."""
    found = get_calendar()
    if found:
        return found
    day = today.isoformat()
    item = {"pk": CALENDAR_KEY[0], "sk": CALENDAR_KEY[1], "first_day": day, "next_open": day, "retained_from": day}
    try:
        client("dynamodb").put_item(
            TableName=table(), Item=dynamo.to_item(item), ConditionExpression="attribute_not_exists(pk)"
        )
    except client("dynamodb").exceptions.ConditionalCheckFailedException:
        pass  # someone else started it first: theirs stands
    calendar = get_calendar()
    assert calendar is not None
    return calendar


def retained_from() -> date:
    item = dynamo.get(table(), *CALENDAR_KEY) or {}
    return date.fromisoformat(item.get("retained_from") or item.get("first_day") or date.max.isoformat())


def day_is_open(day: date) -> dict[str, Any]:
    """A ConditionCheck that `day` still takes transactions when the write commits: a close that starts
    in between makes the write fail, and the retry books it to the next day (R-ACC-2)."""
    return {
        "ConditionCheck": {
            "TableName": table(),
            "Key": dynamo.key(*CALENDAR_KEY),
            "ConditionExpression": "next_open < :d OR (next_open = :d AND attribute_not_exists(closing))",
            "ExpressionAttributeValues": {":d": {"S": day.isoformat()}},
        }
    }


# --- tasks -------------------------------------------------------------------------------------------


def _task(item: dict[str, Any]) -> TaskInfo:
    price = Price(int(item["assign_fee"]), int(item["reward"])) if "assign_fee" in item else None
    return TaskInfo(task_id=item["task_id"], price=price, title=item.get("title"), jira_id=item.get("jira_id"),
                    rewarded=bool(item.get("rewarded")), rev=int(item.get("rev", 0)),
                    expires_at=int(item["expires_at"]) if item.get("expires_at") else None)  # fmt: skip


def tasks_by_ids(task_ids: Iterable[str]) -> dict[str, TaskInfo]:
    keys = [dynamo.key(f"TASK#{t}", "TASK") for t in dict.fromkeys(t for t in task_ids if t)]
    return {t.task_id: t for t in map(_task, dynamo.batch_get(table(), keys))}


def task_action(before: TaskInfo | None, after: TaskInfo) -> dict[str, Any]:
    """Write what is new about a task. The price is only ever written by the first writer (R-ACC-1): a
    second one finds the item and fails, and its retry reads the price that won."""
    item = {"pk": f"TASK#{after.task_id}", "sk": "TASK", "task_id": after.task_id, "title": after.title,
            "jira_id": after.jira_id, "rewarded": after.rewarded or None, "rev": after.rev + 1,
            "expires_at": after.expires_at}  # fmt: skip
    if after.price:
        item.update(assign_fee=after.price.assign_fee, reward=after.price.reward)
    if before is None:
        return dynamo.put(table(), item, condition="attribute_not_exists(pk)")
    return dynamo.put(table(), item, condition="rev = :rev", values={":rev": before.rev})


# --- accounts ----------------------------------------------------------------------------------------


def _account(item: dict[str, Any]) -> Account:
    return Account(
        employee_id=item["employee_id"], balance=int(item.get("balance", 0)), opening=int(item.get("opening", 0)),
        seq=int(item.get("seq", 0)), day_delta={k: int(v) for k, v in (item.get("day_delta") or {}).items()},
        paid_through=item.get("paid_through"), name=item.get("name"), email=item.get("email"),
        staff_version=int(item.get("staff_version", 0)), dismissed=bool(item.get("dismissed")), exists=True,
    )  # fmt: skip


def _rev(item: dict[str, Any]) -> int:
    return int(item.get("rev", 0))


class Versioned:
    """An account as read, with the revision its write must still find."""

    def __init__(self, account: Account, rev: int | None) -> None:
        self.account, self.rev = account, rev


def get_account(employee_id: str) -> Versioned:
    item = dynamo.get(table(), *_balance_key(employee_id))
    return Versioned(_account(item), _rev(item)) if item else Versioned(Account(employee_id), None)


def accounts_by_ids(employee_ids: Iterable[str]) -> dict[str, Versioned]:
    ids = list(dict.fromkeys(employee_ids))
    found = {
        i["employee_id"]: Versioned(_account(i), _rev(i))
        for i in dynamo.batch_get(table(), [dynamo.key(*_balance_key(e)) for e in ids])
    }
    return {e: found.get(e) or Versioned(Account(e), None) for e in ids}


def read_for_events(
    employee_ids: Iterable[str], task_ids: Iterable[str]
) -> tuple[Calendar | None, dict[str, TaskInfo], dict[str, Versioned]]:
    """What a batch of task events needs, in one consistent BatchGetItem: the calendar, the tasks and the
    accounts (each account as read, or a new one at no revision)."""
    ids, tasks = list(dict.fromkeys(employee_ids)), list(dict.fromkeys(task_ids))
    keys = [dynamo.key(*CALENDAR_KEY), *(dynamo.key(f"TASK#{t}", "TASK") for t in tasks),
            *(dynamo.key(*_balance_key(e)) for e in ids)]  # fmt: skip
    calendar, found_tasks, accounts = None, {}, {e: Versioned(Account(e), None) for e in ids}
    for item in dynamo.batch_get(table(), keys):
        if item["pk"] == CALENDAR_KEY[0]:
            calendar = _calendar(item)
        elif item["pk"].startswith("TASK#"):
            found_tasks[item["task_id"]] = _task(item)
        else:
            accounts[item["employee_id"]] = Versioned(_account(item), _rev(item))
    return calendar, found_tasks, accounts


def account_action(read: Versioned, after: Account) -> dict[str, Any]:
    """The whole account, conditional on the revision it was read at."""
    rev = (read.rev or 0) + 1
    item = {
        "pk": _balance_key(after.employee_id)[0], "sk": after.employee_id, "employee_id": after.employee_id,
        "balance": after.balance, "opening": after.opening, "seq": after.seq, "day_delta": dict(after.day_delta),
        "paid_through": after.paid_through, "name": after.name, "email": after.email,
        "staff_version": after.staff_version, "dismissed": after.dismissed, "rev": rev,
        "gsi1pk": ACCOUNTS, "gsi1sk": f"{name_key(after.name)}#{after.employee_id}",
        "gsi2pk": ACCOUNTS, "gsi2sk": balance_sort_key(after.balance, after.employee_id),
    }  # fmt: skip
    if read.rev is None:
        return dynamo.put(table(), item, condition="attribute_not_exists(pk)")
    return dynamo.put(table(), item, condition="rev = :rev", values={":rev": read.rev})


def list_accounts(
    limit: int, cursor: str | None, order: AccountOrder | None = None
) -> tuple[list[Account], str | None]:
    """One Query of the name index (a search is a key prefix of it) or of the balance index, in either
    direction: a page costs what it returns, however many accounts there are."""
    order = order or AccountOrder(by="name", ascending=True)
    index = "gsi1" if order.by == "name" else "gsi2"
    condition = f"{index}pk = :p"
    values: dict[str, Any] = {":p": {"S": ACCOUNTS}}
    if order.prefix:
        condition += f" AND begins_with({index}sk, :q)"
        values[":q"] = {"S": order.prefix}
    params: dict[str, Any] = {
        "TableName": table(), "IndexName": index, "KeyConditionExpression": condition,
        "ExpressionAttributeValues": values, "Limit": limit, "ScanIndexForward": order.ascending,
    }  # fmt: skip

    def belongs(start: dict[str, Any]) -> bool:
        return start[f"{index}pk"] == ACCOUNTS and start[f"{index}sk"].startswith(order.prefix or "")

    start = _start(cursor, {"pk", "sk", f"{index}pk", f"{index}sk"}, belongs)
    if start:
        params["ExclusiveStartKey"] = dynamo.to_item(start)
    page = client("dynamodb").query(**params)
    last = page.get("LastEvaluatedKey")
    return [_account(dynamo.from_item(i)) for i in page.get("Items", [])], pagination.encode(
        dynamo.from_item(last) if last else None
    )


def _start(cursor: str | None, keys: set[str], belongs: Any) -> dict[str, Any] | None:
    """A cursor is only ever one this list gave out."""
    start = pagination.decode(cursor)
    if start is None:
        return None
    if set(start) != keys or not all(isinstance(v, str) for v in start.values()) or not belongs(start):
        raise Unprocessable("cursor does not belong to this list; start again without it", code="invalid_cursor")
    return start


# --- the ledger --------------------------------------------------------------------------------------


def _tx_item(tx: Transaction) -> dict[str, Any]:
    seq = f"{tx.seq:010d}"
    return {
        "pk": f"ACCOUNT#{tx.employee_id}", "sk": f"TX#{seq}", "gsi1pk": f"DAY#{tx.business_day}",
        "gsi1sk": f"{tx.employee_id}#{seq}", "transaction_id": tx.transaction_id, "employee_id": tx.employee_id,
        "seq": tx.seq, "kind": tx.kind, "amount": tx.amount, "balance_after": tx.balance_after, "reason": tx.reason,
        "business_day": tx.business_day, "recorded_at": tx.recorded_at, "task_id": tx.task_id, "title": tx.title,
        "jira_id": tx.jira_id,
    }  # fmt: skip


def _transaction(item: dict[str, Any]) -> Transaction:
    return Transaction(
        transaction_id=item["transaction_id"], employee_id=item["employee_id"], seq=int(item["seq"]),
        kind=item["kind"], amount=int(item["amount"]), balance_after=int(item["balance_after"]),
        reason=item["reason"], business_day=item["business_day"], recorded_at=item["recorded_at"],
        task_id=item.get("task_id"), title=item.get("title"), jira_id=item.get("jira_id"),
    )  # fmt: skip


def transaction_actions(tx: Transaction) -> list[dict[str, Any]]:
    """The ledger entry (never overwritten: its seq is taken once) and, for fees and rewards, the
    day's statistics of the account's shard."""
    return [ledger_entry_action(tx), *stats_actions([tx])]


def ledger_entry_action(tx: Transaction) -> dict[str, Any]:
    return dynamo.put(table(), _tx_item(tx), condition="attribute_not_exists(pk)")


def stats_actions(txs: Iterable[Transaction]) -> list[dict[str, Any]]:
    """The fees and rewards of `txs` added to their days' statistics: one update per shard and day (a
    transaction may touch each item once)."""
    sums: dict[tuple[str, str], dict[str, int]] = {}
    for tx in txs:
        if tx.kind in ("fee", "reward"):
            added = sums.setdefault((shard_of(tx.employee_id), tx.business_day), {"n": 0})
            field = "fees" if tx.kind == "fee" else "rewards"
            added[field] = added.get(field, 0) + abs(tx.amount)
            added["n"] += 1
    actions = []
    for (shard, day), added in sums.items():
        fields = [f for f in ("fees", "rewards") if f in added]
        adds = "".join(f"{f} :{f}, " for f in fields)
        values = {**{f":{f}": added[f] for f in fields}, ":n": added["n"], ":exp": _retained_until(day)}
        expression = f"ADD {adds}transactions :n SET expires_at = :exp"
        actions.append(dynamo.update(table(), f"STATS#{shard}", day, expression, values=values))
    return actions


def ledger(employee_id: str, limit: int, cursor: str | None) -> tuple[list[Transaction], str | None]:
    """Newest first."""
    pk = f"ACCOUNT#{employee_id}"
    params: dict[str, Any] = {
        "TableName": table(), "KeyConditionExpression": "pk = :pk AND begins_with(sk, :tx)",
        "ExpressionAttributeValues": {":pk": {"S": pk}, ":tx": {"S": "TX#"}}, "ScanIndexForward": False,
        "Limit": limit,
    }  # fmt: skip
    start = _start(cursor, {"pk", "sk"}, lambda s: s["pk"] == pk and s["sk"].startswith("TX#"))
    if start:
        params["ExclusiveStartKey"] = dynamo.to_item(start)
    page = client("dynamodb").query(**params)
    last = page.get("LastEvaluatedKey")
    return [_transaction(dynamo.from_item(i)) for i in page.get("Items", [])], pagination.encode(
        dynamo.from_item(last) if last else None
    )


def all_transactions(employee_id: str) -> Iterator[Transaction]:
    """Oldest first, every retained one (for the invariant check)."""
    params: dict[str, Any] = {
        "TableName": table(), "KeyConditionExpression": "pk = :pk AND begins_with(sk, :tx)", "ConsistentRead": True,
        "ExpressionAttributeValues": {":pk": {"S": f"ACCOUNT#{employee_id}"}, ":tx": {"S": "TX#"}},
    }  # fmt: skip
    yield from (_transaction(dynamo.from_item(i)) for i in _paged_query(params))


def _paged_query(params: dict[str, Any]) -> Iterator[dict[str, Any]]:
    while True:
        page = client("dynamodb").query(**params)
        yield from page.get("Items", [])
        if not page.get("LastEvaluatedKey"):
            return
        params = {**params, "ExclusiveStartKey": page["LastEvaluatedKey"]}


def day_transactions(day: str, first_id: str, last_id: str) -> list[Transaction]:
    """Business day `day`'s transactions of the accounts with ids in [first_id, last_id], by account."""
    params: dict[str, Any] = {
        "TableName": table(), "IndexName": "gsi1",
        "KeyConditionExpression": "gsi1pk = :day AND gsi1sk BETWEEN :first AND :last",
        "ExpressionAttributeValues": dynamo.to_item({":day": f"DAY#{day}", ":first": f"{first_id}#",
                                                     ":last": f"{last_id}#~"}),
    }  # fmt: skip
    return [_transaction(dynamo.from_item(i)) for i in _paged_query(params)]


def day_transactions_page(day: str, cursor: str | None, limit: int) -> tuple[list[Transaction], str | None]:
    """One page of a day's transactions (retention walks a day this way)."""
    params: dict[str, Any] = {
        "TableName": table(), "IndexName": "gsi1", "KeyConditionExpression": "gsi1pk = :day", "Limit": limit,
        "ExpressionAttributeValues": {":day": {"S": f"DAY#{day}"}},
    }  # fmt: skip
    if cursor:
        params["ExclusiveStartKey"] = json.loads(cursor)
    page = client("dynamodb").query(**params)
    last = page.get("LastEvaluatedKey")
    return [_transaction(dynamo.from_item(i)) for i in page.get("Items", [])], json.dumps(last) if last else None


def expire_actions(employee_id: str, expired: list[Transaction]) -> list[dict[str, Any]]:
    """R-ACC-7: old transactions go and their sum moves into the opening amount, in one write. Each
    delete needs its item to exist, so a repeated run cannot move a sum twice."""
    actions = [
        dynamo.delete(table(), f"ACCOUNT#{employee_id}", f"TX#{tx.seq:010d}", condition="attribute_exists(pk)")
        for tx in expired
    ]
    pk, sk = _balance_key(employee_id)
    actions.append(
        dynamo.update(
            table(),
            pk,
            sk,
            "ADD opening :sum, rev :one",
            condition="attribute_exists(pk)",
            values={":sum": sum(tx.amount for tx in expired), ":one": 1},
        )
    )
    return actions


def transactions_exist(keys: Iterable[tuple[str, int]]) -> set[tuple[str, int]]:
    items = dynamo.batch_get(table(), [dynamo.key(f"ACCOUNT#{e}", f"TX#{s:010d}") for e, s in keys])
    return {(i["employee_id"], int(i["seq"])) for i in items}


# --- statistics --------------------------------------------------------------------------------------


BATCHED_DAYS = 100 // len(SHARDS)  # days whose shard items fit in one BatchGetItem (100 keys): 6


def stats_of(days: list[date]) -> dict[str, dict[str, int]]:
    """Per date of `days` (in order), fees and rewards summed over the 16 shards: up to BATCHED_DAYS days
    (the statistics' open days: today, mostly) in one BatchGetItem, more with one Query per shard over
    their range, run at once (one after another they took the function past its timeout under load:
    bench/load.py)."""
    if len(days) > BATCHED_DAYS:
        items = _shard_range(days[0], days[-1])
    else:
        keys = [dynamo.key(f"STATS#{shard}", day.isoformat()) for day in days for shard in SHARDS]
        items = dynamo.batch_get(table(), keys)
    totals: dict[str, dict[str, int]] = {}
    for item in items:
        day = totals.setdefault(item["sk"], {"fees": 0, "rewards": 0})
        day["fees"] += int(item.get("fees", 0))
        day["rewards"] += int(item.get("rewards", 0))
    return totals


def _shard_range(first: date, last: date) -> list[dict[str, Any]]:
    def shard_items(shard: str) -> list[dict[str, Any]]:
        params: dict[str, Any] = {
            "TableName": table(), "KeyConditionExpression": "pk = :pk AND sk BETWEEN :first AND :last",
            "ExpressionAttributeValues": dynamo.to_item({":pk": f"STATS#{shard}", ":first": first.isoformat(),
                                                         ":last": last.isoformat()}),
        }  # fmt: skip
        return [dynamo.from_item(raw) for raw in _paged_query(params)]

    with ThreadPoolExecutor(len(SHARDS)) as pool:
        return [item for items in pool.map(shard_items, SHARDS) for item in items]


def day_stats(day: str) -> dict[str, int]:
    """One day's fees and rewards summed over the shards (one BatchGetItem)."""
    return stats_of([date.fromisoformat(day)]).get(day, {"fees": 0, "rewards": 0})


# --- a day's close -----------------------------------------------------------------------------------
#
# DAY#<date> / DAY changes only when the job moves to its next step (or is nudged), so each of its stream
# records drives exactly one step. What a step counts as it goes (payouts, emails) is added to
# DAY#<date> / TALLY, whose records drive nothing; a step's batches hold a ConditionCheck on the job's step
# instead, so a stale run of a step cannot count anything.

COUNTERS = ("done", "popugs_paid", "total_paid", "popugs_in_red", "emails_queued", "emails_sent")
# What a finished close keeps on its DAY item besides its tally: the day's figures, final once it closed
# (its fees and rewards, and the tally's payouts; the emails may still be going out).
TALLY_FIGURES = ("popugs_paid", "total_paid", "popugs_in_red")
FIGURES = ("fees", "rewards", *TALLY_FIGURES)


def _close(item: dict[str, Any], tally: dict[str, Any] | None = None) -> DayClose:
    tally = tally or {}
    return DayClose(
        business_day=item["business_day"], status=item.get("status", "open"), phase=item.get("phase", "count"),
        step=int(item.get("step", 0)), cursor=item.get("cursor"),
        total=int(item["total"]) if item.get("total") is not None else None,
        close_through=item.get("close_through"), correlation_id=item.get("correlation_id"),
        started_at=item.get("started_at"),
        started_by=item.get("started_by"), updated_at=item.get("updated_at"), finished_at=item.get("finished_at"),
        fees=int(item["fees"]) if item.get("fees") is not None else None,
        rewards=int(item["rewards"]) if item.get("rewards") is not None else None,
        **{name: int(tally.get(name, item.get(name, 0))) for name in COUNTERS},
    )  # fmt: skip


def close_from_image(item: dict[str, Any]) -> DayClose:
    return _close(item)


def closes(days: Iterable[str]) -> dict[str, DayClose]:
    """Days' closes with their tallies (consistent: a step reads the counts it adds to)."""
    keys = [dynamo.key(f"DAY#{d}", sk) for d in days for sk in ("DAY", "TALLY")]
    items = dynamo.batch_get(table(), keys)
    tallies = {i["pk"]: i for i in items if i["sk"] == "TALLY"}
    return {i["business_day"]: _close(i, tallies.get(i["pk"])) for i in items if i["sk"] == "DAY"}


def day_figures(first: date, last: date) -> dict[str, DayClose]:
    """The closes of first..last as far as their figures go (FIGURES, and status): a finished close that kept
    them is its DAY item alone, half the items of `closes`; the others are read with their tallies."""
    items = dynamo.batch_get(table(), [dynamo.key(f"DAY#{d.isoformat()}", "DAY") for d in dates(first, last)])
    kept = {i["business_day"]: _close(i) for i in items if i.get("status") == "closed" and i.get("fees") is not None}
    rest = [i["business_day"] for i in items if i["business_day"] not in kept]
    return kept | (closes(rest) if rest else {})


def get_close(day: str) -> DayClose | None:
    return closes([day]).get(day)


def _close_item(job: DayClose) -> dict[str, Any]:
    return {
        "pk": f"DAY#{job.business_day}", "sk": "DAY", "business_day": job.business_day, "status": job.status,
        "phase": job.phase, "step": job.step, "cursor": job.cursor, "total": job.total,
        "close_through": job.close_through, "correlation_id": job.correlation_id, "started_at": job.started_at,
        "started_by": job.started_by,
        "updated_at": job.updated_at, "expires_at": _retained_until(job.business_day),
    } | ({name: getattr(job, name) for name in FIGURES} if job.fees is not None else {})  # fmt: skip


class CloseRefused(Exception):
    """The calendar moved (another close started or finished) between the read and the write."""


def start_close(job: DayClose) -> None:
    """Mark the day closing (no transaction is booked to it from now on) and write its job, whose stream
    record runs the first step; only if the day is the next open one and no close is running."""
    dynamo.transact([_closing_calendar(job.business_day), _new_close(job)], {0: CloseRefused(), 1: CloseRefused()})


def _closing_calendar(day: str) -> dict[str, Any]:
    return dynamo.update(table(), *CALENDAR_KEY, "SET closing = :d",
                         condition="next_open = :d AND attribute_not_exists(closing)", values={":d": day})  # fmt: skip


def _new_close(job: DayClose) -> dict[str, Any]:
    return dynamo.put(table(), _close_item(job), condition="attribute_not_exists(pk) OR #s = :open",
                      names=STATUS, values={":open": "open"})  # fmt: skip


def nudge_close(job: DayClose, now: str) -> None:
    """Re-drive a close whose step stopped (its retries ran out): the same step, a fresh stream record."""
    dynamo.transact(
        [
            dynamo.update(
                table(),
                f"DAY#{job.business_day}",
                "DAY",
                "SET updated_at = :now, nudged_at = :now",
                condition="#s = :closing AND step = :step",
                names=STATUS,
                values={":now": now, ":closing": "closing", ":step": job.step},
            )
        ]
    )


def still_at_step(job: DayClose) -> dict[str, Any]:
    return {
        "ConditionCheck": {
            "TableName": table(),
            "Key": dynamo.key(f"DAY#{job.business_day}", "DAY"),
            "ConditionExpression": "#s = :closing AND step = :step",
            "ExpressionAttributeNames": STATUS,
            "ExpressionAttributeValues": dynamo.to_item({":closing": "closing", ":step": job.step}),
        }
    }


def step_action(job: DayClose, now: str, **sets: Any) -> dict[str, Any]:
    """Move `job` to its next step, conditional on it still being at the step this run read; `sets`
    are the job's fields that change (None removes one)."""
    sets = {**sets, "updated_at": now, "step": job.step + 1}
    names = {**STATUS, **{f"#{k}": k for k in sets}}
    values: dict[str, Any] = {":closing": "closing", ":step": job.step}
    expression = "SET " + ", ".join(f"#{k} = :new_{k}" for k, v in sets.items() if v is not None)
    values.update({f":new_{k}": v for k, v in sets.items() if v is not None})
    removes = [f"#{k}" for k, v in sets.items() if v is None]
    if removes:
        expression += " REMOVE " + ", ".join(removes)
    return dynamo.update(table(), f"DAY#{job.business_day}", "DAY", expression,
                         condition="#s = :closing AND step = :step", names=names, values=values)  # fmt: skip


def tally_action(day: str, **adds: int) -> dict[str, Any]:
    adds = {k: v for k, v in adds.items() if v}
    return dynamo.update(table(), f"DAY#{day}", "TALLY",
                         "SET business_day = :day, expires_at = :exp ADD " + ", ".join(f"{k} :{k}" for k in adds),
                         values={":day": day, ":exp": _retained_until(day),
                                 **{f":{k}": v for k, v in adds.items()}})  # fmt: skip


def finish_calendar_action(day: str, next_day: str, *, chain: bool) -> dict[str, Any]:
    """The day is closed: the next one opens (and, when a scheduled close goes on, starts closing)."""
    expression = "SET next_open = :next" + (", closing = :next" if chain else " REMOVE closing")
    return dynamo.update(table(), *CALENDAR_KEY, expression, condition="closing = :d",
                         values={":d": day, ":next": next_day})  # fmt: skip


def retained_action(closing: str, retained_from: str) -> dict[str, Any]:
    """Retention has let go of every day before `retained_from` (R-ACC-7)."""
    return dynamo.update(table(), *CALENDAR_KEY, "SET retained_from = :kept", condition="closing = :d",
                         values={":d": closing, ":kept": retained_from})  # fmt: skip


def next_close_action(job: DayClose) -> dict[str, Any]:
    return _new_close(job)


def count_accounts() -> int:
    total = 0
    for shard in SHARDS:
        params = {"TableName": table(), "KeyConditionExpression": "pk = :pk", "Select": "COUNT",
                  "ConsistentRead": True, "ExpressionAttributeValues": {":pk": {"S": f"BALANCE#{shard}"}}}  # fmt: skip
        while True:
            page = client("dynamodb").query(**params)
            total += page.get("Count", 0)
            if not page.get("LastEvaluatedKey"):
                break
            params["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return total


def accounts_page(cursor: str | None, limit: int) -> tuple[list[Versioned], str | None]:
    """Up to `limit` accounts after `cursor` in id order (shard by shard, consistent reads), and the
    cursor to go on from (None: no account is left)."""
    position = json.loads(cursor) if cursor else {"shard": SHARDS[0], "after": None}
    shard_index, after = SHARDS.index(position["shard"]), position["after"]
    found: list[Versioned] = []
    while shard_index < len(SHARDS) and len(found) < limit:
        shard, room = SHARDS[shard_index], limit - len(found)
        params: dict[str, Any] = {
            "TableName": table(), "KeyConditionExpression": "pk = :pk", "ConsistentRead": True,
            "ExpressionAttributeValues": {":pk": {"S": f"BALANCE#{shard}"}},
            "Limit": room + 1,  # one more than needed tells whether this shard goes on
        }  # fmt: skip
        if after:
            params["ExclusiveStartKey"] = dynamo.key(f"BALANCE#{shard}", after)
        page = client("dynamodb").query(**params)
        items = [dynamo.from_item(i) for i in page.get("Items", [])]
        found += [Versioned(_account(i), _rev(i)) for i in items[:room]]
        if len(items) > room:
            return found, json.dumps({"shard": shard, "after": found[-1].account.employee_id})
        if page.get("LastEvaluatedKey") and items:  # a 1 MB page: this shard goes on
            after = items[-1]["employee_id"]
            continue
        shard_index, after = shard_index + 1, None
    if shard_index >= len(SHARDS):
        return found, None
    return found, json.dumps({"shard": SHARDS[shard_index], "after": after})


# --- payout emails -----------------------------------------------------------------------------------


def mail_action(day: str, destinations: list[dict[str, Any]], now_epoch: int) -> dict[str, Any]:
    """One bulk send (its destinations and their template data), sent by the mailer from the stream."""
    return dynamo.put(
        table(),
        {"pk": f"MAIL#{day}#{uuid.uuid4()}", "sk": "MAIL", "business_day": day, "status": "queued",
         "destinations": json.dumps(destinations, separators=(",", ":")), "count": len(destinations),
         "expires_at": now_epoch + MAIL_TTL_SECONDS},
    )  # fmt: skip


def mail_status(pk: str) -> str | None:
    item = dynamo.get(table(), pk, "MAIL")
    return item.get("status") if item else None


def mails_sent_actions(sent: list[tuple[str, str, int]]) -> list[dict[str, Any]]:
    """Mark mail items sent (only once each) and count them on their day."""
    actions = []
    per_day: dict[str, int] = {}
    for pk, day, count in sent:
        actions.append(dynamo.update(table(), pk, "MAIL", "SET #s = :sent", condition="#s = :queued",
                                     names=STATUS, values={":sent": "sent", ":queued": "queued"}))  # fmt: skip
        per_day[day] = per_day.get(day, 0) + count
    actions += [tally_action(day, emails_sent=n) for day, n in per_day.items()]
    return actions


def outbox_action(events: list[Envelope]) -> dict[str, Any]:
    return outbox_put(table(), events)
