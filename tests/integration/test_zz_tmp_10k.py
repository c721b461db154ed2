"""Manual: a 10k shuffle on the emulator (not part of the suite)."""
import time
from tests.integration.test_tasks_shuffle import *  # noqa
from tests.integration.test_tasks_shuffle import CallCounter, progress, start
from tests.integration.test_tasks_handlers import tasks_world


def test_10k(as_function, provisioned, monkeypatch):
    from tests.integration.test_tasks_shuffle import JobDriver, RelayDriver
    world = tasks_world(as_function, provisioned, monkeypatch)
    world.jobs, world.relay = JobDriver(world), RelayDriver(world)
    pool = [world.popug(["worker"]) for _ in range(50)]
    t = time.time(); world.seed_open_tasks(10_000, pool); print("seed", time.time() - t)
    counter = CallCounter()
    monkeypatch.setattr(world.api, "lambda_handler", counter.wrap(world.api.lambda_handler))
    world.jobs.handler = counter.wrap(world.jobs.handler)
    world.relay.handler = counter.wrap(world.relay.handler)
    for s in (client("dynamodb"), client("events")):
        s.meta.events.register("before-call", counter)
    t = time.time(); job = start(world); steps = world.jobs.drain(job["job_id"]); print("job", time.time() - t, steps)
    t = time.time(); relays = world.relay.drain(); print("relay", time.time() - t, relays)
    p = progress(world, job["job_id"]); print(p)
    total = sum(counter.calls.values()); print(total, total / 10_000, dict(counter.calls))
    assert p["done"] == 10_000
