"""Coordination of many processes on one organisation, through Redis.

Codegen's rate limits belong to the organisation; the client's budgets and watcher belong
to one client object. With :class:`Coordination` (``coordination=...`` on a client, or the
``CODEGEN_REDIS_URL`` environment variable) every client of one org, in any process:

* spends one shared rate budget per bucket (create, standard, logs), kept atomically in
  Redis by `pyrate-limiter <https://pypi.org/project/pyrate-limiter/>`_'s ``RedisBucket``;
* waits through one poller per org: the process holding a lease runs the batched list
  polling for every run any process waits for and publishes terminal states; the others
  register their waiters and read what it publishes (see :mod:`._poller`);
* creates a keyed run once across processes (a per-key claim in Redis).

If Redis goes away mid-flight each process carries on alone on a conservative local budget
(:attr:`Coordination.fallback_share` of each org budget), says so once at WARNING and
rejoins when Redis answers again. A Redis that cannot be reached when a client is built is
a :class:`~codegen_graph.ConfigurationError`.

The package is a plug-in: it implements the protocols of :mod:`codegen_graph._shared`
(a budget store, key claims, a poll source) and imports nothing of the client above them.
The client loads it only when coordination is asked for; the ``redis`` and
``pyrate_limiter`` modules are imported only when a coordination is created.
"""

from __future__ import annotations

from ._poller import PollerStats, SharedPoller
from ._redis import REDIS_URL_ENV_VAR, Coordination, OrgLink, resolve_coordination

__all__ = [
    "REDIS_URL_ENV_VAR",
    "Coordination",
    "OrgLink",
    "PollerStats",
    "SharedPoller",
    "resolve_coordination",
]
