"""The local AWS emulator: moto's server, with devstack's fixes, listening on loopback only.

    python -m devstack.emulator --port N [--host 127.0.0.1] [--unpatched] [--verbose]
                                [--state-dir DIR [--fsync-interval S]]

Runs moto's own WSGI app (the one ``moto_server`` runs) after ``moto_patches.apply()``, with the
JSON-protocol calls of DynamoDB, its streams, SQS and EventBridge handed straight to moto's handlers
(``_direct_dispatch``: no Flask on the hottest paths), prints
``emulator ready on http://127.0.0.1:N`` once it accepts connections and exits cleanly on SIGTERM
or SIGINT. A few routes are served next to moto's: ``GET /_devstack/ses/messages``, what SES has
sent (moto keeps it in memory only; ``/moto-api/data.json`` has it too, but without send times,
with only one of a message's text and HTML bodies, and with every other model of every service,
e.g. each DynamoDB item); ``GET /_devstack/calls``, the calls served per X-Amz-Target, and
``/_devstack/calls/by-caller``, the same per calling function; ``GET /_devstack/health``. And
``GET /_devstack/ttl/expired?table=T&attribute=A&now=EPOCH&limit=N``: the keys of the items of table T
whose number in A is below EPOCH, oldest first, for devstack's TTL sweeper (from a sorted index, where a
Scan would read the whole table every sweep). ``GET /_devstack/streams/heads?after=V&wait=S``: a long poll
for the records appended to each table's stream, so devstack's stream pollers read a shard only when it grew
(``devstack.stream_heads``). ``POST /_devstack/dynamodb/load`` stores items without
stream records, as DynamoDB's ImportTable does (``devstack.bulk_load``, for ``python -m devstack seed``).

With ``--state-dir`` the state survives the process (``devstack.persistence``): the emulator starts on what
the directory holds (snapshot + journal replayed), journals every call that may change state before
answering it, and serves ``GET /_devstack/state`` (the directory, what recovery found, the journal's size)
and ``POST /_devstack/state/checkpoint`` (a snapshot now; the journal restarts empty). Without it, moto
keeps everything in memory, as before. Starting on an existing directory is all a restart needs.

Importable helpers for devstack and tests: ``start``/``stop`` a child emulator, ``free_port``,
``sent_emails``.
"""

from __future__ import annotations

import argparse
import datetime
import email
import email.policy
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any

READY_LINE = "emulator ready on http://{host}:{port}"
SES_MESSAGES_PATH = "/_devstack/ses/messages"
HEALTH_PATH = "/_devstack/health"
STATE_PATH = "/_devstack/state"
CHECKPOINT_PATH = "/_devstack/state/checkpoint"
CALLS_PATH = "/_devstack/calls"
TTL_EXPIRED_PATH = "/_devstack/ttl/expired"
CALLS_BY_CALLER_PATH = "/_devstack/calls/by-caller"
FOREGROUND_PATH = "/_devstack/foreground"
# devstack's workers name their function in the SDK's user agent (AWS_SDK_UA_APP_ID): `app/<logical id>`.
_CALLER = re.compile(r"\bapp/(\S+)")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
_ROOT = Path(__file__).resolve().parent.parent


class EmulatorError(RuntimeError):
    """The emulator could not be started, or did not answer."""


# --------------------------------------------------------------------------------------------
# helpers for the parent process
# --------------------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (another process may still take it before use)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(
    port: int,
    *,
    host: str = "127.0.0.1",
    patched: bool = True,
    timeout: float = 60.0,
    log_path: str | os.PathLike[str] | None = None,
    state_dir: str | os.PathLike[str] | None = None,
    fsync_interval: float | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``python -m devstack.emulator`` as a child that dies with this process; wait until it answers.

    The child's output goes to ``log_path`` (appended) or to an unlinked temporary file, never to a
    pipe: nobody reads a pipe once the emulator runs, and a full pipe would freeze it. With ``state_dir``
    the emulator keeps its state there and starts on what it holds (``timeout`` includes the replay). Raises
    EmulatorError with the child's last output if it exits first (e.g. the port is taken) or does
    not answer within ``timeout`` seconds.
    """
    args = [sys.executable, "-m", "devstack.emulator", "--port", str(port), "--host", host]
    if not patched:
        args.append("--unpatched")
    if state_dir:
        args += ["--state-dir", os.fspath(state_dir)]
        if fsync_interval is not None:
            args += ["--fsync-interval", str(fsync_interval)]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_ROOT), env.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    launch = _Launch(args, env, f"http://{_url_host(host)}:{port}", port, host, timeout, log_path)
    return launch.run()


def restart(process: subprocess.Popen[Any]) -> subprocess.Popen[bytes]:
    """Start the emulator again exactly as `start` first started `process` (same command line, environment,
    port and log), after it died: devstack's supervisor restarts it with whatever state its arguments name.
    Raises EmulatorError as `start` does (e.g. another process took the port meanwhile)."""
    output = getattr(process, "devstack_output", None)
    if output is not None:
        output.close()
    launch: _Launch = process.devstack_launch  # type: ignore[attr-defined]
    return launch.run()


class _Launch:
    """How an emulator was started, kept on its process (`devstack_launch`) so a restart repeats it."""

    def __init__(
        self,
        args: list[str],
        env: dict[str, str],
        url: str,
        port: int,
        host: str,
        timeout: float,
        log_path: str | os.PathLike[str] | None,
    ) -> None:
        self.args, self.env, self.url, self.port, self.host = args, env, url, port, host
        self.timeout, self.log_path = timeout, log_path

    def run(self) -> subprocess.Popen[bytes]:
        from devstack import procs

        if self.log_path:
            path = os.fspath(self.log_path)
            offset = os.path.getsize(path) if os.path.exists(path) else 0
        else:
            handle, path = tempfile.mkstemp(prefix="devstack-emulator-", suffix=".log")
            os.close(handle)
            offset = 0
        # O_APPEND for the child, a reader of our own: the two never share a file offset
        with open(path, "ab") as writer:
            reader = open(path, "rb")  # noqa: SIM115 (closed by stop(), or below on failure)
            if not self.log_path:
                os.unlink(path)
            try:
                process = procs.spawn(
                    self.args, stdin=subprocess.DEVNULL, stdout=writer, stderr=writer, env=self.env, cwd=str(_ROOT)
                )
            except BaseException:
                reader.close()
                raise
        process.devstack_output = reader  # type: ignore[attr-defined]
        process.devstack_launch = self  # type: ignore[attr-defined]
        ready = READY_LINE.format(host=_url_host(self.host), port=self.port).encode()
        deadline = time.monotonic() + self.timeout
        while True:
            code = process.poll()
            if code is not None:
                detail = _output(reader, offset).decode("utf-8", "replace").strip()[-2000:] or "(no output)"
                reader.close()
                raise EmulatorError(
                    f"the emulator exited with code {code} before answering on port {self.port}: {detail}"
                )
            if ready in _output(reader, offset) and _answers(self.url):
                return process
            if time.monotonic() > deadline:
                stop(process)
                raise EmulatorError(f"the emulator did not answer on {self.url} within {self.timeout:.0f} s")
            time.sleep(0.05)


def stop(process: subprocess.Popen[Any], grace: float = 5.0) -> None:
    """Terminate the emulator, wait ``grace`` seconds, kill it if still there; always reaps it."""
    from devstack import procs

    try:
        procs.stop(process, grace)
    finally:
        output = getattr(process, "devstack_output", None)
        if output is not None:
            output.close()


def state(endpoint_url: str, timeout: float = 10.0) -> dict[str, Any] | None:
    """The emulator's state directory and what starting on it found (None: it keeps state in memory only)."""
    try:
        return _get_json(f"{endpoint_url.rstrip('/')}{STATE_PATH}", timeout)  # type: ignore[no-any-return]
    except urllib.error.HTTPError:
        return None  # not a devstack emulator


def checkpoint(endpoint_url: str, timeout: float = 600.0) -> dict[str, Any]:
    """A snapshot of the emulator's state now (its journal restarts empty); the state's description."""
    request = urllib.request.Request(f"{endpoint_url.rstrip('/')}{CHECKPOINT_PATH}", data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


def serve_first(endpoint_url: str, callers: list[str], timeout: float = 10.0) -> None:
    """Name the callers (function logical ids) whose calls never wait behind the background's: the functions
    a person's request waits on (`priority`). An emulator that is not devstack's is left as it is."""
    data = json.dumps({"callers": sorted(callers)}).encode()
    request = urllib.request.Request(f"{endpoint_url.rstrip('/')}{FOREGROUND_PATH}", data=data, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout):
            pass
    except urllib.error.HTTPError:
        pass  # --endpoint names an emulator of another kind: its calls are served as they come


def call_counts(endpoint_url: str, timeout: float = 10.0) -> dict[str, int]:
    """How many calls the emulator has served, per X-Amz-Target (e.g. `DynamoDB_20120810.Query`)."""
    return _get_json(f"{endpoint_url.rstrip('/')}{CALLS_PATH}", timeout)


def call_counts_by_caller(endpoint_url: str, timeout: float = 10.0) -> dict[str, dict[str, int]]:
    """The same, per caller: a function's logical id for devstack's workers, "devstack" for the rest (its
    pollers, the tap, tests and benchmarks)."""
    return _get_json(f"{endpoint_url.rstrip('/')}{CALLS_BY_CALLER_PATH}", timeout)


def full_collections(endpoint_url: str, timeout: float = 10.0) -> dict[str, Any]:
    """The emulator's full garbage collections so far (`gc_policy.stats`)."""
    return _get_json(f"{endpoint_url.rstrip('/')}{HEALTH_PATH}", timeout)["full_collections"]  # type: ignore[no-any-return]


def sent_emails(endpoint_url: str, timeout: float = 10.0) -> list[dict[str, Any]]:
    """What SES has sent on the emulator at ``endpoint_url``, oldest first.

    Each message: ``id, kind ("simple"|"templated"|"raw"), source, to, cc, bcc, destinations (all
    recipients), subject, body {"text", "html"}, sent_at (ISO 8601 UTC), timestamp (epoch s),
    account_id, region``, plus ``template, template_data`` for templated and ``raw_data`` for raw
    ones. A bulk templated send is one templated message per destination, as SES sends it. Read from
    this module's route; a plain moto server (``--endpoint``) lacks it, so its ``/moto-api/data.json``
    is read instead (no times, no region, one body only, templates not rendered).
    """
    base = endpoint_url.rstrip("/")
    try:
        return list(_get_json(base + SES_MESSAGES_PATH, timeout))
    except urllib.error.HTTPError:
        pass  # not a devstack emulator: moto answers that path as S3 (an error)
    data = _get_json(base + "/moto-api/data.json", timeout)
    found = []
    ses = data.get("ses", {})
    for kind, models in (("simple", "Message"), ("templated", "TemplateMessage"), ("raw", "RawMessage")):
        for raw in ses.get(models, []):
            if kind == "templated" and isinstance(raw.get("destinations"), list):
                continue  # moto's one record of a bulk send: its BulkTemplateMessage (below) has the ids
            found.append(_describe(kind, _Attrs(raw), account_id=None, region=None))
    for bulk in ses.get("BulkTemplateMessage", []):
        for message_id, entry in zip(bulk.get("ids", []), bulk.get("destinations", []), strict=False):
            single = {**bulk, "id": message_id, "destinations": entry.get("Destination") or {}}
            single["template_data"] = _merged(bulk.get("template_data"), entry.get("ReplacementTemplateData"))
            found.append(_describe("templated", _Attrs(single), account_id=None, region=None))
    return found


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + HEALTH_PATH, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _output(reader: IO[bytes], offset: int) -> bytes:
    reader.seek(offset)
    return reader.read()


def _get_json(url: str, timeout: float) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


# --------------------------------------------------------------------------------------------
# the emulator process
# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.emulator", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1", help="a loopback address (default 127.0.0.1)")
    parser.add_argument("--unpatched", action="store_true", help="run moto as released (for benchmarks)")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    parser.add_argument("--state-dir", type=Path, help="keep the state here and start on what it holds")
    parser.add_argument(
        "--fsync-interval", type=float, default=0.2,
        help="seconds between journal fsyncs (group commit; 0: fsync before every answer)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.host not in LOOPBACK_HOSTS and not args.host.startswith("127."):
        print(f"devstack.emulator: refusing to listen on {args.host}: loopback only", file=sys.stderr)
        return 2

    os.environ.setdefault("MOTO_PORT", str(args.port))  # as moto_server does: moto builds some URLs from it
    from devstack import gc_policy, moto_patches, stream_heads

    if not args.unpatched:
        moto_patches.apply()
        stream_heads.install()
    _install_mailbox_support()
    gc_policy.install()  # its state outlives every request: full collections walk only what is new
    store = None
    if args.state_dir:
        from devstack import persistence

        store = persistence.Store(args.state_dir.resolve(), fsync_interval=args.fsync_interval)

    try:
        server = _make_server(args.host, args.port, verbose=args.verbose, store=store)
    except OSError as error:
        print(f"devstack.emulator: cannot listen on {args.host}:{args.port} ({error})", file=sys.stderr)
        return 2
    except Exception as error:  # the state directory is taken or unreadable: say so, start nothing
        print(f"devstack.emulator: cannot start on {args.state_dir}: {error}", file=sys.stderr)
        return 2

    stopping = threading.Event()

    def request_stop(signum: int, frame: Any) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    serving = threading.Thread(target=server.run, name="emulator", daemon=True)
    serving.start()
    patched = "" if moto_patches.is_applied() else " (unpatched moto)"
    print(READY_LINE.format(host=_url_host(args.host), port=server.effective_port) + patched, flush=True)
    while not stopping.wait(0.5):
        if not serving.is_alive():
            print("devstack.emulator: the server thread died", file=sys.stderr)
            return 1
    # No new connections, no waiting for the calls in flight: most are long polls, and a journaled write in
    # flight holds the store's lock, which `store.close()` takes. waitress's complaints that it can no longer
    # wake its closed loop for the dropped ones are not news.
    logging.getLogger("waitress").setLevel(logging.CRITICAL)
    server.close()
    server.task_dispatcher.shutdown(timeout=0.1)
    if store is not None:
        store.close()
    return 0


# The JSON-protocol services devstack's hot paths call, by X-Amz-Target prefix -> (module, handler class):
# the class moto's URL map names for every path of that service.
DIRECT_HANDLERS = {
    "DynamoDB_20120810.": ("moto.dynamodb.responses", "DynamoHandler"),
    "DynamoDBStreams_20120810.": ("moto.dynamodbstreams.responses", "DynamoDBStreamsHandler"),
    "AmazonSQS.": ("moto.sqs.responses", "SQSResponse"),
    "AWSEvents.": ("moto.events.responses", "EventsHandler"),
}


def _direct_dispatch(app: Callable[..., Any]) -> Callable[..., Any]:
    """The JSON-protocol calls of DIRECT_HANDLERS straight to moto's handler, the rest through moto's app.

    moto's server finds each call's service from its headers, builds a Flask request context, routes it,
    and wraps the handler's answer in a Flask response: 15 to 20% of the emulator's CPU for a GetItem or a
    PutItem. DynamoDB is about 70% of the calls devstack makes; SQS, EventBridge and the streams most of
    the rest. The handler (`<Handler>.dispatch`, what moto's URL map names for each of these paths) gets
    the same request object and gives the same answer; its errors are answered inside it, as before, and a
    ClientError it lets out becomes the same 400 that moto's Flask wrapper makes of it. What Flask added
    is kept: the default Content-Type, and the Content-Length."""
    import importlib

    from botocore.exceptions import ClientError
    from moto.moto_server.werkzeug_app import BackendRequest
    from werkzeug.http import HTTP_STATUS_CODES

    handlers = [
        (prefix, getattr(importlib.import_module(module), name).dispatch)
        for prefix, (module, name) in DIRECT_HANDLERS.items()
    ]

    def direct(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        dispatch = next((d for prefix, d in handlers if target.startswith(prefix)), None) if target else None
        if dispatch is None:
            return app(environ, start_response)  # type: ignore[no-any-return]
        request = BackendRequest(environ)
        try:
            status, headers, body = dispatch(request, request.raw_url, dict(request.headers))
        except ClientError as error:
            status, headers, body = 400, {}, error.response["Error"]["Message"]
        code = int(headers.pop("status", status))
        data = body.encode() if isinstance(body, str) else body
        answer = {"Content-Type": "text/html; charset=utf-8", **{k: str(v) for k, v in headers.items()}}
        answer["Content-Length"] = str(len(data))
        start_response(f"{code} {HTTP_STATUS_CODES.get(code, 'Unknown')}", list(answer.items()))
        return [data]

    return direct


# The server's request threads. Each long poll holds one for up to 20 s (every SQS event source mapping's
# pollers, the stream heads watch), so there are far more than the cores; an idle thread costs next to nothing.
SERVER_THREADS = 192
# Every function worker keeps its SDK clients' connections open between calls (keep-alive).
CONNECTION_LIMIT = 2000


def _make_server(host: str, port: int, verbose: bool, store: Any = None) -> Any:
    """moto's app on waitress, bound at once (a taken port fails fast here).

    Why not werkzeug's development server, which moto_server uses: it closes the connection after every
    answer and starts a thread per connection, so every AWS call paid a TCP connect and a thread start; and
    it parses headers with the email package and answers `Expect: 100-continue` (every S3 PutObject) slowly.
    waitress keeps connections alive and serves from a fixed pool of threads: 15 to 20% less of the
    emulator's CPU per call, and an S3 PutObject in 4 ms instead of 10 (the same calls against each server,
    alternately, on the development machine)."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from waitress.server import create_server

    from devstack import moto_patches

    def backend_app(service: Any) -> Any:
        # moto runs every service's Flask app in debug mode. Its one effect on a good request is Flask's
        # form-data helper making a new class on each request (6% of the emulator's CPU under load); the
        # other, errors reaching the server rather than becoming Flask's 500 page, is kept explicitly.
        app = create_backend_app(service)
        app.debug = False
        app.config["PROPAGATE_EXCEPTIONS"] = True
        return app

    moto_app: Callable[..., Any] = DomainDispatcherApplication(backend_app)
    if moto_patches.is_applied():  # --unpatched is moto as it ships, for comparisons
        moto_app = _direct_dispatch(moto_app)
    # bind first (a taken port fails fast), then replay: nobody is served before the state is back
    server = create_server(
        _not_ready, host=host, port=port, threads=SERVER_THREADS, connection_limit=CONNECTION_LIMIT,
        ident="devstack-emulator", expose_tracebacks=False,
    )  # fmt: skip
    if not verbose:  # "task queue depth" warnings: a load test's normal; the answers' times say more
        logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    if store is not None:
        from devstack import determinism, persistence

        determinism.install()
        persistence.install_receive()
        recovery = store.recover(moto_app)
        print(f"emulator state: {recovery.__dict__}", flush=True)
        moto_app = persistence.durable_app(store, moto_app)
    server.application = _with_raw_uri(_with_devstack_routes(moto_app, store), verbose)
    return server


def _not_ready(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    return _respond(start_response, "503 Service Unavailable", {"error": "the emulator is starting"})


def _with_raw_uri(app: Callable[..., Any], verbose: bool) -> Callable[..., Any]:
    """moto reads the path as it arrived (S3 keys keep their percent-encoding) from RAW_URI, which
    werkzeug's server sets and waitress names REQUEST_URI."""

    def with_raw_uri(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        environ.setdefault("RAW_URI", environ.get("REQUEST_URI", ""))
        if verbose:
            print(f"{environ.get('REQUEST_METHOD')} {environ.get('RAW_URI')} {environ.get('HTTP_X_AMZ_TARGET', '')}",
                  file=sys.stderr, flush=True)  # fmt: skip
        return app(environ, start_response)  # type: ignore[no-any-return]

    return with_raw_uri


def _with_devstack_routes(moto_app: Callable[..., Any], store: Any = None) -> Callable[..., Any]:
    """moto's WSGI app, with ``/_devstack/...`` answered here (moto would route it to S3)."""
    from devstack import bulk_load, gc_policy, moto_patches, priority, stream_heads

    calls: Counter[tuple[str, str]] = Counter()  # (caller, X-Amz-Target)
    counting = threading.Lock()
    turns = priority.BackgroundTurns()

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if not path.startswith("/_devstack/"):
            # Calls per operation (JSON-protocol services name it in X-Amz-Target: DynamoDB, EventBridge,
            # KMS...), so benchmarks can count what an operation costs in AWS calls across processes.
            found = _CALLER.search(environ.get("HTTP_USER_AGENT", ""))
            caller = found.group(1) if found else "devstack"
            with counting:
                calls[caller, environ.get("HTTP_X_AMZ_TARGET") or "other"] += 1
            with turns.around(caller, environ):
                return list(moto_app(environ, start_response))  # an answer made lazily is made in the turn
        if path == bulk_load.LOAD_PATH and environ.get("REQUEST_METHOD") == "POST":
            size = int(environ.get("CONTENT_LENGTH") or 0)
            if store is None:
                status, answer = bulk_load.handle(environ["wsgi.input"].read(size))
                return _respond(start_response, status, answer)
            from devstack import persistence

            # its file may be gone at the next start: the load is made durable by a snapshot, not journaled
            with persistence.all_mutations():
                status, answer = bulk_load.handle(environ["wsgi.input"].read(size))
                if status.startswith("200") and not store.compact():
                    status, answer = "500 Internal Server Error", {"error": "loaded, but the snapshot failed"}
            return _respond(start_response, status, answer)
        if path == FOREGROUND_PATH and environ.get("REQUEST_METHOD") == "POST":
            try:
                named = json.loads(environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)))["callers"]
                if not isinstance(named, list) or not all(isinstance(c, str) for c in named):
                    raise ValueError
            except (ValueError, KeyError, TypeError):
                return _respond(start_response, "400 Bad Request", {"error": 'expected {"callers": [logical ids]}'})
            turns.serve_first(named)
            return _respond(start_response, "200 OK", {"served_first": turns.served_first()})
        if path == CHECKPOINT_PATH and environ.get("REQUEST_METHOD") == "POST":
            if store is None:
                return _respond(start_response, "404 Not Found", {"error": "this emulator keeps no state directory"})
            ok = store.compact()
            return _respond(start_response, "200 OK" if ok else "500 Internal Server Error", store.describe())
        if environ.get("REQUEST_METHOD") != "GET":
            return _respond(start_response, "405 Method Not Allowed", {"error": "GET only"})
        if path == SES_MESSAGES_PATH:
            return _respond(start_response, "200 OK", _ses_messages())
        if path == CALLS_PATH:
            with counting:
                per_target: Counter[str] = Counter()
                for (_, target), count in calls.items():
                    per_target[target] += count
            return _respond(start_response, "200 OK", dict(per_target))
        if path == CALLS_BY_CALLER_PATH:
            by_caller: dict[str, dict[str, int]] = {}
            with counting:
                for (caller, target), count in calls.items():
                    by_caller.setdefault(caller, {})[target] = count
            return _respond(start_response, "200 OK", by_caller)
        if path == stream_heads.PATH and stream_heads.installed():
            return _respond(start_response, "200 OK", stream_heads.answer(environ.get("QUERY_STRING", "")))
        if path == TTL_EXPIRED_PATH and moto_patches.is_applied():
            return _respond_expired(start_response, environ.get("QUERY_STRING", ""))
        if path == STATE_PATH:
            return _respond(start_response, "200 OK", store.describe() if store is not None else None)
        if path == HEALTH_PATH:
            import moto

            body = {"status": "ok", "moto": moto.__version__, "patched": moto_patches.is_applied()}
            body["full_collections"] = gc_policy.stats()  # its pauses, for benchmarks
            body["served_first"] = turns.served_first()
            return _respond(start_response, "200 OK", body)
        return _respond(start_response, "404 Not Found", {"error": f"no route {path}"})

    return app


def _respond_expired(start_response: Callable[..., Any], query_string: str) -> list[bytes]:
    import urllib.parse

    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    from devstack import moto_dynamodb_index, moto_patches
    from devstack.template import REGION

    query = dict(urllib.parse.parse_qsl(query_string))
    try:
        table_name, attribute = query["table"], query["attribute"]
        now, limit = float(query["now"]), int(query.get("limit", "1000"))
    except (KeyError, ValueError):
        problem = {"error": "table, attribute and now (a number) are required"}
        return _respond(start_response, "400 Bad Request", problem)
    backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][query.get("region", REGION)]
    with moto_patches.dynamodb_lock():
        table = backend.tables.get(table_name)
        if table is None:
            return _respond(start_response, "404 Not Found", {"error": f"no table {table_name}"})
        keys = moto_dynamodb_index.expired_keys(table, attribute, now, limit)
    return _respond(start_response, "200 OK", {"keys": keys})


def _respond(start_response: Callable[..., Any], status: str, body: Any) -> list[bytes]:
    data = json.dumps(body, default=str).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


# --------------------------------------------------------------------------------------------
# SES mailbox support (in the emulator process)
# --------------------------------------------------------------------------------------------


def _install_mailbox_support() -> None:
    """Record what moto drops: when each message was sent, both bodies, the rendered template.

    moto's ``Message`` keeps one body (the HTML one if both were given) and no time; its
    ``TemplateMessage`` keeps the template name and data, not what was sent; a bulk templated send
    is ONE ``TemplateMessage`` for all its destinations, under an id the caller never sees.
    """
    from moto.ses import models as ses_models
    from moto.ses.responses import EmailResponse
    from moto.sesv2.responses import SESV2Response

    if getattr(ses_models, "_devstack_mailbox", False):
        return
    ses_models._devstack_mailbox = True  # type: ignore[attr-defined]

    for cls in (ses_models.Message, ses_models.TemplateMessage, ses_models.RawMessage):
        cls.__init__ = _stamped(cls.__init__)  # type: ignore[method-assign]

    send_email_v1 = EmailResponse.send_email

    def send_email(self: Any) -> Any:
        result = send_email_v1(self)
        message_id = result.result["MessageId"]
        bodies = {"text": self._get_param("Message.Body.Text.Data"), "html": self._get_param("Message.Body.Html.Data")}
        _annotate(self.backend.sent_messages, message_id, devstack_bodies=bodies)
        return result

    EmailResponse.send_email = send_email  # type: ignore[method-assign]

    send_email_v2 = SESV2Response.send_email

    def send_email_sesv2(self: Any) -> Any:
        result = send_email_v2(self)
        simple = (json.loads(self.body).get("Content") or {}).get("Simple")
        if simple:
            body = simple.get("Body") or {}
            bodies = {"text": (body.get("Text") or {}).get("Data"), "html": (body.get("Html") or {}).get("Data")}
            message_id = json.loads(result)["MessageId"]
            _annotate(self.sesv2_backend.core_backend.sent_messages, message_id, devstack_bodies=bodies)
        return result

    SESV2Response.send_email = send_email_sesv2  # type: ignore[method-assign]

    send_templated = ses_models.SESBackend.send_templated_email

    def send_templated_email(self: Any, source: str, template: str, template_data: str, destinations: Any) -> Any:
        message = send_templated(self, source, template, template_data, destinations)
        message.devstack_rendered = _render(self, template, template_data)
        return message

    ses_models.SESBackend.send_templated_email = send_templated_email  # type: ignore[method-assign]

    send_bulk = ses_models.SESBackend.send_bulk_templated_email

    def send_bulk_templated_email(self: Any, source: str, template: str, template_data: str, destinations: Any) -> Any:
        bulk = send_bulk(self, source, template, template_data, destinations)
        # SES sends one message per destination, rendered with its own data, under the ids it returns
        # (`Status`): record those in place of moto's single record (found by its destinations list).
        singles = []
        for message_id, entry in zip(bulk.ids, destinations, strict=True):
            data = _merged(template_data, entry.get("ReplacementTemplateData"))
            single = ses_models.TemplateMessage(message_id, source, template, data, entry.get("Destination") or {})
            single.devstack_rendered = _render(self, template, data)
            singles.append(single)
        sent = self.sent_messages
        for index in range(len(sent) - 1, -1, -1):
            if getattr(sent[index], "destinations", None) is destinations:
                sent[index : index + 1] = singles
                break
        return bulk

    ses_models.SESBackend.send_bulk_templated_email = send_bulk_templated_email  # type: ignore[method-assign]


def _stamped(init: Callable[..., None]) -> Callable[..., None]:
    def stamped_init(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        from devstack import determinism

        self.devstack_sent_at = determinism.wall_clock()  # a replayed send keeps its original time

    return stamped_init


def _annotate(sent: list[Any], message_id: str, **attributes: Any) -> None:
    for message in reversed(list(sent)):
        if getattr(message, "id", None) == message_id:
            for name, value in attributes.items():
                setattr(message, name, value)
            return


def _merged(default: str | None, replacement: str | None) -> str:
    """A bulk destination's template data: the default data with its ReplacementTemplateData over it."""
    try:
        return json.dumps({**json.loads(default or "{}"), **json.loads(replacement or "{}")})
    except (ValueError, TypeError):  # not JSON objects: SES fails to render it; the mailbox shows what was given
        return replacement or default or "{}"


def _render(backend: Any, template_name: str, template_data: str) -> dict[str, Any] | None:
    from moto.ses.template import parse_template

    template = backend.templates.get(template_name)
    try:
        data = _printable(json.loads(template_data))
        return {
            part: parse_template(str(template[f"{part}_part"]), data) if template.get(f"{part}_part") else None
            for part in ("subject", "text", "html")
        }
    except Exception:  # bad data is SES's to reject; the mailbox just shows the raw data
        return None


def _ses_messages() -> list[dict[str, Any]]:
    from moto.ses import models as ses_models

    kinds = {ses_models.Message: "simple", ses_models.TemplateMessage: "templated", ses_models.RawMessage: "raw"}
    found = []
    for account_id, regions in list(ses_models.ses_backends.items()):
        for region, backend in list(regions.items()):
            for message in list(backend.sent_messages):
                kind = kinds.get(type(message))
                if kind:
                    found.append(_describe(kind, message, account_id=account_id, region=region))
    found.sort(key=lambda m: m["timestamp"] or 0)
    return found


class _Printed(str):
    """A number or boolean as Handlebars (SES) prints it, still false in ``{{#if}}`` when it was (0, false)."""

    value: Any

    def __new__(cls, value: Any) -> _Printed:
        printed = super().__new__(cls, json.dumps(value))
        printed.value = value
        return printed

    def __bool__(self) -> bool:
        return bool(self.value)


def _printable(data: Any) -> Any:
    """Template data with its numbers and booleans as text: moto's renderer joins strings only (it fails on 3)."""
    if isinstance(data, dict):
        return {key: _printable(value) for key, value in data.items()}
    if isinstance(data, list):
        return [_printable(value) for value in data]
    return _Printed(data) if isinstance(data, bool | int | float) else data


class _Attrs:
    """A data.json record read like a model instance."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.__dict__.update(data)


def _describe(kind: str, message: Any, account_id: str | None, region: str | None) -> dict[str, Any]:
    destinations = getattr(message, "destinations", None) or {}
    subject: str | None = getattr(message, "subject", None)
    text: str | None = None
    html: str | None = None
    if kind == "simple":
        bodies = getattr(message, "devstack_bodies", None)
        if bodies:
            text, html = bodies.get("text"), bodies.get("html")
        else:
            body = getattr(message, "body", None) or ""
            text, html = (None, body) if body.lstrip().startswith("<") else (body, None)
    elif kind == "templated":
        rendered = getattr(message, "devstack_rendered", None) or {}
        subject, text, html = rendered.get("subject"), rendered.get("text"), rendered.get("html")
    if kind == "raw":
        parsed = email.message_from_string(getattr(message, "raw_data", "") or "", policy=email.policy.default)
        subject = str(parsed.get("Subject") or "") or None
        to = _split(parsed.get("To"))
        cc = _split(parsed.get("Cc"))
        bcc = _split(parsed.get("Bcc"))
        text, html = _mime_bodies(parsed)
        everyone = [str(a) for a in destinations] if isinstance(destinations, list) else []
    else:
        to = list(destinations.get("ToAddresses", []))
        cc = list(destinations.get("CcAddresses", []))
        bcc = list(destinations.get("BccAddresses", []))
        everyone = to + cc + bcc
    sent = getattr(message, "devstack_sent_at", None)
    described: dict[str, Any] = {
        "id": getattr(message, "id", None),
        "kind": kind,
        "source": getattr(message, "source", None),
        "to": to,
        "cc": cc,
        "bcc": bcc,
        "destinations": everyone,
        "subject": subject,
        "body": {"text": text, "html": html},
        "sent_at": _iso(sent) if sent else None,
        "timestamp": sent,
        "account_id": account_id,
        "region": region,
    }
    if kind == "templated":
        described["template"] = getattr(message, "template", None)
        described["template_data"] = getattr(message, "template_data", None)
    if kind == "raw":
        described["raw_data"] = getattr(message, "raw_data", None)
    return described


def _split(header: Any) -> list[str]:
    if not header:
        return []
    return [str(address) for address in getattr(header, "addresses", ())] or [
        a.strip() for a in str(header).split(",") if a.strip()
    ]


def _mime_bodies(parsed: Any) -> tuple[str | None, str | None]:
    texts = {}
    for kind in ("plain", "html"):
        try:
            part = parsed.get_body(preferencelist=(kind,))
            texts[kind] = part.get_content() if part is not None else None
        except (KeyError, LookupError, ValueError):
            texts[kind] = None
    return texts["plain"], texts["html"]


def _iso(timestamp: float) -> str:
    moment = datetime.datetime.fromtimestamp(timestamp, datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


if __name__ == "__main__":
    sys.exit(main())
