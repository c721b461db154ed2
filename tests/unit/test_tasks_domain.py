"""Pure task rules: a valid new task (R-TASK-1), who is an assignee (R-TASK-2), the uniform choice, the
order-tolerant pool rules (R-EV-3) and how a shuffle step is cut into transactions (R-TASK-3)."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from shared.errors import Unprocessable
from tasks.domain import (
    OpenTask,
    Popug,
    apply_account,
    apply_dismissal,
    batches,
    choose_assignee,
    is_assignee,
    plan_reassignments,
    validate_new_task,
)

# chi-square critical value for 9 degrees of freedom at p = 0.01 (scipy.stats.chi2.ppf(0.99, 9))
CHI2_CRITICAL_DF9_P01 = 21.666


# --- R-TASK-1 --------------------------------------------------------------------------------------


def test_r_task_1_a_minimal_task_needs_only_a_title():
    task = validate_new_task("  Sort the seeds  ")
    assert (task.title, task.jira_id, task.description, task.due_date) == ("Sort the seeds", None, "", None)


def test_r_task_1_every_field_within_its_limits_is_kept():
    task = validate_new_task("t" * 200, "UBERPOP-42", "d" * 4000, "2026-12-31")
    assert (len(task.title), len(task.description)) == (200, 4000)
    assert (task.jira_id, task.due_date) == ("UBERPOP-42", "2026-12-31")


def test_empty_optional_fields_count_as_absent():
    task = validate_new_task("Title", jira_id="", description=None, due_date=" ")
    assert (task.jira_id, task.description, task.due_date) == (None, "", None)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "t" * 201}, "title"),
        ({"title": "[UBERPOP-42] Sort"}, "title"),
        ({"title": "Sort ] seeds"}, "title"),
        ({"title": "ok", "jira_id": "uberpop-42"}, "jira_id"),
        ({"title": "ok", "jira_id": "UBERPOP42"}, "jira_id"),
        ({"title": "ok", "jira_id": "U-1"}, "jira_id"),
        ({"title": "ok", "jira_id": "UBERPOP-"}, "jira_id"),
        ({"title": "ok", "jira_id": "1UBERPOP-2"}, "jira_id"),
        ({"title": "ok", "description": "d" * 4001}, "description"),
        ({"title": "ok", "due_date": "2026-02-30"}, "due_date"),
        ({"title": "ok", "due_date": "20261231"}, "due_date"),
        ({"title": "ok", "due_date": "31.12.2026"}, "due_date"),
        ({"title": "ok", "due_date": "2026-12-31T10:00:00"}, "due_date"),
    ],
)
def test_r_task_1_each_violation_is_a_422_that_names_its_field(fields, field):
    with pytest.raises(Unprocessable) as caught:
        validate_new_task(**fields)
    assert caught.value.status == 422 and [f["field"] for f in caught.value.details["fields"]] == [field]
    # R-UI-7: the message names the field in words, as a sentence, never as `due_date: ...`
    assert field.replace("_", " ") in caught.value.message.lower() and not caught.value.message.startswith(field)


def test_r_task_1_all_violations_are_reported_at_once():
    with pytest.raises(Unprocessable) as caught:
        validate_new_task("[x]", jira_id="nope", due_date="tomorrow")
    assert [f["field"] for f in caught.value.details["fields"]] == ["title", "jira_id", "due_date"]


@pytest.mark.parametrize("jira_id", ["UBERPOP-42", "AB-1", "A1-0", "X9Y-123456"])
def test_r_task_1_jira_ids_like_the_spec(jira_id):
    assert validate_new_task("ok", jira_id=jira_id).jira_id == jira_id


# --- R-TASK-2: eligibility -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("roles", "active", "dismissed", "expected"),
    [
        (["worker"], True, False, True),
        (["worker", "accountant"], True, False, True),
        (["worker", "manager"], True, False, False),
        (["worker", "admin"], True, False, False),
        (["worker", "manager", "admin"], True, False, False),
        (["accountant"], True, False, False),
        (["manager"], True, False, False),
        ([], True, False, False),
        (["worker"], False, False, False),
        (["worker"], True, True, False),
    ],
)
def test_r_task_2_an_assignee_is_an_active_worker_who_is_neither_manager_nor_admin(roles, active, dismissed, expected):
    assert is_assignee(roles, active, dismissed) is expected


def test_r_ev_3_an_account_event_applies_only_if_newer():
    first = apply_account(None, account_id="a", version=2, roles=["worker"], active=True)
    assert first.eligible and first.version == 2
    assert apply_account(first, account_id="a", version=1, roles=["manager"], active=True) is None  # older
    assert apply_account(first, account_id="a", version=2, roles=["manager"], active=True) is None  # duplicate
    promoted = apply_account(first, account_id="a", version=3, roles=["worker", "manager"], active=True)
    assert not promoted.eligible and promoted.rev == first.rev + 1


def test_r_ev_3_a_dismissal_is_final_whatever_arrives_after_it():
    dismissed = apply_dismissal(None, account_id="a")
    assert dismissed.dismissed and not dismissed.eligible
    later = apply_account(dismissed, account_id="a", version=7, roles=["worker"], active=True)
    assert later.version == 7 and not later.eligible
    assert apply_dismissal(later, account_id="a") is None  # a duplicate dismissal changes nothing


def test_a_popug_with_no_account_event_yet_is_not_an_assignee():
    assert not Popug(account_id="a").eligible


# --- R-TASK-2: the uniform choice ------------------------------------------------------------------


def test_r_task_2_the_choice_is_uniform_chi_square_at_p_above_0_01():
    pool = {f"popug-{i}" for i in range(10)}
    rng = random.Random(20261127)
    draws = 50_000
    counts = Counter(choose_assignee(pool, rng) for _ in range(draws))
    assert set(counts) == pool
    expected = draws / len(pool)
    chi2 = sum((observed - expected) ** 2 / expected for observed in counts.values())
    assert chi2 < CHI2_CRITICAL_DF9_P01, (chi2, counts)


def test_an_empty_pool_chooses_nobody():
    assert choose_assignee(set(), random.Random(1)) is None


def test_a_seeded_choice_repeats_whatever_the_set_order():
    assert choose_assignee({"b", "a", "c"}, random.Random(5)) == choose_assignee(["c", "a", "b"], random.Random(5))


# --- R-TASK-3: shuffle planning --------------------------------------------------------------------


def test_r_task_3_every_task_gets_a_pool_member_and_a_resumed_step_skips_its_own_work():
    tasks = [OpenTask(f"t{i}", "old", shuffled_by="job-1" if i % 3 == 0 else "job-0") for i in range(30)]
    plan, already = plan_reassignments(tasks, "job-1", {"p", "q"}, random.Random(3))
    assert already == 10
    assert [c.task_id for c in plan] == [t.task_id for t in tasks if t.shuffled_by != "job-1"]
    assert {c.new_assignee for c in plan} <= {"p", "q"} and {c.old_assignee for c in plan} == {"old"}


def test_r_task_3_the_same_popug_may_get_its_task_back():
    plan, _ = plan_reassignments([OpenTask("t", "p")], "job", {"p"}, random.Random(1))
    assert plan[0].new_assignee == "p"


def test_planning_with_an_empty_pool_refuses():
    with pytest.raises(ValueError):
        plan_reassignments([OpenTask("t", "p")], "job", set(), random.Random(1))


@pytest.mark.parametrize(
    ("count", "last_room", "sizes"),
    [
        (0, 23, [0]),
        (1, 23, [1]),
        (23, 23, [23]),
        (24, 23, [24, 0]),
        (47, 23, [24, 23]),
        (48, 23, [24, 24, 0]),
        (959, 23, [24] * 39 + [23]),
        (46, 22, [24, 22]),
        (47, 22, [24, 23, 0]),  # the final step's last transaction also frees the lock: room for 22
    ],
)
def test_r_task_3_batches_fill_every_transaction_and_leave_room_for_the_progress(count, last_room, sizes):
    cut = batches(list(range(count)), 24, last_room)
    assert [len(b) for b in cut] == sizes
    assert [i for b in cut for i in b] == list(range(count))  # nothing lost, nothing reordered
    assert all(len(b) <= 24 for b in cut) and len(cut[-1]) <= last_room
    assert len(cut) == max(1, -(-(count + 24 - last_room) // 24))  # the fewest transactions possible
