"""`python -m devstack COMMAND`:

  up                 start the local stack (what `make run` runs)
  run-schedule NAME  run one of the template's schedules now, on the running devstack
  sweep              delete expired TTL items now, on the running devstack
  bootstrap-admin    create (or reset the password of) the first admin, on the running devstack
  invoke FUNCTION    invoke a function with an event, on the running devstack

Commands other than `up` talk to a running devstack through its `/_devstack/` endpoints, found via
the state file `up` writes (or `--url`).
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

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
