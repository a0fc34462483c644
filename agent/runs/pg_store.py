"""The run registry in PostgreSQL, for many processes on many machines.

The same guarantees as the SQLite registry, decided by PostgreSQL: a partial unique
index keeps one active run per ticket, each review claim and each lease is one
conditional UPDATE, so exactly one of any number of concurrent callers wins. Its
schema has its own migrations (table `taskmaster_migrations`), applied under an
advisory lock so processes starting together migrate once.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from agent.models import ACTIVE_STATUSES, Note, PullRequest, ReviewDecision, RunStatus
from agent.runs.records import HolderAlive, RunRecord, TicketBusy
from agent.usage import RunUsage

CONNECT_TIMEOUT_S = 30.0
PROBE_TIMEOUT_S = 10  # libpq's connect_timeout: whole seconds
LOCK_RETRY_S = 0.05

_ACTIVE_SQL = ", ".join(f"'{status}'" for status in ACTIVE_STATUSES)

# Each entry moves the schema one version up; never edit one that has shipped.
MIGRATIONS: tuple[str, ...] = (
    f"""
    CREATE TABLE runs (
        seq           BIGSERIAL UNIQUE,
        run_id        TEXT PRIMARY KEY,
        ticket        TEXT NOT NULL,
        requester     TEXT NOT NULL,
        status        TEXT NOT NULL,
        interrupt_id  TEXT,
        decision      TEXT,
        error         TEXT,
        created_at    TEXT NOT NULL,
        updated_at    TEXT NOT NULL,
        title         TEXT,
        cancelled_by  TEXT,
        owner         TEXT,
        lease_until   DOUBLE PRECISION,
        pull_request  TEXT,
        usage         TEXT,
        worked_s      DOUBLE PRECISION NOT NULL DEFAULT 0
    );
    CREATE INDEX runs_by_ticket ON runs (ticket, status);
    CREATE UNIQUE INDEX one_active_run_per_ticket ON runs (ticket)
        WHERE status IN ({_ACTIVE_SQL});
    CREATE TABLE notes (
        id          BIGSERIAL PRIMARY KEY,
        run_id      TEXT NOT NULL,
        author      TEXT NOT NULL,
        author_name TEXT NOT NULL,
        text        TEXT NOT NULL,
        created_at  TEXT NOT NULL
    );
    CREATE INDEX notes_by_run ON notes (run_id, id);
    """,
)


@dataclass(frozen=True)
class Schema:
    """A store's own tables in PostgreSQL: its migrations, the one-row table holding
    how many of them the database has, and the advisory lock they are applied under."""

    migrations: tuple[str, ...]
    version_table: str
    lock: int  # a pg_advisory_lock key, one per store


SCHEMA = Schema(MIGRATIONS, "taskmaster_migrations", 0x7A5C_0001)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@asynccontextmanager
async def advisory_lock(conn: psycopg.AsyncConnection[Any], key: int) -> AsyncIterator[None]:
    """Hold PostgreSQL's session advisory lock `key` (for migrations at start-up).

    Tried, not waited on: a session waiting for the lock would sit in a statement with
    a snapshot, and another process's `CREATE INDEX CONCURRENTLY` (LangGraph's saver
    setup) waits for every such snapshot, while holding the lock: a deadlock.
    """
    while True:
        cursor = await conn.execute("SELECT pg_try_advisory_lock(%s) AS got", (key,))
        row = await cursor.fetchone()
        if row is not None and (row["got"] if isinstance(row, dict) else row[0]):
            break
        await asyncio.sleep(LOCK_RETRY_S)
    try:
        yield
    finally:
        await conn.execute("SELECT pg_advisory_unlock(%s)", (key,))


async def open_pool(url: str, *, max_size: int = 10) -> AsyncConnectionPool:
    """A pool of autocommit connections to TASKMASTER_DATABASE_URL, opened and checked.

    One connection is tried first: the pool would retry a refused or misspelt server
    for its whole timeout and then say only that it timed out.
    """
    await _reachable(url)
    pool = AsyncConnectionPool(
        url,
        min_size=1,
        max_size=max_size,
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
        open=False,
        timeout=CONNECT_TIMEOUT_S,
    )
    await pool.open(wait=True, timeout=CONNECT_TIMEOUT_S)
    return pool


async def _reachable(url: str) -> None:
    """Raise a `StorageFault` naming the server (never the password) and what it said."""
    from agent.storage import unreachable

    try:
        parts = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        raise unreachable("TASKMASTER_DATABASE_URL", "it is not a PostgreSQL URL") from None
    where = f"{parts.get('host', 'localhost')}:{parts.get('port', 5432)}/{parts.get('dbname', '')}"
    try:
        connection = await psycopg.AsyncConnection.connect(url, connect_timeout=PROBE_TIMEOUT_S)
    except psycopg.Error as error:
        lines = str(error).strip().splitlines()
        raise unreachable(where, lines[0] if lines else type(error).__name__) from None
    await connection.close()


async def open_migrated(url: str, schema: Schema, *, max_size: int = 10) -> AsyncConnectionPool:
    """`open_pool`, with `schema` brought up to date: each store of its own tables
    opens this way, and processes starting together migrate once."""
    pool = await open_pool(url, max_size=max_size)
    try:
        await migrate(pool, schema)
    except BaseException:
        await pool.close()
        raise
    return pool


async def migrate(pool: AsyncConnectionPool, schema: Schema) -> None:
    """Apply the migrations the database does not have yet, in one transaction."""
    table = schema.version_table
    async with pool.connection() as conn, advisory_lock(conn, schema.lock), conn.transaction():
        await conn.execute(f"CREATE TABLE IF NOT EXISTS {table} (version INTEGER NOT NULL)")
        row = await (await conn.execute(f"SELECT version FROM {table}")).fetchone()
        version = int(row["version"]) if row else 0  # type: ignore[call-overload]
        for script in schema.migrations[version:]:
            await conn.execute(script, prepare=False)
        if row is None:
            await conn.execute(f"INSERT INTO {table} VALUES (0)")
        await conn.execute(f"UPDATE {table} SET version = %s", (len(schema.migrations),))


class PostgresRunStore:
    """`RunRegistry` over a psycopg pool."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    @classmethod
    async def open(cls, url: str) -> PostgresRunStore:
        return cls(await open_migrated(url, SCHEMA))

    async def close(self) -> None:
        await self._pool.close()

    async def _execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(sql, params)
            return cursor.rowcount

    async def _select(self, clause: str, params: Sequence[Any] = ()) -> list[RunRecord]:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(f"SELECT * FROM runs {clause}", params)
            rows = await cursor.fetchall()
        return [RunRecord.from_columns(row) for row in rows]  # type: ignore[arg-type]

    async def create(self, ticket: str, requester: str) -> RunRecord:
        run_id = uuid.uuid4().hex[:12]
        now = _now()
        try:
            await self._execute(
                "INSERT INTO runs (run_id, ticket, requester, status, created_at, updated_at) "
                "VALUES (%s, %s, %s, 'running', %s, %s)",
                (run_id, ticket, requester, now, now),
            )
        except psycopg.errors.UniqueViolation:
            active = await self.active_for(ticket)
            if active is None:  # it finished between our insert and this read
                return await self.create(ticket, requester)
            raise TicketBusy(active) from None
        return await self.require(run_id)

    async def get(self, run_id: str) -> RunRecord | None:
        rows = await self._select("WHERE run_id = %s", (run_id,))
        return rows[0] if rows else None

    async def require(self, run_id: str) -> RunRecord:
        record = await self.get(run_id)
        if record is None:
            raise KeyError(run_id)
        return record

    async def active_for(self, ticket: str) -> RunRecord | None:
        rows = await self._select(f"WHERE ticket = %s AND status IN ({_ACTIVE_SQL})", (ticket,))
        return rows[0] if rows else None

    async def latest_for(self, ticket: str) -> RunRecord | None:
        rows = await self._select("WHERE ticket = %s ORDER BY seq DESC LIMIT 1", (ticket,))
        return rows[0] if rows else None

    async def delivered_for(self, ticket: str) -> list[RunRecord]:
        return await self._select(
            "WHERE ticket = %s AND status = 'done' AND pull_request IS NOT NULL ORDER BY seq DESC",
            (ticket,),
        )

    async def recent(self, *, active_only: bool = False, limit: int = 100) -> list[RunRecord]:
        where = f"WHERE status IN ({_ACTIVE_SQL})" if active_only else ""
        return await self._select(f"{where} ORDER BY seq DESC LIMIT %s", (limit,))

    async def with_status(self, *statuses: RunStatus) -> list[RunRecord]:
        return await self._select("WHERE status = ANY(%s) ORDER BY seq", (list(statuses),))

    async def transition(
        self,
        run_id: str,
        to: RunStatus,
        *,
        only_from: Sequence[RunStatus] | None = None,
        interrupt_id: str | None = None,
        error: str | None = None,
        keep_interrupt: bool = False,
    ) -> bool:
        sql = "UPDATE runs SET status = %s, error = %s, updated_at = %s"
        params: list[Any] = [to, error, _now()]
        if not keep_interrupt:
            sql += ", interrupt_id = %s"
            params.append(interrupt_id)
        sql += " WHERE run_id = %s"
        params.append(run_id)
        if only_from is not None:
            sql += " AND status = ANY(%s)"
            params.append(list(only_from))
        try:
            return await self._execute(sql, params) == 1
        except psycopg.errors.UniqueViolation:  # back to active while another run has it
            run = await self.require(run_id)
            active = await self.active_for(run.ticket)
            if active is None:
                raise
            raise TicketBusy(active) from None

    async def cancel(self, run_id: str, by: str) -> bool:
        # An approved run is delivering: see RunStore.cancel.
        changed = await self._execute(
            f"UPDATE runs SET status = 'cancelled', cancelled_by = %s, interrupt_id = NULL, "
            f"updated_at = %s WHERE run_id = %s AND status IN ({_ACTIVE_SQL}) "
            "AND coalesce(decision::jsonb ->> 'action', '') != 'approve'",
            (by, _now(), run_id),
        )
        return changed == 1

    async def take_lease(
        self, run_id: str, owner: str, seconds: float, holder_alive: HolderAlive
    ) -> bool:
        run = await self.require(run_id)
        now = time.time()
        holder = run.owner
        if (
            holder is not None
            and holder != owner
            and (run.lease_until or 0.0) > now
            and holder_alive(holder)
        ):
            return False
        changed = await self._execute(  # only if nobody took it since we looked
            "UPDATE runs SET owner = %s, lease_until = %s "
            "WHERE run_id = %s AND owner IS NOT DISTINCT FROM %s",
            (owner, now + seconds, run_id, holder),
        )
        return changed == 1

    async def renew_lease(self, run_id: str, owner: str, seconds: float) -> None:
        await self._execute(
            "UPDATE runs SET lease_until = %s WHERE run_id = %s AND owner = %s",
            (time.time() + seconds, run_id, owner),
        )

    async def release_lease(self, run_id: str, owner: str) -> None:
        await self._execute(
            "UPDATE runs SET owner = NULL, lease_until = NULL WHERE run_id = %s AND owner = %s",
            (run_id, owner),
        )

    async def set_usage(self, run_id: str, usage: RunUsage) -> None:
        await self._execute(
            "UPDATE runs SET usage = %s WHERE run_id = %s", (usage.model_dump_json(), run_id)
        )

    async def set_worked(self, run_id: str, seconds: float) -> None:
        await self._execute("UPDATE runs SET worked_s = %s WHERE run_id = %s", (seconds, run_id))

    async def set_title(self, run_id: str, title: str) -> None:
        await self._execute(
            "UPDATE runs SET title = %s, updated_at = %s WHERE run_id = %s",
            (title, _now(), run_id),
        )

    async def claim_review(self, run_id: str, interrupt_id: str, decision: ReviewDecision) -> bool:
        changed = await self._execute(
            "UPDATE runs SET status = 'resuming', decision = %s, updated_at = %s "
            "WHERE run_id = %s AND status = 'awaiting_review' AND interrupt_id = %s",
            (decision.model_dump_json(), _now(), run_id, interrupt_id),
        )
        return changed == 1

    async def set_pull_request(self, run_id: str, pull_request: PullRequest) -> None:
        await self._execute(
            "UPDATE runs SET pull_request = %s, updated_at = %s WHERE run_id = %s",
            (pull_request.model_dump_json(), _now(), run_id),
        )

    async def add_note(self, run_id: str, by: str, by_name: str, text: str) -> Note:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(
                "INSERT INTO notes (run_id, author, author_name, text, created_at) "
                "VALUES (%s, %s, %s, %s, %s) RETURNING id",
                (run_id, by, by_name, text, _now()),
            )
            row = await cursor.fetchone()
        assert row is not None
        return Note(id=int(row["id"]), by=by, by_name=by_name, text=text)  # type: ignore[call-overload]

    async def notes_after(self, run_id: str, after: int) -> list[Note]:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT id, author, author_name, text FROM notes WHERE run_id = %s AND id > %s "
                "ORDER BY id",
                (run_id, after),
            )
            rows = await cursor.fetchall()
        return [
            Note(id=int(r["id"]), by=r["author"], by_name=r["author_name"], text=r["text"])  # type: ignore[call-overload]
            for r in rows
        ]
