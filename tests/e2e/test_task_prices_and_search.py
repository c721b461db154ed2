"""Prices on tasks and the searched, sorted task list over HTTP, through the session's devstack (R-UI-4,
R-UI-5): a task created through the API shows, a moment later, the fee and reward accounting gave it (the same
fee the assignee's ledger is charged: TaskPriced went accounting -> bus -> the tasks consumer), and GET /tasks
searches by the start of a title and sorts by title both ways. Every title starts with a fresh tag, so what
other tests created never matches."""

from __future__ import annotations

import uuid

from tests.e2e.popugs import Client, eventually, hire


def test_r_ui_4_and_5_tasks_carry_their_price_and_search_and_sort_by_title(devstack):
    admin = Client.signed_in(devstack.api_url, devstack.admin_email, devstack.admin_password)
    hire(admin, "Pricey")  # someone who can take tasks, whatever earlier tests did to the pool
    tag = uuid.uuid4().hex[:8]
    titles = [f"{tag} {word}" for word in ("mango", "Apple", "kiwi")]

    def created(title: str):
        answer = admin.call("POST", "/tasks", {"title": title})
        return answer.json() if answer.status_code == 201 else None

    tasks = [eventually(lambda t=title: created(t), "the pool to know a worker", timeout=45) for title in titles]

    def priced() -> list[dict] | None:
        answer = admin.call("GET", f"/tasks?q={tag}&sort=title")
        assert answer.status_code == 200, answer.text
        items = answer.json()["items"]
        return items if len(items) == 3 and all(t["assign_fee"] is not None for t in items) else None

    listed = eventually(priced, "accounting's prices on the tasks", timeout=60)
    assert [t["title"] for t in listed] == sorted(titles, key=str.lower)  # title order, any case
    desc = admin.call("GET", f"/tasks?q={tag.upper()}&sort=title&order=desc").json()["items"]
    assert [t["title"] for t in desc] == sorted(titles, key=str.lower, reverse=True)
    assert [t["title"] for t in admin.call("GET", f"/tasks?q={tag} k").json()["items"]] == [f"{tag} kiwi"]

    one = tasks[0]
    page = admin.call("GET", f"/tasks/{one['task_id']}").json()
    assert (page["assign_fee"], page["reward"]) == next(
        (t["assign_fee"], t["reward"]) for t in listed if t["task_id"] == one["task_id"]
    )
    assert 1000 <= page["assign_fee"] <= 2000 and 2000 <= page["reward"] <= 4000  # R-ACC-1
    assert [step["kind"] for step in page["history"]] == ["created"]
    ledger = admin.call("GET", f"/accounting/accounts/{one['assignee_id']}/transactions?limit=100").json()["items"]
    fees = [t["amount"] for t in ledger if t["task_id"] == one["task_id"] and t["kind"] == "fee"]
    assert fees == [-page["assign_fee"]]  # the price shown is the price charged

    bad = admin.call("GET", "/tasks?sort=assignee")
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_sort"
