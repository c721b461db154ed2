"""R-EV-4 in the template: every consumer queue has a dead-letter queue and an alarm; its function is told
the same maxReceiveCount and the dead-letter queue it writes to; operations lists every one of them (so a
new consumer cannot be missing from the admins' dead-letter screen)."""

from __future__ import annotations

from pathlib import Path

from cfnlint.decode import cfn_yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = cfn_yaml.load(str(ROOT / "template.yaml"))
RESOURCES = TEMPLATE["Resources"]


def _consumer_queues() -> dict[str, str]:
    """Queue logical id -> the function it feeds (SQS event sources)."""
    found = {}
    for logical_id, resource in RESOURCES.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for name, event in (resource["Properties"].get("Events") or {}).items():
            # A stream source's replay queue holds failure records, not events (test_template_failures.py).
            if event["Type"] == "SQS" and name != "Replay":
                found[event["Properties"]["Queue"]["Fn::GetAtt"][0]] = logical_id
    return found


def test_every_consumer_queue_dead_letters_with_an_alarm_and_tells_its_function():
    consumers = _consumer_queues()
    assert len(consumers) >= 5
    alarmed = {
        r["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0]
        for r in RESOURCES.values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
    }
    for queue, function in consumers.items():
        redrive = RESOURCES[queue]["Properties"]["RedrivePolicy"]
        dlq = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
        assert dlq in alarmed, f"{dlq} has no alarm"
        env = RESOURCES[function]["Properties"]["Environment"]["Variables"]
        assert env["MAX_RECEIVE_COUNT"] == str(redrive["maxReceiveCount"]), function
        assert env["DEAD_LETTER_QUEUE_URL"] == {"Ref": dlq} and env["SOURCE_QUEUE_URL"] == {"Ref": queue}, function


def test_operations_lists_every_consumer_queue():
    listing = RESOURCES["OpsApiFunction"]["Properties"]["Environment"]["Variables"]["CONSUMER_QUEUES"]["Fn::Sub"]
    for queue in _consumer_queues():
        dlq = RESOURCES[queue]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        assert "${" + queue + "}" in listing and "${" + dlq + "}" in listing, queue
