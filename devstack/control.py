"""devstack's own endpoints under `/_devstack/` (loopback only), for developers, tests and the CLI:

GET  /_devstack/health                 liveness, endpoint, warm workers per function
GET  /_devstack/mailbox                what SES sent, newest first (HTML); `.json` for machines
GET  /_devstack/schedules              the template's schedules and their next fire times
GET  /_devstack/events.json            the domain events the event tap kept, oldest first: {"items": [envelope]};
                                       optional ?event_name=&correlation_id= (exact) and limit= (the newest
                                       N matches, default 1000)
POST /_devstack/schedules/NAME/run     run one schedule now, answer with the function's result
POST /_devstack/sweep                  delete expired TTL items now
POST /_devstack/invoke/FUNCTION        invoke a function with the JSON body as its event
POST /_devstack/bootstrap-admin        create (or reset) the first admin: {"email", "name"} optional
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from devstack import mailbox, tap
from devstack.scheduler import Scheduler
from devstack.sweeper import Sweeper
from devstack.workers import Invocation, WorkerPool


@dataclass
class Services:
    pool: WorkerPool
    scheduler: Scheduler
    sweeper: Sweeper
    endpoint_url: str
    bootstrap: Callable[[dict[str, Any]], Invocation]
    info: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    events_file: Path | None = None  # the event tap's events.jsonl


EVENTS_LIMIT = 1000

_ROUTES = Map(
    [
        Rule("/_devstack/health", endpoint="health", methods=["GET"]),
        Rule("/_devstack/mailbox", endpoint="mailbox", methods=["GET"]),
        Rule("/_devstack/mailbox.json", endpoint="mailbox_json", methods=["GET"]),
        Rule("/_devstack/schedules", endpoint="schedules", methods=["GET"]),
        Rule("/_devstack/events.json", endpoint="events_json", methods=["GET"]),
        Rule("/_devstack/schedules/<name>/run", endpoint="run_schedule", methods=["POST"]),
        Rule("/_devstack/sweep", endpoint="sweep", methods=["POST"]),
        Rule("/_devstack/invoke/<function>", endpoint="invoke", methods=["POST"]),
        Rule("/_devstack/bootstrap-admin", endpoint="bootstrap_admin", methods=["POST"]),
    ]
)


class Control:
    def __init__(self, services: Services) -> None:
        self.services = services

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        try:
            endpoint, arguments = _ROUTES.bind_to_environ(environ).match()
            response = getattr(self, endpoint)(request, **arguments)
        except HTTPException as error:
            response = _json({"error": {"code": "not_found", "message": error.description}}, error.code or 404)
        except KeyError as error:
            response = _json({"error": {"code": "not_found", "message": str(error.args[0])}}, 404)
        return response(environ, start_response)

    def health(self, request: Request) -> Response:
        return _json(
            {
                "status": "ok",
                "uptime_seconds": round(time.monotonic() - self.services.started, 1),
                "endpoint_url": self.services.endpoint_url,
                "functions": self.services.pool.stats(),
                **self.services.info,
            }
        )

    def mailbox(self, request: Request) -> Response:
        return Response(mailbox.render(mailbox.messages(self.services.endpoint_url)), mimetype="text/html")

    def mailbox_json(self, request: Request) -> Response:
        return _json({"items": [m.as_dict() for m in mailbox.messages(self.services.endpoint_url)]})

    def schedules(self, request: Request) -> Response:
        return _json({"items": self.services.scheduler.describe()})

    def events_json(self, request: Request) -> Response:
        text = request.args.get("limit") or str(EVENTS_LIMIT)
        if not text.isdigit() or int(text) < 1:
            return _json(
                {"error": {"code": "bad_request", "message": f"limit must be a positive integer: {text!r}"}}, 400
            )
        if self.services.events_file is None:
            return _json({"items": []})
        items = tap.read(
            self.services.events_file,
            event_name=request.args.get("event_name") or None,
            correlation_id=request.args.get("correlation_id") or None,
            limit=int(text),
        )
        return _json({"items": items})

    def run_schedule(self, request: Request, name: str) -> Response:
        spec, invocation = self.services.scheduler.run_now(name)
        return _invocation({"schedule": spec.name, "function": spec.function}, invocation)

    def sweep(self, request: Request) -> Response:
        return _json({"deleted": self.services.sweeper.sweep()})

    def invoke(self, request: Request, function: str) -> Response:
        if function not in self.services.pool.functions:
            raise NotFound(f"no function {function!r}")
        event = json.loads(request.get_data() or b"{}")
        return _invocation({"function": function}, self.services.pool.invoke(function, event))

    def bootstrap_admin(self, request: Request) -> Response:
        body = json.loads(request.get_data() or b"{}")
        return _invocation({"function": "bootstrap-admin"}, self.services.bootstrap(body))


def _invocation(about: dict[str, Any], invocation: Invocation) -> Response:
    body = {**about, "request_id": invocation.request_id, "ok": invocation.ok}
    body["result" if invocation.ok else "error"] = invocation.payload if invocation.ok else invocation.error
    return _json(body, 200 if invocation.ok else 502)


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body, indent=2, default=str), status=status, mimetype="application/json")
