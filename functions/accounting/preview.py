"""What closing a day would do, without doing it (R-UI-6): the popugs to be paid, the total, the popugs staying
in the red, and whether the day can be closed at all now, for the Close day page to show before its
confirmation.

The figures are `domain.plan_close` over every account, the very computation each step of the close commits
(close_job._pay), read the same way (consistent reads, page by page), so a preview and the close that follows
it agree unless money moves in between. Nothing is written: not even the calendar, which the first close
request starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from accounting import domain, store
from accounting.domain import Calendar, ClosePreview, Refusal
from accounting.settings import get as settings
from shared import clock

PREVIEW_PAGE = 1000  # accounts read per Query round; a preview reads them all


@dataclass(frozen=True)
class Preview:
    business_day: date
    status: str
    today: date
    next_open_day: date
    refusal: Refusal | None
    figures: ClosePreview | None
    as_of: str

    def public(self) -> dict:
        figures = self.figures
        return {
            "business_day": self.business_day.isoformat(), "status": self.status, "today": self.today.isoformat(),
            "next_open_day": self.next_open_day.isoformat(), "closable": self.refusal is None,
            "refusal": {"code": self.refusal.code, "message": self.refusal.message} if self.refusal else None,
            "as_of": self.as_of, "accounts": figures.accounts if figures else None,
            "popugs_to_pay": figures.popugs_to_pay if figures else None,
            "total_to_pay": figures.total_to_pay if figures else None,
            "popugs_in_red": figures.popugs_in_red if figures else None,
        }  # fmt: skip


def preview(day: date, now: datetime) -> Preview:
    today = domain.local_day(now, settings().business_timezone)
    calendar = store.get_calendar() or Calendar(first_day=today, next_open=today)  # as the first close starts it
    status = calendar.status(day)
    refusal = _refusal(day, today, calendar, status)
    figures = None if refusal else _figures(day, clock.iso(now))
    return Preview(
        business_day=day, status=status, today=today, next_open_day=calendar.next_open, refusal=refusal,
        figures=figures, as_of=clock.iso(now),
    )  # fmt: skip


def _refusal(day: date, today: date, calendar: Calendar, status: str) -> Refusal | None:
    if day >= calendar.first_day and status == "closed":
        return Refusal("already_closed", f"{domain.person_date(day)} is already closed: closing it again pays nothing.")
    if status == "closing":
        return Refusal("closing", f"{domain.person_date(day)} is being closed right now: follow its progress.")
    return domain.close_refusal(day, today, calendar)


def _figures(day: date, now: str) -> ClosePreview:
    calendar = Calendar(first_day=day, next_open=day, closing=day)  # as the close's steps see it
    total, cursor = ClosePreview(), None
    while True:
        page, cursor = store.accounts_page(cursor, PREVIEW_PAGE)
        total = total.add(len(page), domain.plan_close((read.account for read in page), day, calendar, now))
        if cursor is None:
            return total
