"""Fires the template's schedules in-process (moto never does): `Schedule` events (EventBridge rules with
a ScheduleExpression) and `ScheduleV2` events (EventBridge Scheduler, with a timezone).

The target gets what AWS would send: the configured `Input` (Scheduler's context attributes such as
`<aws.scheduler.scheduled-time>` filled in), or else a scheduled event. Any schedule can be run now
(`python -m devstack run-schedule NAME` or `POST /_devstack/schedules/NAME/run`). The loop sleeps until
the next fire time, so an idle scheduler costs nothing.

Progress survives a restart (R-LOC-1) with `progress` (a devstack.progress file): each schedule's last
firing whose invocation succeeded, and when the state was first used. On start, a schedule continues from
its last firing (or from that first start): firings missed while the stack was down are caught up by ONE
firing at the latest missed time (as EventBridge would have fired it; the targets close every day behind).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from devstack import cron
from devstack.console import Console
from devstack.workers import Invocation, WorkerPool

MAX_SLEEP_SECONDS = 60.0  # re-check the clock at least this often (laptop suspend, clock changes)
MAX_CATCH_UP_STEPS = 100_000  # a rate(1 minute) missed for two months; beyond, the latest is approximate
_STARTED = "__first_started__"


@dataclass(frozen=True)
class ScheduleSpec:
    name: str  # logical id of the rule or schedule
    function: str  # logical id of the target function
    expression: str
    timezone: str = "UTC"
    input: str | None = None
    enabled: bool = True
    source: str = "aws.events"  # "aws.scheduler" for EventBridge Scheduler
    arn: str = ""
    aliases: tuple[str, ...] = ()  # other names it answers to (its Name property)

    def parsed(self) -> cron.Expression:
        return cron.parse(self.expression, self.timezone)


def schedules_from(provisioned: Any) -> tuple[list[ScheduleSpec], list[str]]:
    """The stack's schedules with a function target, and notes on targets that cannot run locally."""
    specs: list[ScheduleSpec] = []
    notes: list[str] = []
    region, account = provisioned.stack.region, provisioned.stack.account_id
    for logical_id in provisioned.active("AWS::Events::Rule"):
        props = provisioned.properties(logical_id)
        if not props.get("ScheduleExpression"):
            continue
        name = props.get("Name") or logical_id
        targets = props.get("Targets") or []
        for target in targets:
            function = provisioned.function_id(str(target.get("Arn", "")))
            if function is None:
                notes.append(f"{logical_id}: target {target.get('Id')} is not a function of the template")
                continue
            specs.append(
                ScheduleSpec(
                    name=logical_id if len(targets) == 1 else f"{logical_id}.{target.get('Id')}",
                    function=function,
                    expression=props["ScheduleExpression"],
                    input=target.get("Input"),
                    enabled=props.get("State", "ENABLED") == "ENABLED",
                    arn=f"arn:aws:events:{region}:{account}:rule/{name}",
                    aliases=(name,),
                )
            )
    for logical_id in provisioned.active("AWS::Scheduler::Schedule"):
        props = provisioned.properties(logical_id)
        target = props.get("Target") or {}
        function = provisioned.function_id(str(target.get("Arn", "")))
        if function is None:
            notes.append(f"{logical_id}: target {target.get('Arn')} is not a function of the template")
            continue
        name = props.get("Name") or logical_id
        group = props.get("GroupName") or "default"
        specs.append(
            ScheduleSpec(
                name=logical_id,
                function=function,
                expression=props["ScheduleExpression"],
                timezone=props.get("ScheduleExpressionTimezone") or "UTC",
                input=target.get("Input"),
                enabled=props.get("State", "ENABLED") == "ENABLED",
                source="aws.scheduler",
                arn=f"arn:aws:scheduler:{region}:{account}:schedule/{group}/{name}",
                aliases=(name,),
            )
        )
    for spec in specs:
        spec.parsed()  # a bad expression fails at startup, with its name
    return specs, notes


class Scheduler:
    def __init__(
        self,
        schedules: list[ScheduleSpec],
        pool: WorkerPool,
        console: Console,
        *,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        progress: Any = None,
    ) -> None:
        self.schedules = schedules
        self.pool = pool
        self.console = console
        self.now = now
        self.progress = progress  # a devstack.progress.ProgressFile, or None: the anchor is this start
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def find(self, name: str) -> ScheduleSpec:
        """By logical id or Name, exactly, then case-insensitively, then by a unique suffix."""
        for test in (
            lambda s: name == s.name or name in s.aliases,
            lambda s: name.lower() in {s.name.lower(), *(a.lower() for a in s.aliases)},
            lambda s: s.name.lower().endswith(name.lower()),
        ):
            found = [s for s in self.schedules if test(s)]
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                raise KeyError(f"{name!r} is ambiguous: {', '.join(s.name for s in found)}")
        known = ", ".join(s.name for s in self.schedules) or "none in the template"
        raise KeyError(f"no schedule {name!r} (schedules: {known})")

    def payload(self, spec: ScheduleSpec, when: dt.datetime) -> Any:
        """What the target receives for a firing at `when`."""
        stamp = when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if spec.input is not None:
            text = spec.input
            for key, value in {
                "<aws.scheduler.scheduled-time>": stamp,
                "<aws.scheduler.execution-id>": str(uuid.uuid4()),
                "<aws.scheduler.schedule-arn>": spec.arn,
                "<aws.scheduler.attempt-number>": "1",
            }.items():
                text = text.replace(key, value)
            try:
                return json.loads(text)
            except ValueError:
                return text
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": spec.source,
            "account": spec.arn.split(":")[4] if spec.arn else "",
            "time": stamp,
            "region": spec.arn.split(":")[3] if spec.arn else "",
            "resources": [spec.arn] if spec.arn else [],
            "detail": {},
        }

    def run_now(self, name: str) -> tuple[ScheduleSpec, Invocation]:
        spec = self.find(name)
        return spec, self.fire(spec, self.now())

    def fire(self, spec: ScheduleSpec, when: dt.datetime) -> Invocation:
        self.console.function_line(spec.function, f"[schedule {spec.name}] firing ({spec.expression})")
        invocation = self.pool.invoke(spec.function, self.payload(spec, when))
        if not invocation.ok:
            self.console.function_line(spec.function, f"[schedule {spec.name}] failed: {invocation.error_message}")
        return invocation

    def start(self) -> None:
        active = [s for s in self.schedules if s.enabled]
        if active:
            self._thread = threading.Thread(target=self._loop, args=(active,), name="scheduler", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(1.0)

    def _loop(self, schedules: list[ScheduleSpec]) -> None:
        anchors = {spec: self._anchor(spec) for spec in schedules}
        upcoming = {spec: spec.parsed().next_after(anchors[spec], anchors[spec]) for spec in schedules}
        while not self._stop.is_set():
            now = self.now()
            due = [(spec, when) for spec, when in upcoming.items() if when is not None and when <= now]
            for spec, when in due:
                when = self._latest_missed(spec, when, now, anchors[spec])
                threading.Thread(target=self._fire_and_record, args=(spec, when), daemon=True).start()
                upcoming[spec] = spec.parsed().next_after(when, anchors[spec])
            pending = [when for when in upcoming.values() if when is not None]
            if not pending:
                return
            delay = (min(pending) - self.now()).total_seconds()
            self._stop.wait(min(max(delay, 0.05), MAX_SLEEP_SECONDS))

    def _anchor(self, spec: ScheduleSpec) -> dt.datetime:
        """Where a schedule continues from: its last recorded firing, the state's first start, or now."""
        now = self.now()
        if self.progress is None:
            return now
        if self.progress.get(_STARTED) is None:
            self.progress.put(_STARTED, now.isoformat())
        recorded = self.progress.get(spec.name) or self.progress.get(_STARTED)
        try:
            return min(dt.datetime.fromisoformat(recorded), now)
        except (TypeError, ValueError):
            return now

    def _latest_missed(
        self, spec: ScheduleSpec, when: dt.datetime, now: dt.datetime, anchor: dt.datetime
    ) -> dt.datetime:
        """Of the firings due by `now`, the latest: one catch-up firing, not one per missed period."""
        expression = spec.parsed()
        for _ in range(MAX_CATCH_UP_STEPS):
            following = expression.next_after(when, anchor)
            if following is None or following > now:
                break
            when = following
        return when

    def _fire_and_record(self, spec: ScheduleSpec, when: dt.datetime) -> None:
        invocation = self.fire(spec, when)
        if invocation.ok and self.progress is not None:
            self.progress.put(spec.name, when.isoformat())

    def describe(self) -> list[dict[str, Any]]:
        now = self.now()
        result = []
        for spec in self.schedules:
            upcoming = spec.parsed().next_after(now, now) if spec.enabled else None
            result.append(
                {
                    "name": spec.name,
                    "function": spec.function,
                    "expression": spec.expression,
                    "timezone": spec.timezone,
                    "enabled": spec.enabled,
                    "next": upcoming.isoformat() if upcoming else None,
                }
            )
        return result
