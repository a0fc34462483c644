"""The run registry: its migrations and its race-deciding updates, on a real SQLite file."""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
import subprocess
from pathlib import Path

from agent.models import ReviewDecision
from agent.runs.lease import holder_alive
from agent.runs.store import MIGRATIONS, RunStore


def _database_at_version_1(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.executescript(MIGRATIONS[0])
        db.execute(
            "INSERT INTO runs (run_id, ticket, requester, status, created_at, updated_at) "
            "VALUES ('old', 'TASK-1', 'U_ANA', 'awaiting_review', 'then', 'then')"
        )
        db.execute("PRAGMA user_version = 1")


async def test_store_migrates_an_older_database_and_keeps_its_runs(tmp_path: Path) -> None:
    path = tmp_path / "taskmaster.db"
    _database_at_version_1(path)
    store = await RunStore.open(path)
    try:
        old = await store.require("old")
        assert (old.ticket, old.status, old.title) == ("TASK-1", "awaiting_review", None)
        await store.set_title("old", "An old ticket")
        assert (await store.require("old")).title == "An old ticket"
    finally:
        await store.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


async def test_store_gives_a_review_to_exactly_one_of_many_claims(tmp_path: Path) -> None:
    store = await RunStore.open(tmp_path / "taskmaster.db")
    try:
        run = await store.create("TASK-1", "U_ANA")
        await store.transition(run.run_id, "awaiting_review", interrupt_id="i-1")
        claims = [
            store.claim_review(run.run_id, "i-1", ReviewDecision(action="approve", by=f"U_{n}"))
            for n in range(20)
        ]
        assert sorted(await asyncio.gather(*claims)) == [False] * 19 + [True]
    finally:
        await store.close()


async def test_store_cancel_records_who_and_only_ends_active_runs(tmp_path: Path) -> None:
    store = await RunStore.open(tmp_path / "taskmaster.db")
    try:
        run = await store.create("TASK-1", "U_ANA")
        assert await store.cancel(run.run_id, "U_BEN")
        cancelled = await store.require(run.run_id)
        assert (cancelled.status, cancelled.cancelled_by) == ("cancelled", "U_BEN")
        assert not await store.cancel(run.run_id, "U_CHO")
        assert (await store.require(run.run_id)).cancelled_by == "U_BEN"
    finally:
        await store.close()


def _dead_pid() -> int:
    """The pid of a process that has exited."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


async def test_store_lease_keeps_a_run_with_one_live_driver(tmp_path: Path) -> None:
    store = await RunStore.open(tmp_path / "taskmaster.db")
    here = socket.gethostname()
    alive, dead = f"{here}:{os.getpid()}:a", f"{here}:{_dead_pid()}:b"
    try:
        run = await store.create("TASK-1", "U_ANA")
        assert await store.take_lease(run.run_id, alive, 60, holder_alive)
        assert not await store.take_lease(run.run_id, "elsewhere:1:c", 60, holder_alive)
        assert await store.take_lease(run.run_id, alive, 60, holder_alive)  # renewing is fine

        await store.release_lease(run.run_id, alive)
        assert await store.take_lease(run.run_id, dead, 60, holder_alive)
        assert await store.take_lease(run.run_id, alive, 60, holder_alive)  # its driver died

        await store.release_lease(run.run_id, alive)
        assert await store.take_lease(run.run_id, "elsewhere:1:c", -1, holder_alive)
        assert await store.take_lease(run.run_id, alive, 60, holder_alive)  # it expired
    finally:
        await store.close()
