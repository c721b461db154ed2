"""Operations HTTP API (admins; SPEC §11, R-EV-4): the dead letters of every consumer, and redriving them."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from shared.errors import NotFound
from shared.http import ResponseModel, caller, errors, make_resolver, only
from shared.observability import logger, tracer
from shared.ops import queues
from shared.responses import Page

app = make_resolver()
ADMIN = "admin"


class DeadLetters(ResponseModel):
    consumer: str
    waiting: int
    messages: list[dict[str, Any]] = Field(description="the first dead letters, described for people")


class Redriven(ResponseModel):
    consumer: str
    redriven: int
    waiting: int


@app.get("/ops/dead-letters", **only(ADMIN))
def dead_letters() -> Page[DeadLetters]:
    items = []
    for consumer, urls in sorted(queues.consumers().items()):
        dlq = urls["dead_letter_queue"]
        count = queues.waiting(dlq)
        items.append({"consumer": consumer, "waiting": count, "messages": queues.peek(dlq) if count else []})
    return {"items": items, "next_cursor": None}


@app.post("/ops/dead-letters/<consumer>/redrive", **only(ADMIN), responses=errors(404))
def redrive(consumer: str) -> Redriven:
    who = caller(app)
    urls = queues.consumers().get(consumer)
    if urls is None:
        raise NotFound(f"no consumer {consumer}; GET /ops/dead-letters lists them")
    moved = queues.redrive(urls["dead_letter_queue"], urls["queue"])
    logger.info("dead letters redriven", consumer=consumer, moved=moved, by=who.employee_id)
    return {"consumer": consumer, "redriven": moved, "waiting": queues.waiting(urls["dead_letter_queue"])}


@tracer.capture_lambda_handler
@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
