"""The emulator's PutEvents (devstack/moto_patches.py `_patch_put_events`) delivers exactly what moto's does, to
the same queues, for events every kind of pattern matches or not, and builds each event's message once: only a
rule the event matches gets to `send_to_targets` (moto matched there, for every rule on the bus)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from moto.events import models as events_models

PATTERNS = [
    {"source": ["ates.tasks"], "detail-type": ["TaskAssigned", "TaskAdded"]},
    {"source": [{"prefix": "ates."}], "detail": {"data": {"fee": [{"numeric": [">", 1000]}]}}},
    {"detail": {"data": {"title": [{"exists": False}]}}},
    {"detail-type": [{"anything-but": ["TaskAssigned"]}]},
    {"$or": [{"detail": {"version": [2]}}, {"source": ["ates.staff"]}]},
    {"detail": {"tags": ["urgent"]}},  # an array in the event matches any of its members
    {},  # an empty pattern matches nothing in AWS, everything in moto: kept as moto has it
]
EVENTS = [
    ("ates.tasks", "TaskAssigned", {"data": {"fee": 1500, "title": "t"}, "version": 1}),
    ("ates.tasks", "TaskAdded", {"data": {"fee": 900}, "version": 2, "tags": ["urgent", "x"]}),
    ("ates.staff", "EmployeeHired", {"data": {"name": "Ann"}, "version": 1}),
    ("other", "TaskAssigned", {"data": {"fee": 10, "title": None}}),
    ("ates.accounting", "DayClosed", [1, 2]),  # not an object: moto warns and delivers it all the same
]
CHANGING = ("id", "time", "ingestion-time")


@pytest.fixture
def aws(patched_moto) -> Any:
    return patched_moto("events"), patched_moto("sqs")


def _bus(events: Any, sqs: Any, name: str) -> list[str]:
    """A bus with a rule per pattern, each to a queue of its own and one rule with an input transformer."""
    events.create_event_bus(Name=name)
    urls = []
    for index, pattern in enumerate(PATTERNS):
        url = sqs.create_queue(QueueName=f"{name}-{index}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name=f"r{index}", EventBusName=name, EventPattern=json.dumps(pattern))
        target: dict[str, Any] = {"Id": "q", "Arn": arn}
        if index == 0:
            target["InputTransformer"] = {
                "InputPathsMap": {"fee": "$.detail.data.fee"},
                "InputTemplate": '{"f": <fee>}',
            }
        events.put_targets(Rule=f"r{index}", EventBusName=name, Targets=[target])
        urls.append(url)
    return urls


def _delivered(sqs: Any, urls: list[str]) -> list[list[dict[str, Any]]]:
    out = []
    for url in urls:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        bodies = [json.loads(m["Body"]) for m in messages]
        out.append(
            sorted(json.dumps({k: v for k, v in b.items() if k not in CHANGING}, sort_keys=True) for b in bodies)
        )
    return out


def test_put_events_delivers_what_motos_delivers_matching_each_rule_once(aws, monkeypatch) -> None:
    events, sqs = aws
    ours, motos = _bus(events, sqs, "ours"), _bus(events, sqs, "motos")
    entries = [{"Source": s, "DetailType": t, "Detail": json.dumps(d)} for s, t, d in EVENTS]
    backend = events_models.events_backends["123456789012"]["us-east-1"]
    sent: list[str] = []  # the rules whose send_to_targets ran, in order
    send = events_models.Rule.send_to_targets

    def counted(rule: Any, *args: Any, **kwargs: Any) -> None:
        sent.append(rule.name)
        send(rule, *args, **kwargs)

    monkeypatch.setattr(events_models.Rule, "send_to_targets", counted)

    not_an_object = "EventDetail should be of type dict"  # moto warns of the list detail, and so do we
    with pytest.warns(UserWarning, match=not_an_object):
        answer = events.put_events(Entries=[{**e, "EventBusName": "ours"} for e in entries])
    motos_put_events = events_models.EventsBackend.put_events.__wrapped__
    with pytest.warns(UserWarning, match=not_an_object):
        reference = motos_put_events(backend, [{**e, "EventBusName": "motos"} for e in entries])

    assert answer["FailedEntryCount"] == 0 and len(reference) == len(entries)
    ours_delivered, motos_delivered = _delivered(sqs, ours), _delivered(sqs, motos)
    assert ours_delivered == motos_delivered
    assert sum(map(len, ours_delivered)) >= len(PATTERNS)  # every pattern matched something: a real comparison
    matched = sent[: len(sent) - len(entries) * len(PATTERNS)]  # ours first; moto's called it for every rule
    assert len(matched) == sum(map(len, ours_delivered)) < len(entries) * len(PATTERNS)
