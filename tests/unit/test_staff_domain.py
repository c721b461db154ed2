"""Pure staff rules: the department tree has no cycles (R-STAFF-2); dismissal is final."""

import pytest

from shared.errors import Conflict
from staff.domain import Employee, ensure_no_cycle

TREE = {"root": None, "ops": "root", "nest": "ops", "perch": "nest", "finance": "root"}


def test_r_staff_2_moving_a_department_under_its_descendant_is_refused():
    with pytest.raises(Conflict, match="descendants"):
        ensure_no_cycle("ops", "perch", TREE.get)


def test_r_staff_2_moving_a_department_under_itself_is_refused():
    with pytest.raises(Conflict):
        ensure_no_cycle("ops", "ops", TREE.get)


def test_moving_elsewhere_or_to_the_top_is_fine():
    ensure_no_cycle("nest", "finance", TREE.get)
    ensure_no_cycle("nest", None, TREE.get)


def test_a_corrupt_tree_does_not_hang():
    with pytest.raises(Conflict):
        ensure_no_cycle("x", "a", {"a": "b", "b": "a"}.get)


def test_dismissing_twice_is_a_conflict():
    employee = Employee("e", "Kesha", "k@u.com", "Seed sorter", None, "active", 1, "2026-11-27T00:00:00Z")
    gone = employee.dismissed("2026-11-28T00:00:00Z")
    assert gone.status == "dismissed" and gone.version == 2
    with pytest.raises(Conflict):
        gone.dismissed("2026-11-29T00:00:00Z")
