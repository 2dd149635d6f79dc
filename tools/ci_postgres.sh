#!/usr/bin/env bash
# Start a throwaway PostgreSQL cluster on 127.0.0.1:55432 for the checkpointer tests and
# export nothing: tests find it through CODEGEN_GRAPH_TEST_POSTGRES (see tests/conftest.py)
# or the default DSN below. Safe to run twice.
set -euo pipefail
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
DATA=/tmp/codegen-graph-pg
PORT=55432
if [ -f "$DATA/postmaster.pid" ] && su postgres -c "$PGBIN/pg_ctl -D $DATA status" >/dev/null 2>&1; then
    exit 0
fi
rm -rf "$DATA"
mkdir -p "$DATA"
chown postgres:postgres "$DATA"
su postgres -c "$PGBIN/initdb -D $DATA -A trust -U postgres" >/dev/null
su postgres -c "$PGBIN/pg_ctl -D $DATA -o '-c listen_addresses=127.0.0.1 -p $PORT -k /tmp' -l $DATA/log -w start" >/dev/null
echo "PostgreSQL ready on 127.0.0.1:$PORT"
