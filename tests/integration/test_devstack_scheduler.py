"""devstack fires schedules itself (moto never does): cron/rate/at evaluation and the scheduler."""

from __future__ import annotations

import datetime as dt
import textwrap
from types import SimpleNamespace

import pytest

from devstack import cron, scheduler, template
from devstack.intrinsics import Resolver
from devstack.provision import Provisioned
from devstack.workers import Invocation

UTC = dt.UTC
NOW = dt.datetime(2025, 11, 27, 14, 33, 20, tzinfo=UTC)  # a Thursday


def nxt(expression: str, timezone: str = "UTC", after: dt.datetime = NOW) -> dt.datetime | None:
    return cron.parse(expression, timezone).next_after(after, after.replace(minute=0, second=0))


@pytest.mark.parametrize(
    ("expression", "timezone", "expected"),
    [
        ("cron(5 0 * * ? *)", "UTC", dt.datetime(2025, 11, 28, 0, 5, tzinfo=UTC)),
        ("cron(5 0 * * ? *)", "Europe/Moscow", dt.datetime(2025, 11, 27, 21, 5, tzinfo=UTC)),  # 00:05 MSK
        ("cron(0/15 * * * ? *)", "UTC", dt.datetime(2025, 11, 27, 14, 45, tzinfo=UTC)),
        ("cron(0 9 ? * MON-FRI *)", "UTC", dt.datetime(2025, 11, 28, 9, 0, tzinfo=UTC)),
        ("cron(0 9 ? * SAT,SUN *)", "UTC", dt.datetime(2025, 11, 29, 9, 0, tzinfo=UTC)),
        ("cron(0 9 ? * 1 *)", "UTC", dt.datetime(2025, 11, 30, 9, 0, tzinfo=UTC)),  # 1 = Sunday
        ("cron(0 12 L * ? *)", "UTC", dt.datetime(2025, 11, 30, 12, 0, tzinfo=UTC)),
        ("cron(0 12 ? * 6#2 *)", "UTC", dt.datetime(2025, 12, 12, 12, 0, tzinfo=UTC)),  # 2nd Friday
        ("cron(0 12 ? * 6L *)", "UTC", dt.datetime(2025, 11, 28, 12, 0, tzinfo=UTC)),  # last Friday
        ("cron(0 12 1W * ? *)", "UTC", dt.datetime(2025, 12, 1, 12, 0, tzinfo=UTC)),
        ("cron(0 0 1 JAN ? 2027)", "UTC", dt.datetime(2027, 1, 1, 0, 0, tzinfo=UTC)),
        ("cron(0 0 1 1 ? 2020)", "UTC", None),  # in the past: never again
        ("rate(5 minutes)", "UTC", dt.datetime(2025, 11, 27, 14, 35, tzinfo=UTC)),
        ("rate(1 hour)", "UTC", dt.datetime(2025, 11, 27, 15, 0, tzinfo=UTC)),
        ("at(2025-12-01T10:00:00)", "Europe/Berlin", dt.datetime(2025, 12, 1, 9, 0, tzinfo=UTC)),
        ("at(2025-01-01T10:00:00)", "UTC", None),
    ],
)
def test_next_fire_times(expression, timezone, expected):
    assert nxt(expression, timezone) == expected


def test_daylight_saving_time_is_honoured():
    # 00:05 in New York is 05:05 UTC in winter and 04:05 UTC in summer
    assert nxt("cron(5 0 * * ? *)", "America/New_York", dt.datetime(2025, 1, 10, tzinfo=UTC)).hour == 5
    assert nxt("cron(5 0 * * ? *)", "America/New_York", dt.datetime(2025, 7, 10, tzinfo=UTC)).hour == 4


@pytest.mark.parametrize(
    "expression",
    ["cron(5 0 * * *)", "cron(5 0 * * 1 *)", "cron(61 0 * * ? *)", "rate(0 minutes)", "every day", "cron(0 0 ? * X *)"],
)
def test_bad_expressions_are_refused(expression):
    with pytest.raises(cron.ExpressionError):
        cron.parse(expression)


FIXTURE = textwrap.dedent(
    """
    AWSTemplateFormatVersion: "2010-09-09"
    Transform: AWS::Serverless-2016-10-31
    Resources:
      JobFunction:
        Type: AWS::Serverless::Function
        Properties:
          Runtime: python3.12
          CodeUri: fns/
          Handler: job.handler
          Events:
            Nightly:
              Type: Schedule
              Properties:
                Schedule: cron(5 0 * * ? *)
            Daily:
              Type: ScheduleV2
              Properties:
                ScheduleExpression: cron(5 0 * * ? *)
                ScheduleExpressionTimezone: Europe/Moscow
                Input: '{"scheduled": "<aws.scheduler.scheduled-time>", "job": "close"}'
            Often:
              Type: Schedule
              Properties:
                Schedule: rate(1 minute)
                Enabled: false
    """
)


class FakePool:
    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    def invoke(self, function, event):
        self.calls.append((function, event))
        return Invocation("req", ok=True, payload={"done": True})


@pytest.fixture(scope="module")
def schedules(tmp_path_factory) -> list[scheduler.ScheduleSpec]:
    root = tmp_path_factory.mktemp("schedules")
    (root / "template.yaml").write_text(FIXTURE)
    stack = template.load(root / "template.yaml")
    names = {"JobFunction": "ates-local-JobFunction"}
    provisioned = Provisioned(stack=stack, endpoint_url="", resolver=None)  # type: ignore[arg-type]
    provisioned.resolver = Resolver(
        stack,
        ref=lambda n: names.get(n, n),
        get_att=lambda n, a: f"arn:aws:lambda:us-east-1:123456789012:function:{names.get(n, n)}",
    )
    found, notes = scheduler.schedules_from(provisioned)
    assert notes == []
    return found


def test_schedule_and_schedulev2_events_are_found(schedules):
    by_name = {s.name: s for s in schedules}
    assert set(by_name) == {"JobFunctionNightly", "JobFunctionDaily", "JobFunctionOften"}
    assert {s.function for s in schedules} == {"JobFunction"}
    assert (
        by_name["JobFunctionDaily"].timezone == "Europe/Moscow"
        and by_name["JobFunctionDaily"].source == "aws.scheduler"
    )
    assert by_name["JobFunctionOften"].enabled is False


def test_a_rule_target_gets_a_scheduled_event_and_a_scheduler_target_its_input(schedules):
    pool = FakePool()
    runner = scheduler.Scheduler(schedules, pool, SimpleNamespace(function_line=lambda *a, **k: None), now=lambda: NOW)
    spec, invocation = runner.run_now("JobFunctionNightly")
    assert spec.name == "JobFunctionNightly"
    assert invocation.ok and pool.calls[-1][0] == "JobFunction"
    event = pool.calls[-1][1]
    assert event["detail-type"] == "Scheduled Event" and event["source"] == "aws.events"
    assert event["time"] == "2025-11-27T14:33:20Z" and event["resources"][0].endswith(":rule/JobFunctionNightly")
    runner.run_now("daily")  # by a unique, case-insensitive suffix
    assert pool.calls[-1][1] == {"scheduled": "2025-11-27T14:33:20Z", "job": "close"}
    with pytest.raises(KeyError, match="no schedule"):
        runner.find("weekly")


def test_the_loop_fires_due_schedules_and_skips_disabled_ones(schedules):
    pool = FakePool()
    clock = {"now": NOW.replace(hour=21, minute=4, second=59)}  # 00:04:59 in Moscow
    runner = scheduler.Scheduler(
        schedules, pool, SimpleNamespace(function_line=lambda *a, **k: None), now=lambda: clock["now"]
    )
    runner.start()
    try:
        clock["now"] = NOW.replace(hour=21, minute=5, second=1)
        runner._stop.wait(1.5)
    finally:
        runner.stop()
    fired = [event for _, event in pool.calls]
    assert fired == [{"scheduled": "2025-11-27T21:05:00Z", "job": "close"}]  # Daily (Moscow) only


def test_r_loc_1_firings_missed_while_the_stack_was_down_are_caught_up_once(schedules, tmp_path):
    from devstack.progress import ProgressFile

    progress = ProgressFile(tmp_path / "schedules.json")
    progress.put("__first_started__", (NOW - dt.timedelta(days=5)).isoformat())
    progress.put("JobFunctionNightly", (NOW - dt.timedelta(days=3)).isoformat())  # then the stack stopped
    progress.put("JobFunctionDaily", NOW.isoformat())
    pool = FakePool()
    runner = scheduler.Scheduler(
        schedules, pool, SimpleNamespace(function_line=lambda *a, **k: None), now=lambda: NOW,
        progress=ProgressFile(tmp_path / "schedules.json"),  # as a restart reads it
    )  # fmt: skip
    runner.start()
    try:
        runner._stop.wait(1.0)
    finally:
        runner.stop()
    # three midnights missed: ONE firing, at the latest of them (the close catches up every day behind)
    assert [event["time"] for _, event in pool.calls] == ["2025-11-27T00:05:00Z"]
    assert ProgressFile(tmp_path / "schedules.json").get("JobFunctionNightly") == "2025-11-27T00:05:00+00:00"
