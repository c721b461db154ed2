"""Accounts as staff events shape them (R-AUTH-4, R-AUTH-6, R-AUTH-7), in any order (R-EV-3)."""

from auth.domain import Account, dismissed, from_employee

EMPLOYEE = "3f1e2c4d-0000-4000-8000-000000000001"


def hired(current=None, version=1, department_id=None, department_roles=(), email="Kesha@UberPopug.com"):
    return from_employee(
        current, employee_id=EMPLOYEE, version=version, name="Kesha", email=email,
        department_id=department_id, department_roles=department_roles,
    )  # fmt: skip


def test_r_auth_4_a_hired_employee_gets_an_active_worker_account():
    account = hired()
    assert (account.roles, account.active, account.version, account.email) == (
        ("worker",), True, 1, "kesha@uberpopug.com",
    )  # fmt: skip


def test_r_auth_6_department_grants_add_to_own_roles():
    account = hired(department_id="d1", department_roles=("manager",))
    assert account.roles == ("worker", "manager") and account.own_roles == ("worker",)


def test_r_ev_3_an_older_update_after_a_newer_one_changes_nothing():
    newer = hired(version=3, email="new@uberpopug.com")
    assert hired(newer, version=2, email="old@uberpopug.com") is None


def test_r_ev_3_an_update_before_the_hire_creates_the_account_and_the_late_hire_is_ignored():
    from_update = hired(version=2, email="updated@uberpopug.com")
    assert from_update.email == "updated@uberpopug.com"
    assert hired(from_update, version=1) is None


def test_an_email_change_moves_the_login_without_a_role_event():
    account = hired()
    moved = hired(account, version=2, email="new@uberpopug.com")
    assert moved.email == "new@uberpopug.com" and moved.version == account.version  # roles unchanged


def test_r_auth_7_a_transfer_into_a_granted_department_changes_roles_and_version():
    account = hired()
    transferred = hired(account, version=2, department_id="d2", department_roles=("accountant",))
    assert transferred.roles == ("worker", "accountant") and transferred.version == 2


def test_r_auth_4_dismissal_deactivates_and_bumps_the_version():
    account = hired()
    gone = dismissed(account, employee_id=EMPLOYEE, version=2)
    assert not gone.active and gone.version == 2


def test_r_ev_3_dismissal_before_the_hire_leaves_an_inactive_tombstone_the_hire_cannot_revive():
    tombstone = dismissed(None, employee_id=EMPLOYEE, version=2)
    assert not tombstone.active
    assert hired(tombstone, version=1) is None


def test_a_redelivered_dismissal_changes_nothing():
    gone = dismissed(hired(), employee_id=EMPLOYEE, version=2)
    assert dismissed(gone, employee_id=EMPLOYEE, version=2) is None


def test_own_role_changes_bump_the_version_only_when_effective_roles_change():
    account = Account("a", "a@b.c", "A", ("worker",), ("worker",), True, 4)
    assert account.with_roles(("worker",), ()).version == 4
    assert account.with_roles(("worker", "manager"), ()).version == 5
    assert account.with_roles(("manager",), ("worker",)).roles == ("worker", "manager")
