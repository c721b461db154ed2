"""The reference model itself (tests/model/reference.py): it must know the SPEC's rules before it can judge
the product by them. Pure: no emulator."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.model.reference import Email, Entry, ExpectedEvent, ModelViolation, Reference

DAY = date(2026, 11, 27)


def world(*roles: frozenset[str]) -> tuple[Reference, list[str]]:
    model = Reference(today=DAY)
    ids = [f"p{i}" for i in range(len(roles))]
    for popug, held in zip(ids, roles, strict=True):
        model.hire(popug, f"{popug}@ates.example")
        model.set_roles(popug, held)
    return model, ids


def created(model: Reference, task_id: str, assignee: str, fee: int = 1500, reward: int = 3000) -> None:
    """A task created on `assignee`, its events published and applied now, and its price seen."""
    model.create_task(201, None, task_id, assignee)
    model.published_event(f"{task_id}-created", ExpectedEvent("TaskCreated", task_id))
    model.published_event(f"{task_id}-assigned", ExpectedEvent("TaskAssigned", task_id, assignee, "created"))
    model.event_booked(f"{task_id}-assigned")
    model.observe_price(task_id, fee, reward)


def test_r_task_2_only_active_workers_who_are_neither_managers_nor_admins_take_tasks():
    model, (worker, accountant, manager, admin, nobody) = world(
        frozenset({"worker"}), frozenset({"worker", "accountant"}), frozenset({"worker", "manager"}),
        frozenset({"worker", "admin"}), frozenset(),
    )  # fmt: skip
    assert model.eligible() == {worker, accountant}
    assert not {manager, admin, nobody} & model.eligible()
    model.dismiss(worker)
    assert model.eligible() == {accountant}
    with pytest.raises(ModelViolation, match="R-TASK-2"):
        model.create_task(201, None, "t1", manager)
    with pytest.raises(ModelViolation, match="R-TASK-2"):
        model.create_task(201, None, "t1", worker)  # dismissed


def test_r_task_2_with_nobody_eligible_the_model_expects_409_and_no_task():
    model, _ = world(frozenset({"manager"}))
    model.create_task(409, "no_assignee", None, None)
    assert model.tasks == {} and not model.unpublished()
    with pytest.raises(ModelViolation):
        model.create_task(201, None, "t1", "p0")


def test_r_task_3_a_shuffle_must_move_every_open_task_once_to_an_eligible_popug():
    model, (a, b) = world(frozenset({"worker"}), frozenset({"worker"}))
    created(model, "t1", a)
    created(model, "t2", a)
    with pytest.raises(ModelViolation, match="R-TASK-3"):
        model.shuffle(202, None, {"t1": b})  # t2 left behind
    model.set_roles(b, frozenset({"worker", "manager"}))
    with pytest.raises(ModelViolation, match="not eligible"):
        model.shuffle(202, None, {"t1": b, "t2": a})


def test_r_task_4_completion_answers_follow_the_current_assignee():
    model, (a, b) = world(frozenset({"worker"}), frozenset({"worker"}))
    created(model, "t1", a)
    model.complete("t1", b, 409, "not_assignee")
    model.complete("t1", a, 200, None)
    model.complete("t1", a, 409, "already_done")
    with pytest.raises(ModelViolation, match="R-TASK-4"):
        model.complete("t1", a, 200, None)


def test_r_acc_1_prices_in_range_and_never_changed():
    model, _ = world(frozenset({"worker"}))
    with pytest.raises(ModelViolation, match="R-ACC-1"):
        model.observe_price("t1", 999, 3000)
    with pytest.raises(ModelViolation, match="R-ACC-1"):
        model.observe_price("t1", 1000, 4001)
    model.observe_price("t1", 1000, 4000)
    with pytest.raises(ModelViolation, match="priced twice"):
        model.observe_price("t1", 1001, 4000)


def test_an_event_is_booked_once_however_often_it_arrives_and_unknown_events_are_refused():
    model, (a,) = world(frozenset({"worker"}))
    created(model, "t1", a, fee=1200)
    model.event_booked("t1-assigned")  # redelivered
    assert model.ledger(a) == [Entry("fee", -1200, "t1", DAY, "created")]
    with pytest.raises(ModelViolation, match="no operation caused"):
        model.published_event("other", ExpectedEvent("TaskAssigned", "t1", a, "created"))


def test_r_acc_5_close_pays_profit_carries_debt_and_books_arrivals_during_the_close_to_the_next_day():
    model, (rich, poor) = world(frozenset({"worker"}), frozenset({"worker"}))
    created(model, "t1", rich, fee=1000, reward=3000)
    model.complete("t1", rich, 200, None)
    model.published_event("t1-done", ExpectedEvent("TaskCompleted", "t1", rich))
    model.event_booked("t1-done")
    created(model, "t2", poor, fee=1700)
    model.close_started()
    created(model, "t3", rich, fee=1100)  # arrives while the day closes
    summary = model.close_finished()

    assert (summary.popugs_paid, summary.total_paid, summary.popugs_in_red) == (1, 2000, 1)
    tomorrow = DAY + timedelta(days=1)
    assert model.ledger(rich) == [
        Entry("fee", -1000, "t1", DAY, "created"), Entry("payout", -2000, None, DAY),
        Entry("reward", 3000, "t1", DAY), Entry("fee", -1100, "t3", tomorrow, "created"),
    ]  # fmt: skip
    assert model.balance(rich) == -1100 and model.balance(poor) == -1700
    assert model.emails == [Email("p0@ates.example", DAY, 2000, 2)]
    assert model.calendar.next_open == tomorrow


def test_r_acc_5_a_day_not_yet_begun_cannot_close():
    model, _ = world(frozenset({"worker"}))
    model.close_started()
    model.close_finished()
    assert model.close_refusal() == "future_day"
    model.new_day()
    assert model.close_refusal() is None
