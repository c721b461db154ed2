"""devstack's run-time environment overrides (`/_devstack/functions/<LogicalId>/environment`) and a
correlation id's journey (`/_devstack/journey/<id>`, `python -m devstack journey`), on real workers."""

from __future__ import annotations

import io
import json
import os
import textwrap
import threading
import time
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
from werkzeug.test import Client

from devstack import cli
from devstack.console import Console
from devstack.control import Control, Services, journey
from devstack.workers import FunctionSpec, WorkerPool

HANDLERS = textwrap.dedent(
    """
    import os, time

    def env(event, context):
        time.sleep(event.get("sleep", 0))
        return {"pid": os.getpid(), "table": os.environ.get("TABLE_NAME"), "extra": os.environ.get("EXTRA"),
                "region": os.environ.get("AWS_REGION")}
    """
)


@pytest.fixture()
def pool(tmp_path: Path):
    (tmp_path / "fns").mkdir()
    (tmp_path / "fns" / "envdemo.py").write_text(HANDLERS)
    functions = {
        name: FunctionSpec(
            logical_id=name,
            name=f"ates-test-{name}",
            handler="envdemo.env",
            code_dir=tmp_path / "fns",
            environment={"TABLE_NAME": "ates-test-Table", "POWERTOOLS_SERVICE_NAME": "demo"},
            timeout=10.0,
        )
        for name in ("Env", "Other")
    }
    running = WorkerPool(
        functions, endpoint_url="http://127.0.0.1:9", console=Console(tmp_path / "logs", out=io.StringIO())
    )
    yield running
    running.close()


@pytest.fixture()
def control(pool, tmp_path: Path) -> Client:
    events_file = tmp_path / "logs" / "events.jsonl"
    services = Services(pool, None, None, "http://127.0.0.1:9", lambda e: None, events_file=events_file)  # type: ignore[arg-type]
    return Client(Control(services))


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return not Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")


def test_an_override_replaces_the_warm_worker_and_dropping_it_restores_the_template(pool, control):
    before = control.get("/_devstack/functions/Env/environment").json
    assert before["function"] == "Env" and before["overrides"] == {}
    assert before["environment"]["TABLE_NAME"] == "ates-test-Table"
    first = pool.invoke("Env", {})
    assert first.ok and first.payload["table"] == "ates-test-Table"
    other = pool.invoke("Other", {}).payload["pid"]

    changed = control.post(
        "/_devstack/functions/Env/environment", json={"TABLE_NAME": "ates-test-Missing", "EXTRA": "1"}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json["overrides"] == {"TABLE_NAME": "ates-test-Missing", "EXTRA": "1"}
    assert changed.json["environment"]["TABLE_NAME"] == "ates-test-Missing" and changed.json["retired"] == 1
    deadline = time.monotonic() + 5
    while alive(first.payload["pid"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(first.payload["pid"]), "the old warm worker is stopped"

    broken = pool.invoke("Env", {})
    assert broken.cold_start and broken.payload["pid"] != first.payload["pid"]
    assert (broken.payload["table"], broken.payload["extra"]) == ("ates-test-Missing", "1")
    assert broken.payload["region"] == "us-east-1"  # the runtime's own variables are untouched
    again = pool.invoke("Env", {})
    assert not again.cold_start and again.payload["pid"] == broken.payload["pid"]  # warm with the new environment
    assert pool.invoke("Other", {}).payload["pid"] == other  # another function's workers are not touched
    assert control.get("/_devstack/functions/Env/environment").json["overrides"]["TABLE_NAME"] == "ates-test-Missing"

    fixed = control.post("/_devstack/functions/Env/environment", json={"TABLE_NAME": None})
    assert fixed.json["overrides"] == {"EXTRA": "1"} and fixed.json["environment"]["TABLE_NAME"] == "ates-test-Table"
    after = pool.invoke("Env", {})
    assert after.cold_start and (after.payload["table"], after.payload["extra"]) == ("ates-test-Table", "1")
    assert control.post("/_devstack/functions/Env/environment", json={"EXTRA": None}).json["overrides"] == {}
    assert pool.invoke("Env", {}).payload["extra"] is None
    assert pool.stats()["Env"]["workers"] == 1


def test_a_busy_worker_finishes_its_call_and_is_then_retired(pool, control):
    results = {}
    slow = threading.Thread(target=lambda: results.update(slow=pool.invoke("Env", {"sleep": 1.0})))
    slow.start()
    deadline = time.monotonic() + 10
    while pool.stats()["Env"]["workers"] == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    changed = control.post("/_devstack/functions/Env/environment", json={"TABLE_NAME": "ates-test-Later"})
    assert changed.json["retired"] == 1
    slow.join(10)
    assert results["slow"].ok and results["slow"].payload["table"] == "ates-test-Table"  # began before the change
    nxt = pool.invoke("Env", {})
    assert nxt.cold_start and nxt.payload["table"] == "ates-test-Later"
    assert nxt.payload["pid"] != results["slow"].payload["pid"] and not alive(results["slow"].payload["pid"])
    assert pool.stats()["Env"]["workers"] == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"AWS_REGION": "eu-west-1"}, "reserved"),
        ({"AWS_ENDPOINT_URL": "http://elsewhere"}, "reserved"),
        ({"_HANDLER": "x.y"}, "reserved"),
        ({"1BAD": "x"}, "not an environment variable name"),
        ({"TABLE_NAME": 3}, "must be a string"),
        (["TABLE_NAME"], "JSON object"),
    ],
)
def test_bad_overrides_are_refused_and_change_nothing(pool, control, body, message):
    warm = pool.invoke("Env", {}).payload["pid"]
    refused = control.post("/_devstack/functions/Env/environment", json=body)
    assert refused.status_code == 400 and message in refused.json["error"]["message"], refused.text
    assert refused.json["error"]["code"] == "bad_request"
    assert control.get("/_devstack/functions/Env/environment").json["overrides"] == {}
    assert pool.invoke("Env", {}).payload["pid"] == warm


def test_an_unknown_function_is_a_404(control):
    assert control.get("/_devstack/functions/Nope/environment").status_code == 404
    missing = control.post("/_devstack/functions/Nope/environment", json={"A": "b"})
    assert missing.status_code == 404 and "no function 'Nope'" in missing.json["error"]["message"]


CID = "0f4c1a7e-aaaa-bbbb-cccc-000000000001"


def write_run(log_dir: Path) -> None:
    """A small run: two events of CID (one of another id), three function logs and the emulator's."""
    log_dir.mkdir(parents=True, exist_ok=True)
    envelope = {"event_version": 1, "data": {"task_id": "t-1"}}
    events = [
        {**envelope, "event_id": "e1", "event_name": "TaskCreated", "producer": "ates.tasks", "correlation_id": CID,
         "event_time": "2026-03-01T10:00:00.100Z"},
        {**envelope, "event_id": "e2", "event_name": "TaskCreated", "producer": "ates.tasks", "correlation_id": "other",
         "event_time": "2026-03-01T10:00:00.150Z"},
        {**envelope, "event_id": "e3", "event_name": "TaskPriced", "producer": "ates.accounting", "correlation_id": CID,
         "event_time": "2026-03-01T10:00:01.000Z"},
    ]  # fmt: skip
    (log_dir / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))

    def log(message: str, when: str, cid: str = CID, **extra: object) -> str:
        return json.dumps({"level": "INFO", "message": message, "timestamp": when, "service": "demo",
                           "correlation_id": cid, **extra}) + "\n"  # fmt: skip

    (log_dir / "TasksApiFunction.log").write_text(
        "START RequestId: r1 Version: $LATEST\n"
        + log("task created", "2026-03-01 10:00:00,090+0000", task_id="t-1")
        + log("task created", "2026-03-01 10:00:00,140+0000", cid="other")
        + "END RequestId: r1\n"
    )
    (log_dir / "AccountingOnTaskEventFunction.log").write_text(
        log("event applied", "2026-03-01 12:00:00,500+0200", event_name="TaskCreated")  # 10:00:00.5 UTC
        + log(
            "event not applied",
            "2026-03-01 10:00:02,000+0000",
            exception_name="ValueError",
            exception="Traceback (most recent call last):\nValueError: boom",
        )
        + f"[ERROR] ValueError: boom while handling {CID}\n"  # plain text: the time of the line before
    )
    (log_dir / "emulator.log").write_text(f"POST / {CID}\n")  # devstack's own, not a function's


def test_the_journey_merges_events_and_log_lines_in_time_order(tmp_path):
    log_dir = tmp_path / "logs"
    write_run(log_dir)
    items = journey(CID, events_file=log_dir / "events.jsonl", log_dir=log_dir)
    assert [(i["kind"], i["source"], i.get("event_name") or i["message"][:17]) for i in items] == [
        ("log", "TasksApiFunction", "task created"),
        ("event", "ates.tasks", "TaskCreated"),
        ("log", "AccountingOnTaskEventFunction", "event applied"),
        ("event", "ates.accounting", "TaskPriced"),
        ("log", "AccountingOnTaskEventFunction", "event not applied"),
        ("log", "AccountingOnTaskEventFunction", "[ERROR] ValueErro"),
    ]
    assert [i["time"] for i in items] == [
        "2026-03-01T10:00:00.090Z", "2026-03-01T10:00:00.100Z", "2026-03-01T10:00:00.500Z",
        "2026-03-01T10:00:01.000Z", "2026-03-01T10:00:02.000Z", "2026-03-01T10:00:02.000Z",
    ]  # fmt: skip
    assert items[0]["record"]["task_id"] == "t-1" and items[1]["event_id"] == "e1" and items[1]["data"]
    only_tasks = journey(CID, events_file=None, log_dir=log_dir, functions={"TasksApiFunction"})
    assert [i["source"] for i in only_tasks] == ["TasksApiFunction"]
    assert journey("nobody", events_file=log_dir / "events.jsonl", log_dir=log_dir) == []


def test_the_journey_endpoint_reads_the_pools_log_dir(pool, control):
    write_run(pool.console.log_dir)
    body = control.get(f"/_devstack/journey/{CID}").json
    assert body["correlation_id"] == CID and body["truncated"] is False
    # only the pool's functions: this stack has Env and Other, so the logs of the others are not its
    assert [i["kind"] for i in body["items"]] == ["event", "event"]
    (pool.console.log_dir / "Env.log").write_text(f'{{"message": "hi", "correlation_id": "{CID}"}}\n')
    assert [i.get("source") for i in control.get(f"/_devstack/journey/{CID}").json["items"]][-1] == "Env"


def test_the_cli_prints_a_journey_from_a_log_dir(tmp_path, capsys):
    write_run(tmp_path / "logs")
    assert cli.main(["journey", CID, "--log-dir", str(tmp_path / "logs")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (f"journey of {CID}: 2 events, 4 log lines from AccountingOnTaskEventFunction, TasksApiFunction")
    assert "10:00:00.090" in out[1] and "TasksApiFunction" in out[1] and "task created" in out[1]
    assert "task_id=t-1" in out[1] and "EVENT TaskCreated v1" in out[2] and '{"task_id":"t-1"}' in out[2]
    assert "!! ValueError: boom" in out[5]
    assert cli.main(["journey", "nobody", "--log-dir", str(tmp_path / "logs")]) == 1
    assert "nothing carries this correlation id" in capsys.readouterr().out
    assert cli.main(["journey", CID, "--json", "--log-dir", str(tmp_path / "logs")]) == 0
    assert [i["kind"] for i in json.loads(capsys.readouterr().out)] == ["log", "event", "log", "event", "log", "log"]


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def test_the_cli_talks_to_a_running_devstack(pool, control, tmp_path, capsys):
    app = control.application
    server = make_server("127.0.0.1", 0, app, handler_class=_Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}"
    try:
        assert cli.main(["environment", "Env", "TABLE_NAME=ates-test-Cli", "EXTRA=a=b", "--url", url]) == 0
        assert json.loads(capsys.readouterr().out)["overrides"] == {"TABLE_NAME": "ates-test-Cli", "EXTRA": "a=b"}
        assert pool.invoke("Env", {}).payload["table"] == "ates-test-Cli"
        assert cli.main(["environment", "Env", "--drop", "TABLE_NAME", "--url", url]) == 0
        capsys.readouterr()
        assert cli.main(["environment", "Env", "--url", url]) == 0
        assert json.loads(capsys.readouterr().out)["overrides"] == {"EXTRA": "a=b"}
        assert cli.main(["environment", "Env", "AWS_REGION=x", "--url", url]) == 1
        assert "reserved" in capsys.readouterr().err

        write_run(pool.console.log_dir)
        assert cli.main(["journey", CID, "--url", url]) == 0
        assert "2 events, 0 log lines" in capsys.readouterr().out
    finally:
        server.shutdown()
        server.server_close()
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"url": url, "log_dir": str(pool.console.log_dir)}))
    assert cli.main(["journey", CID, "--state-file", str(state)]) == 0  # stopped: read from its log dir
    assert "2 events, 4 log lines" in capsys.readouterr().out
