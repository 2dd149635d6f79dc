"""A real ``codegen-graph serve`` for the SDK patterns, and ``time.sleep`` on its clock."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from codegen_graph.local import LocalServer

#: Simulated seconds per real second: a scripted run of a minute takes 60 ms.
SCALE = 1000.0
TOKEN = "compat-canary-token-8d41"
ORG = 4343


@pytest.fixture(scope="package")
def server() -> Iterator[LocalServer]:
    # a bound for a hung child on a loaded machine, not a speed expectation
    with LocalServer(token=TOKEN, org_id=ORG, time_scale=SCALE, startup_timeout=300) as live:
        yield live


@pytest.fixture
def sdk_env(server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> LocalServer:
    """The environment the SDK patterns read, pointing at the server, and ``time.sleep``
    running on the server's clock: ``time.sleep(5)`` waits five of its seconds (5 ms).

    The patterns sleep between polls of runs that take simulated minutes; scaling their
    sleeps by the server's own factor keeps each poll at the same point of a run's life as
    in real time, without spending real seconds. The clients' default clock sleeps through
    ``time.sleep`` too, so their backoffs and polls follow the same clock.
    """
    for name in [n for n in os.environ if n.startswith(("CODEGEN_", "GITHUB_"))]:
        monkeypatch.delenv(name)
    for name, value in server.env().items():
        monkeypatch.setenv(name, value)
    real_sleep, slept = time.sleep, [0.0]

    def sleep(seconds: float) -> None:
        slept[0] += max(0.0, seconds)
        if slept[0] > 3600:  # the runs take a simulated minute: a loop that never ends
            pytest.fail("the block slept a simulated hour: does its loop never end?")
        real_sleep(max(0.0, seconds) / SCALE)

    monkeypatch.setattr(time, "sleep", sleep)
    return server
