"""Coordination through a real Redis, in one process: several clients stand for several
processes (each has its own Coordination, so its own connection, lease member and budget
view)."""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import threading
import time
from typing import Any

import pytest

from codegen_graph import CodegenClient, ConfigurationError, Coordination, RateBudget, RateBudgets
from codegen_graph.clock import ManualClock, ScaledClock
from codegen_graph.local import LocalCodegen, Outcome, RunContext, free_loopback_port
from codegen_graph.plugins import Plugin, PluginContext

SCALE = 200.0


def test_importing_the_package_does_not_import_redis() -> None:
    code = (
        "import sys, codegen_graph; print('redis' in sys.modules, 'pyrate_limiter' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_redis_unreachable_at_start_is_a_configuration_error() -> None:
    url = f"redis://:hunter2@127.0.0.1:{free_loopback_port()}/0"
    with pytest.raises(ConfigurationError) as info:
        Coordination(url)
    message = str(info.value)
    assert "does not answer" in message and "CODEGEN_REDIS_URL" in message
    assert "hunter2" not in message  # the password never shows


def test_env_var_switches_coordination_on(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEGEN_REDIS_URL", redis_url)
    client = CodegenClient("t", 1, base_url="http://127.0.0.1:9", clock=ScaledClock(10))
    assert client.coordination is not None
    assert client.rate_budgets.store is not None
    off = CodegenClient("t", 1, base_url="http://127.0.0.1:9", coordination=False)
    assert off.coordination is None and off.rate_budgets.store is None
    monkeypatch.delenv("CODEGEN_REDIS_URL")
    assert CodegenClient("t", 1, base_url="http://127.0.0.1:9").coordination is None


def test_a_manual_clock_cannot_be_shared(redis_url: str) -> None:
    with pytest.raises(ConfigurationError, match="real time"):
        CodegenClient("t", 1, clock=ManualClock(), coordination=Coordination(redis_url))


def _clients(url: str, prefix: str, n: int, budgets: RateBudgets) -> list[CodegenClient]:
    return [
        CodegenClient(
            "t",
            7,
            base_url="http://127.0.0.1:9",
            clock=ScaledClock(SCALE),
            rate_limits=budgets,
            coordination=Coordination(url, prefix=prefix),
        )
        for _ in range(n)
    ]


def test_clients_share_one_budget(redis_url: str, prefix: str) -> None:
    budgets = RateBudgets(create=RateBudget(3, 600.0))
    a, b = _clients(redis_url, prefix, 2, budgets)
    granted = [
        c.rate_budgets.acquire("create")[1] for c in (a, b, a, b)
    ]  # one window: three slots for both
    assert granted == [True, True, True, False]
    delay, ok = b.rate_budgets.acquire("create")
    # until the first slot leaves the window (plus the shared margin and a little jitter)
    assert not ok and 590 < delay <= 600.0 + max(1.0, 0.1 * SCALE) + 0.1 * 600 / 3 + 1
    # another org's budget is its own
    other = CodegenClient(
        "t", 8, base_url="http://127.0.0.1:9", clock=ScaledClock(SCALE), rate_limits=budgets,
        coordination=Coordination(redis_url, prefix=prefix),
    )  # fmt: skip
    assert other.rate_budgets.acquire("create") == (0.0, True)


def test_redis_down_falls_back_to_a_share_and_rejoins(
    redis_server, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    budgets = RateBudgets(standard=RateBudget(8, 600.0))
    (client,) = _clients(redis_server.url, prefix, 1, budgets)
    assert client.rate_budgets.acquire("standard") == (0.0, True)
    redis_server.stop()
    caplog.set_level(logging.WARNING, "codegen_graph.coordination")
    delays = [client.rate_budgets.acquire("standard") for _ in range(3)]
    # a quarter of 8 per window: two calls now, the third waits a window (reserved locally)
    assert [ok for _, ok in delays] == [True, True, True]
    assert delays[0][0] == 0 and delays[1][0] == 0 and delays[2][0] > 500
    down = [r for r in caplog.records if "stopped answering" in r.getMessage()]
    assert len(down) == 1  # said once, not per call
    redis_server.start()
    coordination = client.coordination
    assert coordination is not None
    coordination.coordination._next_probe = 0.0  # the next call probes now
    client.rate_budgets.acquire("standard")
    assert coordination.available
    assert any("answers again" in r.getMessage() for r in caplog.records)
    # the slots spent alone are in the shared log now (the restarted server lost the one
    # before): 3 alone + 1 after
    import redis

    count = redis.Redis.from_url(redis_server.url).zcard(coordination.key("budget", "standard"))
    assert count == 4


def test_two_clients_one_key_one_run(redis_url: str, prefix: str) -> None:
    backend = LocalCodegen(time_scale=SCALE)
    clients = [
        backend.client(coordination=Coordination(redis_url, prefix=prefix)) for _ in range(2)
    ]
    results: list[int] = []
    barrier = threading.Barrier(2)

    def create(c: CodegenClient) -> None:
        barrier.wait()
        results.append(c.agent_runs.create("same task", idempotency_key="k-1").id)

    threads = [threading.Thread(target=create, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(results) == 2 and results[0] == results[1]
    assert backend.stats()["runs_created"] == 1
    backend.close()


def test_one_poller_serves_every_client(redis_url: str, prefix: str) -> None:
    backend = LocalCodegen(time_scale=SCALE)
    clients = [
        backend.client(coordination=Coordination(redis_url, prefix=prefix)) for _ in range(3)
    ]
    handles = [c.agent_runs.start(f"task {i}") for i, c in enumerate(clients)]
    done: list[str] = []

    def wait(h) -> None:  # type: ignore[no-untyped-def]
        done.append(str(h.wait(600.0).status))

    threads = [threading.Thread(target=wait, args=(h,)) for h in handles]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(done) == 3
    stats = [c.watcher.poller for c in clients]  # type: ignore[attr-defined]
    assert sum(s.leader_ticks for s in stats) > 0
    # every tick polled by one client; the followers made no status request of their own
    followers = [c for c in clients if c.watcher.poller.leader_ticks == 0]  # type: ignore[attr-defined]
    for c in followers:
        assert c.watcher.stats.requests == 0
        assert c.watcher.is_leader is False  # never polled for the org
    for c in clients:
        c.close()
    backend.close()


async def test_async_clients_share_the_poller_and_the_keys(redis_url: str, prefix: str) -> None:
    import asyncio

    backend = LocalCodegen(time_scale=SCALE)
    clients = [
        backend.async_client(coordination=Coordination(redis_url, prefix=prefix)) for _ in range(3)
    ]
    same = await asyncio.gather(
        *(c.agent_runs.create("keyed", idempotency_key="async-k") for c in clients)
    )
    assert len({r.id for r in same}) == 1
    handles = [await c.agent_runs.start(f"async task {i}") for i, c in enumerate(clients)]
    finals = await asyncio.gather(*(h.wait(600.0) for h in handles))
    assert all(f.is_terminal for f in finals)
    polls = [c.watcher.poller for c in clients]  # type: ignore[attr-defined]
    assert sum(p.leader_ticks for p in polls) > 0
    for c in clients:
        if c.watcher.poller.leader_ticks == 0:  # type: ignore[attr-defined]
            assert c.watcher.stats.requests == 0
        await c.aclose()
    assert backend.stats()["runs_created"] == 4
    backend.close()


def test_a_state_fetched_before_a_wait_began_wakes_nobody() -> None:
    """A follower wakes a waiter only with a state whose shared tick started after the
    waiter registered (a COMPLETE seen before a resume must not end the new wait)."""
    import json

    from codegen_graph._coordination import SharedPoller
    from codegen_graph._watch import Waiter, WatchCore

    core = WatchCore(
        budget=(60, 30.0), share=0.8, min_interval=0.25, max_interval=30.0,
        page_size=100, max_pages=3,
    )  # fmt: skip
    poller = SharedPoller(None)  # type: ignore[arg-type]  # decode() makes no Redis call
    waiter = Waiter(5, None)
    core.add(waiter)

    class _Follow:
        @staticmethod
        def follow(tick: int, shared: int, ids: list[int], states: list[str | None]) -> Any:
            woken, failed = [], []
            for run_id, local, run in poller.decode(tick, shared, ids, states):
                if run is None:
                    failed.append(run_id)
                else:
                    woken += core.apply([run], local)
            return woken, failed

    shared = _Follow()

    def state(tick: int) -> str:
        run = {"id": 5, "organization_id": 1, "status": "COMPLETE"}
        return json.dumps({"tick": tick, "run": run})

    # the follower's first tick after registering reads shared tick 7; state of tick 7 is old
    woken, failed = shared.follow(core.start_tick(), 7, [5], [state(7)])
    assert woken == [] and failed == [] and not waiter.done
    # a later leader tick (8) fetched it after the wait began: it wakes the waiter
    woken, _ = shared.follow(core.start_tick(), 8, [5], [state(8)])
    assert woken == [waiter] and waiter.result is not None
    # an error marker asks the follower to read the run itself
    core.add(Waiter(6, None))
    _, failed = shared.follow(core.start_tick(), 9, [6], [json.dumps({"tick": 10, "error": True})])
    assert failed == [6]


def test_the_langgraph_json_graphs_join_the_coordination(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On LangGraph Server the graphs' client comes from the environment: with
    CODEGEN_REDIS_URL set it shares the org's budgets and poller."""
    import json
    from pathlib import Path

    import codegen_graph.studio as studio

    config = json.loads((Path(__file__).parents[2] / "langgraph.json").read_text())
    assert {"redis>=5.0", "pyrate-limiter>=4.5"} <= set(config["dependencies"])
    monkeypatch.setenv("CODEGEN_API_TOKEN", "t")
    monkeypatch.setenv("CODEGEN_ORG_ID", "5")
    monkeypatch.setenv("CODEGEN_API_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("CODEGEN_REDIS_URL", redis_url)
    client, async_client, backend = studio._build_client(dict(os.environ), False)
    assert backend is None
    for each in (client, async_client):  # the sync graphs' client and the codegen graph's
        assert each.coordination is not None and each.rate_budgets.store is not None
    client.close()


def test_the_deployment_page_example_runs(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/deployment.md's code, against a real Redis (its host name swapped for ours)."""
    import re
    from pathlib import Path

    page = (Path(__file__).parents[2] / "docs" / "deployment.md").read_text()
    (code,) = re.findall(r"```python\n(.*?)```", page, re.S)
    monkeypatch.setenv("CODEGEN_API_TOKEN", "t")
    monkeypatch.setenv("CODEGEN_ORG_ID", "5")
    namespace: dict[str, object] = {}
    exec(
        compile(code.replace("redis://redis:6379/0", redis_url), "deployment.md", "exec"), namespace
    )
    client = namespace["client"]
    assert isinstance(client, CodegenClient) and client.coordination is not None
    client.close()


def _hold_the_lead(leader: CodegenClient, hold: Any) -> threading.Thread:
    """Keep ``leader`` polling for the org with a long wait on ``hold`` (closing the client
    ends it), once its first tick has taken the lease; the waiting thread."""
    from codegen_graph import ClientClosedError

    def hold_the_lead() -> None:
        with contextlib.suppress(ClientClosedError):  # how the test ends it
            hold.wait(3600.0)

    holding = threading.Thread(target=hold_the_lead, daemon=True)
    holding.start()
    deadline = time.monotonic() + 30
    while not leader.watcher.is_leader and time.monotonic() < deadline:
        time.sleep(0.01)  # a condition, not a delay: the leader's first tick took the lease
    return holding


class _Held:
    """Runs end after a simulated minute; the one whose prompt says "hold" after an hour."""

    def plan(self, ctx: RunContext) -> Outcome:
        duration = 3600.0 if "hold" in ctx.prompt else 60.0
        return Outcome(status="COMPLETE", result="done", duration=duration)


def test_a_run_nobody_can_read_ends_the_followers_waits(redis_url: str, prefix: str) -> None:
    """Our own run whose answers are malformed, waited for only by followers: the leader
    reads it for them (a proxy waiter that lives one tick, so cannot count failures in a
    row), publishes that it could not, and each follower reads it itself and ends its waits
    with ``ResponseValidationError``. The leader holds the lease through a long wait of its
    own and a lease long enough not to change hands."""
    from runs._spoiler import Spoiler, spoiled_client  # tests/ is on sys.path (rootdir conftest)

    from codegen_graph import ResponseValidationError

    spoiler = Spoiler()
    backend = LocalCodegen(time_scale=50.0, behavior=_Held())
    clients = [
        spoiled_client(
            backend, spoiler, coordination=Coordination(redis_url, prefix=prefix, lease_ttl=120.0)
        )
        for _ in range(3)
    ]
    leader = clients[0]
    hold, bad, good = (leader.agent_runs.start(p) for p in ("hold the lead", "bad", "good"))
    handles = {(i, r.id): clients[i].agent_runs.attach(r.data) for i in (1, 2) for r in (bad, good)}
    spoiler.bad.add(bad.id)
    ended: dict[tuple[int, int], str] = {}

    def wait(index: int, run_id: int) -> None:
        try:
            ended[index, run_id] = str(handles[index, run_id].wait(600.0).status)
        except ResponseValidationError:
            ended[index, run_id] = "unreadable"
        except Exception as exc:  # a timeout: the failure this test is about
            ended[index, run_id] = type(exc).__name__

    holding = _hold_the_lead(leader, hold)
    threads = [threading.Thread(target=wait, args=key) for key in handles]
    try:
        assert leader.watcher.is_leader
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert {ended.get((i, bad.id)) for i in (1, 2)} == {"unreadable"}, ended
        assert {ended.get((i, good.id)) for i in (1, 2)} == {"COMPLETE"}, ended
    finally:
        for c in clients:
            c.close()  # ends the leader's long wait (ClientClosedError)
        holding.join(timeout=60)
        backend.close()


class _Redact(Plugin):
    """An output filter that hides every text."""

    name = "redact-all"

    def filter_output(self, text: str, ctx: PluginContext) -> str:
        return "[FILTERED]"


def test_a_follower_filters_what_the_leader_read_for_it(redis_url: str, prefix: str) -> None:
    """A follower's wait gets its run's state from the leader's reads, through Redis: its
    own output filter applies to that state too (it used to return what the leader's
    plugins made of it: here, the agent's raw answer)."""
    backend = LocalCodegen(time_scale=50.0, behavior=_Held())
    leader = backend.client(coordination=Coordination(redis_url, prefix=prefix, lease_ttl=120.0))
    follower = backend.client(
        coordination=Coordination(redis_url, prefix=prefix, lease_ttl=120.0), plugins=[_Redact()]
    )
    hold, task = leader.agent_runs.start("hold the lead"), leader.agent_runs.start("task")
    handle = follower.agent_runs.attach(task.data)

    holding = _hold_the_lead(leader, hold)
    try:
        assert leader.watcher.is_leader
        handle.wait(600.0)
        assert follower.watcher.poller is not None
        assert follower.watcher.poller.follower_ticks > 0  # it was read for it
        assert follower.watcher.stats.get_requests == 0
        assert handle.result == "[FILTERED]"
        assert task.refresh().result == "done"  # the leader's own, unfiltered
    finally:
        for c in (leader, follower):
            c.close()
        holding.join(timeout=60)
        backend.close()
