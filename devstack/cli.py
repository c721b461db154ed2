"""`python -m devstack COMMAND`:

  up                 start the local stack (what `make run` runs)
  run-schedule NAME  run one of the template's schedules now, on the running devstack
  sweep              delete expired TTL items now, on the running devstack
  bootstrap-admin    create (or reset the password of) the first admin, on the running devstack
  invoke FUNCTION    invoke a function with an event, on the running devstack
  audit-ledger       check the running devstack's accounting table against the events its tap kept
  journey ID         a correlation id's journey: its events and the function log lines mentioning it
  environment FUNCTION [NAME=VALUE ...] [--drop NAME ...]
                     show, or override at run time, one function's environment (its next call cold-starts)
  seed [--popugs N] [--days N] [--seed N]
                     load a company-year (popugs, tasks, ledger, closed days, lake) into the running devstack,
                     or into a fresh one it starts and keeps running (R-LOC-3; devstack.seed)

Commands other than `up` talk to a running devstack through its `/_devstack/` endpoints, found via
the state file `up` writes (or `--url`); `audit-ledger` reads the emulator and `events.jsonl` directly
(exit 0: the books hold; 1: problems found, listed in the report; 2: it could not run). `journey` reads
the log directory itself when given `--log-dir`, or when the devstack of the state file has stopped
(its logs and `events.jsonl` outlive it); `--json` prints the entries as JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from devstack.aws import DUMMY_CREDENTIALS
from devstack.template import REGION
from devstack.up import BOOTSTRAP_ADMIN, ROOT, STATE_DIR, Options, up

DEFAULT_STATE = ROOT / ".devstack" / "state.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    start = commands.add_parser("up", help="start the local stack")
    start.add_argument("--port", type=int, default=8000, help="port of the web + API origin (default 8000)")
    start.add_argument("--endpoint", help="use this running AWS emulator instead of starting one")
    start.add_argument("--workers", type=_positive, default=1, help="worker processes per function (default 1)")
    start.add_argument("--state-file", type=Path, default=DEFAULT_STATE, help="where to write url/admin JSON")
    start.add_argument("--quiet", action="store_true", help="function logs only to the log files")
    start.add_argument("--log-dir", type=Path, default=ROOT / ".devstack" / "logs")
    start.add_argument("--template", type=Path, default=ROOT / "template.yaml")
    start.add_argument("--web-root", type=Path, default=ROOT / "web")
    start.add_argument(
        "--param", action="append", default=[], metavar="KEY=VALUE", help="template parameter (Stage=local by default)"
    )
    start.add_argument("--sweep-interval", type=float, default=60.0, help="seconds between TTL sweeps (0: off)")
    start.add_argument(
        "--stream-retry-backoff",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="longest pause between retries of a failing stream batch (default 5; tests that wait for a batch to "
        "be given up on use less)",
    )
    start.add_argument("--no-bootstrap", action="store_true", help="do not create the bootstrap admin")
    start.add_argument(
        "--state-dir", type=Path, default=STATE_DIR,
        help="where the stack's state lives and is started from (default .devstack/state)",
    )  # fmt: skip
    start.add_argument("--fresh", action="store_true", help="empty the state directory first (make run FRESH=1)")
    start.add_argument("--in-memory", action="store_true", help="keep no state at all: nothing survives a restart")
    start.add_argument(
        "--fsync-interval", type=float, default=0.2,
        help="seconds between fsyncs of the emulator's journal (0: before every answer; default 0.2)",
    )  # fmt: skip

    schedule = commands.add_parser("run-schedule", help="run a schedule now")
    schedule.add_argument("name", help="logical id or name of the rule/schedule")
    commands.add_parser("sweep", help="delete expired TTL items now")
    admin = commands.add_parser("bootstrap-admin", help="create or reset the first admin")
    admin.add_argument("--email", default=BOOTSTRAP_ADMIN["email"])
    admin.add_argument("--name", default=BOOTSTRAP_ADMIN["name"])
    invoke = commands.add_parser("invoke", help="invoke a function by logical id")
    invoke.add_argument("function")
    invoke.add_argument("--event", default="{}", help="JSON, or @file.json")
    trail = commands.add_parser("journey", help="a correlation id's events and log lines, oldest first")
    trail.add_argument("correlation_id")
    trail.add_argument("--json", action="store_true", help="the entries as JSON")
    trail.add_argument("--log-dir", type=Path, help="read this log directory instead of asking devstack")
    env = commands.add_parser("environment", help="show or override a function's environment at run time")
    env.add_argument("function", help="logical id, e.g. AccountingOnTaskEventFunction")
    env.add_argument("set", nargs="*", metavar="NAME=VALUE", help="variables to override")
    env.add_argument("--drop", action="append", default=[], metavar="NAME", help="drop an override")
    for sub in (schedule, commands.choices["sweep"], admin, invoke, trail, env):
        sub.add_argument("--state-file", type=Path, default=DEFAULT_STATE)
        sub.add_argument("--url", help="the running devstack (default: from the state file)")
    seeding = commands.add_parser("seed", help="load a realistic company-year into the running (or a fresh) devstack")
    seeding.add_argument("--popugs", type=_positive, default=1000, help="employees to hire (default 1000)")
    seeding.add_argument("--days", type=_positive, default=365, help="closed business days before today (default 365)")
    seeding.add_argument("--seed", type=int, default=1, help="random seed: the same seed, the same company (default 1)")
    seeding.add_argument("--state-file", type=Path, default=DEFAULT_STATE)
    seeding.add_argument("--port", type=int, default=8000, help="port of a devstack it starts (default 8000)")
    audit = commands.add_parser("audit-ledger", help="check the ledger against the tapped events")
    audit.add_argument("--state-file", type=Path, default=DEFAULT_STATE)
    audit.add_argument("--endpoint", help="the emulator (default: from the state file)")
    audit.add_argument("--events", type=Path, help="events.jsonl (default: the running devstack's)")
    audit.add_argument("--table", help="the accounting table's name (default: from the state file or the emulator)")
    audit.add_argument("--tap-wait", type=float, default=120.0,
                       help="seconds to wait for the event tap to write what it was sent (default 120)")  # fmt: skip

    args = parser.parse_args(argv)
    if args.command == "up":
        parameters = dict(_pair(p) for p in args.param)
        return up(
            Options(
                port=args.port,
                endpoint=args.endpoint,
                workers=args.workers,
                state_file=args.state_file,
                quiet=args.quiet,
                template=args.template,
                web_root=args.web_root,
                log_dir=args.log_dir,
                parameters=parameters,
                sweep_interval=args.sweep_interval,
                stream_retry_backoff=args.stream_retry_backoff,
                bootstrap=not args.no_bootstrap,
                state_dir=None if args.in_memory else args.state_dir.resolve(),
                fresh=args.fresh,
                fsync_interval=args.fsync_interval,
            )
        )
    if args.command == "seed":
        from devstack.seed.run import seed

        return seed(
            state_file=args.state_file, popugs=args.popugs, days=args.days, seed_value=args.seed, port=args.port
        )
    if args.command == "run-schedule":
        return _call(args, f"/_devstack/schedules/{urllib.request.quote(args.name, safe='')}/run", {})
    if args.command == "sweep":
        return _call(args, "/_devstack/sweep", {})
    if args.command == "audit-ledger":
        return audit_ledger(args)
    if args.command == "bootstrap-admin":
        return _call(args, "/_devstack/bootstrap-admin", {"email": args.email, "name": args.name})
    if args.command == "journey":
        return show_journey(args)
    if args.command == "environment":
        path = f"/_devstack/functions/{urllib.parse.quote(args.function, safe='')}/environment"
        changes: dict[str, str | None] = dict(_pair(p, "environment wants NAME=VALUE") for p in args.set)
        changes.update(dict.fromkeys(args.drop))
        return _call(args, path, changes) if changes else _call(args, path, None, method="GET")
    event_text = Path(args.event[1:]).read_text() if args.event.startswith("@") else args.event
    return _call(args, f"/_devstack/invoke/{args.function}", json.loads(event_text))


def _call(args: argparse.Namespace, path: str, body: Any, *, method: str = "POST") -> int:
    """POST (or GET) to the running devstack; print its JSON answer; 0 when it reports success."""
    base = args.url or _url_from_state(args.state_file)
    if base is None:
        print(
            f"devstack: no running devstack found (no {args.state_file}); start it with "
            "`python -m devstack up`, or pass --url",
            file=sys.stderr,
        )
        return 1
    request = urllib.request.Request(
        base.rstrip("/") + path,
        data=None if method == "GET" else json.dumps(body).encode(),
        method=method,
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=900) as response:
            print(response.read().decode())
            return 0
    except urllib.error.HTTPError as error:
        print(error.read().decode(), file=sys.stderr)
        return 1
    except urllib.error.URLError as error:
        print(f"devstack: cannot reach {base} ({error.reason}); is it running?", file=sys.stderr)
        return 1


def show_journey(args: argparse.Namespace) -> int:
    """Print a correlation id's journey: from the running devstack, or from a log directory's files."""
    from devstack import control, tap

    items: list[dict[str, Any]] | None = None
    log_dir: Path | None = args.log_dir
    base = args.url or _url_from_state(args.state_file)
    if log_dir is None and base is not None:
        path = f"/_devstack/journey/{urllib.parse.quote(args.correlation_id, safe='')}"
        try:
            with urllib.request.urlopen(base.rstrip("/") + path, timeout=60) as response:
                items = json.loads(response.read())["items"]
        except urllib.error.HTTPError as error:
            print(error.read().decode(), file=sys.stderr)
            return 1
        except urllib.error.URLError:  # stopped: its files are still there
            pass
    if items is None:
        state_dir = _state(args.state_file).get("log_dir")
        log_dir = log_dir or (Path(state_dir) if state_dir else None)
        if log_dir is None or not log_dir.is_dir():
            print(
                f"devstack: no running devstack and no log directory (state file {args.state_file}); "
                "pass --url or --log-dir",
                file=sys.stderr,
            )
            return 1
        events_file = log_dir / tap.FILE_NAME
        if not events_file.exists():  # a devstack keeping state (R-LOC-1) keeps the tap's file with it
            events_file = STATE_DIR / tap.FILE_NAME
        items = control.journey(args.correlation_id, events_file=events_file, log_dir=log_dir)
    if args.json:
        print(json.dumps(items, indent=2, default=str))
    else:
        print(format_journey(args.correlation_id, items))
    return 0 if items else 1


LOG_NOISE = frozenset(
    {
        "level", "location", "message", "timestamp", "service", "cold_start", "function_name", "function_arn",
        "function_memory_size", "function_request_id", "correlation_id", "xray_trace_id", "sampling_rate",
        "exception", "exception_name", "stack_trace",
    }
)  # fmt: skip


def format_journey(correlation_id: str, items: list[dict[str, Any]]) -> str:
    """One line per entry: time, who (producer or function), what; for people reading a terminal."""
    events = [i for i in items if i.get("kind") == "event"]
    functions = sorted({str(i.get("source")) for i in items if i.get("kind") == "log"})
    lines = [
        f"journey of {correlation_id}: {len(events)} events, {len(items) - len(events)} log lines"
        + (f" from {', '.join(functions)}" if functions else "")
    ]
    if not items:
        lines.append("  nothing carries this correlation id (yet: events reach the tap within seconds)")
    width = max([len(str(i.get("source"))) for i in items] + [10])
    for item in items:
        when = str(item.get("time") or "?")
        when = when[11:23] if len(when) >= 23 else when  # HH:MM:SS.mmm of an ISO time
        who = str(item.get("source")).ljust(width)
        if item.get("kind") == "event":
            data = json.dumps(item.get("data"), separators=(",", ":"), default=str)
            what = f"EVENT {item.get('event_name')} v{item.get('event_version')} {_clip(data, 160)}"
        else:
            record = item.get("record") or {}
            extra = " ".join(f"{k}={_clip(str(v), 60)}" for k, v in record.items() if k not in LOG_NOISE)
            what = f"{(item.get('level') or 'LOG'):<5} {_clip(str(item.get('message')), 160)}"
            what += f"  {extra}" if extra else ""
            if record.get("exception_name"):
                last = str(record.get("exception", "")).strip().splitlines()[-1:] or [""]
                what += f"  !! {_clip(last[0], 200)}"
        lines.append(f"  {when}  {who}  {what}")
    return "\n".join(lines)


def _clip(text: str, size: int) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"


def audit_ledger(args: argparse.Namespace) -> int:
    """Run `accounting.audit.run` in this process, as an operator would against AWS: the emulator reached
    through AWS_ENDPOINT_URL only, the events from the tap's file, the report printed as JSON."""
    state = _state(args.state_file)
    endpoint = args.endpoint or state.get("endpoint_url")
    events_file = args.events
    if events_file is None and (state.get("events_file") or state.get("log_dir")):
        events_file = Path(state.get("events_file") or Path(state["log_dir"]) / "events.jsonl")
    if not endpoint or events_file is None:
        print(
            f"devstack: no running devstack found (no {args.state_file}); start it with "
            "`python -m devstack up`, or pass --endpoint and --events",
            file=sys.stderr,
        )
        return 2
    if not events_file.exists():
        print(f"devstack: no event file {events_file} (the event tap writes it while devstack runs)", file=sys.stderr)
        return 2
    from devstack import tap

    if tap.wait_written(endpoint, timeout=args.tap_wait) is False:
        print(f"devstack: the event tap is still behind after {args.tap_wait:.0f} s; auditing what it has written",
              file=sys.stderr)  # fmt: skip
    events = tap.read(events_file)
    table = args.table or (state.get("tables") or {}).get("AccountingTable")
    if not table:
        try:
            table = accounting_table(_table_names(endpoint))
        except LookupError as error:
            print(f"devstack: {error}", file=sys.stderr)
            return 2
        except Exception as error:  # botocore's connection errors share no useful base
            print(
                f"devstack: cannot list the emulator's tables at {endpoint} ({error}); is it running?", file=sys.stderr
            )
            return 2
    os.environ.update(audit_environment(endpoint, table))
    functions = str(ROOT / "functions")
    if functions not in sys.path:
        sys.path.insert(0, functions)
    with contextlib.suppress(ImportError):
        from shared.aws import client  # clients are cached per process: make sure none predates the endpoint

        client.cache_clear()
    cached_settings = getattr(sys.modules.get("accounting.settings"), "get", None)
    if hasattr(cached_settings, "cache_clear"):
        cached_settings.cache_clear()  # type: ignore[union-attr]
    report = importlib.import_module("accounting.audit").run(events)
    print(json.dumps(report, indent=2, default=str))
    return 0 if report.get("ok") else 1


def audit_environment(endpoint: str, table: str) -> dict[str, str]:
    """What a devstack worker of the accounting context would see of AWS, and the table to audit."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": DUMMY_CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": DUMMY_CREDENTIALS["aws_secret_access_key"],
        "AWS_SESSION_TOKEN": "devstack",
        "AWS_SAM_LOCAL": "true",
        "ACCOUNTING_TABLE_NAME": table,
    }


def accounting_table(names: list[str]) -> str:
    """The one table on the emulator named after the template's `AccountingTable`."""
    found = [name for name in names if name.endswith("-AccountingTable")] or [
        name for name in names if "AccountingTable" in name
    ]
    if len(found) != 1:
        which = ", ".join(found) if found else "none"
        raise LookupError(f"cannot tell the accounting table on the emulator ({which}); pass --table NAME")
    return found[0]


def _table_names(endpoint: str) -> list[str]:
    from devstack import aws

    names: list[str] = []
    for page in aws.client("dynamodb", endpoint).get_paginator("list_tables").paginate():
        names += page.get("TableNames", [])
    return names


def _state(path: Path) -> dict[str, Any]:
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def _url_from_state(path: Path) -> str | None:
    try:
        return json.loads(path.read_text())["url"]
    except (OSError, ValueError, KeyError):
        return None


def _pair(text: str, what: str = "--param wants KEY=VALUE") -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep:
        raise SystemExit(f"devstack: {what}, got {text!r}")
    return key, value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value
