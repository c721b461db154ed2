"""R-SEC-4, nothing async fails silently: in the template, every stream source bounds its retries and sends what
it gives up on to a failure queue (with a replay queue back to the function), every rule target and schedule has
a dead-letter queue and a retry policy, every dead-letter and failure queue an alarm, every alarm an action."""

from __future__ import annotations

import json

import pytest

from tests.contract import cfn


@pytest.fixture(scope="module")
def resources() -> dict:
    return cfn.resources()


def functions_events(resources: dict, kind: str) -> list[tuple[str, str, dict]]:
    return [
        (name, event_name, event["Properties"])
        for name, resource in resources.items()
        if resource["Type"] == "AWS::Serverless::Function"
        for event_name, event in (resource["Properties"].get("Events") or {}).items()
        if event["Type"] == kind
    ]


def test_r_sec_4_every_stream_source_gives_up_in_time_to_a_failure_queue_it_can_be_replayed_from(resources):
    sources = functions_events(resources, "DynamoDB")
    assert len(sources) >= 8
    for function, _, source in sources:
        assert 0 <= source["MaximumRetryAttempts"] <= 100 or source.get("MaximumRecordAgeInSeconds", -1) > 0, function
        assert source.get("BisectBatchOnFunctionError") or "ReportBatchItemFailures" in source["FunctionResponseTypes"]
        destination = source["DestinationConfig"]["OnFailure"]
        assert destination["Type"] == "SQS", function
        failure_queue = destination["Destination"]["!GetAtt"].removesuffix(".Arn")
        assert resources[failure_queue]["Type"] == "AWS::SQS::Queue", function


def test_r_sec_4_the_outbox_relays_and_mailers_replay_a_redriven_failure(resources):
    consumers = json.loads(
        resources["OpsApiFunction"]["Properties"]["Environment"]["Variables"]["CONSUMER_QUEUES"]["!Sub"]
    )
    replays = {function: props for function, _, props in functions_events(resources, "SQS")}
    for function, _, source in functions_events(resources, "DynamoDB"):
        handler = resources[function]["Properties"]["Handler"]
        if not handler.endswith(
            ("relay.lambda_handler", "send_mail.lambda_handler", "send_payout_mail.lambda_handler")
        ):
            continue  # the jobs' failure queues hold job steps, retried by the jobs themselves
        failure = source["DestinationConfig"]["OnFailure"]["Destination"]["!GetAtt"].removesuffix(".Arn")
        replay = replays[function]["Queue"]["!GetAtt"].removesuffix(".Arn")
        policy = resources[replay]["Properties"]["RedrivePolicy"]
        assert policy["deadLetterTargetArn"] == {"!GetAtt": f"{failure}.Arn"}  # a replay that fails goes back
        consumer = function.removesuffix("Function")
        assert consumers[consumer] == {"queue": f"${{{replay}}}", "dead_letter_queue": f"${{{failure}}}"}


def test_r_sec_4_every_rule_target_and_schedule_has_a_dead_letter_queue_and_a_retry_policy(resources):
    rules = [r for r in resources.values() if r["Type"] == "AWS::Events::Rule"]
    targets = [target for rule in rules for target in rule["Properties"].get("Targets", [])]
    assert len(targets) >= 6
    for target in targets:
        assert target["DeadLetterConfig"]["Arn"] == {"!GetAtt": "UndeliveredEventsQueue.Arn"}, target["Id"]
        assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
    schedules = functions_events(resources, "ScheduleV2")
    assert len(schedules) >= 2
    for function, _, schedule in schedules:
        assert schedule["DeadLetterConfig"]["Arn"] == {"!GetAtt": "UndeliveredEventsQueue.Arn"}, function
        assert schedule["RetryPolicy"]["MaximumRetryAttempts"] > 0


def test_r_sec_4_every_dead_letter_and_failure_queue_has_an_alarm_and_every_alarm_an_action(resources):
    alarms = {name: r["Properties"] for name, r in resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    watched = {
        (alarm["Dimensions"][0]["Value"]["!GetAtt"]).removesuffix(".QueueName")
        for alarm in alarms.values()
        if alarm.get("Namespace") == "AWS/SQS"
    }
    dead_ends = {arn["!GetAtt"].removesuffix(".Arn") for arn in _dead_end_arns(resources)}
    assert len(dead_ends) >= 14 and dead_ends <= watched, sorted(dead_ends - watched)
    for name, alarm in alarms.items():
        assert alarm["AlarmActions"] == [{"!Ref": "AlertTopic"}], name
    subscription = resources["AlertEmailSubscription"]
    assert subscription["Condition"] == "HasAlertEmail" and subscription["Properties"]["Endpoint"] == {
        "!Ref": "AlertEmail"
    }


def _dead_end_arns(resources: dict) -> list[dict]:
    """Where anything given up on goes: queues' redrive targets, stream sources' failure destinations, rule
    targets' and schedules' dead-letter queues."""
    found = [
        r["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]
        for r in resources.values()
        if r["Type"] == "AWS::SQS::Queue" and "RedrivePolicy" in r.get("Properties", {})
    ]
    found += [s["DestinationConfig"]["OnFailure"]["Destination"] for _, _, s in functions_events(resources, "DynamoDB")]
    found += [s["DeadLetterConfig"]["Arn"] for _, _, s in functions_events(resources, "ScheduleV2")]
    rules = [r for r in resources.values() if r["Type"] == "AWS::Events::Rule"]
    return found + [t["DeadLetterConfig"]["Arn"] for r in rules for t in r["Properties"]["Targets"]]
