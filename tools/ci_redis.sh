#!/usr/bin/env bash
# Start a throwaway redis-server on 127.0.0.1:56379 for the coordination tests (tests find
# it through CODEGEN_GRAPH_TEST_REDIS or this default URL; tests that stop and restart
# Redis start their own on a free port). No persistence, loopback only. Safe to run twice.
set -euo pipefail
PORT=56379
DIR=/tmp/codegen-graph-redis
if redis-cli -h 127.0.0.1 -p "$PORT" ping >/dev/null 2>&1; then
    exit 0
fi
mkdir -p "$DIR"
redis-server --bind 127.0.0.1 --port "$PORT" --save '' --appendonly no \
    --dir "$DIR" --daemonize yes --logfile "$DIR/log" --pidfile "$DIR/pid"
for _ in $(seq 1 100); do
    if redis-cli -h 127.0.0.1 -p "$PORT" ping >/dev/null 2>&1; then
        echo "Redis ready on 127.0.0.1:$PORT"
        exit 0
    fi
    sleep 0.1
done
echo "redis-server did not start: $(cat "$DIR/log" 2>/dev/null)" >&2
exit 1
