"""The event contracts of SPEC §9 (R-EV-1): registry, upcasting, and the exported schemas."""

import subprocess
import sys
import uuid
from pathlib import Path

import jsonschema
import pytest

from shared.contracts import REGISTRY, Envelope, UnknownEvent
from shared.contracts.tasks import TaskCreatedV2

ROOT = Path(__file__).resolve().parents[2]
SPEC_EVENTS = {
    ("ates.staff", "EmployeeHired", 1), ("ates.staff", "EmployeeUpdated", 1), ("ates.staff", "EmployeeDismissed", 1),
    ("ates.staff", "DepartmentChanged", 1), ("ates.auth", "AccountCreated", 1), ("ates.auth", "AccountRolesChanged", 1),
    ("ates.tasks", "TaskCreated", 1), ("ates.tasks", "TaskCreated", 2), ("ates.tasks", "TaskAssigned", 1),
    ("ates.tasks", "TaskCompleted", 1), ("ates.accounting", "TaskPriced", 1),
    ("ates.accounting", "TransactionRecorded", 1), ("ates.accounting", "DayClosed", 1),
}  # fmt: skip


def envelope(name: str, version: int, data: dict) -> Envelope:
    return Envelope(
        event_id=uuid.uuid4(), event_name=name, event_version=version, event_time="2026-11-27T10:00:00Z",
        producer=REGISTRY.contract(name, version).source, correlation_id="c-1", data=data,
    )  # fmt: skip


def test_r_ev_1_the_registry_holds_exactly_the_events_of_the_spec():
    assert {(c.source, c.name, c.version) for c in REGISTRY.contracts} == SPEC_EVENTS


def test_r_ev_1_task_created_v1_is_upcast_by_splitting_the_jira_id_out_of_the_title():
    task_id, author = str(uuid.uuid4()), str(uuid.uuid4())
    data = {"task_id": task_id, "title": "[UBERPOP-42] Feed the parrots", "description": "", "created_by": author}
    read = REGISTRY.read(envelope("TaskCreated", 1, data))
    assert isinstance(read, TaskCreatedV2)
    assert (read.jira_id, read.title, read.due_date) == ("UBERPOP-42", "Feed the parrots", None)


def test_task_created_v1_without_a_jira_id_keeps_its_title():
    data = {"task_id": str(uuid.uuid4()), "title": "Plain title", "created_by": str(uuid.uuid4())}
    read = REGISTRY.read(envelope("TaskCreated", 1, data))
    assert (read.jira_id, read.title) == (None, "Plain title")


def test_an_unknown_event_or_version_is_refused_not_dropped():
    with pytest.raises(UnknownEvent):
        REGISTRY.read(envelope("TaskCreated", 1, {}).model_copy(update={"event_version": 9}))


def test_an_envelope_built_by_a_producer_validates_against_its_exported_schema():
    from schemas.generate import schema_of

    data = TaskCreatedV2(task_id=uuid.uuid4(), title="t", jira_id="UBERPOP-1", created_by=uuid.uuid4())
    built = REGISTRY.envelope(data).model_dump(mode="json")
    jsonschema.validate(built, schema_of(REGISTRY.contract("TaskCreated", 2)))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**built, "event_version": 1}, schema_of(REGISTRY.contract("TaskCreated", 2)))


def test_r_ev_1_schemas_and_the_template_registry_are_generated_from_the_contracts():
    result = subprocess.run(
        [sys.executable, "schemas/generate.py", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    template = (ROOT / "template.yaml").read_text()
    for contract in REGISTRY.contracts:
        assert f"SchemaName: {contract.source}@{contract.name}.v{contract.version}" in template
        assert (ROOT / "schemas" / contract.source / contract.name / f"v{contract.version}.json").exists()
