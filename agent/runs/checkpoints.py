"""LangGraph's checkpointers, opened once per process, and pruning of finished runs.

`Checkpoints` pairs a saver with what its database needs beside it (pruning, and the
commit mode while a run delivers); the registry (`agent/integrations/registry.py`)
chooses SQLite or PostgreSQL by settings.

The conversation and the large values written once are `DeltaChannel`s
(`agent/state.py`): most checkpoints hold only what their step added, and reading one
replays the writes of its ancestors back to the last full copy. So pruning a finished
run first makes its latest checkpoint (what `aget_state` reads) whole, with those
values in it, and then deletes the rest: the run keeps one checkpoint, which needs no
other row. The space the rows held is given
back by VACUUM once the free pages pass `VACUUM_AT` of the file.

The connection runs in WAL mode with `synchronous=NORMAL`: see "Durability" in
docs/architecture.md for why that keeps every effect record on disk before the next
outside effect.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from psycopg_pool import AsyncConnectionPool

from agent.runs.pg_store import advisory_lock, open_pool
from agent.runs.store import BUSY_TIMEOUT_S
from agent.state import delta_channels

log = logging.getLogger(__name__)

# Free pages, as a share of the file, past which pruning runs VACUUM.
VACUUM_AT = 0.25

SETUP_LOCK = 0x7A5C_0002  # pg_advisory_lock key of the Postgres saver's `setup()`


def thread_id(run_id: str) -> str:
    """The LangGraph thread of a run: the one place this mapping is made."""
    return f"run-{run_id}"


class SqliteSaver(AsyncSqliteSaver):
    """LangGraph's SQLite saver, with channel versions of 10 digits.

    Every checkpoint stores each channel's version, and each node's last seen
    versions: about 40 of them. The stock format (`<32 digits>.<16-digit random>`,
    49 characters) made them a third of a checkpoint's bytes. The random part serves
    savers that store channel values under their version (PostgreSQL's blobs table);
    this one stores each checkpoint whole, and versions are only compared. Versions
    are compared as strings: a 10-digit one sorts after every 32-digit one of a run
    checkpointed before this change (its first non-zero digit comes earlier), so such
    a run resumes in order."""

    def get_next_version(self, current: str | None, channel: None) -> str:
        number = 0 if current is None else int(str(current).split(".")[0])
        return f"{number + 1:010}"


@asynccontextmanager
async def open_checkpointer(path: Path) -> AsyncIterator[AsyncSqliteSaver]:
    path.parent.mkdir(parents=True, exist_ok=True)
    async with aiosqlite.connect(path, timeout=BUSY_TIMEOUT_S) as conn:
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=NORMAL")
        saver = SqliteSaver(conn)
        await saver.setup()
        try:
            yield saver
        finally:
            # A cancelled run's last write may still be in flight under the saver's lock;
            # closing under it would leave the file write-locked for this process.
            async with saver.lock:
                pass


@dataclass(frozen=True)
class Checkpoints:
    """A process's checkpointer; how to prune a finished run's older checkpoints; and
    `durable()`, held while a run delivers (its effect records must survive a crash)."""

    saver: BaseCheckpointSaver[str]
    prune: Callable[[str], Awaitable[object]]
    durable: Callable[[], AbstractAsyncContextManager[None]]


@asynccontextmanager
async def open_sqlite_checkpoints(path: Path) -> AsyncIterator[Checkpoints]:
    async with open_checkpointer(path) as saver:

        async def pruned(run_id: str) -> int:
            return await prune(saver, run_id)

        yield Checkpoints(saver, pruned, SyncMode(saver).full)


@asynccontextmanager
async def _already_durable() -> AsyncIterator[None]:
    yield  # PostgreSQL's commits are durable (synchronous_commit on)


@asynccontextmanager
async def open_postgres_checkpoints(url: str) -> AsyncIterator[Checkpoints]:
    """LangGraph's Postgres saver on a psycopg pool; its own migrations (`setup`) run
    under an advisory lock, so processes starting together do not race on them."""
    pool = await open_pool(url)
    try:
        async with pool.connection() as conn, advisory_lock(conn, SETUP_LOCK):
            saver = AsyncPostgresSaver(pool)  # type: ignore[arg-type]
            await saver.setup()

        async def pruned(run_id: str) -> int:
            return await prune_postgres(saver, pool, run_id)

        yield Checkpoints(saver, pruned, _already_durable)
    finally:
        await pool.close()


class SyncMode:
    """The saver's `synchronous` setting: NORMAL, and FULL while any run applies a decision.

    In WAL mode with NORMAL a commit survives the process being killed at once, but
    not a power cut: the WAL is synced only when it is checkpointed. An applied decision
    is followed by outside effects (a push, a pull request, a ticket comment) whose
    records must be on disk before the next effect starts, so those runs commit with
    FULL (each commit syncs the WAL, and everything committed before it). The
    connection is shared by every run of the process, so it is FULL while any of them
    delivers.
    """

    def __init__(self, saver: AsyncSqliteSaver) -> None:
        self._saver = saver
        self._holders = 0
        self._changing = asyncio.Lock()

    @asynccontextmanager
    async def full(self) -> AsyncIterator[None]:
        async with self._changing:
            self._holders += 1
            if self._holders == 1:
                await self._set("FULL")
        try:
            yield
        finally:
            async with self._changing:
                self._holders -= 1
                if self._holders == 0:
                    await self._set("NORMAL")

    async def _set(self, mode: str) -> None:
        async with self._saver.lock:
            await self._saver.conn.execute(f"PRAGMA synchronous={mode}")


async def prune_postgres(saver: AsyncPostgresSaver, pool: AsyncConnectionPool, run_id: str) -> int:
    """`prune` on PostgreSQL: the saver's own `aprune(keep_latest)` refuses threads with
    a DeltaChannel, so the same steps as on SQLite, in one transaction. Each rebuilt
    channel's whole value becomes the latest checkpoint's blob for its version (what
    the saver reads with no walk), then the other checkpoints, their writes and the blobs no
    kept checkpoint names go."""
    thread = thread_id(run_id)
    found = await _latest_whole(saver, thread)
    if found is None:
        return 0
    latest, whole, rebuilt = found
    latest_id = latest.config["configurable"]["checkpoint_id"]
    async with pool.connection() as conn, conn.transaction():
        for name in rebuilt:
            version = str(latest.checkpoint["channel_versions"][name])
            kind, blob = saver.serde.dumps_typed(whole["channel_values"][name])
            await conn.execute(
                "INSERT INTO checkpoint_blobs (thread_id, checkpoint_ns, channel, version, "
                "type, blob) VALUES (%s, '', %s, %s, %s, %s) ON CONFLICT (thread_id, "
                "checkpoint_ns, channel, version) DO UPDATE SET type = excluded.type, "
                "blob = excluded.blob",
                (thread, name, version, kind, blob),
            )
        cursor = await conn.execute(
            "DELETE FROM checkpoints WHERE thread_id = %s AND checkpoint_id != %s",
            (thread, latest_id),
        )
        removed = cursor.rowcount
        await conn.execute(
            "DELETE FROM checkpoint_writes WHERE thread_id = %s AND checkpoint_id != %s",
            (thread, latest_id),
        )
        await conn.execute(
            "DELETE FROM checkpoint_blobs b WHERE b.thread_id = %s AND NOT EXISTS ("
            " SELECT 1 FROM checkpoints c, jsonb_each_text(c.checkpoint -> 'channel_versions') v"
            " WHERE c.thread_id = b.thread_id AND c.checkpoint_ns = b.checkpoint_ns"
            " AND v.key = b.channel AND v.value = b.version)",
            (thread,),
        )
    return removed


async def prune(saver: AsyncSqliteSaver, run_id: str) -> int:
    """Keep only a finished run's latest checkpoint, made whole; returns how many went."""
    thread = thread_id(run_id)
    found = await _latest_whole(saver, thread)
    if found is None:
        return 0
    latest, whole, rebuilt = found
    latest_id = latest.config["configurable"]["checkpoint_id"]
    async with saver.lock:
        if rebuilt:
            kind, blob = saver.serde.dumps_typed(whole)
            await saver.conn.execute(
                "UPDATE checkpoints SET type = ?, checkpoint = ? "
                "WHERE thread_id = ? AND checkpoint_ns = '' AND checkpoint_id = ?",
                (kind, blob, thread, latest_id),
            )
        cursor = await saver.conn.execute(
            "DELETE FROM checkpoints WHERE thread_id = ? AND checkpoint_id != ?",
            (thread, latest_id),
        )
        removed = cursor.rowcount
        await saver.conn.execute(
            "DELETE FROM writes WHERE thread_id = ? AND checkpoint_id != ?", (thread, latest_id)
        )
        await saver.conn.commit()
        await _vacuum_if_worth_it(saver.conn)
    return removed


async def _latest_whole(
    saver: BaseCheckpointSaver[str], thread: str
) -> tuple[CheckpointTuple, dict[str, Any], list[str]] | None:
    """The thread's latest checkpoint, that checkpoint made whole (`_whole`), and the
    channels it rebuilt; None for a thread with no checkpoint."""
    config: RunnableConfig = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
    latest = await saver.aget_tuple(config)
    if latest is None:
        return None
    whole, rebuilt = await _whole(saver, latest.config, latest.checkpoint)
    return latest, whole, rebuilt


async def _whole(
    saver: BaseCheckpointSaver[str], config: RunnableConfig, checkpoint: Any
) -> tuple[dict[str, Any], list[str]]:
    """`checkpoint` with the values of its `DeltaChannel`s stored in it, and the names
    of those it had to rebuild from its ancestors' writes."""
    specs = delta_channels()
    names = [
        name
        for name in specs
        if name in checkpoint["channel_versions"] and name not in checkpoint["channel_values"]
    ]
    if not names:
        return checkpoint, []
    histories = await saver.aget_delta_channel_history(config=config, channels=names)
    values = dict(checkpoint["channel_values"])
    for name in names:
        channel = specs[name].from_checkpoint(histories[name].get("seed"))
        channel.replay_writes(histories[name]["writes"])
        # A plain value is how a full copy was stored before the channel kept deltas;
        # LangGraph reads it as the channel's value, with no walk.
        values[name] = channel.get()
    return {**checkpoint, "channel_values": values}, names


async def _vacuum_if_worth_it(conn: aiosqlite.Connection) -> None:
    """VACUUM when free pages pass `VACUUM_AT` of the file: the file then stays within
    about 1 / (1 - VACUUM_AT) of its live data, and each VACUUM costs only that."""
    [(free,)] = list(await conn.execute_fetchall("PRAGMA freelist_count"))
    [(pages,)] = list(await conn.execute_fetchall("PRAGMA page_count"))
    if not pages or free / pages < VACUUM_AT:
        return
    try:
        await conn.execute("VACUUM")
        # The WAL grew by the whole file during VACUUM; give that back too.
        await conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except aiosqlite.OperationalError as exc:  # another process is writing: next time
        log.info("VACUUM skipped: %s", exc)
