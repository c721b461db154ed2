"""Pure task rules: what a valid new task is (R-TASK-1), who may take tasks (R-TASK-2), the uniform
choice of an assignee, and how a shuffle step is cut into transactions (R-TASK-3). No I/O here: the
store and the handlers feed these functions and commit what they return."""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any, Literal, TypeVar

from shared.errors import Unprocessable
from shared.problems import FieldProblem, invalid

TITLE_MAX = 200
DESCRIPTION_MAX = 4000
JIRA_ID = re.compile(r"^[A-Z][A-Z0-9]+-\d+$")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
RETENTION_AFTER_COMPLETION_SECONDS = 30 * 24 * 3600  # R-TASK-6: kept 30 days after completion
ASSIGNEE_ROLE = "worker"
NEVER_ASSIGNEE_ROLES = frozenset({"manager", "admin"})
VIEW_ALL_ROLES = ("manager", "admin")  # R-TASK-5, and who may shuffle (R-TASK-3)

T = TypeVar("T")

# --- a new task (R-TASK-1) -------------------------------------------------------------------------


@dataclass(frozen=True)
class NewTask:
    title: str
    jira_id: str | None
    description: str
    due_date: str | None


def validate_new_task(
    title: str, jira_id: str | None = None, description: str | None = None, due_date: str | None = None
) -> NewTask:
    """The task as it will be stored, or a 422 naming every field that breaks a rule.

    Surrounding whitespace is not part of a value, and an empty optional field counts as absent
    (forms send ""), so `"  "` is an empty title, not a valid one.
    """
    problems: list[FieldProblem] = []

    def wrong(field: str, problem: str, message: str) -> None:
        problems.append(FieldProblem(field=field, location="body", problem=problem, message=message))

    title = (title or "").strip()
    if not title:
        wrong("title", "missing", "A task needs a title: say in a few words what is to be done.")
    elif len(title) > TITLE_MAX:
        wrong("title", "too_long", f"The title is too long: use at most {TITLE_MAX} characters (this one has "
                                   f"{len(title)}); put the details in the description.")  # fmt: skip
    if "[" in title or "]" in title:
        wrong("title", "brackets", "The title cannot contain square brackets: put the Jira id in its own field.")
    jira_id = (jira_id or "").strip() or None
    if jira_id is not None and not JIRA_ID.match(jira_id):
        like = "a Jira id looks like UBERPOP-42 (capital letters and digits, a dash, a number)"
        wrong("jira_id", "format", f"The Jira id {jira_id!r} is not one: {like}. Leave it empty if there is none.")
    description = description or ""
    if len(description) > DESCRIPTION_MAX:
        wrong("description", "too_long", f"The description is too long: use at most {DESCRIPTION_MAX:,} characters "
                                         f"(this one has {len(description):,}).")  # fmt: skip
    due_date = (due_date or "").strip() or None
    if due_date is not None and not _is_iso_date(due_date):
        wrong("due_date", "not_a_date", f"The due date {due_date!r} is not a date: write it like 2026-12-31, or "
                                        "leave it empty.")  # fmt: skip
    if problems:
        raise invalid(problems)
    return NewTask(title=title, jira_id=jira_id, description=description, due_date=due_date)


def _is_iso_date(value: str) -> bool:
    if not ISO_DATE.match(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


# --- a task ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Task:
    task_id: str
    title: str
    jira_id: str | None
    description: str
    due_date: str | None
    status: Literal["open", "done"]
    assignee_id: str
    created_by: str
    created_at: str
    assigned_at: str
    completed_at: str | None = None
    expires_at: int | None = None  # epoch seconds; set on completion (the table's TTL attribute)
    shuffled_by: str | None = None  # the shuffle job that last reassigned it (a job never does it twice)
    assign_fee: int | None = None  # cents; accounting's price (TaskPriced, R-UI-4), None until it is known
    reward: int | None = None

    def public(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "title": self.title,
            "jira_id": self.jira_id,
            "description": self.description,
            "due_date": self.due_date,
            "status": self.status,
            "assignee_id": self.assignee_id,
            "created_by": self.created_by,
            "created_at": self.created_at,
            "assigned_at": self.assigned_at,
            "completed_at": self.completed_at,
            "assign_fee": self.assign_fee,
            "reward": self.reward,
        }

    def priced(self, price: Price | None) -> Task:
        """The task with accounting's price, when the task item does not hold it yet (R-UI-4)."""
        if price is None or self.assign_fee is not None:
            return self
        return replace(self, assign_fee=price.assign_fee, reward=price.reward)

    def visible(self, now_epoch: int) -> bool:
        """R-TASK-6: DynamoDB deletes expired items within days, not at once; until then they are hidden."""
        return self.expires_at is None or self.expires_at > now_epoch


@dataclass(frozen=True)
class Price:
    """What accounting charges for an assignment and pays for the completion (TaskPriced, R-ACC-1)."""

    assign_fee: int
    reward: int


HistoryKind = Literal["created", "shuffled", "completed"]


@dataclass(frozen=True)
class HistoryEntry:
    """One thing that happened to a task (R-UI-4's history): created and assigned, reassigned by a shuffle,
    completed. `by` is who did it: the creator, the shuffle job, the assignee."""

    task_id: str
    at: str
    kind: HistoryKind
    assignee_id: str
    by: str | None = None

    def public(self) -> dict[str, Any]:
        return {"at": self.at, "kind": self.kind, "assignee_id": self.assignee_id, "by": self.by}


def history_in_order(entries: Iterable[HistoryEntry]) -> list[HistoryEntry]:
    """Oldest first; at the same millisecond the creation comes before what followed it."""
    rank = {"created": 0, "shuffled": 1, "completed": 2}
    return sorted(entries, key=lambda e: (e.at, rank[e.kind]))


# --- who takes tasks (R-TASK-2) --------------------------------------------------------------------


def is_assignee(roles: Iterable[str], active: bool, dismissed: bool = False) -> bool:
    """An active, not dismissed popug whose effective roles include worker but neither manager nor admin."""
    held = set(roles)
    return active and not dismissed and ASSIGNEE_ROLE in held and not (held & NEVER_ASSIGNEE_ROLES)


@dataclass(frozen=True)
class Popug:
    """What tasks knows of an account, learned from auth's and staff's events only."""

    account_id: str
    version: int = 0  # the newest auth account version applied (0: no account event seen yet)
    roles: tuple[str, ...] = ()
    active: bool = False
    dismissed: bool = False  # staff dismissed them: never an assignee again, whatever comes later
    rev: int = 0  # local write counter: each change is conditional on the one it read

    @property
    def eligible(self) -> bool:
        return is_assignee(self.roles, self.active, self.dismissed)


def apply_account(
    before: Popug | None, *, account_id: str, version: int, roles: Sequence[str], active: bool
) -> Popug | None:
    """AccountCreated / AccountRolesChanged carry the whole state with a growing `version`: apply only a
    newer one, so duplicates and late old events change nothing. None: nothing to change."""
    current = before or Popug(account_id=account_id)
    if version <= current.version:
        return None
    return replace(current, version=version, roles=tuple(sorted(set(roles))), active=active, rev=current.rev + 1)


def apply_dismissal(before: Popug | None, *, account_id: str) -> Popug | None:
    """EmployeeDismissed is final (staff never re-hires an employee id), so it needs no version check and
    holds even when it arrives before the account exists here."""
    current = before or Popug(account_id=account_id)
    if current.dismissed:
        return None
    return replace(current, dismissed=True, rev=current.rev + 1)


def choose_assignee(pool: Iterable[str], rng: random.Random) -> str | None:
    """A uniformly random member of the pool (sorted first, so a seeded rng repeats its choices)."""
    members = sorted(pool)
    return rng.choice(members) if members else None


# --- shuffle (R-TASK-3) ----------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenTask:
    """An open task as the shuffle reads it from the open-tasks index."""

    task_id: str
    assignee_id: str
    shuffled_by: str | None = None


@dataclass(frozen=True)
class Reassignment:
    task_id: str
    old_assignee: str  # the commit is conditional on the task still being open and still theirs
    new_assignee: str


def plan_reassignments(
    tasks: Iterable[OpenTask], job_id: str, pool: Iterable[str], rng: random.Random
) -> tuple[list[Reassignment], int]:
    """A new uniformly random assignee for every task this job has not reassigned yet (it may be the
    same popug), and how many it had already reassigned (a resumed step). Raises on an empty pool."""
    members = sorted(pool)
    if not members:
        raise ValueError("no assignee to shuffle to")
    plan: list[Reassignment] = []
    already = 0
    for task in tasks:
        if task.shuffled_by == job_id:
            already += 1
            continue
        plan.append(Reassignment(task.task_id, task.assignee_id, rng.choice(members)))
    return plan, already


def batches(items: Sequence[T], size: int, last_room: int) -> list[list[T]]:
    """Cut `items` into the fewest transactions: every one holds `size` items except the last, which
    has room for only `last_room` (it also carries the job's progress). The last may be empty."""
    if not 0 <= last_room <= size or size < 1:
        raise ValueError("need 0 <= last_room <= size and size >= 1")
    extra = size - last_room
    count = max(1, -(-(len(items) + extra) // size))
    cut = [list(items[i * size : (i + 1) * size]) for i in range(count - 1)]
    cut.append(list(items[(count - 1) * size :]))
    return cut


@dataclass(frozen=True)
class ShuffleJob:
    job_id: str
    status: Literal["running", "done", "failed"]
    total: int | None  # None until the job's first step has counted the open tasks
    started_at: str
    started_by: str
    before: str  # tasks created before the job started are its tasks; newer ones were just assigned
    done: int = 0
    skipped: int = 0  # completed (or gone) before the job reached them
    step: int = 0  # committed steps; every step's commit is conditional on the step it read
    cursor: str | None = None  # where the next step reads on (the index's LastEvaluatedKey, JSON)
    updated_at: str | None = None
    finished_at: str | None = None
    error: str | None = None

    def public(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "status": self.status,
            "total": self.total,
            "done": self.done,
            "skipped": self.skipped,
            "started_at": self.started_at,
            "started_by": self.started_by,
            "finished_at": self.finished_at,
            "error": self.error,
        }


# --- searching and sorting a list of tasks (R-UI-5) ------------------------------------------------

SORTS = {"created": "desc", "title": "asc"}  # the columns a list sorts by, and each one's natural order
SEARCH_MAX = 100
JIRA_PREFIX = re.compile(r"^[A-Z][A-Z0-9]*-\d*$")  # "UBERPOP-", "UBERPOP-4": a search for Jira ids


@dataclass(frozen=True)
class ListOrder:
    """How a list of tasks is read: `by` names the index order (created, title, jira), `ascending` its
    direction, `prefix` the search (a key prefix of that index, so a search reads only what matches)."""

    by: Literal["created", "title", "jira"]
    ascending: bool
    prefix: str | None = None


def list_order(sort: str | None, order: str | None, q: str | None) -> ListOrder:
    """The order and search a list request asks for, or a 422 that says what to send instead.

    A search is a prefix of the title (any case) or of a Jira id ("UBERPOP-4"), read from an index kept in
    that order, so it costs what it finds, not what is stored; its results come in title (or Jira id) order,
    which is why it cannot be combined with sorting by creation time."""
    if sort is not None and sort not in SORTS:
        raise Unprocessable(
            f"Tasks can be sorted by {' or '.join(SORTS)}, not {sort!r}.", code="invalid_sort", details={"sort": sort}
        )
    if order is not None and order not in ("asc", "desc"):
        raise Unprocessable(
            f"The sort order is asc (A to Z, oldest first) or desc (Z to A, newest first), not {order!r}.",
            code="invalid_sort", details={"order": order},
        )  # fmt: skip
    text = " ".join((q or "").split())
    if len(text) > SEARCH_MAX:
        raise Unprocessable(
            f"Search for at most {SEARCH_MAX} characters of a title or a Jira id (this has {len(text)}).",
            code="invalid_search",
        )
    if text and sort == "created":
        raise Unprocessable(
            "A search lists tasks by title (or by Jira id); sort by title, or clear the search to sort by "
            "creation time.",
            code="invalid_sort",
        )
    by = sort or ("title" if text else "created")
    ascending = (order or SORTS[by]) == "asc"
    if not text:
        return ListOrder(by=by, ascending=ascending)  # type: ignore[arg-type]
    if JIRA_PREFIX.match(text.upper()):
        return ListOrder(by="jira", ascending=ascending, prefix=text.upper())
    return ListOrder(by="title", ascending=ascending, prefix=text.lower())


def title_key(title: str) -> str:
    """A title as the title index sorts and searches it: case and runs of spaces do not matter."""
    return " ".join(title.split()).lower()
