"""SPEC §5 and §6 held against a reference model under hostile delivery (R-EV-2, R-EV-3).

Hypothesis draws random workloads (hires, role changes, email changes, task creation, shuffles, completions,
dismissals, midnights, day closes) and drives them through the real tasks and accounting handlers on fresh
tables of the emulator's (patched) moto, run in this process, while every event is delivered twice, out of
order and late, consumers fail transiently (before and after their write), the outbox relay crashes between
publishing and its checkpoint, and job steps run twice (tests/model/harness.py). At the end every ledger,
balance, payout and payout email equals what tests/model/reference.py predicts, and every balance equals its
opening plus the sum of its ledger.

The second test proves the property bites: with the consumers' inbox de-duplication switched off, it fails.

Reproduce a failure: the seed and operations are printed; with `print_blob` Hypothesis also prints
`@reproduce_failure(...)`. In CI (`CI` set) the run is derandomized, so it is the same run every time.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

import pytest
from hypothesis import HealthCheck, Phase, event, given, note, settings
from hypothesis import strategies as st

from tests.integration.conftest import template_table
from tests.model import harness
from tests.model.harness import ROLE_SETS, World
from tests.model.reference import ModelViolation

IN_CI = bool(os.environ.get("CI"))
settings.register_profile(
    "reference-model",
    max_examples=int(os.environ.get("ATES_MODEL_EXAMPLES", "200")),  # at least 200 in CI
    deadline=None,
    derandomize=IN_CI,
    print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
    **({"database": None} if IN_CI else {}),
)
PROFILE = settings.get_profile("reference-model")
FIRST_DAY = date(2026, 11, 27)


# --- operations (each says what it is in a failing example's output) ---------------------------------------


@dataclass(frozen=True)
class Hire:
    def apply(self, world: World) -> None:
        world.hire()


@dataclass(frozen=True)
class SetRoles:
    who: int
    roles: tuple[str, ...]

    def apply(self, world: World) -> None:
        world.set_roles(self.who, self.roles)


@dataclass(frozen=True)
class ChangeEmail:
    who: int

    def apply(self, world: World) -> None:
        world.change_email(self.who)


@dataclass(frozen=True)
class Dismiss:
    who: int

    def apply(self, world: World) -> None:
        world.dismiss(self.who)


@dataclass(frozen=True)
class CreateTask:
    def apply(self, world: World) -> None:
        world.create_task()


@dataclass(frozen=True)
class Complete:
    task: int
    by_assignee: bool

    def apply(self, world: World) -> None:
        world.complete(self.task, self.by_assignee)


@dataclass(frozen=True)
class Shuffle:
    def apply(self, world: World) -> None:
        world.shuffle()


@dataclass(frozen=True)
class Midnight:
    def apply(self, world: World) -> None:
        world.midnight()


@dataclass(frozen=True)
class CloseDay:
    def apply(self, world: World) -> None:
        world.close()


index = st.integers(0, 7)
# Weighted towards what moves money: tasks are created and completed more often than people change.
operation = st.one_of(
    *[st.just(CreateTask())] * 3,  # first: Hypothesis shrinks towards the first branch
    *[st.builds(Complete, index, st.just(True))] * 2,
    st.builds(Complete, index, st.booleans()),
    st.just(CloseDay()),
    st.just(Midnight()),
    st.just(Shuffle()),
    st.just(Hire()),
    st.builds(SetRoles, index, st.sampled_from(ROLE_SETS)),
    st.builds(ChangeEmail, index),
    st.builds(Dismiss, index),
)
# A workload: 1-3 popugs hired, a first task (so money always moves), up to 8 operations, and maybe a
# close at the end. Sizes are kept small on purpose: a close alone costs ~45 AWS calls (its 16-shard walks)
# at ~5 ms each in process on this machine, and 200 examples must fit in CI.
workload = st.tuples(st.integers(1, 3), st.lists(operation, max_size=8), st.booleans())
seeds = st.integers(0, 2**32 - 1)


# --- the world each example runs in -------------------------------------------------------------------------


@pytest.fixture()
def new_world(as_function, provisioned, monkeypatch):
    """A factory of worlds: fresh tasks and accounting tables (pools, shuffles and the calendar are per
    table), the functions' template environment, and the harness's seams installed once."""
    from accounting import settings as accounting_settings
    from tasks import settings as tasks_settings

    for function in ("TasksApiFunction", "AccountingPayoutMailerFunction", "AccountingApiFunction"):
        as_function(function)
    # The harness plays SQS: a failed record is redelivered by it, not paused on a real queue.
    monkeypatch.setenv("SOURCE_QUEUE_URL", "")
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", "")
    from shared.events import dead_letters

    dead_letters.get_settings.cache_clear()
    harness.install(monkeypatch)

    def build(seed: int) -> World:
        os.environ["TASKS_TABLE_NAME"] = template_table(provisioned, "TasksTable")
        os.environ["ACCOUNTING_TABLE_NAME"] = template_table(provisioned, "AccountingTable")
        tasks_settings.get.cache_clear()
        accounting_settings.get.cache_clear()
        return World(os.environ["TASKS_TABLE_NAME"], os.environ["ACCOUNTING_TABLE_NAME"], seed, FIRST_DAY)

    with in_process_emulator(monkeypatch):
        yield build
    World.current = None
    dead_letters.get_settings.cache_clear()


@contextmanager
def in_process_emulator(monkeypatch) -> Iterator[None]:
    """The emulator's moto, patched the same way, in this process (`mock_aws`) instead of over HTTP: the
    model makes ~85 calls per example, and in process each costs about half (no HTTP, no server thread).
    The SES identity and payout template the mailer needs are copied from the provisioned emulator."""
    from moto import mock_aws

    from devstack import moto_patches
    from shared.aws import client

    template = client("ses").get_template(TemplateName=os.environ["PAYOUT_EMAIL_TEMPLATE"])["Template"]
    moto_patches.apply()
    with mock_aws():
        monkeypatch.delenv("AWS_ENDPOINT_URL")
        client.cache_clear()
        try:
            client("ses").verify_email_identity(EmailAddress=os.environ["SES_SENDER"])
            client("ses").create_template(Template=template)
            yield
        finally:
            client.cache_clear()  # the next clients go to the emulator again


def run_workload(build, popugs: int, operations: list, close_at_the_end: bool, seed: int) -> None:
    program = [*[Hire()] * popugs, CreateTask(), *operations, *([CloseDay()] if close_at_the_end else [])]
    note(f"chaos seed {seed}; operations: {program}")
    world = build(seed)
    harness.run(world, program)
    # What the examples covered (pytest --hypothesis-show-statistics).
    model = world.model
    event(f"bookings: {min(len(model.bookings), 10)}{'+' if len(model.bookings) >= 10 else ''}")
    event(f"days closed: {len(model.days)}")
    event(f"payout emails: {min(len(model.emails), 3)}{'+' if len(model.emails) >= 3 else ''}")


# --- the properties ------------------------------------------------------------------------------------------


@pytest.mark.timeout(900)  # ~2-3 minutes on an idle 2-core machine; a loaded one must not kill it midway
@PROFILE
@given(workload=workload, seed=seeds)
def test_r_acc_2_to_5_books_payouts_and_emails_match_the_model_whatever_the_delivery(new_world, workload, seed):
    # `new_world` is a factory: each example builds its own world, so sharing the fixture is safe.
    run_workload(new_world, *workload, seed)


class ForgetfulInbox:
    """`shared.dynamo` as the consumer base sees it, except that every inbox marker gets a fresh key: the
    marker is still written, but a redelivered event never finds it (de-duplication off)."""

    def __getattr__(self, name: str):
        from shared import dynamo

        return getattr(dynamo, name)

    def put(self, table, item, **kwargs):
        from shared import dynamo

        if item["pk"].startswith("INBOX#"):
            item = {**item, "pk": f"{item['pk']}#{uuid.uuid4()}"}
        return dynamo.put(table, item, **kwargs)


def test_the_model_catches_a_consumer_that_does_not_deduplicate(new_world, monkeypatch):
    from shared.events import consumer

    monkeypatch.setattr(consumer, "dynamo", ForgetfulInbox())

    @settings(PROFILE, max_examples=15, phases=[Phase.generate], print_blob=False)
    @given(workload=workload, seed=seeds)
    def property_holds(workload, seed):
        run_workload(new_world, *workload, seed)

    with pytest.raises(ModelViolation) as failure:  # the model's verdict, not a harness breakdown
        property_holds()
    print(f"without de-duplication the model reports:\n{failure.value}")
