"""Rate limits, quota, time_scale, fault injection, stats and SQLite persistence."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from codegen_graph.clock import ManualClock, ScaledClock
from codegen_graph.local import Faults, LocalCodegen, RouteFaults

ORG = "/v1/organizations/1"
CREATE = f"{ORG}/agent/run"


def test_create_limit_is_10_per_60s_per_token_with_retry_after() -> None:
    clock = ManualClock()
    with LocalCodegen("t", 1, clock=clock) as b, b.httpx_client() as http:
        for i in range(10):
            assert http.post(CREATE, json={"prompt": f"p{i}"}).status_code == 200
            clock.advance(1)
        r = http.post(CREATE, json={"prompt": "eleventh"})
        assert r.status_code == 429
        assert r.json() == {
            "message": "Rate limit exceeded. Please try again later.",
            "status_code": 429,
        }
        assert r.headers["Retry-After"] == "50"  # first request leaves the window at t=60
        other = b.add_token()
        assert (
            http.post(
                CREATE, json={"prompt": "x"}, headers={"Authorization": f"Bearer {other}"}
            ).status_code
            == 200
        )
        clock.advance(50)
        assert http.post(CREATE, json={"prompt": "later"}).status_code == 200
        assert b.stats()["rate_limited"] == {"create": 1}


def test_standard_and_logs_windows_and_disabled() -> None:
    clock = ManualClock()
    with LocalCodegen("t", 1, clock=clock) as b, b.httpx_client() as http:
        codes = [http.get("/v1/users/me").status_code for _ in range(61)]
        assert codes.count(200) == 60
        assert codes[-1] == 429
        logs = [
            http.get("/v1/alpha/organizations/1/agent/run/1/logs").status_code for _ in range(61)
        ]
        assert logs.count(404) == 60
        assert logs[-1] == 429
        clock.advance(30)
        assert http.get("/v1/users/me").status_code == 200  # standard window is 30 s
        assert (
            http.get("/v1/alpha/organizations/1/agent/run/1/logs").status_code == 429
        )  # logs: 60 s
    with (
        LocalCodegen("t", 1, clock=ManualClock(), rate_limits=False) as b,
        b.httpx_client() as http,
    ):
        assert {http.get("/v1/users/me").status_code for _ in range(100)} == {200}


def test_quota_answers_402_after_n_runs() -> None:
    with LocalCodegen("t", 1, clock=ManualClock(), quota=2) as b, b.httpx_client() as http:
        codes = [http.post(CREATE, json={"prompt": "p"}).status_code for _ in range(3)]
        assert codes == [200, 200, 402]


def test_time_scale_speeds_durations_and_windows_together() -> None:
    """At time_scale=F a 60 s run and a 60 s rate window both last 60/F real seconds."""
    scale = 200.0
    with LocalCodegen("t", 1, time_scale=scale) as b, b.httpx_client() as http:
        assert isinstance(b.clock, ScaledClock)
        assert b.clock.scale == scale
        t0 = time.monotonic()
        run = http.post(CREATE, json={"prompt": "Add a flag"}).json()
        while http.get(f"{ORG}/agent/run/{run['id']}").json()["status"] != "COMPLETE":
            b.clock.sleep(1.0)  # one simulated second = 5 ms real
        real = time.monotonic() - t0
        assert 0.1 < real < 5.0  # 40-80 simulated seconds, well under a real second
        for _ in range(10):
            http.post(CREATE, json={"prompt": "p"})
        r = http.post(CREATE, json={"prompt": "p"})
        assert r.status_code == 429
        b.clock.sleep(float(r.headers["Retry-After"]))  # simulated seconds -> ~0.3 s real at most
        assert http.post(CREATE, json={"prompt": "p"}).status_code == 200
    with pytest.raises(ValueError, match="not both"):
        LocalCodegen(clock=ManualClock(), time_scale=10)


def test_injected_errors_storms_and_latency_are_seeded_and_counted() -> None:
    faults = Faults(
        routes={
            "get": RouteFaults(error_rate=0.5, error_status=502),
            "list": RouteFaults(storms=((10.0, 20.0),)),
            "*": RouteFaults(latency=2.5),
        },
        seed=7,
    )

    def statuses() -> tuple[list[int], list[str]]:
        clock = ManualClock()
        with (
            LocalCodegen("t", 1, clock=clock, faults=faults, rate_limits=False) as b,
            b.httpx_client() as http,
        ):
            run = http.post(CREATE, json={"prompt": "p"}).json()
            gets = [http.get(f"{ORG}/agent/run/{run['id']}").status_code for _ in range(20)]
            assert clock.sleeps == [2.5]  # latency applies to "*" routes (create), not "get"
            clock.advance(12 - 2.5)
            r = http.get(f"{ORG}/agent/runs")
            assert r.status_code == 429
            assert r.headers["Retry-After"] == "18"
            clock.advance(18)
            assert http.get(f"{ORG}/agent/runs").status_code == 200
            stats = b.stats()
            assert stats["faults"]["get"]["error"] == gets.count(502)
            assert stats["faults"]["list"] == {"storm": 1}
            assert stats["responses"]["get"]["502"] == gets.count(502)
            return gets, sorted(stats["faults"])

    first, second = statuses(), statuses()
    assert first == second  # same seed, same faults
    assert set(first[0]) == {200, 502}


def test_latency_spikes_hit_a_seeded_share_of_requests() -> None:
    faults = Faults(routes={"get": RouteFaults(latency=30.0, latency_rate=0.25)}, seed=3)

    def spikes() -> list[float]:
        clock = ManualClock()
        with (
            LocalCodegen("t", 1, clock=clock, faults=faults, rate_limits=False) as b,
            b.httpx_client() as http,
        ):
            run = http.post(CREATE, json={"prompt": "p"}).json()
            for _ in range(40):
                assert http.get(f"{ORG}/agent/run/{run['id']}").status_code == 200
            assert b.stats()["faults"]["get"]["latency"] == len(clock.sleeps)
            return list(clock.sleeps)

    first = spikes()
    assert first == spikes()  # seeded
    assert set(first) == {30.0}
    assert 3 <= len(first) <= 20  # about a quarter of 40, not every request
    with pytest.raises(ValueError, match="latency_rate"):
        RouteFaults(latency=1.0, latency_rate=1.5)
    assert (
        Faults.from_dict({"get": {"latency": 5, "latency_rate": 0.1}}).routes["get"].latency_rate
        == 0.1
    )


def test_dropped_connection_and_accept_then_timeout_sync() -> None:
    faults = {"create": {"timeout_rate": 1.0}, "repos": {"drop_rate": 1.0}}
    with LocalCodegen("t", 1, clock=ManualClock(), faults=faults) as b, b.httpx_client() as http:
        with pytest.raises(httpx.ReadTimeout):
            http.post(
                CREATE, json={"prompt": "p", "metadata": {"codegen_graph_idempotency_key": "k1"}}
            )
        with pytest.raises(httpx.RemoteProtocolError):
            http.get(f"{ORG}/repos")
        runs = http.get(f"{ORG}/agent/runs").json()
        assert runs["total"] == 1  # the run was created although the client never heard
        stats = b.stats()
        assert stats["faults"] == {"create": {"timeout": 1}, "repos": {"drop": 1}}
        assert stats["runs_created"] == 1
        assert stats["duplicates"] == 0


async def test_dropped_connection_and_timeout_async_and_duplicates() -> None:
    faults = Faults.from_dict({"seed": 1, "create": {"timeout_rate": 1.0}})
    b = LocalCodegen("t", 1, clock=ManualClock(), faults=faults)
    async with b.async_httpx_client() as http:
        body = {"prompt": "p", "metadata": {"codegen_graph_idempotency_key": "same"}}
        for _ in range(3):
            with pytest.raises(httpx.ReadTimeout):
                await http.post(CREATE, json=body)
        assert (await http.get(f"{ORG}/agent/runs")).json()["total"] == 3
    assert b.stats()["duplicates"] == 2
    b.close()


def test_faults_config_errors() -> None:
    with pytest.raises(ValueError, match="unknown fault routes"):
        Faults.from_dict({"creat": {"error_rate": 0.1}})
    with pytest.raises(ValueError, match="takes only"):
        Faults.from_dict({"create": {"eror_rate": 0.1}})
    with pytest.raises(ValueError, match="5xx"):
        RouteFaults(error_status=404)


def test_stats_endpoint_needs_no_token() -> None:
    with LocalCodegen("t", 1, clock=ManualClock()) as b, b.httpx_client() as http:
        http.post(CREATE, json={"prompt": "p"})
        body = (
            httpx.Client(transport=b.transport(), base_url=b.base_url).get("/_local/stats").json()
        )
        assert body["requests"] == {"create": 1}
        assert body["runs_created"] == 1
        assert body["runs_total"] == 1
        assert set(body) == {
            "requests",
            "responses",
            "rate_limited",
            "faults",
            "runs_created",
            "runs_resumed",
            "runs_total",
            "duplicates",
        }


TESTS_RUN = {"prompt": "Run tests", "metadata": {"codegen_graph_role": "tests"}}


def test_db_keeps_runs_logs_counters_and_tokens(tmp_path: Path) -> None:
    db = tmp_path / "local.db"
    clock = ManualClock()
    with (
        LocalCodegen(clock=clock, db=db, scenario="tests_fail_once") as b,
        b.httpx_client() as http,
    ):
        token, org = b.token, b.org_id
        run = http.post(f"/v1/organizations/{org}/agent/run", json=TESTS_RUN).json()
        clock.advance(3600)
        before = http.get(f"/v1/alpha/organizations/{org}/agent/run/{run['id']}/logs").json()
        assert before["status"] == "FAILED"
    with LocalCodegen(clock=clock, db=db, scenario="tests_fail_once") as b2:
        assert b2.org_id == org
        with b2.httpx_client(headers={"Authorization": f"Bearer {token}"}) as http:
            after = http.get(f"/v1/alpha/organizations/{org}/agent/run/{run['id']}/logs").json()
            assert after == before
            again = http.post(f"/v1/organizations/{org}/agent/run", json=TESTS_RUN).json()
            clock.advance(3600)
            # the scenario's attempt counter survived the restart: attempt 2 passes
            assert (
                http.get(f"/v1/organizations/{org}/agent/run/{again['id']}").json()["status"]
                == "COMPLETE"
            )
        with b2.httpx_client() as http:  # the new generated token works too
            assert http.get(f"/v1/organizations/{org}/agent/runs").json()["total"] == 2
