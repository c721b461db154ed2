"""Balances searched and sorted (R-UI-5) and every ledger as CSV, on the emulator: the accounts list reads
the name index (a search is a key prefix of it) or the balance index, in either direction."""

from __future__ import annotations

import pytest

from tests.integration.conftest import LambdaContext, api_event, template_table
from tests.integration.test_accounting import ACCOUNTANT, Ledger, worker


@pytest.fixture()
def books(as_function, provisioned, monkeypatch) -> Ledger:
    """The accounting context on a fresh table (as test_accounting's fixture of the same name)."""
    as_function("AccountingApiFunction")
    table = template_table(provisioned, "AccountingTable")
    monkeypatch.setenv("ACCOUNTING_TABLE_NAME", table)
    from accounting import settings

    settings.get.cache_clear()
    return Ledger(table, monkeypatch)


@pytest.fixture()
def four(books: Ledger) -> dict[str, str]:
    """Four popugs with four different balances: Kesha and Gosha in debt, Chizhik more than Ara."""
    popugs = {name: books.hire(name) for name in ("kesha", "Gosha", "Chizhik", "Ara")}
    books.task(popugs["kesha"])  # a fee: in debt
    books.task(popugs["Gosha"])
    books.task(popugs["Gosha"])  # two fees: deeper in debt
    books.task(popugs["Chizhik"], complete=True)  # fee and reward: in credit
    return popugs


def names(books: Ledger, **query: str) -> list[str]:
    status, body = books.get("/accounting/accounts", ACCOUNTANT, query)
    assert status == 200, body
    return [a["name"] for a in body["items"]]


def balances(books: Ledger, **query: str) -> list[int]:
    return [a["balance"] for a in books.get("/accounting/accounts", ACCOUNTANT, query)[1]["items"]]


def test_r_ui_5_balances_sort_by_name_and_by_balance_either_way(books, four):
    assert names(books) == ["Ara", "Chizhik", "Gosha", "kesha"]  # by name, any case, by default
    assert names(books, order="desc") == ["kesha", "Gosha", "Chizhik", "Ara"]
    by_balance = balances(books, sort="balance")
    assert by_balance == sorted(by_balance, reverse=True) and by_balance[0] > 0 > by_balance[-1]
    assert names(books, sort="balance")[0] == "Chizhik" and names(books, sort="balance")[-1] == "Gosha"
    assert names(books, sort="balance", order="asc") == list(reversed(names(books, sort="balance")))


def test_r_ui_5_the_balance_order_follows_every_change(books, four):
    assert names(books, sort="balance", order="asc")[0] == "Gosha"
    for _ in range(2):
        books.task(four["kesha"])  # three fees now: the deepest debt
    assert names(books, sort="balance", order="asc")[0] == "kesha"


def test_r_ui_5_balances_search_the_start_of_a_name_in_any_case_page_by_page(books, four):
    books.hire("Kesha Junior")
    assert sorted(names(books, q="KESHA")) == ["Kesha Junior", "kesha"]
    assert names(books, q="kesha j") == ["Kesha Junior"]
    assert names(books, q="zz") == []
    status, first = books.get("/accounting/accounts", ACCOUNTANT, {"q": "kesha", "limit": "1"})
    assert len(first["items"]) == 1 and first["next_cursor"]
    status, second = books.get(
        "/accounting/accounts", ACCOUNTANT, {"q": "kesha", "limit": "1", "cursor": first["next_cursor"]}
    )
    assert sorted(a["name"] for a in first["items"] + second["items"]) == ["Kesha Junior", "kesha"]
    status, body = books.get("/accounting/accounts", ACCOUNTANT, {"sort": "balance", "cursor": first["next_cursor"]})
    assert (status, body["error"]["code"]) == (422, "invalid_cursor")


@pytest.mark.parametrize(
    "query", [{"sort": "email"}, {"order": "up"}, {"q": "ke", "sort": "balance"}, {"q": "k" * 101}]
)
def test_r_ui_5_a_bad_sort_or_search_of_balances_is_a_422_in_words(books, query):
    status, body = books.get("/accounting/accounts", ACCOUNTANT, query)
    assert status == 422 and body["error"]["code"] in ("invalid_sort", "invalid_search"), body
    assert "{" not in body["error"]["message"] and "query." not in body["error"]["message"]


def test_r_ui_5_the_balances_csv_takes_the_same_search_and_order(books, four):
    answer = books.api.lambda_handler(
        api_event("GET", "/api/accounting/accounts", caller=ACCOUNTANT,
                  query={"format": "csv", "sort": "balance", "order": "asc"}),
        LambdaContext(),
    )  # fmt: skip
    rows = [line.split(",") for line in answer["body"].split("\r\n")[1:-1]]
    assert [r[1] for r in rows] == ["Gosha", "kesha", "Ara", "Chizhik"]


def test_r_ui_5_my_own_ledger_downloads_as_csv(books, four):
    answer = books.api.lambda_handler(
        api_event("GET", "/api/accounting/me/transactions", caller=worker(four["Chizhik"]), query={"format": "csv"}),
        LambdaContext(),
    )
    assert answer["statusCode"] == 200 and answer["headers"]["Content-Type"] == "text/csv; charset=utf-8"
    lines = answer["body"].split("\r\n")
    assert lines[0].startswith("transaction_id,kind,amount,") and len(lines) == 1 + 2 + 1  # fee, reward, end
    assert {line.split(",")[1] for line in lines[1:-1]} == {"fee", "reward"}
