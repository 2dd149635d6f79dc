"""The claim renewer and the poller lease, against a real Redis."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest
import redis

from codegen_graph import Coordination
from codegen_graph._coordination._redis import KeyClaim
from codegen_graph._specs import IDEMPOTENCY_METADATA_KEY as META
from codegen_graph.clock import ScaledClock
from codegen_graph.local import LocalCodegen

#: Real milliseconds a held claim lives: the renewer calls every third of it. Long enough
#: that a loaded machine does not let a claim lapse between the renewer's calls.
TTL_MS = 900
#: The links' clock: real time, so a 5-second lease is 5 real seconds, not 25 ms.
REAL = ScaledClock(1.0)


class CountingRedis(redis.Redis):
    """A real client that tells the test each time an EVAL on a key has returned."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.evals: dict[str, int] = {}
        self.changed = threading.Condition()

    def eval(self, script: str, numkeys: int, *keys_and_args: Any) -> Any:  # type: ignore[override]
        result = super().eval(script, numkeys, *keys_and_args)
        with self.changed:
            key = str(keys_and_args[0])
            self.evals[key] = self.evals.get(key, 0) + 1
            self.changed.notify_all()
        return result

    def wait_evals(self, key: str, count: int) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: self.evals.get(key, 0) >= count, timeout=30)


def test_a_released_claim_stays_released_while_the_renewer_ticks(
    redis_url: str, prefix: str
) -> None:
    client = CountingRedis.from_url(redis_url, decode_responses=True)
    coordination = Coordination(redis_client=client, prefix=prefix)
    key, member = f"{prefix}:keylock:k", "me"
    client.set(key, member, px=TTL_MS)
    coordination.hold(key, member, TTL_MS)
    client.wait_evals(key, 1)  # the renewer runs
    assert 0 < int(client.pttl(key)) <= TTL_MS
    # The claim goes away while the renewer still counts it as held (the window between
    # its snapshot and its call, stretched): it was released, or it expired.
    client.delete(key)
    seen = client.evals[key]
    client.wait_evals(key, seen + 2)  # two renewals later...
    assert client.get(key) is None  # ...nothing re-created it
    # another process's claim on the key is not extended either
    client.set(key, "other", px=TTL_MS * 10)
    client.wait_evals(key, client.evals[key] + 2)
    assert client.get(key) == "other" and int(client.pttl(key)) > TTL_MS
    coordination.unhold(key)


def test_the_poller_lease_is_still_taken_when_missing(redis_url: str, prefix: str) -> None:
    a, b = (Coordination(redis_url, prefix=prefix).link(7, "http://x", REAL) for _ in range(2))
    assert a.hold_lease(5.0) and not b.hold_lease(5.0)  # created when missing, then ours
    assert a.hold_lease(5.0)  # renewed
    a.release_lease()
    assert b.hold_lease(5.0) and not a.hold_lease(5.0)  # the next one takes it at once


def test_a_malformed_key_record_is_skipped_and_said_once(
    redis_url: str, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A record that is no run id does not crash the create: the claim goes on as if none
    were recorded, and the run it creates is recorded over it for the next process."""
    caplog.set_level(logging.WARNING, "codegen_graph.coordination")
    backend = LocalCodegen(time_scale=200.0)
    a, b = (backend.client(coordination=Coordination(redis_url, prefix=prefix)) for _ in range(2))
    assert a.coordination is not None
    record = KeyClaim(a.coordination, "k-garbage", 30.0)._record_key
    raw = redis.Redis.from_url(redis_url, decode_responses=True)
    for garbage in ("hunter2-token", "-3", "0"):
        raw.set(record, garbage)
        with a.coordination.key_claim("k-garbage") as claim:
            assert claim.held and claim.existing is None
    first = a.agent_runs.create("task", idempotency_key="k-garbage")
    assert raw.get(record) == str(first.id)
    assert b.agent_runs.create("task", idempotency_key="k-garbage").id == first.id
    assert backend.stats()["runs_created"] == 1
    said = [r.getMessage() for r in caplog.records if record in r.getMessage()]
    assert len(said) == 1 and "hunter2" not in caplog.text
    a.close(), b.close(), backend.close()


def test_a_lease_or_claim_that_never_expires_is_taken_over(
    redis_url: str, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Every lease and claim is written with an expiry; one without (something else wrote
    it) would stop the org's polling, or every create of its key, for good."""
    caplog.set_level(logging.WARNING, "codegen_graph.coordination")
    link = Coordination(redis_url, prefix=prefix).link(7, "http://x", REAL)
    raw = redis.Redis.from_url(redis_url, decode_responses=True)
    raw.set(link.key("lease"), "hunter2-token")  # no expiry
    assert link.hold_lease(5.0) and link.hold_lease(5.0)
    assert raw.get(link.key("lease")) == link.member and int(raw.pttl(link.key("lease"))) > 0
    claim = KeyClaim(link, "k-stuck", 30.0)
    raw.set(claim._lock_key, "hunter2-token")
    assert claim.step() and claim.held and raw.get(claim._lock_key) == link.member
    claim.release()
    # a live owner (with an expiry) is still waited for
    raw.set(claim._lock_key, "other", px=60_000)
    assert not KeyClaim(link, "k-stuck", 30.0).step()
    said = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len([m for m in said if link.key("lease") in m]) == 1
    assert len([m for m in said if claim._lock_key in m]) == 1
    assert "hunter2" not in caplog.text


def test_a_claim_lost_while_looking_is_taken_again_before_creating(
    redis_url: str, prefix: str
) -> None:
    """A process holds a key's claim and looks the key up; Redis stops answering long
    enough that the claim expires, and another process takes it and creates the run after
    the first one's lookup read the list. The first process used to create a second run;
    it now confirms the claim just before creating, finds it lost, takes it again and
    finds the other's run (a real Redis; the expiry is a DEL at that moment; both processes
    are clients of this one)."""
    raw = redis.Redis.from_url(redis_url, decode_responses=True)
    with LocalCodegen(time_scale=50) as backend:
        first, second = (
            backend.client(coordination=Coordination(redis_url, prefix=prefix)) for _ in range(2)
        )
        looked = first.keyed._existing
        created: list[int] = []

        def lookup_while_the_claim_lapses(*args: Any, **kwargs: Any) -> Any:
            found = looked(*args, **kwargs)  # nothing yet: the key is new
            if not created:
                claims = raw.keys(f"{prefix}:*keylock*")
                assert len(claims) == 1, claims  # the one the first process holds
                raw.delete(*claims)  # it expired while Redis did not answer
                # The other process's keyed create (its own process lock, so spelled out):
                # it takes the free claim, finds no record, creates with the key, records.
                claim = second.keyed._api.coordination.claim("k")
                assert claim.step() and claim.held and claim.existing is None
                with backend.httpx_client() as http:  # this process's key lock is held
                    answer = http.post(
                        f"/v1/organizations/{backend.org_id}/agent/run",
                        json={"prompt": "Add a /health endpoint", "metadata": {META: "k"}},
                    )
                other = answer.raise_for_status().json()["id"]
                claim.record(other)
                claim.release()
                created.append(other)
            return found

        first.keyed._existing = lookup_while_the_claim_lapses  # type: ignore[method-assign]
        run = first.agent_runs.create("Add a /health endpoint", idempotency_key="k")
        stats = backend.stats()
        first.close()
        second.close()
    assert run.id == created[0] and run.reused
    assert (stats["runs_created"], stats["duplicates"]) == (1, 0)
