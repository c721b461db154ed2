"""`python -m devstack COMMAND`:

  up                 start the local stack (what `make run` runs)
  run-schedule NAME  run one of the template's schedules now, on the running devstack
  sweep              delete expired TTL items now, on the running devstack
  bootstrap-admin    create (or reset the password of) the first admin, on the running devstack
  invoke FUNCTION    invoke a function with an event, on the running devstack
  audit-ledger       check the running devstack's accounting table against the events its tap kept

Commands other than `up` talk to a running devstack through its `/_devstack/` endpoints, found via
the state file `up` writes (or `--url`); `audit-ledger` reads the emulator and `events.jsonl` directly
(exit 0: the books hold; 1: problems found, listed in the report; 2: it could not run).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from devstack.aws import DUMMY_CREDENTIALS
from devstack.template import REGION
from devstack.up import BOOTSTRAP_ADMIN, ROOT, Options, up

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
    start.add_argument("--no-bootstrap", action="store_true", help="do not create the bootstrap admin")

    schedule = commands.add_parser("run-schedule", help="run a schedule now")
    schedule.add_argument("name", help="logical id or name of the rule/schedule")
    commands.add_parser("sweep", help="delete expired TTL items now")
    admin = commands.add_parser("bootstrap-admin", help="create or reset the first admin")
    admin.add_argument("--email", default=BOOTSTRAP_ADMIN["email"])
    admin.add_argument("--name", default=BOOTSTRAP_ADMIN["name"])
    invoke = commands.add_parser("invoke", help="invoke a function by logical id")
    invoke.add_argument("function")
    invoke.add_argument("--event", default="{}", help="JSON, or @file.json")
    for sub in (schedule, commands.choices["sweep"], admin, invoke):
        sub.add_argument("--state-file", type=Path, default=DEFAULT_STATE)
        sub.add_argument("--url", help="the running devstack (default: from the state file)")
    audit = commands.add_parser("audit-ledger", help="check the ledger against the tapped events")
    audit.add_argument("--state-file", type=Path, default=DEFAULT_STATE)
    audit.add_argument("--endpoint", help="the emulator (default: from the state file)")
    audit.add_argument("--events", type=Path, help="events.jsonl (default: the running devstack's)")
    audit.add_argument("--table", help="the accounting table's name (default: from the state file or the emulator)")

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
                bootstrap=not args.no_bootstrap,
            )
        )
    if args.command == "run-schedule":
        return _call(args, f"/_devstack/schedules/{urllib.request.quote(args.name, safe='')}/run", {})
    if args.command == "sweep":
        return _call(args, "/_devstack/sweep", {})
    if args.command == "audit-ledger":
        return audit_ledger(args)
    if args.command == "bootstrap-admin":
        return _call(args, "/_devstack/bootstrap-admin", {"email": args.email, "name": args.name})
    event_text = Path(args.event[1:]).read_text() if args.event.startswith("@") else args.event
    return _call(args, f"/_devstack/invoke/{args.function}", json.loads(event_text))


def _call(args: argparse.Namespace, path: str, body: Any) -> int:
    """POST to the running devstack; print its JSON answer; 0 when it reports success."""
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
        data=json.dumps(body).encode(),
        method="POST",
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


def _pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep:
        raise SystemExit(f"devstack: --param wants KEY=VALUE, got {text!r}")
    return key, value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value
