"""The template's AWS Backup plans, taken locally on the same triggers (moto has no AWS Backup jobs).

Each rule of an `AWS::Backup::BackupPlan` (its `ScheduleExpression`, a cron in UTC unless the rule names a
`ScheduleExpressionTimezone`; AWS's default when it has none) becomes one schedule of devstack's own
scheduler, named after the plan's logical id (`TwiceDailyBackupPlan`, also found by its BackupPlanName).
When it fires, every DynamoDB table its `AWS::Backup::BackupSelection`s name is backed up with DynamoDB's
`CreateBackup` on the emulator (what `python -m shared.ops.restore` restores from), named
`<plan>-<rule>-<UTC time>`; the rule's `Lifecycle.DeleteAfterDays` is applied to the plan's earlier backups
of that table at the same moment. S3 buckets in a selection are NOT backed up locally (moto's S3 has no
recovery points): devstack says so once at startup. Run a plan now with
`python -m devstack run-schedule TwiceDailyBackupPlan` (or `POST /_devstack/schedules/NAME/run`).

The scheduler invokes "functions" by logical id; `Targets` answers for the plans and hands every other
invocation to the worker pool, so plans and functions share one loop, one listing and one run-now route.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from devstack import aws
from devstack.console import Console
from devstack.scheduler import ScheduleSpec
from devstack.workers import Invocation

DEFAULT_SCHEDULE = "cron(0 5 ? * * *)"  # AWS Backup's default for a rule without a ScheduleExpression
PLAN = "AWS::Backup::BackupPlan"
SELECTION = "AWS::Backup::BackupSelection"


@dataclass(frozen=True)
class BackupPlan:
    name: str  # the plan's logical id (".<rule>" appended when the plan has several rules)
    plan_name: str  # its BackupPlanName
    rule: str
    expression: str
    timezone: str = "UTC"
    tables: tuple[str, ...] = ()  # physical table names
    delete_after_days: int | None = None
    arn: str = ""

    def schedule(self) -> ScheduleSpec:
        """The plan as a schedule of devstack's scheduler; its "function" is the plan itself (see Targets)."""
        aliases = (self.plan_name, f"{self.plan_name}.{self.rule}")
        return ScheduleSpec(
            name=self.name, function=self.name, expression=self.expression, timezone=self.timezone,
            source="aws.backup", arn=self.arn, aliases=aliases,
        )  # fmt: skip

    def backup_name(self, when: dt.datetime) -> str:
        """`<plan>-<rule>-<yyyymmddThhmmssZ>`, in the characters DynamoDB allows in a backup name."""
        return _safe(f"{self.prefix()}{when.astimezone(dt.UTC).strftime('%Y%m%dT%H%M%SZ')}")[:255]

    def prefix(self) -> str:
        return _safe(f"{self.plan_name}-{self.rule}-")


def plans_from(provisioned: Any) -> tuple[list[BackupPlan], list[str]]:
    """The template's backup plan rules with the tables their selections name, and notes on what is not
    backed up locally (buckets, resources of other services, selections by tag)."""
    stack = provisioned.stack
    tables = {str(provisioned.resolver.ref(t)): t for t in provisioned.active("AWS::DynamoDB::Table")}
    buckets = {str(provisioned.resolver.ref(b)): b for b in provisioned.active("AWS::S3::Bucket")}
    arns = {f"arn:aws:dynamodb:{stack.region}:{stack.account_id}:table/{name}": ("table", name) for name in tables}
    arns |= {f"arn:aws:s3:::{name}": ("bucket", name) for name in buckets}
    selected: dict[str, list[str]] = {}  # plan logical id -> table names
    notes: list[str] = []
    plans = provisioned.active(PLAN)
    for logical_id in provisioned.active(SELECTION):
        raw = (stack.resources[logical_id].get("Properties") or {}).get("BackupPlanId")
        props = provisioned.properties(logical_id)
        plan = _plan_of(raw, props.get("BackupPlanId"), plans, provisioned)
        selection = props.get("BackupSelection") or {}
        if plan is None:
            notes.append(f"{logical_id}: its BackupPlanId names no backup plan of the template; nothing selected")
            continue
        if selection.get("ListOfTags") or selection.get("Conditions"):
            notes.append(f"{logical_id}: selection by tags or conditions is not evaluated locally")
        excluded = {a for pattern in selection.get("NotResources") or [] for a in _matching(str(pattern), arns)}
        for pattern in selection.get("Resources") or []:
            matches = [a for a in _matching(str(pattern), arns) if a not in excluded]
            if not matches:
                notes.append(f"{logical_id}: {pattern} is not a table of the template: not backed up locally")
            for arn in matches:
                kind, name = arns[arn]
                if kind == "table":
                    selected.setdefault(plan, []).append(name)
                else:
                    notes.append(
                        f"{logical_id}: bucket {buckets[name]} ({name}) is backed up by {plan} in AWS only: "
                        "devstack does not back up S3 buckets (moto has no AWS Backup recovery points)"
                    )
    result: list[BackupPlan] = []
    for logical_id in plans:
        body = provisioned.properties(logical_id).get("BackupPlan") or {}
        plan_name = str(body.get("BackupPlanName") or logical_id)
        rules = body.get("BackupPlanRule") or []
        for rule in rules:
            rule_name = str(rule.get("RuleName") or "rule")
            lifecycle = rule.get("Lifecycle") or {}
            result.append(
                BackupPlan(
                    name=logical_id if len(rules) == 1 else f"{logical_id}.{rule_name}",
                    plan_name=plan_name,
                    rule=rule_name,
                    expression=str(rule.get("ScheduleExpression") or DEFAULT_SCHEDULE),
                    timezone=str(rule.get("ScheduleExpressionTimezone") or "UTC"),
                    tables=tuple(dict.fromkeys(selected.get(logical_id, []))),
                    delete_after_days=int(lifecycle["DeleteAfterDays"]) if lifecycle.get("DeleteAfterDays") else None,
                    arn=f"arn:aws:backup:{stack.region}:{stack.account_id}:backup-plan:{logical_id}",
                )
            )
        if not selected.get(logical_id):
            notes.append(f"{logical_id}: no table selected: the plan backs up nothing locally")
    for plan in result:
        plan.schedule().parsed()  # a bad expression fails at startup, with its name
    return result, notes


def _plan_of(raw: Any, resolved: Any, plans: dict[str, Any], provisioned: Any) -> str | None:
    """The logical id of the plan a selection belongs to (Ref or GetAtt of it, or its resolved id)."""
    if isinstance(raw, dict) and isinstance(raw.get("Ref"), str) and raw["Ref"] in plans:
        return raw["Ref"]
    if isinstance(raw, dict) and "Fn::GetAtt" in raw:
        target = raw["Fn::GetAtt"]
        name = target[0] if isinstance(target, list) else str(target).split(".", 1)[0]
        if name in plans:
            return name
    for logical_id in plans:
        if str(resolved) == str(provisioned.resolver.ref(logical_id)):
            return logical_id
    return None


def _matching(pattern: str, arns: dict[str, tuple[str, str]]) -> list[str]:
    """ARNs a selection's resource names: exactly, or with AWS Backup's `*` wildcards."""
    if pattern in arns:
        return [pattern]
    if "*" in pattern:
        return [arn for arn in arns if fnmatch.fnmatchcase(arn, pattern)]
    return []


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "-", text)


class Backups:
    """Takes the plans' backups on the emulator, now or when the scheduler fires them."""

    def __init__(
        self,
        plans: list[BackupPlan],
        *,
        endpoint_url: str,
        console: Console,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.plans = {plan.name: plan for plan in plans}
        self.endpoint_url = endpoint_url
        self.console = console
        self.now = now

    def schedules(self) -> list[ScheduleSpec]:
        return [plan.schedule() for plan in self.plans.values()]

    def run(self, name: str, when: dt.datetime | None = None) -> dict[str, Any]:
        """Back up every table of the plan; then drop the plan's backups past the rule's DeleteAfterDays."""
        plan = self.plans[name]
        when = when or self.now()
        client = aws.client("dynamodb", self.endpoint_url)
        taken, expired = [], []
        for table in plan.tables:
            backup = client.create_backup(TableName=table, BackupName=plan.backup_name(when))["BackupDetails"]
            taken.append({"table": table, "backup_arn": backup["BackupArn"], "backup_name": backup["BackupName"]})
            if plan.delete_after_days is not None:
                cutoff = self.now() - dt.timedelta(days=plan.delete_after_days)
                expired += self._expire(client, plan, table, cutoff, keep=backup["BackupArn"])
        deleted = f"; deleted {len(expired)} expired backups" if expired else ""
        self.console.function_line(plan.name, f"backed up {', '.join(plan.tables) or 'nothing'}{deleted}")
        return {"plan": plan.plan_name, "rule": plan.rule, "backups": taken, "expired": expired}

    def _expire(self, client: Any, plan: BackupPlan, table: str, before: dt.datetime, keep: str) -> list[str]:
        """This plan's backups of `table` created before `before` but `keep` (AWS Backup's lifecycle does this)."""
        gone = []
        request: dict[str, Any] = {"TableName": table}
        while True:
            page = client.list_backups(**request)
            for backup in page.get("BackupSummaries", []):
                created = backup["BackupCreationDateTime"]
                created = created if created.tzinfo else created.replace(tzinfo=dt.UTC)
                if backup["BackupName"].startswith(plan.prefix()) and created < before and backup["BackupArn"] != keep:
                    client.delete_backup(BackupArn=backup["BackupArn"])
                    gone.append(backup["BackupArn"])
            if not page.get("LastEvaluatedBackupArn"):
                return gone
            request["ExclusiveStartBackupArn"] = page["LastEvaluatedBackupArn"]

    def around(self, pool: Any) -> Targets:
        """What the scheduler invokes: these plans, and the pool's functions."""
        return Targets(self, pool)


class Targets:
    """The scheduler's invoker: a plan's name runs the plan; anything else goes to the worker pool."""

    def __init__(self, backups: Backups, pool: Any) -> None:
        self.backups = backups
        self.pool = pool

    def invoke(self, function: str, event: Any) -> Invocation:
        if function not in self.backups.plans:
            return self.pool.invoke(function, event)
        started = time.monotonic()
        invocation = Invocation(request_id=str(uuid.uuid4()), ok=True)
        try:
            invocation.payload = self.backups.run(function, _event_time(event) or self.backups.now())
        except Exception as error:  # reported like a function's failure: the scheduler logs it
            invocation.ok = False
            invocation.error = {"errorType": type(error).__name__, "errorMessage": str(error)}
        invocation.duration_ms = (time.monotonic() - started) * 1000
        return invocation

    def __getattr__(self, name: str) -> Any:  # anything else a caller asks of the pool
        return getattr(self.pool, name)


def _event_time(event: Any) -> dt.datetime | None:
    """The scheduled time of a scheduled event (`time`), so a backup is named after its trigger."""
    text = event.get("time") if isinstance(event, dict) else None
    try:
        return dt.datetime.fromisoformat(str(text).replace("Z", "+00:00")) if text else None
    except ValueError:
        return None
