"""Transactional outbox (R-EV-2): events are written as one item in the producer's own table, inside
the same `TransactWriteItems` as the state change, so both commit or neither does. The table's stream
carries the item to `shared.events.relay`, which publishes it. One outbox item may carry many events
(a shuffle's batch), which keeps writes and stream records far below one per event.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from shared import clock, dynamo

if TYPE_CHECKING:  # writing an outbox item needs no model: the envelopes were built by their producer
    from shared.contracts import Envelope

OUTBOX_PREFIX = "OUTBOX#"
# The relay reads the stream within seconds; the item only has to outlive stream retention (24 h).
OUTBOX_TTL_SECONDS = 2 * 24 * 3600


def outbox_put(table: str, events: Sequence[Envelope]) -> dict[str, Any]:
    """The `Put` action that stores `events` for the relay, to add to the state change's transaction."""
    if not events:
        raise ValueError("an outbox item carries at least one event")
    return dynamo.put(
        table,
        {
            "pk": f"{OUTBOX_PREFIX}{uuid.uuid4()}",
            "sk": "OUTBOX",
            "events": json.dumps([e.model_dump(mode="json") for e in events], separators=(",", ":")),
            "created_at": clock.iso(clock.now()),
            "expires_at": clock.epoch_seconds() + OUTBOX_TTL_SECONDS,
        },
    )


def events_of(new_image: dict[str, Any]) -> list[Envelope]:
    """The envelopes stored in an outbox item, as the stream delivers its NewImage."""
    # Imported here, not with the module: a store imports this module to write outbox items, and one that
    # mostly reads (the authorizer's) would otherwise import pydantic and every contract for nothing.
    from shared.contracts import Envelope

    return [Envelope.model_validate(e) for e in json.loads(new_image["events"]["S"])]
