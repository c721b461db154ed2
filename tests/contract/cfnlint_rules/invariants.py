"""cfn-lint rules of our own for invariants of SPEC §12 (R-SEC-4, R-SEC-6), run by `make lint` and by
tests/contract/test_template.py through `.cfnlintrc` (append_rules). cfn-lint validates a SAM template as written
(it no longer runs SAM's transform), so a rule reads a function's `Events` as well as the plain resources SAM
would make of them."""

from __future__ import annotations

from typing import Any

from cfnlint.rules import CloudFormationLintRule, RuleMatch


def function_events(cfn: Any, *kinds: str) -> list[tuple[list[Any], dict[str, Any]]]:
    """(path, properties) of every SAM function event of these kinds."""
    return [
        (["Resources", name, "Properties", "Events", event_name, "Properties"], event.get("Properties") or {})
        for name, resource in cfn.get_resources(["AWS::Serverless::Function"]).items()
        for event_name, event in ((resource.get("Properties") or {}).get("Events") or {}).items()
        if isinstance(event, dict) and event.get("Type") in kinds
    ]


class StreamSourcesGiveUpToAFailureQueue(CloudFormationLintRule):
    id = "E9001"
    shortdesc = "Every stream source bounds its retries and has an on-failure destination"
    description = "A stream record that keeps failing must not block its shard nor vanish (R-SEC-4)"
    tags = ["ates", "R-SEC-4"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        sources = function_events(cfn, "DynamoDB", "Kinesis")
        sources += [
            (["Resources", name, "Properties"], resource.get("Properties") or {})
            for name, resource in cfn.get_resources(["AWS::Lambda::EventSourceMapping"]).items()
            if "StartingPosition" in (resource.get("Properties") or {})  # a stream, not a queue
        ]
        found = []
        for path, props in sources:
            where = ".".join(str(p) for p in path[1:-1])
            bounded = props.get("MaximumRetryAttempts", -1) != -1 or props.get("MaximumRecordAgeInSeconds", -1) != -1
            if not bounded:
                found.append(RuleMatch(path, f"{where}: set MaximumRetryAttempts or MaximumRecordAgeInSeconds"))
            if not ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination"):
                found.append(RuleMatch(path, f"{where}: no DestinationConfig.OnFailure (a failure queue)"))
            if not props.get("BisectBatchOnFunctionError") and "ReportBatchItemFailures" not in (
                props.get("FunctionResponseTypes") or []
            ):
                found.append(RuleMatch(path, f"{where}: bisect or report the failing records of a batch"))
        return found


class TargetsHaveADeadLetterQueue(CloudFormationLintRule):
    id = "E9002"
    shortdesc = "Every rule target and schedule has a dead-letter queue and a retry policy"
    description = "What the bus or the scheduler cannot deliver is kept and alarmed (R-SEC-4)"
    tags = ["ates", "R-SEC-4"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        found = []
        for name, resource in cfn.get_resources(["AWS::Events::Rule"]).items():
            for index, target in enumerate((resource.get("Properties") or {}).get("Targets") or []):
                for key in ("DeadLetterConfig", "RetryPolicy"):
                    if key not in target:
                        path = ["Resources", name, "Properties", "Targets", index]
                        found.append(RuleMatch(path, f"{name}: target {target.get('Id')} has no {key}"))
        schedules = [
            (["Resources", name, "Properties", "Target"], (resource.get("Properties") or {}).get("Target") or {})
            for name, resource in cfn.get_resources(["AWS::Scheduler::Schedule"]).items()
        ]
        for path, target in schedules + function_events(cfn, "ScheduleV2", "Schedule", "EventBridgeRule"):
            for key in ("DeadLetterConfig", "RetryPolicy"):
                if key not in target:
                    found.append(RuleMatch(path, f"{'.'.join(str(p) for p in path[1:-1])}: no {key}"))
        return found


class AlarmsNotify(CloudFormationLintRule):
    id = "E9003"
    shortdesc = "Every alarm has an action"
    description = "An alarm nobody hears is no alarm (R-SEC-4)"
    tags = ["ates", "R-SEC-4"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        return [
            RuleMatch(["Resources", name, "Properties"], f"{name}: no AlarmActions")
            for name, resource in cfn.get_resources(["AWS::CloudWatch::Alarm"]).items()
            if not (resource.get("Properties") or {}).get("AlarmActions")
        ]


class TablesRecoverAndResistDeletion(CloudFormationLintRule):
    id = "E9004"
    shortdesc = "Every table has point-in-time recovery and deletion protection"
    description = "PITR on every table (SPEC §10), deletion protection set (on in prod, R-SEC-6)"
    tags = ["ates", "R-SEC-6"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        found = []
        for name, resource in cfn.get_resources(["AWS::DynamoDB::Table"]).items():
            props = resource.get("Properties") or {}
            path = ["Resources", name, "Properties"]
            if not (props.get("PointInTimeRecoverySpecification") or {}).get("PointInTimeRecoveryEnabled"):
                found.append(RuleMatch(path, f"{name}: no point-in-time recovery"))
            if "DeletionProtectionEnabled" not in props:
                found.append(RuleMatch(path, f"{name}: DeletionProtectionEnabled is not set"))
        return found
