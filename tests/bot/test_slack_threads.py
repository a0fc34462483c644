"""The Slack surface's thread store: its own table, and the rows the registry handed over."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from agent.runs.store import MIGRATIONS, RunStore
from bot.slack.threads import PostgresThreadStore, SqliteThreadStore, Thread


def _registry_at_version_5(path: Path) -> None:
    """A database from before the move: the Slack messages were columns of `runs`."""
    with sqlite3.connect(path) as db:
        for script in MIGRATIONS[:5]:
            db.executescript(script)
        db.execute(
            "INSERT INTO runs (run_id, ticket, requester, status, interrupt_id, channel, "
            "root_ts, progress_ts, review_ts, created_at, updated_at) VALUES "
            "('shown', 'TASK-1', 'U_ANA', 'awaiting_review', 'i-1', 'C1', '1.0', '1.1', '1.2',"
            " 'then', 'then'),"
            "('unposted', 'TASK-2', 'U_ANA', 'awaiting_review', 'i-2', 'C1', '2.0', '2.1', NULL,"
            " 'then', 'then'),"
            "('terminal', 'TASK-3', 'U_BEN', 'done', NULL, NULL, NULL, NULL, NULL, 'then', 'then')"
        )
        db.execute("PRAGMA user_version = 5")


async def test_old_slack_columns_move_to_the_thread_store(tmp_path: Path) -> None:
    path = tmp_path / "taskmaster.db"
    _registry_at_version_5(path)
    registry = await RunStore.open(path)
    threads = await SqliteThreadStore.open(path)
    try:
        assert (await registry.require("shown")).status == "awaiting_review"
        assert await threads.get("shown") == Thread("shown", "C1", "1.0", "1.1", "1.2", "i-1")
        # A review never posted stays "not shown" for the interrupt it waits on.
        unposted = await threads.get("unposted")
        assert unposted is not None and (unposted.review_ts, unposted.review_for) == (None, None)
        assert await threads.get("terminal") is None
        assert await threads.run_at("C1", "2.0") == "unposted"
        assert await threads.run_at("C1", "2.1") is None  # a reply, not a root
    finally:
        await threads.close()
        await registry.close()
    with sqlite3.connect(path) as db:
        columns = {row[1] for row in db.execute("PRAGMA table_info(runs)")}
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    assert not columns & {"channel", "root_ts", "progress_ts", "review_ts"}
    assert "surface_messages_handover" not in tables


async def test_thread_store_records_each_message_as_it_is_posted(tmp_path: Path) -> None:
    path = tmp_path / "taskmaster.db"
    registry = await RunStore.open(path)
    threads = await SqliteThreadStore.open(path)
    try:
        await threads.save("r1", "C1")
        await threads.save("r1", "C1", root_ts="5.0")
        await threads.save("r1", "C1", progress_ts="5.1")
        await threads.save("r1", "C1", review_ts="5.2", review_for="i-9")
        assert await threads.get("r1") == Thread("r1", "C1", "5.0", "5.1", "5.2", "i-9")
    finally:
        await threads.close()
        await registry.close()
    reopened = await SqliteThreadStore.open(path)  # its migrations run once
    try:
        assert (await reopened.get("r1")) is not None
    finally:
        await reopened.close()


async def test_thread_store_on_postgres_finds_a_run_by_its_root(postgres_url: str) -> None:
    first = await PostgresThreadStore.open(postgres_url)
    second = await PostgresThreadStore.open(postgres_url)  # another process: migrated once
    try:
        await first.save("r1", "C1")
        await second.save("r1", "C1", root_ts="5.0", progress_ts="5.1")
        await first.save("r1", "C1", review_ts="5.2", review_for="i-9")
        assert await second.get("r1") == Thread("r1", "C1", "5.0", "5.1", "5.2", "i-9")
        assert await second.run_at("C1", "5.0") == "r1"
        assert await first.run_at("C1", "5.1") is None
    finally:
        await first.close()
        await second.close()


def _alive(name: str) -> bool:
    return name != "gone"


async def test_one_process_claims_a_review_to_post_until_it_is_shown(tmp_path: Path) -> None:
    threads = await SqliteThreadStore.open(tmp_path / "taskmaster.db")
    try:
        await threads.save("r1", "C1", root_ts="5.0")
        assert await threads.claim_review("r1", "i-1", "worker", _alive)
        assert not await threads.claim_review("r1", "i-1", "serve", _alive)  # being posted
        assert await threads.claim_review("r1", "i-1", "worker", _alive)  # its retry
        await threads.save("r1", "C1", review_ts="5.2", review_for="i-1")
        assert not await threads.claim_review("r1", "i-1", "worker", _alive)  # shown
        assert await threads.claim_review("r1", "i-2", "serve", _alive)  # the next review
        await threads.save("r1", "C1", review_ts="5.3", review_for="i-2")
        assert await threads.get("r1") == Thread("r1", "C1", "5.0", None, "5.3", "i-2")
        await threads.save("r2", "C1", root_ts="6.0")
        assert await threads.claim_review("r2", "i-3", "gone", _alive)  # then it was killed
        assert await threads.claim_review("r2", "i-3", "serve", _alive)  # so another posts
    finally:
        await threads.close()


async def test_processes_claiming_a_review_at_once_on_postgres_one_wins(
    postgres_url: str,
) -> None:
    stores = await asyncio.gather(*(PostgresThreadStore.open(postgres_url) for _ in range(4)))
    try:
        await stores[0].save("r1", "C1", root_ts="5.0")
        claims = (s.claim_review("r1", "i-1", f"serve-{n}", _alive) for n, s in enumerate(stores))
        won = await asyncio.gather(*claims)
        assert sorted(won) == [False, False, False, True]
    finally:
        for store in stores:
            await store.close()
