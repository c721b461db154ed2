"""devstack's local Lambda service: a warm worker process per function, started on first call."""

from __future__ import annotations

import importlib.metadata
import io
import itertools
import os
import signal
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest

from devstack.console import Console
from devstack.workers import BACKGROUND_NICE, FunctionSpec, WorkerPool

HANDLERS = textwrap.dedent(
    """
    import os, sys, time

    IMPORTED_AT = time.time()
    print("cold start of", os.getpid())  # stdout belongs to the logs, never to the channel

    def ok(event, context):
        print("\\x00\\x00\\x00\\x10{not a frame}")  # would corrupt a stdout-based channel
        print("to stderr", file=sys.stderr)
        return {
            "pid": os.getpid(), "event": event, "imported_at": IMPORTED_AT,
            "context": {
                "function_name": context.function_name, "memory": context.memory_limit_in_mb,
                "arn": context.invoked_function_arn, "request_id": context.aws_request_id,
                "remaining": context.get_remaining_time_in_millis(), "log_group": context.log_group_name,
            },
            "env": {k: os.environ.get(k) for k in (
                "AWS_ENDPOINT_URL", "AWS_SAM_LOCAL", "AWS_DEFAULT_REGION", "AWS_LAMBDA_FUNCTION_NAME",
                "TABLE_NAME", "AWS_ACCESS_KEY_ID", "PYTHONPATH", "DEVSTACK_INSTANCE")},
            "repo_importable": _importable("tests.conftest"),
        }

    def _importable(name):
        try:
            __import__(name)
            return True
        except ImportError:
            return False

    def boom(event, context):
        raise ValueError("boom")

    def crash(event, context):
        os._exit(3)

    def slow(event, context):
        time.sleep(event.get("sleep", 0))
        return os.getpid()

    def decimal(event, context):
        from decimal import Decimal
        return {"n": Decimal("3"), "x": Decimal("1.5")}
    """
)


@pytest.fixture()
def code(tmp_path: Path) -> Path:
    (tmp_path / "fns" / "demo").mkdir(parents=True)
    (tmp_path / "fns" / "demo" / "__init__.py").write_text("")
    (tmp_path / "fns" / "demo" / "handlers.py").write_text(HANDLERS)
    (tmp_path / "fns" / "broken.py").write_text("raise RuntimeError('cannot import me')\n")
    (tmp_path / "fns" / "heavy.py").write_text(HEAVY)
    return tmp_path / "fns"


# A handler whose import takes a while (pydantic, boto3 and powertools on a loaded machine), saying when it ran.
HEAVY = textwrap.dedent(
    """
    import os, time

    STARTED = time.monotonic()
    time.sleep(float(os.environ.get("IMPORT_SECONDS", "0.5")))
    IMPORTED = time.monotonic()

    def handler(event, context):
        time.sleep(event.get("sleep", 0))
        return {"pid": os.getpid(), "import": [STARTED, IMPORTED]}
    """
)


def spec(code: Path, name: str, handler: str, timeout: float = 5.0) -> FunctionSpec:
    return FunctionSpec(
        logical_id=name,
        name=f"ates-test-{name}",
        handler=handler,
        code_dir=code,
        environment={"TABLE_NAME": "ates-test-Table"},
        timeout=timeout,
        memory_mb=256,
        arn=f"arn:aws:lambda:us-east-1:123456789012:function:ates-test-{name}",
    )


@pytest.fixture()
def make_pool(code: Path, tmp_path: Path):
    pools: list[WorkerPool] = []
    out = io.StringIO()

    def make(size: int = 1, **timeouts: float) -> WorkerPool:
        functions = {
            "Ok": spec(code, "Ok", "demo.handlers.ok"),
            "Boom": spec(code, "Boom", "demo.handlers.boom"),
            "Crash": spec(code, "Crash", "demo.handlers.crash"),
            "Slow": spec(code, "Slow", "demo.handlers.slow", timeout=timeouts.get("Slow", 1.0)),
            "Decimal": spec(code, "Decimal", "demo.handlers.decimal"),
            "Broken": spec(code, "Broken", "broken.handler"),
        }
        pool = WorkerPool(
            functions, endpoint_url="http://127.0.0.1:9", console=Console(tmp_path / "logs", out=out), size=size
        )
        pools.append(pool)
        return pool

    make.out = out  # type: ignore[attr-defined]
    yield make
    for pool in pools:
        pool.close()


def test_a_function_cold_starts_once_then_stays_warm(make_pool):
    pool = make_pool()
    first = pool.invoke("Ok", {"n": 1})
    second = pool.invoke("Ok", {"n": 2})
    assert first.ok and second.ok, (first, second)
    assert first.cold_start and not second.cold_start
    assert first.payload["pid"] == second.payload["pid"] != os.getpid()
    assert first.payload["imported_at"] == second.payload["imported_at"]  # imported once: a warm sandbox
    assert second.payload["event"] == {"n": 2}
    assert pool.stats()["Ok"] == {"workers": 1, "busy": 0, "invocations": 2, "cold_starts": 1}
    assert pool.stats()["Boom"]["workers"] == 0  # nothing starts before its first call


def test_a_function_no_request_waits_on_runs_at_a_lower_cpu_priority(code, tmp_path):
    functions = {
        "Api": replace(spec(code, "Api", "demo.handlers.ok"), serves_requests=True),
        "Consumer": spec(code, "Consumer", "demo.handlers.ok"),
    }
    pool = WorkerPool(
        functions, endpoint_url="http://127.0.0.1:9", console=Console(tmp_path / "logs", out=io.StringIO())
    )
    try:
        api, consumer = (pool.invoke(name, {}).payload["pid"] for name in ("Api", "Consumer"))
        own = os.getpriority(os.PRIO_PROCESS, 0)
        assert os.getpriority(os.PRIO_PROCESS, api) == own
        assert os.getpriority(os.PRIO_PROCESS, consumer) == min(19, own + BACKGROUND_NICE)
    finally:
        pool.close()


def test_the_worker_gets_a_lambda_context_and_its_environment(make_pool, code):
    result = make_pool().invoke("Ok", {}).payload
    context, env = result["context"], result["env"]
    assert context["function_name"] == "ates-test-Ok"
    assert context["memory"] == 256
    assert context["arn"].endswith(":function:ates-test-Ok")
    assert context["log_group"] == "/aws/lambda/ates-test-Ok"
    assert len(context["request_id"]) == 36
    assert 4000 < context["remaining"] <= 5000  # counts down from the function's timeout
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:9"
    assert env["AWS_SAM_LOCAL"] == "true" and env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "ates-test-Ok" and env["TABLE_NAME"] == "ates-test-Table"
    assert env["AWS_ACCESS_KEY_ID"] == "devstack"
    assert env["PYTHONPATH"] == str(code)
    assert env["DEVSTACK_INSTANCE"] == os.environ["DEVSTACK_INSTANCE"]
    assert result["repo_importable"] is False  # like Lambda: only the CodeUri is importable, not the repo


def test_a_function_imports_its_package_then_its_layers_and_nothing_else(tmp_path):
    """Lambda's layout (/var/task, then /opt/python): a layer's modules import, the package's own copy of a
    module wins over a layer's, a distribution imports when a lock of the package or its layers installs it,
    and a module shipped in another package, or installed here but in no lock of its own, fails to import,
    as it would in AWS. The runtime's own boto3 is there for every function."""
    yaml_pin = f"pyyaml=={importlib.metadata.version('pyyaml')} \\\n    --hash=sha256:0\n"
    files = {
        "pkg/demo.py": "import shared, other, yaml, boto3\ndef handler(event, context): return [shared.WHO, other.WHO]\n",  # noqa: E501
        "pkg/shared.py": "WHO = 'package'\n",
        "layer/shared.py": "WHO = 'layer'\n",
        "layer/other.py": "WHO = 'layer'\n",
        "layer/requirements.txt": yaml_pin,
        "pkg2/strict.py": "import demo\ndef handler(event, context): return 'imported another package'\n",
        "pkg3/unlocked.py": "import boto3, yaml\ndef handler(event, context): return 'imported an unshipped yaml'\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    layered = replace(spec(tmp_path / "pkg", "Layered", "demo.handler"), layer_dirs=(tmp_path / "layer",))
    strict = replace(spec(tmp_path / "pkg2", "Strict", "strict.handler"), layer_dirs=(tmp_path / "layer",))
    unlocked = spec(tmp_path / "pkg3", "Unlocked", "unlocked.handler")
    pool = WorkerPool(
        {"Layered": layered, "Strict": strict, "Unlocked": unlocked},
        endpoint_url="http://127.0.0.1:9",
        console=Console(tmp_path / "logs", out=io.StringIO()),
    )
    try:
        assert pool.invoke("Layered", {}).payload == ["package", "layer"]
        refused = pool.invoke("Strict", {})
        assert not refused.ok and refused.error["errorType"] == "Runtime.ImportModuleError"
        assert "No module named 'demo'" in refused.error_message
        unshipped = pool.invoke("Unlocked", {})
        assert not unshipped.ok and "No module named 'yaml'" in unshipped.error_message
    finally:
        pool.close()


def test_function_output_goes_to_the_logs_prefixed_not_into_the_channel(make_pool, tmp_path):
    pool = make_pool()
    assert pool.invoke("Ok", {}).ok
    time.sleep(0.2)  # the log forwarder threads
    log = (tmp_path / "logs" / "Ok.log").read_text()
    assert "cold start of" in log and "to stderr" in log and "{not a frame}" in log
    assert "REPORT RequestId:" in log and "Init Duration:" in log
    assert "[Ok] to stderr" in make_pool.out.getvalue()


def test_an_exception_is_an_error_result_and_the_worker_stays_warm(make_pool):
    pool = make_pool()
    first, second = pool.invoke("Boom", {}), pool.invoke("Boom", {})
    assert not first.ok and first.error["errorType"] == "ValueError" and first.error["errorMessage"] == "boom"
    assert "handlers.py" in "".join(first.error["stackTrace"])
    assert not second.cold_start


def test_a_crashed_worker_fails_its_invocation_and_is_replaced(make_pool):
    pool = make_pool()
    crashed = pool.invoke("Crash", {})
    assert not crashed.ok and crashed.error["errorType"] == "Runtime.ExitError"
    assert "exit status 3" in crashed.error_message
    assert pool.stats()["Crash"]["workers"] == 0
    again = pool.invoke("Crash", {})
    assert again.cold_start  # a new worker was started for the next call


def killed(pid: int) -> None:
    """kill -9, and wait until it is gone (a zombie: its pipes are closed)."""
    os.kill(pid, signal.SIGKILL)
    stat = Path(f"/proc/{pid}/stat")
    while True:
        try:
            state = stat.read_text().rsplit(")", 1)[1].split()[0]
        except OSError:  # already reaped (between a check and the read, on a busy machine): gone
            return
        if state in "ZX":
            return
        time.sleep(0.01)


def said(make_pool, text: str) -> str:
    deadline = time.monotonic() + 30
    while text not in make_pool.out.getvalue() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert text in make_pool.out.getvalue(), make_pool.out.getvalue()
    return make_pool.out.getvalue()


def test_a_worker_killed_while_idle_is_replaced_and_no_call_meets_it(make_pool):
    pool = make_pool()
    first = pool.invoke("Ok", {}).payload["pid"]
    killed(first)
    said(make_pool, f"a worker of Ok (pid {first}) died while idle: killed by SIGKILL (exit status -9)")
    said(make_pool, "the worker of Ok was replaced")
    warm = pool.invoke("Ok", {})
    assert warm.ok and not warm.cold_start and warm.payload["pid"] != first  # the replacement, warm
    killed(warm.payload["pid"])
    after = pool.invoke("Ok", {})  # at once: whoever notices the death first, the call never meets it
    assert after.ok and after.payload["pid"] != warm.payload["pid"], after
    said(make_pool, f"a worker of Ok (pid {warm.payload['pid']}) died")


def test_a_timeout_kills_the_worker_and_the_next_call_gets_a_new_one(make_pool):
    pool = make_pool(Slow=1.0)
    started = time.monotonic()
    late = pool.invoke("Slow", {"sleep": 5})
    assert time.monotonic() - started < 3
    assert not late.ok and late.error["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in late.error_message
    fine = pool.invoke("Slow", {"sleep": 0})
    assert fine.ok and fine.cold_start


def test_an_import_error_fails_the_invocation_with_the_runtimes_error_type(make_pool):
    broken = make_pool().invoke("Broken", {})
    assert not broken.ok and broken.error["errorType"] == "Runtime.InitError"
    assert "cannot import me" in broken.error_message


def test_results_serialise_like_the_lambda_runtime(make_pool):
    assert make_pool().invoke("Decimal", {}).payload == {"n": 3, "x": 1.5}


def test_a_pool_of_two_serves_two_calls_at_once_and_a_pool_of_one_queues_them(make_pool):
    def two_calls_at_once(pool: WorkerPool) -> tuple[float, set[int]]:
        pids: set[int] = set()
        started = time.monotonic()
        threads = [
            threading.Thread(target=lambda: pids.add(pool.invoke("Slow", {"sleep": 0.6}).payload)) for _ in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return time.monotonic() - started, pids

    def warm_then_timed(pool: WorkerPool) -> tuple[float, set[int]]:
        two_calls_at_once(pool)  # cold starts (as many workers as the pool allows) are not what is timed
        return two_calls_at_once(pool)

    parallel, two_pids = warm_then_timed(make_pool(size=2, Slow=5))
    serial, one_pid = warm_then_timed(make_pool(size=1, Slow=5))
    # A ratio, not a wall-clock bound: a loaded machine slows both alike (serial is ~2x parallel).
    assert len(two_pids) == 2 and len(one_pid) == 1
    assert serial >= 1.2 and parallel < 0.8 * serial, (parallel, serial)


def heavy_pool(code: Path, tmp_path: Path, import_seconds: float, **options: int) -> WorkerPool:
    functions = {
        name: replace(
            spec(code, name, "heavy.handler", timeout=10), environment={"IMPORT_SECONDS": str(import_seconds)}
        )
        for name in ("HeavyA", "HeavyB", "HeavyC")
    }
    console = Console(tmp_path / "logs", out=io.StringIO())
    return WorkerPool(functions, endpoint_url="http://127.0.0.1:9", console=console, **options)


def at_once(pool: WorkerPool, *calls: tuple[str, dict]) -> list[dict]:
    with ThreadPoolExecutor(len(calls)) as threads:
        invocations = list(threads.map(lambda call: pool.invoke(*call), calls))
    assert all(invocation.ok for invocation in invocations), invocations
    return [invocation.payload for invocation in invocations]


def test_cold_starts_take_turns_for_the_machines_init_slots(code, tmp_path):
    """Four functions' first calls at once, one init slot: each import starts after the one before ended (all
    at once, on a 2-core machine, each would take four times as long, and all would end late together)."""
    pool = heavy_pool(code, tmp_path, 0.4, size=2, init_slots=1)
    try:
        answers = at_once(pool, ("HeavyA", {}), ("HeavyB", {}), ("HeavyC", {}), ("HeavyA", {"sleep": 0.1}))
    finally:
        pool.close()
    imports = sorted({tuple(answer["import"]) for answer in answers})
    assert len(imports) >= 3  # one cold start per function at least
    assert all(later[0] >= earlier[1] for earlier, later in itertools.pairwise(imports)), imports


def test_a_call_waiting_for_an_init_slot_takes_a_warm_worker_that_frees_up(code, tmp_path):
    """Rather than start a worker when its turn to start one comes, a call takes the function's warm worker as
    soon as it is free: the burst ends with fewer cold starts, each one with the machine to itself."""
    pool = heavy_pool(code, tmp_path, 2.0, size=4, init_slots=1)
    try:
        pool.invoke("HeavyA", {})  # one warm worker of HeavyA
        with ThreadPoolExecutor(1) as other:
            other.submit(pool.invoke, "HeavyB", {})  # holds the only init slot for about 2 s
            time.sleep(0.3)
            first, second = at_once(pool, ("HeavyA", {"sleep": 0.3}), ("HeavyA", {"sleep": 0.3}))
    finally:
        pool.close()
    assert first["pid"] == second["pid"], "the second call waited for the warm worker, not for a cold start"
    assert pool.stats()["HeavyA"]["cold_starts"] == 1


def test_closing_the_pool_stops_every_worker(make_pool):
    pool = make_pool()
    pid = pool.invoke("Ok", {}).payload["pid"]
    pool.close()
    deadline = time.monotonic() + 3
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
