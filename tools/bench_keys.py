"""What exactly-once costs: requests per keyed create when 0, 100 and 1,000 newer runs exist.

Every scenario runs on the embedded backend in process (ManualClock, the client's default
rate budgets, so sleeping for the budget costs no real time) and counts the requests the
client sends for one keyed call:

* ``fresh``: ``create(prompt, idempotency_key=K)`` for a key nobody used, with N runs
  created in the last hour (the scan reads back one day, so it reads them all).
* ``fresh+since``: the same with ``created_after=`` one minute ago (what a graph node's
  retry and a batch item pass: the scan stops at once).
* ``repeat``: a new client (another process) calls ``create`` again for a key whose run has
  N newer runs in front of it.
* ``repeat+memo``: the same client calls again (one GET, whatever N is).
* ``batch``: ``run_many`` of 50 keyed prompts run a second time with N newer runs: one scan
  for the batch, shown per item.

The baseline of the ratio column is the unkeyed create (one POST) measured in the same run.

    python tools/bench_keys.py            # N = 0, 100, 1000 (well under two minutes)
    python tools/bench_keys.py --json
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

import httpx

from codegen_graph import CodegenClient
from codegen_graph.clock import ManualClock
from codegen_graph.local import LocalCodegen, Outcome, RunContext


class _Quick:
    def plan(self, ctx: RunContext) -> Outcome:
        return Outcome(status="COMPLETE", result="done", duration=5.0)


class _Counting(httpx.BaseTransport):
    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.count = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.count += 1
        return self.inner.handle_request(request)


def _seed(local: LocalCodegen, n: int, clock: ManualClock) -> None:
    other = local.add_token()
    with local.httpx_client(headers={"Authorization": f"Bearer {other}"}) as http:
        for i in range(n):
            http.post(f"/v1/organizations/{local.org_id}/agent/run", json={"prompt": f"o{i}"})
            clock.advance(3600 / max(n, 1))


def _client(local: LocalCodegen) -> tuple[CodegenClient, _Counting]:
    counting = _Counting(local.transport())
    client = CodegenClient(
        local.token, local.org_id, transport=counting, clock=local.clock, base_url=local.base_url
    )
    return client, counting


def _measure(newer: int, scenario: str) -> float:
    clock = ManualClock()
    with LocalCodegen(clock=clock, behavior=_Quick(), rate_limits=False) as local:
        if scenario in ("repeat", "repeat+memo"):
            first, _ = _client(local)
            first.agent_runs.create("x", idempotency_key="k")
            _seed(local, newer, clock)
            client, counting = _client(local)
            if scenario == "repeat+memo":  # the same process remembers what it created
                client.keyed._created = first.keyed._created
            with client:
                run = client.agent_runs.create("x", idempotency_key="k")
            assert run.reused
            first.close()
            return float(counting.count)
        if scenario == "batch":
            prompts = [f"p{i}" for i in range(50)]
            with local.client() as first:
                first.agent_runs.run_many(prompts, key_prefix="b", timeout=3600)
            _seed(local, newer, clock)
            client, counting = _client(local)
            with client:
                items = client.agent_runs.run_many(prompts, key_prefix="b", timeout=3600)
            assert all(i.run is not None and i.run.reused for i in items)
            return counting.count / len(prompts)
        _seed(local, newer, clock)
        client, counting = _client(local)
        with client:
            if scenario == "unkeyed":
                client.agent_runs.create("x")
            elif scenario == "fresh":
                client.agent_runs.create("x", idempotency_key="new")
            else:  # fresh+since
                client.agent_runs.create("x", idempotency_key="new", created_after=clock.now() - 60)
        return float(counting.count)


SCENARIOS = ("fresh", "fresh+since", "repeat", "repeat+memo", "batch")


def run_benchmark(newer: tuple[int, ...] = (0, 100, 1000)) -> dict[str, Any]:
    baseline = _measure(0, "unkeyed")
    rows = []
    for scenario in SCENARIOS:
        for n in newer:
            requests = _measure(n, scenario)
            rows.append(
                {
                    "scenario": scenario,
                    "newer_runs": n,
                    "requests": requests,
                    "ratio": requests / baseline,
                }
            )
    return {"baseline_unkeyed_create": baseline, "rows": rows}


def _table(report: dict[str, Any], write: Callable[[str], Any]) -> None:
    write(f"unkeyed create (baseline): {report['baseline_unkeyed_create']:g} request(s)\n")
    write(f"{'scenario':<14}{'newer runs':>11}{'requests':>10}{'x baseline':>12}\n")
    for row in report["rows"]:
        write(
            f"{row['scenario']:<14}{row['newer_runs']:>11}{row['requests']:>10.2f}"
            f"{row['ratio']:>12.2f}\n"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--newer", type=int, nargs="*", default=[0, 100, 1000])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    report = run_benchmark(tuple(args.newer))
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        _table(report, sys.stdout.write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
