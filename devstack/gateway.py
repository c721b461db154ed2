"""The local origin: one threaded WSGI server on 127.0.0.1 serving, as CloudFront does in AWS,
`/api/...` through the REST API (see `apigw`) and the static front from web/ at `/`, plus devstack's
own pages under `/_devstack/` (see `control`).

The socket is bound before anything else starts, so a taken port is reported at once; requests wait in
the listen backlog until `serve()` is called, when the stack is ready. While the supervisor restarts the
emulator (`outage`), `/api` and the `/_devstack` pages but health answer 503 ServiceUnavailable JSON with a
Retry-After at once, and an API request that was in flight when it died and failed with a 5xx gets the same.
"""

from __future__ import annotations

import json
import mimetypes
import socket
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from werkzeug.security import safe_join
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.utils import send_file
from werkzeug.wrappers import Request as WsgiRequest
from werkzeug.wrappers import Response as WsgiResponse

from devstack import apigw, edge
from devstack.console import Console

if TYPE_CHECKING:  # the supervisor brings provisioning and the emulator with it; the gateway needs neither
    from devstack.supervisor import Outage

API_PREFIX = "/api"
CONTROL_PREFIX = "/_devstack"
# Buildless ES modules must be served as JavaScript, whatever the OS mime database says
# (werkzeug adds `; charset=utf-8` to text types).
CONTENT_TYPES = {
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".html": "text/html",
    ".json": "application/json",
    ".map": "application/json",
    ".svg": "image/svg+xml",
    ".wasm": "application/wasm",
    ".woff2": "font/woff2",
    ".ico": "image/x-icon",
    ".webmanifest": "application/manifest+json",
}

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class PortInUse(OSError):
    """The port is taken; devstack exits with a clear message before starting anything."""


class Gateway:
    """The WSGI application; its parts are attached once the stack is ready."""

    def __init__(self, web_root: Path, console: Console) -> None:
        self.web_root = web_root
        self.console = console
        self.apis: list[apigw.RestApi] = []
        self.invoker: apigw.Invoker | None = None
        self.control: WsgiApp | None = None
        self.edge_headers: list[tuple[str, str]] = []  # what CloudFront adds to web and API answers
        self.outage: Outage | None = None  # the supervisor's: which part is restarting

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == API_PREFIX or path.startswith(API_PREFIX + "/"):
            return self.api(environ, edge.with_headers(start_response, self.edge_headers))
        if path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/"):
            if not _is_loopback(environ.get("REMOTE_ADDR", "")):
                return WsgiResponse("devstack pages answer on loopback only", 403)(environ, start_response)
            if self.control is None:
                return WsgiResponse("devstack is starting", 503)(environ, start_response)
            if self.outage is not None and self.outage.down() and path != CONTROL_PREFIX + "/health":
                return self.unavailable(self.outage)(environ, start_response)
            return self.control(environ, start_response)
        return self.static(environ, edge.with_headers(start_response, self.edge_headers))

    def api(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = WsgiRequest(environ)
        if not self.apis or self.invoker is None:
            return WsgiResponse('{"message": "no RestApi in the template"}', 404)(environ, start_response)
        outage = self.outage
        if outage is not None and outage.down():
            return self.unavailable(outage)(environ, start_response)
        epoch = outage.epoch if outage is not None else 0
        api = self.apis[0]
        if request.content_length and request.content_length > apigw.MAX_BODY_BYTES:
            response = api.gateway_response("REQUEST_TOO_LARGE", "Request Too Long", "-")
        else:
            body = request.stream.read(apigw.MAX_BODY_BYTES + 1)
            api_request = apigw.Request(
                method=request.method,
                path=request.path,
                query=list(request.args.items(multi=True)),
                headers=list(request.headers.items()),
                body=body,
                source_ip=request.remote_addr or "127.0.0.1",
                host=request.host,
            )
            owner = next((a for a in self.apis if a.match(request.method, request.path)), api)
            response = owner.handle(api_request, self.invoker)
            if outage is not None and response.status >= 500 and (outage.down() or outage.epoch != epoch):
                return self.unavailable(outage)(environ, start_response)  # it failed because the emulator died
        wsgi = WsgiResponse(response.body, status=response.status)
        wsgi.headers.clear()
        for key, value in response.headers:
            wsgi.headers.add(key, value)
        return wsgi(environ, start_response)

    @staticmethod
    def unavailable(outage: Outage) -> WsgiResponse:
        """503 while a part of the stack restarts: a JSON error a person can read, and when to come back."""
        response = WsgiResponse(json.dumps(outage.error()), 503, mimetype="application/json")
        response.headers["Retry-After"] = str(outage.retry_after())
        return response

    def static(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """web/ files; `/` and unknown paths without an extension get index.html (client-side routes)."""
        request = WsgiRequest(environ)
        if request.method not in ("GET", "HEAD"):
            return WsgiResponse("method not allowed", 405)(environ, start_response)
        relative = request.path.lstrip("/")
        target = safe_join(str(self.web_root), relative) if relative else None
        if target is None or not Path(target).is_file():
            last = relative.rsplit("/", 1)[-1]
            if "." in last:
                return WsgiResponse("not found", 404, mimetype="text/plain")(environ, start_response)
            target = str(self.web_root / "index.html")
            if not Path(target).is_file():
                message = f"devstack: {self.web_root}/index.html does not exist yet"
                return WsgiResponse(message, 404, mimetype="text/plain")(environ, start_response)
        suffix = Path(target).suffix.lower()
        mimetype = CONTENT_TYPES.get(suffix) or mimetypes.guess_type(target)[0] or "application/octet-stream"
        response = send_file(target, environ, mimetype=mimetype, max_age=0, conditional=True)
        response.headers["Cache-Control"] = "no-cache"
        return response(environ, start_response)


def _is_loopback(address: str) -> bool:
    return address.startswith("127.") or address in ("::1", "localhost")


class _Handler(WSGIRequestHandler):
    """Access log through devstack's console (hidden with --quiet)."""

    console: Console | None = None

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if self.console is not None and not self.console.quiet:
            self.console.say(f"[gateway] {self.command} {self.path} {code}")

    def log_error(self, format: str, *args: Any) -> None:
        if self.console is not None and not self.console.quiet:
            self.console.say(f"[gateway] {format % args}")


def bind(gateway: Gateway, port: int, host: str = "127.0.0.1") -> BaseWSGIServer:
    """Bind and listen now (raises PortInUse); requests queue until `serve()`."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
        listener.listen(128)
    except OSError as error:
        listener.close()
        raise PortInUse(f"port {port} on {host} is already in use ({error.strerror})") from error
    handler = type("Handler", (_Handler,), {"console": gateway.console})
    try:
        return make_server(host, port, gateway, threaded=True, request_handler=handler, fd=listener.fileno())
    finally:
        listener.close()  # the server holds its own duplicate of the socket


def serve(server: BaseWSGIServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.5}, name="gateway", daemon=True)
    thread.start()
    return thread
