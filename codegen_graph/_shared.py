"""What an organisation shared between processes looks like to the client (protocols only).

A client alone keeps its rate budgets, its watcher and its memory of keys in its process.
A *coordination plug-in* (:mod:`codegen_graph._coordination`, on Redis) shares them with
every process of the org by implementing the three protocols below; the client core
defines them and knows nothing of Redis. Every method may block (network I/O): the async
client calls them in a thread. The plug-in is loaded only when asked for
(``coordination=...`` or :data:`REDIS_URL_ENV_VAR`), so ``import codegen_graph`` never
loads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from ._config import RateBudgets
    from ._ratelimit import BudgetStore
    from .models import AgentRunResponse

__all__ = ["REDIS_URL_ENV_VAR", "KeyClaim", "PollSource", "SharedOrg", "Turn"]

#: The environment variable that switches coordination on for every client.
REDIS_URL_ENV_VAR = "CODEGEN_REDIS_URL"

Role = Literal["leader", "follower", "alone", "idle"]


class KeyClaim(Protocol):
    """One process's hold on one idempotency key across the org."""

    #: The id of a run some process already created with the key (after a done ``step``).
    existing: int | None
    #: Whether the last ``step`` found the shared store down.
    down: bool

    def step(self) -> bool:
        """One attempt: ``True`` once held, once a recorded run is found, or when the
        shared store is down (:attr:`down`)."""
        ...

    def confirm(self) -> bool | None:
        """Just before the create: ``True`` if the claim is still held (or was never held
        because the store was down), ``False`` if it was lost meanwhile (it expired while the
        store did not answer: another process may have created since), ``None`` if the
        store does not answer now."""
        ...

    def record(self, run_id: int) -> None:
        """Remember that the key created ``run_id``."""
        ...

    def release(self) -> None: ...


@dataclass(frozen=True)
class Turn:
    """What a watcher does this tick: poll for the org (``leader``, also for ``remote``
    runs other processes wait for), read what the leader published (``follower``), poll
    its own runs (``alone``: the store is down) or nothing (``idle``)."""

    role: Role
    remote: frozenset[int] = field(default_factory=frozenset)


class PollSource(Protocol):
    """The org's one poller, shared by the watchers of every process."""

    def turn(self, local: set[int], lease_ttl: float) -> Turn: ...

    def publish(self, done: Mapping[int, AgentRunResponse | None]) -> None:
        """Leader: the terminal states (``None``: the run could not be read) of remote runs."""
        ...

    def follow(
        self, local_tick: int, ids: list[int]
    ) -> list[tuple[int, int, AgentRunResponse | None]] | None:
        """Follower: ``(run id, local tick whose waiters it may wake, state)`` for each run
        whose state was published (``None``: read it yourself); ``None`` if the store is down."""
        ...

    def await_published(self, seconds: float) -> bool: ...

    def finish(self, role: Role) -> None:
        """After a tick: renew this watcher's registrations."""
        ...

    def leave(self) -> None:
        """Forget this watcher's registrations and give up the lease (on close)."""
        ...


class SharedOrg(Protocol):
    """One client's share of the org (what ``Coordination.link`` returns)."""

    @property
    def lease_ttl(self) -> float: ...

    def budgets(self, budgets: RateBudgets) -> BudgetStore: ...

    def claim(self, key: str) -> KeyClaim: ...

    def poll_source(self) -> PollSource: ...
