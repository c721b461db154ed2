"""Typed settings read from the environment once, failing fast with the variable's name.

Each context declares a frozen dataclass of what it needs and loads it through `load()`; a missing
variable is a deployment bug, so it is reported by name at the first call instead of surfacing later
as a confusing `None`.
"""

from __future__ import annotations

import os
from dataclasses import MISSING, dataclass, fields
from typing import TypeVar, get_type_hints

T = TypeVar("T")


class SettingsError(RuntimeError):
    """A required environment variable is missing or malformed."""


def load(cls: type[T], environ: dict[str, str] | None = None) -> T:
    """Build `cls` (a dataclass) from environment variables named after its fields, upper-cased.

    `int` and `bool` fields are converted; a field with a default is optional.
    """
    env = os.environ if environ is None else environ
    hints = get_type_hints(cls)
    values: dict[str, object] = {}
    for field in fields(cls):  # type: ignore[arg-type]
        name = field.name.upper()
        raw = env.get(name)
        if raw is None or raw == "":
            if field.default is MISSING and field.default_factory is MISSING:
                raise SettingsError(f"environment variable {name} is required but not set")
            continue
        values[field.name] = _convert(name, raw, hints[field.name])
    return cls(**values)


def _convert(name: str, raw: str, kind: object) -> object:
    if kind is int:
        try:
            return int(raw)
        except ValueError:
            raise SettingsError(f"environment variable {name} must be an integer, got {raw!r}") from None
    if kind is bool:
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if kind == tuple[str, ...]:
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    return raw


@dataclass(frozen=True)
class EventSettings:
    """What every producer needs to publish through its outbox."""

    event_bus_name: str
