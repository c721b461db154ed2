"""The books' invariants, checked against the table and the task events (an operator's tool, not a Lambda):

- every balance equals its opening amount plus the sum of its retained ledger (R-ACC-2, R-ACC-7), each
  `balance_after` follows from the one before, and no ledger position is missing or doubled;
- every TaskAssigned has exactly one fee for its assignee, and every completed task exactly one reward
  for the popug who completed it, at the task's price (R-ACC-1, R-ACC-3, R-ACC-4), and there is no fee or
  reward that no event explains;
- no popug is paid twice for one day (R-ACC-5).

`run(events)` takes the domain events as envelopes (dicts: event_id, event_name, data, ...) from wherever
they were kept (devstack's event tap; the analytics lake in AWS) and reads the accounting table named by
ACCOUNTING_TABLE_NAME. Run it when the system is quiet: an event still on its way reads as a problem.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from accounting import domain, store

MAX_LISTED = 50


def run(events: Iterable[dict[str, Any]]) -> dict[str, Any]:
    problems: list[str] = []
    ledgers = {}
    cursor: str | None = None
    while True:
        page, cursor = store.accounts_page(cursor, 500)
        for read in page:
            ledgers[read.account.employee_id] = (read.account, list(store.all_transactions(read.account.employee_id)))
        if cursor is None:
            break
    for account, txs in ledgers.values():
        problems += check_ledger(account, txs)
    problems += check_against_events(ledgers, list(events))
    counts = Counter(tx.kind for _, txs in ledgers.values() for tx in txs)
    return {
        "ok": not problems, "accounts": len(ledgers), "transactions": sum(counts.values()), "fees": counts["fee"],
        "rewards": counts["reward"], "payouts": counts["payout"], "problem_count": len(problems),
        "problems": problems[:MAX_LISTED],
    }  # fmt: skip


def check_ledger(account: domain.Account, txs: list[domain.Transaction]) -> list[str]:
    who = account.employee_id
    problems = []
    total = account.opening + sum(tx.amount for tx in txs)
    if account.balance != total:
        problems.append(f"{who}: balance {account.balance} != opening {account.opening} + ledger = {total}")
    seqs = [tx.seq for tx in txs]
    first = account.seq - len(txs) + 1
    if seqs != list(range(first, account.seq + 1)):
        problems.append(f"{who}: ledger positions {seqs[:5]}... are not the contiguous run up to {account.seq}")
    running = account.opening
    for tx in txs:
        running += tx.amount
        if tx.balance_after != running:
            problems.append(f"{who}: transaction {tx.seq} says balance_after {tx.balance_after}, the ledger {running}")
            break
    paid_days = Counter(tx.business_day for tx in txs if tx.kind == "payout")
    problems += [f"{who}: paid {n} times for {day}" for day, n in paid_days.items() if n > 1]
    return problems


def check_against_events(
    ledgers: dict[str, tuple[domain.Account, list[domain.Transaction]]], events: list[dict[str, Any]]
) -> list[str]:
    by_id = {e["event_id"]: e for e in events}.values()  # a redelivered event counts once
    prices = {e["data"]["task_id"]: e["data"] for e in by_id if e["event_name"] == "TaskPriced"}
    expected: dict[str, tuple[str, str, int | None]] = {}  # transaction id -> (popug, kind, amount)
    for event in by_id:
        data = event["data"]
        price = prices.get(data.get("task_id", ""))
        if event["event_name"] == "TaskAssigned":
            amount = -price["assign_fee"] if price else None
            expected[domain.transaction_id(f"fee:{event['event_id']}")] = (data["assignee_id"], "fee", amount)
        elif event["event_name"] == "TaskCompleted":
            amount = price["reward"] if price else None
            expected[domain.transaction_id(f"reward:{data['task_id']}")] = (data["assignee_id"], "reward", amount)
    problems = []
    booked = {tx.transaction_id: tx for _, txs in ledgers.values() for tx in txs if tx.kind in ("fee", "reward")}
    for tx_id, (popug, kind, amount) in expected.items():
        tx = booked.get(tx_id)
        if tx is None:
            problems.append(f"no {kind} booked for {popug} (transaction {tx_id})")
        elif tx.employee_id != popug or tx.kind != kind or (amount is not None and tx.amount != amount):
            problems.append(
                f"{kind} {tx_id}: booked {tx.kind} {tx.amount} to {tx.employee_id}, expected {amount} to {popug}"
            )
    problems += [
        f"{tx.kind} {tx_id} of {tx.employee_id} ({tx.amount}) has no task event behind it"
        for tx_id, tx in booked.items()
        if tx_id not in expected
    ]
    return problems
