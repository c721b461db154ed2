"""Pure rules of R-UI-4 and R-UI-5: how a list request's search and sort become an index order (tasks,
balances, staff, accounts), the balance as index text that sorts like the number, a task's history order and
the price merged into a task. Every refusal is a 422 with a sentence for a person (R-UI-7)."""

from __future__ import annotations

import random

import pytest

from accounting.domain import AccountOrder, account_order, balance_sort_key, name_key
from shared import sorting
from shared.errors import Unprocessable
from tasks.domain import HistoryEntry, ListOrder, Price, Task, history_in_order, list_order, title_key

# --- tasks ---------------------------------------------------------------------------------------------


def test_r_ui_5_a_task_list_is_newest_first_unless_asked_otherwise():
    assert list_order(None, None, None) == ListOrder(by="created", ascending=False)
    assert list_order("created", "asc", None) == ListOrder(by="created", ascending=True)
    assert list_order("title", None, None) == ListOrder(by="title", ascending=True)
    assert list_order("title", "desc", "  ") == ListOrder(by="title", ascending=False)


def test_r_ui_5_a_task_search_is_a_title_start_in_any_case_or_a_jira_id_start():
    assert list_order(None, None, "  Polish   the ") == ListOrder(by="title", ascending=True, prefix="polish the")
    assert list_order("title", "desc", "perch") == ListOrder(by="title", ascending=False, prefix="perch")
    assert list_order(None, None, "uberpop-4") == ListOrder(by="jira", ascending=True, prefix="UBERPOP-4")
    assert list_order(None, None, "UBERPOP-") == ListOrder(by="jira", ascending=True, prefix="UBERPOP-")
    assert list_order(None, None, "re-do") == ListOrder(by="title", ascending=True, prefix="re-do")  # not a Jira key


@pytest.mark.parametrize(
    ("sort", "order", "q", "code", "says"),
    [
        ("assignee", None, None, "invalid_sort", "sorted by created or title"),
        (None, "sideways", None, "invalid_sort", "asc"),
        ("created", None, "perch", "invalid_sort", "sort by title"),
        (None, None, "x" * 101, "invalid_search", "at most 100 characters"),
    ],
)
def test_r_ui_5_a_bad_task_sort_or_search_is_refused_in_words(sort, order, q, code, says):
    with pytest.raises(Unprocessable) as refused:
        list_order(sort, order, q)
    assert refused.value.code == code and says in refused.value.message


def test_a_title_key_ignores_case_and_runs_of_spaces():
    assert title_key("  Polish   THE perch ") == "polish the perch"


# --- R-UI-4: price and history -----------------------------------------------------------------------


def task(**changes) -> Task:
    fields = dict(task_id="t", title="T", jira_id=None, description="", due_date=None, status="open",
                  assignee_id="a", created_by="c", created_at="2026-11-27T10:00:00.000Z",
                  assigned_at="2026-11-27T10:00:00.000Z")  # fmt: skip
    return Task(**{**fields, **changes})


def test_r_ui_4_a_price_that_came_first_prices_the_task_and_never_replaces_a_known_one():
    assert task().public()["assign_fee"] is None and task().public()["reward"] is None
    priced = task().priced(Price(1500, 3000))
    assert (priced.public()["assign_fee"], priced.public()["reward"]) == (1500, 3000)
    assert task(assign_fee=1200, reward=2500).priced(Price(1500, 3000)).assign_fee == 1200
    assert task().priced(None) == task()


def test_r_ui_4_history_is_oldest_first_and_a_creation_precedes_what_followed_in_its_millisecond():
    at = "2026-11-27T10:00:00.000Z"
    later = "2026-11-27T11:00:00.000Z"
    entries = [
        HistoryEntry("t", later, "completed", "b", "b"),
        HistoryEntry("t", at, "shuffled", "b", "job"),
        HistoryEntry("t", at, "created", "a", "c"),
    ]
    assert [e.kind for e in history_in_order(entries)] == ["created", "shuffled", "completed"]


# --- balances ----------------------------------------------------------------------------------------


def test_r_ui_5_balance_keys_sort_as_text_like_the_numbers():
    rng = random.Random(5)
    balances = [rng.randint(-(10**9), 10**9) for _ in range(500)] + [0, -1, 1, -100_000_000_000, 99]
    keys = sorted(balance_sort_key(b, f"{i:04d}") for i, b in enumerate(balances))
    assert [int(k.split("#")[0]) - 10**15 for k in keys] == sorted(balances)


def test_r_ui_5_balances_are_by_name_unless_asked_and_a_search_is_a_name_start():
    assert account_order(None, None, None) == AccountOrder(by="name", ascending=True)
    assert account_order("balance", None, None) == AccountOrder(by="balance", ascending=False)  # highest first
    assert account_order("balance", "asc", "") == AccountOrder(by="balance", ascending=True)
    assert account_order(None, "desc", " KE  sha ") == AccountOrder(by="name", ascending=False, prefix="ke sha")
    assert name_key("  Kesha   Junior") == "kesha junior" and name_key(None) == "~"


@pytest.mark.parametrize(
    ("sort", "order", "q"),
    [("email", None, None), (None, "up", None), ("balance", None, "ke"), (None, None, "k" * 101)],
)
def test_r_ui_5_a_bad_balances_sort_or_search_is_refused_in_words(sort, order, q):
    with pytest.raises(Unprocessable) as refused:
        account_order(sort, order, q)
    assert refused.value.code in ("invalid_sort", "invalid_search") and refused.value.message.endswith(".")


# --- staff and accounts (shared.sorting) ----------------------------------------------------------------


def test_r_ui_5_shared_sorting_picks_the_column_and_its_natural_direction():
    assert sorting.direction({"name": "asc"}, None, None, "Staff") == ("name", True)
    assert sorting.direction({"name": "asc"}, "name", "desc", "Staff") == ("name", False)
    assert sorting.search_text("  Kesha@Ex ", "an email") == "kesha@ex"
    assert sorting.search_text("   ", "an email") is None
    with pytest.raises(Unprocessable, match="Staff can be sorted by name, not 'salary'"):
        sorting.direction({"name": "asc"}, "salary", None, "Staff")
    with pytest.raises(Unprocessable, match="sort order is asc"):
        sorting.direction({"name": "asc"}, None, "up", "Staff")
    with pytest.raises(Unprocessable, match="at most 100 characters of an email"):
        sorting.search_text("x" * 101, "an email")
