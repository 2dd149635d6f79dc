"""One worker process of a coordinated fleet: ``run_many`` over its prompts, with defaults.

Usage: ``python _worker.py '<json config>'``; prints one JSON document on stdout at the end.
The config names the API (base_url, token, org_id, time_scale), the Redis URL and key
prefix (``redis``: null for an independent client), the prompts and an optional
``key_prefix``.
"""

from __future__ import annotations

import json
import logging
import sys

from codegen_graph import CodegenClient, Coordination
from codegen_graph.clock import ScaledClock


def main() -> None:
    cfg = json.loads(sys.argv[1])
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    coordination: Coordination | bool = False
    if cfg.get("redis"):
        coordination = Coordination(cfg["redis"], prefix=cfg["prefix"])
    client = CodegenClient(
        cfg["token"],
        cfg["org_id"],
        base_url=cfg["base_url"],
        clock=ScaledClock(cfg["time_scale"]),
        coordination=coordination,
    )
    with client:
        print(json.dumps({"ready": True}), flush=True)
        items = client.agent_runs.run_many(cfg["prompts"], key_prefix=cfg.get("key_prefix"))
        watcher = client.watcher
        poller = getattr(watcher, "poller", None)
        store = client.rate_budgets.store
        out = {
            "done": sum(1 for i in items if i.run is not None and i.run.is_terminal),
            "ok": sum(1 for i in items if i.ok),
            "errors": [f"{type(i.error).__name__}: {i.error}" for i in items if i.error],
            "run_ids": [i.run.id if i.run is not None else None for i in items],
            "watcher_requests": watcher.stats.requests,
            "poller": vars(poller) if poller is not None else None,
            "fallback_grants": getattr(store, "fallback_grants", None),
        }
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
