"""Pure accounting rules (SPEC §6): prices, the business day, the ledger arithmetic, payouts, ranges."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest

from accounting import domain
from accounting.domain import Account, Calendar, Price, TaskInfo
from shared.errors import Unprocessable

DAY = date(2026, 11, 27)
OPEN = Calendar(first_day=DAY, next_open=DAY)


def test_r_acc_1_prices_are_uniform_integers_in_their_ranges_both_ends_included():
    rng = random.Random(1)
    prices = [domain.price_task(rng) for _ in range(20_000)]
    fees, rewards = {p.assign_fee for p in prices}, {p.reward for p in prices}
    assert min(fees) == 1000 and max(fees) == 2000 and len(fees) == 1001
    assert min(rewards) == 2000 and max(rewards) == 4000
    assert all(isinstance(p.assign_fee, int) and isinstance(p.reward, int) for p in prices)


def test_r_acc_2_the_business_day_is_the_first_open_day_at_or_after_now():
    assert OPEN.business_day(DAY) == DAY
    closing = Calendar(first_day=DAY, next_open=DAY, closing=DAY)
    assert closing.business_day(DAY) == DAY + timedelta(days=1)  # a day being closed takes nothing new
    closed_today = Calendar(first_day=DAY, next_open=DAY + timedelta(days=1))
    assert closed_today.business_day(DAY) == DAY + timedelta(days=1)
    behind = Calendar(first_day=DAY, next_open=DAY)  # yesterday not closed yet: today's belong to today
    assert behind.business_day(DAY + timedelta(days=1)) == DAY + timedelta(days=1)
    assert [closing.status(DAY - timedelta(days=1)), closing.status(DAY), closing.status(DAY + timedelta(days=1))] == [
        "closed", "closing", "open"]  # fmt: skip


def test_the_business_day_follows_the_configured_timezone():
    late_evening_utc = datetime(2026, 11, 27, 22, 30, tzinfo=UTC)
    assert domain.local_day(late_evening_utc, "UTC") == DAY
    assert domain.local_day(late_evening_utc, "Europe/Moscow") == DAY + timedelta(days=1)


def test_r_acc_2_each_transaction_carries_the_balance_after_it():
    task = TaskInfo("t1", Price(1500, 3000), "Sort seeds", "UP-1")
    when = {"business_day": DAY, "calendar": OPEN, "recorded_at": "2026-11-27T10:00:00.000Z"}
    account, fee = domain.fee(Account("p1", balance=-200, opening=-200), task, "created", "e1", **when)
    account, reward = domain.reward(account, task, **when)
    assert (fee.amount, fee.balance_after, fee.seq) == (-1500, -1700, 1)
    assert (reward.amount, reward.balance_after, reward.seq) == (3000, 1300, 2)
    assert account.balance == account.opening + fee.amount + reward.amount
    assert fee.transaction_id != reward.transaction_id
    assert domain.fee(Account("p1"), task, "created", "e1", **when)[1].transaction_id == fee.transaction_id
    assert "[UP-1] Sort seeds" in fee.reason and "on creation" in fee.reason


def test_r_acc_5_payout_pays_the_end_of_day_balance_once_and_leaves_later_days_alone():
    task = TaskInfo("t1", Price(1000, 4000))
    account, _ = domain.reward(Account("p1"), task, business_day=DAY, calendar=OPEN, recorded_at="x")
    closing = Calendar(first_day=DAY, next_open=DAY, closing=DAY)
    # Booked to the next day while this one closes: not part of this day's payout.
    account, _ = domain.fee(account, task, "shuffle", "e2", business_day=DAY + timedelta(days=1), calendar=closing,
                            recorded_at="y")  # fmt: skip
    assert account.balance == 3000 and account.end_of_day(DAY) == 4000
    paid, payout = domain.payout(account, DAY, closing, "z")
    assert (payout.kind, payout.amount, payout.business_day) == ("payout", -4000, DAY.isoformat())
    assert paid.balance == -1000 and paid.end_of_day(DAY) == 0 and paid.end_of_day(DAY + timedelta(days=1)) == -1000
    assert domain.payout(paid, DAY, closing, "again") is None  # once per popug per day


def test_r_acc_5_zero_and_negative_balances_carry():
    assert domain.payout(Account("p1"), DAY, OPEN, "x") is None
    debtor = Account("p2", balance=-500, day_delta={DAY.isoformat(): -500})
    assert domain.payout(debtor, DAY, OPEN, "x") is None and domain.in_red_at_close(debtor, DAY)


@pytest.mark.parametrize(
    ("start", "end", "code"),
    [("2026-1-01", "2026-01-02", "invalid_date"), ("2026-02-30", "2026-03-01", "invalid_date"),
     ("2026-03-02", "2026-03-01", "invalid_range"), ("2025-01-01", "2026-01-02", "invalid_range")],
)  # fmt: skip
def test_ranges_are_iso_dates_at_most_366_days(start, end, code):
    with pytest.raises(Unprocessable) as error:
        domain.parse_range(start, end)
    assert error.value.code == code


def test_a_leap_year_fits_in_one_range():
    assert domain.parse_range("2028-01-01", "2028-12-31") == (date(2028, 1, 1), date(2028, 12, 31))


def test_money_reads_as_dollars_and_cents():
    assert [domain.money(c) for c in (0, 5, 1234, -150000)] == ["$0.00", "$0.05", "$12.34", "-$1,500.00"]


def test_r_acc_7_retention_lets_go_of_days_a_year_before_the_close():
    assert domain.retention_cutoff(DAY) == date(2025, 11, 27)


def test_the_mailer_paces_itself_to_the_ses_send_rate(monkeypatch):
    from accounting import send_payout_mail

    clock = {"now": 100.0}
    slept = []
    monkeypatch.setattr(send_payout_mail.time, "monotonic", lambda: clock["now"])
    monkeypatch.setattr(send_payout_mail.time, "sleep", lambda s: (slept.append(s), clock.update(now=clock["now"] + s)))
    pacer = send_payout_mail.Pacer()
    for _ in range(3):
        pacer.wait(10, rate=14)
    assert slept == pytest.approx([10 / 14, 10 / 14])
    unpaced = send_payout_mail.Pacer()
    unpaced.wait(10, rate=0)
    unpaced.wait(10, rate=0)
    assert len(slept) == 2


def test_spec_10_what_is_kept_about_a_day_goes_when_the_day_is_a_year_old_in_the_business_timezone():
    # the end of 2027-11-27 (the day + 365), when the close of that day lets 2026-11-27's ledger entries go
    assert domain.retained_until(date(2026, 11, 27), "UTC") == datetime(2027, 11, 28, tzinfo=UTC).timestamp()
    moscow = datetime(2027, 11, 27, 21, 0, tzinfo=UTC)  # midnight in Moscow (UTC+3)
    assert domain.retained_until(date(2026, 11, 27), "Europe/Moscow") == moscow.timestamp()
    rewarded = domain.rewarded(TaskInfo("t", Price(1000, 2000)), date(2026, 11, 27), "UTC")
    assert rewarded.rewarded and rewarded.expires_at == domain.retained_until(date(2026, 11, 27), "UTC")


def test_spec_10_only_after_close_backups_past_the_retention_are_accountings_to_delete():
    closed = date(2027, 1, 2)
    assert domain.after_close_backup_expired("after-close-2026-11-27", closed, 35)  # 36 days before
    assert not domain.after_close_backup_expired("after-close-2026-11-28", closed, 35)  # 35 days: kept
    assert not domain.after_close_backup_expired("ates-prod-daily-2026-01-01", closed, 35)  # not ours
    assert not domain.after_close_backup_expired("after-close-someday", closed, 35)


# --- the close and its preview (R-ACC-5, R-UI-6) --------------------------------------------------------------


def test_r_ui_6_the_preview_adds_up_the_very_plan_the_close_commits():
    """plan_close is what each close step commits (close_job._plan) and what the preview adds up page by page
    (accounting.preview): split over any pages, the preview's figures are the plan's."""
    closing = domain.Calendar(first_day=DAY, next_open=DAY, closing=DAY)
    later = (DAY + timedelta(days=1)).isoformat()
    accounts = [
        Account("rich", balance=4200, day_delta={DAY.isoformat(): 4200}),
        Account("poor", balance=-900, day_delta={DAY.isoformat(): -900}),
        Account("idle"),
        # in profit on the day, in debt since (the next day's fee): paid the day's balance, not today's
        Account("moved", balance=500, day_delta={DAY.isoformat(): 2000, later: -1500}),
        # already paid by this day's close (a retried step): neither paid again nor counted in the red
        Account("done", balance=-100, paid_through=DAY.isoformat()),
    ]
    plan = domain.plan_close(accounts, DAY, closing, "z")
    assert [(before.employee_id, tx.amount) for before, _, tx in plan.payouts] == [("rich", -4200), ("moved", -2000)]
    assert (plan.total_paid, plan.in_red) == (6200, 1)
    for split in range(len(accounts) + 1):
        pages = [accounts[:split], accounts[split:]]
        preview = domain.ClosePreview()
        for page in pages:
            preview = preview.add(len(page), domain.plan_close(page, DAY, closing, "z"))
        assert preview == domain.ClosePreview(accounts=5, popugs_to_pay=2, total_to_pay=6200, popugs_in_red=1)


@pytest.mark.parametrize(
    ("day", "code"),
    [
        (date(2026, 11, 28), "future_day"),  # has not ended: days close up to today
        (date(2026, 11, 20), "before_first_day"),
        (date(2026, 11, 27), "previous_day_open"),  # 2026-11-26 is still open
        (date(2026, 11, 26), None),
    ],
)
def test_r_acc_5_which_day_can_be_closed_now(day, code):
    calendar = domain.Calendar(first_day=date(2026, 11, 25), next_open=date(2026, 11, 26))
    refusal = domain.close_refusal(day, date(2026, 11, 27), calendar)
    assert (refusal.code if refusal else None) == code
    if code == "previous_day_open":
        assert refusal.details == {"next_open_day": "2026-11-26"} and "26 November 2026" in refusal.message


def test_r_ui_6_dates_for_a_person_in_the_payout_email():
    assert domain.person_date("2026-12-06") == "6 December 2026"
    assert domain.person_time("2026-12-06T14:05:09.120Z") == "6 December 2026, 14:05 UTC"
    rich = Account("rich", name="Rich", balance=0)
    paid = domain.Transaction("t", "rich", 2, "payout", -4200, 0, "paid out", DAY.isoformat(), "2026-11-27T23:00:00Z")
    fee = domain.Transaction("f", "rich", 1, "fee", -1000, -1000, "fee", DAY.isoformat(), "2026-11-27T09:30:00Z")
    data = domain.payout_email(rich, paid, [fee], {})
    assert (data["day"], data["business_day"], data["transactions"][0]["at"]) == (
        "27 November 2026",
        "2026-11-27",
        "27 November 2026, 09:30 UTC",
    )
    assert "27 November 2026" in domain.payout_email_html(data, "https://ates.example")
