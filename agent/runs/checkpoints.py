"""LangGraph's SQLite checkpointer, opened once per process, and pruning of finished runs.

The SQLite saver keeps every channel in every checkpoint and cannot prune, so when a
run ends we keep its latest checkpoint (what `aget_state` reads) and delete the rest.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiosqlite
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from agent.runs.store import BUSY_TIMEOUT_S


def thread_id(run_id: str) -> str:
    """The LangGraph thread of a run: the one place this mapping is made."""
    return f"run-{run_id}"


@asynccontextmanager
async def open_checkpointer(path: Path) -> AsyncIterator[AsyncSqliteSaver]:
    path.parent.mkdir(parents=True, exist_ok=True)
    async with aiosqlite.connect(path, timeout=BUSY_TIMEOUT_S) as conn:
        saver = AsyncSqliteSaver(conn)
        await saver.setup()
        try:
            yield saver
        finally:
            # A cancelled run's last write may still be in flight under the saver's lock;
            # closing under it would leave the file write-locked for this process.
            async with saver.lock:
                pass


async def prune(saver: AsyncSqliteSaver, run_id: str) -> int:
    """Delete all but the latest checkpoint of a finished run; returns how many went."""
    thread = thread_id(run_id)
    async with saver.lock:
        cursor = await saver.conn.execute(
            "DELETE FROM checkpoints WHERE thread_id = ? AND checkpoint_id != ("
            " SELECT checkpoint_id FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = ''"
            " ORDER BY checkpoint_id DESC LIMIT 1)",
            (thread, thread),
        )
        removed = cursor.rowcount
        await saver.conn.execute(
            "DELETE FROM writes WHERE thread_id = ? AND checkpoint_id NOT IN ("
            " SELECT checkpoint_id FROM checkpoints WHERE thread_id = ?)",
            (thread, thread),
        )
        await saver.conn.commit()
    return removed
