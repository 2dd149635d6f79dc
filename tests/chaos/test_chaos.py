"""The fast subset of tools/chaos.py: a small fleet and one feature workflow under faults.

Same faults as the tool (20% 503, 10% dropped connections, 429 storms with Retry-After,
latency spikes, accept-then-timeout on create), on a ManualClock, so it runs in seconds.
``ours`` is the library defaults: the targets hold without tuning anything.
"""

from __future__ import annotations

import importlib.util
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

pytestmark = pytest.mark.chaos

TOOL = Path(__file__).resolve().parents[2] / "tools" / "chaos.py"
FLEET = 15


@pytest.fixture(scope="module")
def chaos() -> ModuleType:
    spec = importlib.util.spec_from_file_location("chaos_tool", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["chaos_tool"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def fleets(chaos: ModuleType) -> dict[str, Any]:
    prompts = chaos.fleet_prompts(FLEET)
    return {"ours": chaos.run_ours(prompts), "seed": chaos.run_seed(prompts)}


def test_ours_loses_nothing_and_duplicates_nothing(fleets: dict[str, Any]) -> None:
    ours = fleets["ours"]
    assert ours.requested == FLEET
    assert ours.completed == FLEET and ours.lost == 0
    assert ours.duplicates == 0 and ours.orphans == 0
    assert ours.runs_total == FLEET  # exactly one run per prompt on the backend
    # The faults really were there: errors, drops, latency spikes.
    assert {"error", "drop", "latency"} <= set(ours.injected)
    assert ours.injected["error"] >= 5


def test_seed_loop_surfaces_the_faults(fleets: dict[str, Any]) -> None:
    seed = fleets["seed"]
    assert seed.lost > FLEET // 2
    assert seed.surfaced_transient == seed.surfaced >= seed.lost
    assert seed.completed + seed.lost == FLEET


def test_at_least_ninety_percent_fewer_surfaced_transient_failures(
    chaos: ModuleType, fleets: dict[str, Any]
) -> None:
    assert fleets["seed"].surfaced_transient > 0
    assert chaos.reduction(fleets["ours"], fleets["seed"]) >= 0.9


def test_the_headline_column_is_the_library_defaults(
    chaos: ModuleType, fleets: dict[str, Any]
) -> None:
    assert chaos.client_settings() == {}  # nothing passed to LocalCodegen(...).client()
    ours = fleets["ours"]
    assert ours.contender == "ours"
    assert ours.config == "library defaults: max_retries=2, circuit breaker 5 failures/30 s"
    # The default breaker did open under these faults, and cost no run: it paused the batch
    # and the watcher instead of failing them.
    assert ours.surfaced == 0


def test_feature_workflow_under_faults(chaos: ModuleType) -> None:
    wf = chaos.run_workflow()
    assert wf["error"] is None
    assert wf["verdict"] == "passed"
    assert wf["duplicates"] == 0
    assert wf["runs_total"] == wf["runs_created"]
    assert wf["injected"].get("error", 0) + wf["injected"].get("drop", 0) > 10


def test_create_timeouts_never_duplicate(chaos: ModuleType) -> None:
    # Accept-then-timeout on every second create: each one is found by the lookup, not
    # posted again.
    from codegen_graph.clock import ManualClock
    from codegen_graph.local import Faults, LocalCodegen, RouteFaults

    faults = Faults(routes={"create": RouteFaults(timeout_rate=0.5)}, seed=3)
    with LocalCodegen(clock=ManualClock(), faults=faults) as local:
        with local.client() as client:
            items = client.agent_runs.run_many(chaos.fleet_prompts(6), key_prefix="t")
        stats = local.stats()
    assert all(it.ok for it in items)
    assert stats["faults"]["create"]["timeout"] >= 2
    assert stats["runs_total"] == 6 and stats["duplicates"] == 0


def test_report_and_exit_status(chaos: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    assert chaos.main(["--runs", "4"]) == 0
    out = capsys.readouterr().out
    assert "| runs lost | 0 |" in out and "Targets met." in out
    assert "library defaults: max_retries=2" in out
    # A custom column is reported beside the defaults, never instead of them.
    assert chaos.main(["--runs", "3", "--max-retries", "0", "--breaker", "off"]) in (0, 1)
    out = capsys.readouterr().out
    assert "| metric | ours | ours/custom | seed |" in out
    # A missed target makes the tool fail.
    lost = chaos.FleetResult("ours", 4, completed=3, lost=1)
    seed = chaos.FleetResult("seed", 4, surfaced_transient=4)
    wf = {"verdict": "passed", "duplicates": 0}
    assert chaos.check_targets(lost, seed, wf) == ["ours lost 1 run(s); target 0"]


def test_kinds_of_errors_counted(chaos: ModuleType, fleets: dict[str, Any]) -> None:
    kinds = Counter(fleets["seed"].surfaced_by_kind)
    assert sum(kinds.values()) == fleets["seed"].surfaced
    import httpx

    for kind in kinds:  # an HTTP status, or a transport failure (drop, timeout)
        assert kind.startswith("HTTP ") or issubclass(getattr(httpx, kind), httpx.TransportError)
