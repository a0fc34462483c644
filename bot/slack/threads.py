"""Where each run shows in Slack: the Slack surface's own small store.

The engine's registry knows runs, not messages. The Slack surface keeps, per run, the
channel and the timestamps of its root message, its progress card and its latest
review (with the interrupt that review shows), in its own table with its own
migrations, beside the registry in the same database (as bolt-python's adapters own
their installation stores). A restarted bot re-attaches a run's events to its thread
through it, and finds the run a reply or a reaction in a thread belongs to.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import aiosqlite
from psycopg_pool import AsyncConnectionPool

from agent.runs.pg_store import Schema, open_migrated
from agent.runs.records import HolderAlive
from agent.runs.store import BUSY_TIMEOUT_S
from agent.settings import Settings

# How long a claim to post a review holds against a process that may be alive (one on
# another machine): Slack's rate limits can hold a post that long, retried as it goes.
CLAIM_S = 120.0

# Where the registry's migration 6 left these columns' rows when it gave them up.
HANDOVER = "surface_messages_handover"
FIELDS = frozenset({"root_ts", "progress_ts", "review_ts", "review_for"})

# Each entry moves this store's schema one version up; never edit one that has shipped.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE slack_threads (
        run_id       TEXT PRIMARY KEY,
        channel      TEXT NOT NULL,
        root_ts      TEXT,
        progress_ts  TEXT,
        review_ts    TEXT,
        review_for   TEXT
    );
    CREATE INDEX slack_threads_by_root ON slack_threads (channel, root_ts);
    """,
    """
    ALTER TABLE slack_threads ADD COLUMN claimed_for TEXT;
    ALTER TABLE slack_threads ADD COLUMN claimed_by TEXT;
    ALTER TABLE slack_threads ADD COLUMN claimed_until REAL;
    """,
)
COLUMNS = "run_id, channel, root_ts, progress_ts, review_ts, review_for"
CLAIM = "review_ts, review_for, claimed_for, claimed_by, claimed_until"


@dataclass(frozen=True)
class Thread:
    """One run's messages. `review_for` is the interrupt the review message shows: a
    review whose interrupt is not the run's pending one was never posted."""

    run_id: str
    channel: str
    root_ts: str | None = None
    progress_ts: str | None = None
    review_ts: str | None = None
    review_for: str | None = None


class ThreadStore(Protocol):
    async def save(self, run_id: str, channel: str, **fields: str | None) -> None:
        """Record (or update) where the run shows; `fields` are among `FIELDS`."""
        ...

    async def get(self, run_id: str) -> Thread | None: ...

    async def run_at(self, channel: str, root_ts: str) -> str | None:
        """The run whose thread starts at this message, if any."""
        ...

    async def claim_review(
        self, run_id: str, interrupt_id: str, claimant: str, alive: HolderAlive
    ) -> bool:
        """Whether `claimant` is the one process to post the review of `interrupt_id`.

        False when it is shown already, or another process claimed it and may still be
        posting it (alive, and claimed less than CLAIM_S ago); True again for the same
        claimant, which renews the claim while it retries.
        """
        ...


def may_claim(
    row: Mapping[str, object], interrupt_id: str, claimant: str, alive: HolderAlive
) -> bool:
    """The claim rule, on the row's `CLAIM` columns as they were read."""
    if row["review_ts"] is not None and row["review_for"] == interrupt_id:
        return False  # shown
    holder = row["claimed_by"]
    if row["claimed_for"] != interrupt_id or holder is None or holder == claimant:
        return True
    until = row["claimed_until"]
    return not isinstance(until, int | float) or until <= time.time() or not alive(str(holder))


class SqliteThreadStore:
    """`ThreadStore` in the registry's SQLite file, on its own connection."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self._conn.row_factory = aiosqlite.Row

    @classmethod
    async def open(cls, path: Path) -> SqliteThreadStore:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        store = cls(conn)
        try:
            await conn.execute("PRAGMA journal_mode=WAL")
            await store.migrate()
        except BaseException:
            await conn.close()
            raise
        return store

    async def close(self) -> None:
        await self._conn.close()

    async def migrate(self) -> None:
        """This store's own versions (table `slack_schema`), then whatever the registry
        handed over from the time these columns were its own (registry migration 6)."""
        await self._conn.execute("BEGIN IMMEDIATE")
        try:
            await self._conn.execute(
                "CREATE TABLE IF NOT EXISTS slack_schema (version INTEGER NOT NULL)"
            )
            rows = list(await self._conn.execute_fetchall("SELECT version FROM slack_schema"))
            version = int(rows[0][0]) if rows else 0
            for script in MIGRATIONS[version:]:
                for statement in filter(str.strip, script.split(";")):
                    await self._conn.execute(statement)
            if not rows:
                await self._conn.execute("INSERT INTO slack_schema VALUES (0)")
            await self._conn.execute("UPDATE slack_schema SET version = ?", (len(MIGRATIONS),))
            await self._take_handover()
            await self._conn.execute("COMMIT")
        except BaseException:
            await self._conn.execute("ROLLBACK")
            raise

    async def _take_handover(self) -> None:
        found = await self._conn.execute_fetchall(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (HANDOVER,)
        )
        if not list(found):
            return
        await self._conn.execute(
            "INSERT OR IGNORE INTO slack_threads "
            "(run_id, channel, root_ts, progress_ts, review_ts, review_for) "
            "SELECT run_id, channel, root_ts, progress_ts, review_ts, "
            "CASE WHEN review_ts IS NULL THEN NULL ELSE interrupt_id END "
            f"FROM {HANDOVER}"
        )
        await self._conn.execute(f"DROP TABLE {HANDOVER}")

    async def save(self, run_id: str, channel: str, **fields: str | None) -> None:
        unknown = set(fields) - FIELDS
        if unknown:
            raise ValueError(f"unknown thread fields: {sorted(unknown)}")
        names = ["channel", *fields]
        values = [channel, *fields.values()]
        updates = ", ".join(f"{name} = excluded.{name}" for name in names)
        await self._conn.execute(
            f"INSERT INTO slack_threads (run_id, {', '.join(names)}) "
            f"VALUES (?, {', '.join('?' for _ in names)}) "
            f"ON CONFLICT (run_id) DO UPDATE SET {updates}",
            (run_id, *values),
        )

    async def get(self, run_id: str) -> Thread | None:
        rows = list(
            await self._conn.execute_fetchall(
                f"SELECT {COLUMNS} FROM slack_threads WHERE run_id = ?", (run_id,)
            )
        )
        return Thread(**dict(zip(rows[0].keys(), tuple(rows[0]), strict=True))) if rows else None

    async def run_at(self, channel: str, root_ts: str) -> str | None:
        rows = list(
            await self._conn.execute_fetchall(
                "SELECT run_id FROM slack_threads WHERE channel = ? AND root_ts = ?",
                (channel, root_ts),
            )
        )
        return str(rows[0][0]) if rows else None

    async def claim_review(
        self, run_id: str, interrupt_id: str, claimant: str, alive: HolderAlive
    ) -> bool:
        rows = list(
            await self._conn.execute_fetchall(
                f"SELECT {CLAIM} FROM slack_threads WHERE run_id = ?", (run_id,)
            )
        )
        if not rows:
            return True  # no thread recorded: nobody else can be showing it
        seen = dict(zip(rows[0].keys(), tuple(rows[0]), strict=True))
        if not may_claim(seen, interrupt_id, claimant, alive):
            return False
        cursor = await self._conn.execute(  # only if nothing changed since we looked
            "UPDATE slack_threads SET claimed_for = ?, claimed_by = ?, claimed_until = ? "
            "WHERE run_id = ? AND review_ts IS ? AND review_for IS ? AND claimed_for IS ? "
            "AND claimed_by IS ? AND claimed_until IS ?",
            (interrupt_id, claimant, time.time() + CLAIM_S, run_id, *seen.values()),
        )
        return cursor.rowcount == 1


PG_MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE slack_threads (
        run_id       TEXT PRIMARY KEY,
        channel      TEXT NOT NULL,
        root_ts      TEXT,
        progress_ts  TEXT,
        review_ts    TEXT,
        review_for   TEXT
    );
    CREATE INDEX slack_threads_by_root ON slack_threads (channel, root_ts);
    """,
    """
    ALTER TABLE slack_threads ADD COLUMN claimed_for TEXT, ADD COLUMN claimed_by TEXT,
        ADD COLUMN claimed_until DOUBLE PRECISION;
    """,
)
PG_SCHEMA = Schema(PG_MIGRATIONS, "slack_schema", 0x7A5C_0003)


class PostgresThreadStore:
    """`ThreadStore` in PostgreSQL, beside the registry, over its own small pool."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    @classmethod
    async def open(cls, url: str) -> PostgresThreadStore:
        return cls(await open_migrated(url, PG_SCHEMA, max_size=4))

    async def close(self) -> None:
        await self._pool.close()

    async def save(self, run_id: str, channel: str, **fields: str | None) -> None:
        unknown = set(fields) - FIELDS
        if unknown:
            raise ValueError(f"unknown thread fields: {sorted(unknown)}")
        names = ["channel", *fields]
        updates = ", ".join(f"{name} = excluded.{name}" for name in names)
        async with self._pool.connection() as conn:
            await conn.execute(
                f"INSERT INTO slack_threads (run_id, {', '.join(names)}) "
                f"VALUES (%s, {', '.join('%s' for _ in names)}) "
                f"ON CONFLICT (run_id) DO UPDATE SET {updates}",
                (run_id, channel, *fields.values()),
            )

    async def get(self, run_id: str) -> Thread | None:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(
                f"SELECT {COLUMNS} FROM slack_threads WHERE run_id = %s", (run_id,)
            )
            row = await cursor.fetchone()
        return Thread(**row) if row else None  # type: ignore[arg-type]

    async def run_at(self, channel: str, root_ts: str) -> str | None:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT run_id FROM slack_threads WHERE channel = %s AND root_ts = %s",
                (channel, root_ts),
            )
            row = await cursor.fetchone()
        return str(row["run_id"]) if row else None  # type: ignore[call-overload]

    async def claim_review(
        self, run_id: str, interrupt_id: str, claimant: str, alive: HolderAlive
    ) -> bool:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(
                f"SELECT {CLAIM} FROM slack_threads WHERE run_id = %s", (run_id,)
            )
            seen: dict[str, object] | None = await cursor.fetchone()  # type: ignore[assignment]
            if seen is None:
                return True  # no thread recorded: nobody else can be showing it
            if not may_claim(seen, interrupt_id, claimant, alive):
                return False
            cursor = await conn.execute(  # only if nothing changed since we looked
                "UPDATE slack_threads SET claimed_for = %s, claimed_by = %s, claimed_until = %s "
                "WHERE run_id = %s AND review_ts IS NOT DISTINCT FROM %s "
                "AND review_for IS NOT DISTINCT FROM %s AND claimed_for IS NOT DISTINCT FROM %s "
                "AND claimed_by IS NOT DISTINCT FROM %s AND claimed_until IS NOT DISTINCT FROM %s",
                (interrupt_id, claimant, time.time() + CLAIM_S, run_id, *seen.values()),
            )
            return cursor.rowcount == 1


@asynccontextmanager
async def open_thread_store(settings: Settings) -> AsyncIterator[ThreadStore]:
    """The thread store beside the run registry, in the database settings choose."""
    store: SqliteThreadStore | PostgresThreadStore
    if settings.database == "postgres":
        store = await PostgresThreadStore.open(settings.database_url_text)
    else:
        store = await SqliteThreadStore.open(settings.db_path)
    try:
        yield store
    finally:
        await store.close()
