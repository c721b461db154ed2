"""devstack's own endpoints under `/_devstack/` (loopback only), for developers, tests and the CLI:

GET  /_devstack/health                 liveness, endpoint, warm workers per function, what the supervisor
                                       restarted (and is restarting: status "restarting", the only page that
                                       answers then)
GET  /_devstack/mailbox                what SES sent, newest first (HTML); `.json` for machines
GET  /_devstack/schedules              the template's schedules and their next fire times
GET  /_devstack/events.json            the domain events the event tap kept, oldest first: {"items": [envelope]};
                                       optional ?event_name=&correlation_id= (exact) and limit= (the newest
                                       N matches, default 1000)
POST /_devstack/schedules/NAME/run     run one schedule now, answer with the function's result
POST /_devstack/sweep                  delete expired TTL items now
POST /_devstack/invoke/FUNCTION        invoke a function with the JSON body as its event
POST /_devstack/bootstrap-admin        create (or reset) the first admin: {"email", "name"} optional
GET  /_devstack/functions/FUNCTION/environment
                                       the function's run-time environment overrides and the environment its
                                       workers start with: {"function", "overrides", "environment"}
POST /_devstack/functions/FUNCTION/environment
                                       override variables of one function (logical id) while devstack runs, to
                                       simulate a misconfiguration and its fix: a JSON object of names to string
                                       values, null dropping an override (back to the template's value). Its warm
                                       workers are retired (a busy one after its current invocation), so the next
                                       invocation cold-starts with the new environment. Variables the runtime
                                       reserves (AWS_REGION, AWS_ENDPOINT_URL, _HANDLER, ...) are refused (400).
                                       Answers like GET, plus "retired" (workers stopped). Nothing persists.
GET  /_devstack/journey/CORRELATION_ID a correlation id's journey across functions: the tapped events carrying it
                                       and the function log lines mentioning it (`<log-dir>/<Function>.log`),
                                       merged oldest first: {"correlation_id", "items": [{"time", "kind":
                                       "event"|"log", "source": producer or function, ...}], "truncated"}
POST /_devstack/pollers/MAPPING/crash  make one poller of an event source mapping (logical id) die, to rehearse
                                       a poller crash: the supervisor restarts it (the console says so)
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from werkzeug.exceptions import BadRequest, HTTPException, NotFound
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
    supervisor: Any = None  # supervisor.Supervisor: restarts, and the poller crash rehearsal


EVENTS_LIMIT = 1000
JOURNEY_LIMIT = 2000  # entries of one journey; the oldest are kept
NOT_FUNCTION_LOGS = frozenset({"emulator"})  # <log-dir>/*.log that are devstack's own, not a function's

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
        Rule("/_devstack/functions/<function>/environment", endpoint="environment", methods=["GET"]),
        Rule("/_devstack/functions/<function>/environment", endpoint="set_environment", methods=["POST"]),
        Rule("/_devstack/journey/<correlation_id>", endpoint="journey", methods=["GET"]),
        Rule("/_devstack/pollers/<mapping>/crash", endpoint="crash_poller", methods=["POST"]),
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
            code = "bad_request" if error.code == 400 else "not_found"
            response = _json({"error": {"code": code, "message": error.description}}, error.code or 404)
        except KeyError as error:
            response = _json({"error": {"code": "not_found", "message": str(error.args[0])}}, 404)
        return response(environ, start_response)

    def health(self, request: Request) -> Response:
        supervision = self.services.supervisor.status() if self.services.supervisor is not None else {}
        return _json(
            {
                "status": "restarting" if supervision.get("restarting") else "ok",
                "supervisor": supervision,
                "uptime_seconds": round(time.monotonic() - self.services.started, 1),
                "endpoint_url": self.services.endpoint_url,
                "functions": self.services.pool.stats(),
                **self.services.info,
            }
        )

    def crash_poller(self, request: Request, mapping: str) -> Response:
        if self.services.supervisor is None:
            raise NotFound("no supervisor runs")
        self.services.supervisor.crash_poller(mapping)
        return _json({"mapping": mapping, "crashing": True}, 202)

    def mailbox(self, request: Request) -> Response:
        page = Response(mailbox.render(mailbox.messages(self.services.endpoint_url)), mimetype="text/html")
        # R-SEC-7: the page shows mails' HTML (sandboxed frames); no script may run in devstack's origin
        page.headers["Content-Security-Policy"] = mailbox.CONTENT_SECURITY_POLICY
        page.headers["X-Content-Type-Options"] = "nosniff"
        return page

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

    def environment(self, request: Request, function: str) -> Response:
        return _json({"function": function, **self.services.pool.environment(function)})

    def set_environment(self, request: Request, function: str) -> Response:
        try:
            changes = json.loads(request.get_data() or b"{}")
        except ValueError as error:
            raise BadRequest(f"the body must be a JSON object: {error}") from error
        if not isinstance(changes, dict):
            raise BadRequest('the body must be a JSON object: {"NAME": "value" or null, ...}')
        self.services.pool.environment(function)  # an unknown function is a 404 before any 400
        try:
            result = self.services.pool.set_environment(function, changes)
        except ValueError as error:
            raise BadRequest(str(error)) from error
        return _json({"function": function, **result})

    def journey(self, request: Request, correlation_id: str) -> Response:
        items = journey(
            correlation_id,
            events_file=self.services.events_file,
            log_dir=self._log_dir(),
            functions=self.services.pool.functions,
        )
        return _json({"correlation_id": correlation_id, "items": items, "truncated": len(items) >= JOURNEY_LIMIT})

    def _log_dir(self) -> Path | None:
        console = getattr(self.services.pool, "console", None)
        log_dir = getattr(console, "log_dir", None)
        if log_dir is not None:
            return Path(log_dir)
        return self.services.events_file.parent if self.services.events_file is not None else None


def journey(
    correlation_id: str,
    *,
    events_file: Path | None,
    log_dir: Path | None,
    functions: Collection[str] | None = None,
    limit: int = JOURNEY_LIMIT,
) -> list[dict[str, Any]]:
    """The tapped events with this correlation id and the function log lines that mention it, oldest first.

    Events: {"time", "kind": "event", "source": producer, "event_name", "event_version", "event_id", "data"}.
    Log lines: {"time", "kind": "log", "source": function, "level", "message", "record" (a powertools JSON
    line, parsed) or "line" (any other text)}; a line without a timestamp of its own takes the time of the
    line before it in the same log. `functions` limits the logs read (default: every `*.log` but devstack's).
    Times are UTC ISO strings; ties keep events before log lines, and each log's own order.
    """
    found: list[tuple[datetime | None, int, dict[str, Any]]] = []
    if events_file is not None:
        for envelope in tap.read(events_file, correlation_id=correlation_id):
            when = _parse_time(envelope.get("event_time"))
            entry = {
                "time": _iso(when) or envelope.get("event_time"),
                "kind": "event",
                "source": envelope.get("producer"),
                "event_name": envelope.get("event_name"),
                "event_version": envelope.get("event_version"),
                "event_id": envelope.get("event_id"),
                "data": envelope.get("data"),
            }
            found.append((when, len(found), entry))
    if log_dir is not None and correlation_id:
        for path in sorted(log_dir.glob("*.log")):
            function = path.stem
            if function in NOT_FUNCTION_LOGS or (functions is not None and function not in functions):
                continue
            for when, entry in _log_mentions(path, function, correlation_id):
                found.append((when, len(found), entry))
    latest = datetime.max.replace(tzinfo=UTC)
    found.sort(key=lambda item: (item[0] or latest, item[1]))
    return [entry for _, _, entry in found[:limit]]


def _log_mentions(path: Path, function: str, needle: str) -> Iterable[tuple[datetime | None, dict[str, Any]]]:
    last: datetime | None = None
    try:
        handle = path.open(encoding="utf-8", errors="replace")
    except OSError:
        return
    with handle:
        for raw in handle:
            line = raw.rstrip("\n")
            record: dict[str, Any] | None = None
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    parsed = json.loads(line)
                    record = parsed if isinstance(parsed, dict) else None
            when = _parse_time(record.get("timestamp")) if record else None
            last = when or last
            if needle not in line:
                continue
            entry: dict[str, Any] = {"time": _iso(when or last), "kind": "log", "source": function}
            if record is not None:
                entry.update(level=record.get("level"), message=record.get("message"), record=record)
            else:
                entry.update(level=None, message=line, line=line)
            yield when or last, entry


def _parse_time(value: Any) -> datetime | None:
    """An aware datetime from an envelope's ISO time or powertools' `2026-01-02 03:04:05,678+0000`."""
    if not isinstance(value, str) or not value:
        return None
    for text in (value, value.replace(",", ".", 1)):
        with contextlib.suppress(ValueError):
            parsed = datetime.fromisoformat(text)
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    with contextlib.suppress(ValueError):
        return datetime.strptime(value, "%Y-%m-%d %H:%M:%S,%f%z")
    return None


def _iso(when: datetime | None) -> str | None:
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z") if when else None


def _invocation(about: dict[str, Any], invocation: Invocation) -> Response:
    body = {**about, "request_id": invocation.request_id, "ok": invocation.ok}
    body["result" if invocation.ok else "error"] = invocation.payload if invocation.ok else invocation.error
    return _json(body, 200 if invocation.ok else 502)


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body, indent=2, default=str), status=status, mimetype="application/json")
