"""Which events exist, in which versions, produced by whom; and how an old version becomes the newest.

Producers build envelopes from a model instance (`REGISTRY.envelope(model)`); consumers turn any
registered version into the newest one (`REGISTRY.read(envelope)`). Event names are unique across
sources, so (name, version) identifies a contract.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel

from shared import clock
from shared.contracts import accounting, auth, staff, tasks
from shared.contracts.envelope import Envelope


class UnknownEvent(ValueError):
    """An event name or version that is not in the registry: a poison message, never silently dropped."""


@dataclass(frozen=True)
class Contract:
    source: str
    name: str
    version: int
    model: type[BaseModel]


Upcaster = Callable[[dict], dict]


class Registry:
    def __init__(self, contracts: list[Contract], upcasters: dict[tuple[str, int], Upcaster]) -> None:
        self.contracts = contracts
        self._by_key = {(c.name, c.version): c for c in contracts}
        self._by_model = {c.model: c for c in contracts}
        self._upcasters = upcasters
        self.latest = {c.name: max(o.version for o in contracts if o.name == c.name) for c in contracts}

    def contract(self, name: str, version: int) -> Contract:
        try:
            return self._by_key[(name, version)]
        except KeyError:
            raise UnknownEvent(f"no contract for {name} v{version}") from None

    def envelope(self, data: BaseModel, *, correlation_id: str | None = None) -> Envelope:
        """Wrap a model instance for publishing; the instance was validated when it was built."""
        contract = self._by_model[type(data)]
        return Envelope(
            event_id=uuid.uuid4(),
            event_name=contract.name,
            event_version=contract.version,
            event_time=clock.now(),
            producer=contract.source,
            correlation_id=correlation_id or str(uuid.uuid4()),
            data=data.model_dump(mode="json"),
        )

    def read(self, envelope: Envelope) -> BaseModel:
        """Validate `envelope.data` against its version, then upcast step by step to the newest model."""
        name, version = envelope.event_name, envelope.event_version
        self.contract(name, version).model.model_validate(envelope.data)
        data = envelope.data
        while version < self.latest[name]:
            data = self._upcasters[(name, version)](data)
            version += 1
        return self.contract(name, version).model.model_validate(data)


def _c(source: str, name: str, version: int, model: type[BaseModel]) -> Contract:
    return Contract(f"ates.{source}", name, version, model)


REGISTRY = Registry(
    [
        _c("staff", "EmployeeHired", 1, staff.EmployeeHiredV1),
        _c("staff", "EmployeeUpdated", 1, staff.EmployeeUpdatedV1),
        _c("staff", "EmployeeDismissed", 1, staff.EmployeeDismissedV1),
        _c("staff", "DepartmentChanged", 1, staff.DepartmentChangedV1),
        _c("auth", "AccountCreated", 1, auth.AccountCreatedV1),
        _c("auth", "AccountRolesChanged", 1, auth.AccountRolesChangedV1),
        _c("tasks", "TaskCreated", 1, tasks.TaskCreatedV1),
        _c("tasks", "TaskCreated", 2, tasks.TaskCreatedV2),
        _c("tasks", "TaskAssigned", 1, tasks.TaskAssignedV1),
        _c("tasks", "TaskCompleted", 1, tasks.TaskCompletedV1),
        _c("accounting", "TaskPriced", 1, accounting.TaskPricedV1),
        _c("accounting", "TransactionRecorded", 1, accounting.TransactionRecordedV1),
        _c("accounting", "DayClosed", 1, accounting.DayClosedV1),
    ],
    upcasters={("TaskCreated", 1): tasks.upcast_task_created_v1},
)
