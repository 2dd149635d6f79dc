"""SQLite persistence for the local backend (``:memory:`` by default, a file with ``db=``).

One code path for both: runs (with their whole timeline as JSON), counters and API tokens.
Tokens are stored as SHA-256 hashes, never in clear.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["Identity", "Store", "token_hash"]

INT64_MAX = 2**63 - 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    org_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    source_type TEXT NOT NULL,
    created_at REAL NOT NULL,
    idempotency_key TEXT,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_org ON runs (org_id, created_at);
CREATE TABLE IF NOT EXISTS counters (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (
    token_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL,
    org_id INTEGER NOT NULL,
    is_primary INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS oauth_tokens (token_hash TEXT PRIMARY KEY, provider TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS token_expiry (token_hash TEXT PRIMARY KEY, expires_at REAL NOT NULL);
"""


def token_hash(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


class Identity:
    """The user and organization a token stands for."""

    __slots__ = ("org_id", "user_id")

    def __init__(self, user_id: int, org_id: int) -> None:
        self.user_id = user_id
        self.org_id = org_id

    def __repr__(self) -> str:
        return f"Identity(user_id={self.user_id}, org_id={self.org_id})"


class Store:
    """Thread-safe access to one SQLite database."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = ":memory:" if path is None else str(path)
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._lock = threading.RLock()
        self._depth = 0  # open transaction() blocks of the thread holding the lock
        with self._lock:
            self._conn.executescript(_SCHEMA)

    def __repr__(self) -> str:
        return f"Store({self.path!r})"

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Run statements atomically (and serialised across threads and, for a file,
        processes). Nested blocks join the outermost one."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self._conn
                finally:
                    self._depth -= 1
                return
            self._conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self._conn
            except BaseException:
                self._depth = 0
                self._conn.execute("ROLLBACK")
                raise
            self._depth = 0
            self._conn.execute("COMMIT")

    # -- counters -----------------------------------------------------------------------
    def incr(self, key: str, by: int = 1) -> int:
        """Increment a persistent counter and return its new value."""
        with self.transaction() as c:
            c.execute(
                "INSERT INTO counters (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = value + excluded.value",
                (key, by),
            )
            row = c.execute("SELECT value FROM counters WHERE key = ?", (key,)).fetchone()
        return int(row[0])

    # -- meta ---------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as c:
            c.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # -- tokens -------------------------------------------------------------------------
    def add_token(
        self,
        token: str,
        user_id: int,
        org_id: int,
        *,
        primary: bool = False,
        provider: str | None = None,
        expires_at: float | None = None,
    ) -> None:
        """Register a token; with ``provider``, one issued through that OAuth provider; with
        ``expires_at``, one that stops authenticating then."""
        with self.transaction() as c:
            c.execute(
                "INSERT OR REPLACE INTO tokens (token_hash, user_id, org_id, is_primary) "
                "VALUES (?, ?, ?, ?)",
                (token_hash(token), user_id, org_id, int(primary)),
            )
            if provider is not None:
                c.execute(
                    "INSERT OR REPLACE INTO oauth_tokens VALUES (?, ?)",
                    (token_hash(token), provider),
                )
            if expires_at is not None:
                c.execute(
                    "INSERT OR REPLACE INTO token_expiry VALUES (?, ?)",
                    (token_hash(token), expires_at),
                )

    def oauth_providers(self, org_id: int, user_id: int | None = None) -> list[str]:
        """The providers with active OAuth tokens in the organization (of one user)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT DISTINCT provider FROM oauth_tokens JOIN tokens USING (token_hash) "
                "WHERE org_id = ? AND (? IS NULL OR user_id = ?) ORDER BY provider",
                (org_id, user_id, user_id),
            ).fetchall()
        return [str(r[0]) for r in rows]

    def revoke_oauth(self, org_id: int, user_id: int, provider: str) -> int:
        """Deactivate a user's OAuth tokens of ``provider``: they no longer authenticate."""
        with self.transaction() as c:
            gone = c.execute(
                "DELETE FROM tokens WHERE org_id = ? AND user_id = ? AND token_hash IN "
                "(SELECT token_hash FROM oauth_tokens WHERE provider = ?)",
                (org_id, user_id, provider),
            ).rowcount
            c.execute(
                "DELETE FROM oauth_tokens WHERE token_hash NOT IN (SELECT token_hash FROM tokens)"
            )
        return int(gone)

    def identity(self, token: str, now: float | None = None) -> Identity | None:
        """Who ``token`` stands for (``None`` if unknown, or expired at ``now``)."""
        with self._lock:
            row = self._conn.execute(
                "SELECT user_id, org_id FROM tokens LEFT JOIN token_expiry USING (token_hash) "
                "WHERE token_hash = ? AND (? IS NULL OR expires_at IS NULL OR expires_at > ?)",
                (token_hash(token), now, now),
            ).fetchone()
        return Identity(int(row[0]), int(row[1])) if row else None

    def primary_identity(self) -> Identity | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT user_id, org_id FROM tokens WHERE is_primary = 1 LIMIT 1"
            ).fetchone()
        return Identity(int(row[0]), int(row[1])) if row else None

    def users(self, org_id: int) -> list[int]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT DISTINCT user_id FROM tokens WHERE org_id = ? ORDER BY user_id", (org_id,)
            ).fetchall()
        return [int(r[0]) for r in rows]

    def max_user_id(self) -> int:
        with self._lock:
            row = self._conn.execute("SELECT COALESCE(MAX(user_id), 0) FROM tokens").fetchone()
        return int(row[0])

    # -- runs ---------------------------------------------------------------------------
    def insert_run(self, run: dict[str, Any]) -> int:
        """Insert a run (without ``id``), assign and return its id."""
        with self.transaction() as c:
            row = c.execute("SELECT COALESCE(MAX(id), 9999) + 1 FROM runs").fetchone()
            run_id = int(row[0])
            run["id"] = run_id
            key = (run.get("metadata") or {}).get("codegen_graph_idempotency_key")
            c.execute(
                "INSERT INTO runs (id, org_id, user_id, source_type, created_at, "
                "idempotency_key, data) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    run["org_id"],
                    run["user_id"],
                    run["source_type"],
                    run["created_at"],
                    None if key is None else str(key),
                    json.dumps(run),
                ),
            )
        return run_id

    def save_run(self, run: dict[str, Any], now: float) -> None:
        """Save a run, and ``now`` as the simulated time a restarted backend resumes from."""
        with self.transaction() as c:
            c.execute("UPDATE runs SET data = ? WHERE id = ?", (json.dumps(run), run["id"]))
            c.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('clock_now', ?)", (repr(now),)
            )

    @contextmanager
    def run_for_update(self, run_id: int) -> Iterator[dict[str, Any] | None]:
        """Load a run for a state change, serialised with every other write.

        The block runs inside one transaction (``BEGIN IMMEDIATE``: other threads wait on
        the lock, other processes on the same file on SQLite's write lock), so two
        concurrent changes of one run (resumes, a resume and a ban) are applied one after
        the other and neither is lost; :meth:`save_run` inside the block joins it.
        Yields ``None`` for an unknown run.
        """
        with self.transaction():
            yield self.get_run(run_id)

    def get_run(self, run_id: int) -> dict[str, Any] | None:
        if not 0 <= run_id <= INT64_MAX:
            return None
        with self._lock:
            row = self._conn.execute("SELECT data FROM runs WHERE id = ?", (run_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def list_runs(
        self,
        org_id: int,
        *,
        user_id: int | None,
        source_type: str | None,
        skip: int,
        limit: int,
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of an organization's runs, newest first, and the total count."""
        where, args = ["org_id = ?"], [org_id]
        if user_id is not None:
            if not -INT64_MAX <= user_id <= INT64_MAX:
                return [], 0
            where.append("user_id = ?")
            args.append(user_id)
        if source_type is not None:
            where.append("source_type = ?")
            args.append(source_type)  # type: ignore[arg-type]
        clause = " AND ".join(where)
        with self._lock:
            total = int(
                self._conn.execute(f"SELECT COUNT(*) FROM runs WHERE {clause}", args).fetchone()[0]  # noqa: S608
            )
            rows = self._conn.execute(
                f"SELECT data FROM runs WHERE {clause} "  # noqa: S608
                "ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
                [*args, limit, min(skip, INT64_MAX)],
            ).fetchall()
        return [json.loads(r[0]) for r in rows], total

    def runs(self) -> list[dict[str, Any]]:
        """Every run, oldest first (for the pull request pages)."""
        with self._lock:
            rows = self._conn.execute("SELECT data FROM runs ORDER BY id").fetchall()
        return [json.loads(r[0]) for r in rows]

    def count_runs(self, org_id: int | None = None) -> int:
        with self._lock:
            if org_id is None:
                row = self._conn.execute("SELECT COUNT(*) FROM runs").fetchone()
            else:
                row = self._conn.execute(
                    "SELECT COUNT(*) FROM runs WHERE org_id = ?", (org_id,)
                ).fetchone()
        return int(row[0])

    def duplicates(self) -> int:
        """Runs beyond the first for each ``codegen_graph_idempotency_key`` in metadata."""
        with self._lock:
            row = self._conn.execute(
                "SELECT COALESCE(SUM(n - 1), 0) FROM (SELECT COUNT(*) AS n FROM runs "
                "WHERE idempotency_key IS NOT NULL GROUP BY idempotency_key)"
            ).fetchone()
        return int(row[0])
