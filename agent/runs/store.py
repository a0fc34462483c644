"""The run registry: TaskMaster's own table beside the checkpoints (docs/architecture.md, Runs).

It lives in the same SQLite file as LangGraph's checkpoints but has its own schema
and migrations. Every state change that two processes might race on is one
conditional UPDATE, so SQLite itself decides the winner: that is the exactly-once
guarantee for review clicks and for one active run per ticket.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite

from agent.models import ACTIVE_STATUSES, Note, PullRequest, ReviewDecision, RunStatus
from agent.runs.records import HolderAlive, RunRecord, TicketBusy
from agent.usage import RunUsage

__all__ = ["MIGRATIONS", "RunRecord", "RunStore", "TicketBusy"]

BUSY_TIMEOUT_S = 30.0

# Each entry moves the schema one version up; never edit one that has shipped.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE runs (
        run_id        TEXT PRIMARY KEY,
        ticket        TEXT NOT NULL,
        requester     TEXT NOT NULL,
        status        TEXT NOT NULL,
        interrupt_id  TEXT,
        decision      TEXT,
        error         TEXT,
        channel       TEXT,
        root_ts       TEXT,
        progress_ts   TEXT,
        review_ts     TEXT,
        created_at    TEXT NOT NULL,
        updated_at    TEXT NOT NULL
    );
    CREATE INDEX runs_by_ticket ON runs (ticket, status);
    -- One active run per ticket, enforced by SQLite even across processes.
    CREATE UNIQUE INDEX one_active_run_per_ticket ON runs (ticket)
        WHERE status IN ('running', 'awaiting_review', 'resuming');
    """,
    """
    ALTER TABLE runs ADD COLUMN title TEXT;
    ALTER TABLE runs ADD COLUMN cancelled_by TEXT;
    """,
    """
    ALTER TABLE runs ADD COLUMN owner TEXT;
    ALTER TABLE runs ADD COLUMN lease_until REAL;
    """,
    """
    ALTER TABLE runs ADD COLUMN pull_request TEXT;
    CREATE INDEX runs_by_thread ON runs (channel, root_ts);
    CREATE TABLE notes (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id      TEXT NOT NULL,
        author      TEXT NOT NULL,
        author_name TEXT NOT NULL,
        text        TEXT NOT NULL,
        created_at  TEXT NOT NULL
    );
    CREATE INDEX notes_by_run ON notes (run_id, id);
    """,
    """
    ALTER TABLE runs ADD COLUMN usage TEXT;
    ALTER TABLE runs ADD COLUMN worked_s REAL NOT NULL DEFAULT 0;
    """,
    # The Slack surface's message references move to its own store (bot/slack/threads.py):
    # they wait in a hand-over table, which that store empties when it first opens.
    """
    CREATE TABLE surface_messages_handover AS
        SELECT run_id, channel, root_ts, progress_ts, review_ts, interrupt_id FROM runs
        WHERE channel IS NOT NULL;
    DROP INDEX runs_by_thread;
    ALTER TABLE runs DROP COLUMN channel;
    ALTER TABLE runs DROP COLUMN root_ts;
    ALTER TABLE runs DROP COLUMN progress_ts;
    ALTER TABLE runs DROP COLUMN review_ts;
    """,
)

_ACTIVE_SQL = ", ".join(f"'{status}'" for status in ACTIVE_STATUSES)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class RunStore:
    """The SQLite `RunRegistry`: the `runs` table over its own aiosqlite connection."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self._conn.row_factory = aiosqlite.Row

    @classmethod
    async def open(cls, path: Path) -> RunStore:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        try:
            await conn.execute("PRAGMA journal_mode=WAL")
            store = cls(conn)
            await store.migrate()
        except BaseException:
            # Its thread would keep the process alive: a read-only folder or a locked
            # database must end in one line and an exit, not a process that hangs.
            await conn.close()
            raise
        return store

    async def close(self) -> None:
        await self._conn.close()

    async def migrate(self) -> None:
        """Bring the schema to the newest version; safe when several processes start at once."""
        await self._conn.execute("BEGIN IMMEDIATE")
        try:
            rows = await self._conn.execute_fetchall("PRAGMA user_version")
            version = int(next(iter(rows))[0])
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in filter(str.strip, script.split(";")):
                    await self._conn.execute(statement)
                await self._conn.execute(f"PRAGMA user_version = {number}")
            await self._conn.execute("COMMIT")
        except BaseException:
            await self._conn.execute("ROLLBACK")
            raise

    async def create(self, ticket: str, requester: str) -> RunRecord:
        """Insert a new running run, or raise `TicketBusy` with the ticket's active run."""
        run_id = uuid.uuid4().hex[:12]
        now = _now()
        try:
            await self._conn.execute(
                "INSERT INTO runs (run_id, ticket, requester, status, created_at, updated_at) "
                "VALUES (?, ?, ?, 'running', ?, ?)",
                (run_id, ticket, requester, now, now),
            )
        except aiosqlite.IntegrityError:
            active = await self.active_for(ticket)
            if active is None:  # it finished between our insert and this read
                return await self.create(ticket, requester)
            raise TicketBusy(active) from None
        return await self.require(run_id)

    async def get(self, run_id: str) -> RunRecord | None:
        rows = await self._select("WHERE run_id = ?", (run_id,))
        return rows[0] if rows else None

    async def require(self, run_id: str) -> RunRecord:
        record = await self.get(run_id)
        if record is None:
            raise KeyError(run_id)
        return record

    async def active_for(self, ticket: str) -> RunRecord | None:
        rows = await self._select(f"WHERE ticket = ? AND status IN ({_ACTIVE_SQL})", (ticket,))
        return rows[0] if rows else None

    async def latest_for(self, ticket: str) -> RunRecord | None:
        """The ticket's most recent run, whatever its status."""
        rows = await self._select(
            "WHERE ticket = ? ORDER BY created_at DESC, rowid DESC LIMIT 1", (ticket,)
        )
        return rows[0] if rows else None

    async def delivered_for(self, ticket: str) -> list[RunRecord]:
        """The ticket's runs that opened a pull request, newest first."""
        return await self._select(
            "WHERE ticket = ? AND status = 'done' AND pull_request IS NOT NULL "
            "ORDER BY created_at DESC, rowid DESC",
            (ticket,),
        )

    async def recent(self, *, active_only: bool = False, limit: int = 100) -> list[RunRecord]:
        where = f"WHERE status IN ({_ACTIVE_SQL})" if active_only else ""
        return await self._select(f"{where} ORDER BY created_at DESC, rowid DESC LIMIT ?", (limit,))

    async def with_status(self, *statuses: RunStatus) -> list[RunRecord]:
        marks = ", ".join("?" for _ in statuses)
        return await self._select(f"WHERE status IN ({marks}) ORDER BY created_at", statuses)

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
        """Set the status, optionally only from given statuses; True if this call changed it.

        `keep_interrupt` keeps the review a claimed decision answers until the decision
        is in the checkpoint, so a run killed in between applies it when continued.
        """
        sql = "UPDATE runs SET status = ?, error = ?, updated_at = ?"
        params: list[Any] = [to, error, _now()]
        if not keep_interrupt:
            sql += ", interrupt_id = ?"
            params.append(interrupt_id)
        sql += " WHERE run_id = ?"
        params.append(run_id)
        if only_from is not None:
            sql += f" AND status IN ({', '.join('?' for _ in only_from)})"
            params.extend(only_from)
        try:
            cursor = await self._conn.execute(sql, params)
        except aiosqlite.IntegrityError:  # back to active while another run has the ticket
            run = await self.require(run_id)
            active = await self.active_for(run.ticket)
            if active is None:
                raise
            raise TicketBusy(active) from None
        return cursor.rowcount == 1

    async def cancel(self, run_id: str, by: str) -> bool:
        """Cancel an active run; True if this call did (a finished run stays as it ended)."""
        # An approved run is delivering (push, pull request, ticket): stopping it half way
        # would leave a branch or a pull request behind a run marked cancelled.
        cursor = await self._conn.execute(
            f"UPDATE runs SET status = 'cancelled', cancelled_by = ?, interrupt_id = NULL, "
            f"updated_at = ? WHERE run_id = ? AND status IN ({_ACTIVE_SQL}) "
            "AND coalesce(json_extract(decision, '$.action'), '') != 'approve'",
            (by, _now(), run_id),
        )
        return cursor.rowcount == 1

    async def take_lease(
        self, run_id: str, owner: str, seconds: float, holder_alive: HolderAlive
    ) -> bool:
        """Make `owner` the one process driving the run, unless another holds a live lease.

        A lease is live until it expires, and while `holder_alive` says its holder's
        process exists: a killed process's run can be taken over at once.
        """
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
        cursor = await self._conn.execute(  # only if nobody took it since we looked
            "UPDATE runs SET owner = ?, lease_until = ? WHERE run_id = ? AND owner IS ?",
            (owner, now + seconds, run_id, holder),
        )
        return cursor.rowcount == 1

    async def renew_lease(self, run_id: str, owner: str, seconds: float) -> None:
        await self._conn.execute(
            "UPDATE runs SET lease_until = ? WHERE run_id = ? AND owner = ?",
            (time.time() + seconds, run_id, owner),
        )

    async def release_lease(self, run_id: str, owner: str) -> None:
        await self._conn.execute(
            "UPDATE runs SET owner = NULL, lease_until = NULL WHERE run_id = ? AND owner = ?",
            (run_id, owner),
        )

    async def set_usage(self, run_id: str, usage: RunUsage) -> None:
        await self._conn.execute(
            "UPDATE runs SET usage = ? WHERE run_id = ?", (usage.model_dump_json(), run_id)
        )

    async def set_worked(self, run_id: str, seconds: float) -> None:
        await self._conn.execute("UPDATE runs SET worked_s = ? WHERE run_id = ?", (seconds, run_id))

    async def set_title(self, run_id: str, title: str) -> None:
        await self._conn.execute(
            "UPDATE runs SET title = ?, updated_at = ? WHERE run_id = ?", (title, _now(), run_id)
        )

    async def claim_review(self, run_id: str, interrupt_id: str, decision: ReviewDecision) -> bool:
        """Take the pending review for `decision`; exactly one caller ever gets True."""
        cursor = await self._conn.execute(
            "UPDATE runs SET status = 'resuming', decision = ?, updated_at = ? "
            "WHERE run_id = ? AND status = 'awaiting_review' AND interrupt_id = ?",
            (decision.model_dump_json(), _now(), run_id, interrupt_id),
        )
        return cursor.rowcount == 1

    async def set_pull_request(self, run_id: str, pull_request: PullRequest) -> None:
        await self._conn.execute(
            "UPDATE runs SET pull_request = ?, updated_at = ? WHERE run_id = ?",
            (pull_request.model_dump_json(), _now(), run_id),
        )

    async def add_note(self, run_id: str, by: str, by_name: str, text: str) -> Note:
        """Keep a person's words for the run; the model is shown them at its next turn."""
        cursor = await self._conn.execute(
            "INSERT INTO notes (run_id, author, author_name, text, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (run_id, by, by_name, text, _now()),
        )
        assert cursor.lastrowid is not None
        return Note(id=cursor.lastrowid, by=by, by_name=by_name, text=text)

    async def notes_after(self, run_id: str, after: int) -> list[Note]:
        """The run's notes newer than `after` (a note id), oldest first."""
        rows = await self._conn.execute_fetchall(
            "SELECT id, author, author_name, text FROM notes WHERE run_id = ? AND id > ? "
            "ORDER BY id",
            (run_id, after),
        )
        return [Note(id=row[0], by=row[1], by_name=row[2], text=row[3]) for row in rows]

    async def _select(self, clause: str, params: Sequence[Any]) -> list[RunRecord]:
        # One call that steps the statement to its end: a cursor left open across an
        # await would hold a read snapshot on this shared connection, and another
        # task's UPDATE on it would then fail at once with "database is locked".
        rows = await self._conn.execute_fetchall(f"SELECT * FROM runs {clause}", tuple(params))
        return [RunRecord.from_columns(dict(zip(row.keys(), row, strict=True))) for row in rows]
