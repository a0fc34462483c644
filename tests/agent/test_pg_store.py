"""The run registry on a real PostgreSQL: the same races, decided by the database.

Two registries on one database stand for two processes (each has its own pool).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from agent.models import ReviewDecision
from agent.runs.lease import LEASE_S, holder_alive, process_name
from agent.runs.pg_store import PostgresRunStore, Schema, open_migrated
from agent.runs.records import TicketBusy


@pytest.fixture
async def two(postgres_url: str) -> AsyncIterator[tuple[PostgresRunStore, PostgresRunStore]]:
    first, second = await asyncio.gather(
        PostgresRunStore.open(postgres_url), PostgresRunStore.open(postgres_url)
    )  # both migrate at once: the advisory lock makes it once
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


async def test_pg_one_active_run_per_ticket_across_processes(
    two: tuple[PostgresRunStore, PostgresRunStore],
) -> None:
    first, second = two
    results = await asyncio.gather(
        first.create("TASK-1", "U_ANA"), second.create("TASK-1", "U_BEN"), return_exceptions=True
    )
    created = [r for r in results if not isinstance(r, BaseException)]
    busy = [r for r in results if isinstance(r, TicketBusy)]
    assert len(created) == 1 and len(busy) == 1
    assert busy[0].run.run_id == created[0].run_id  # the refusal links to the winner
    await first.transition(created[0].run_id, "done")
    assert (await second.create("TASK-1", "U_BEN")).status == "running"  # free again


async def test_pg_gives_a_review_to_exactly_one_of_many_claims(
    two: tuple[PostgresRunStore, PostgresRunStore],
) -> None:
    first, second = two
    run = await first.create("TASK-1", "U_ANA")
    await first.transition(run.run_id, "awaiting_review", interrupt_id="i-1")
    claims = [
        (first, second)[n % 2].claim_review(
            run.run_id, "i-1", ReviewDecision(action="approve", by=f"U_{n}")
        )
        for n in range(20)
    ]
    assert sorted(await asyncio.gather(*claims)) == [False] * 19 + [True]
    assert not await second.cancel(run.run_id, "U_X")  # approved: being delivered


async def test_pg_lease_has_one_driver_and_notes_keep_their_order(
    two: tuple[PostgresRunStore, PostgresRunStore],
) -> None:
    first, second = two
    run = await first.create("TASK-1", "U_ANA")
    a, b = process_name(), "elsewhere:1:b"
    taken = await asyncio.gather(
        first.take_lease(run.run_id, a, LEASE_S, holder_alive),
        second.take_lease(run.run_id, b, LEASE_S, holder_alive),
    )
    assert sorted(taken) == [False, True]
    await first.release_lease(run.run_id, a)
    await second.release_lease(run.run_id, b)
    assert await second.take_lease(run.run_id, b, -1, holder_alive)
    assert await first.take_lease(run.run_id, a, LEASE_S, holder_alive)  # it expired

    one = await first.add_note(run.run_id, "U_ANA", "ana", "use the helper")
    await second.add_note(run.run_id, "U_BEN", "ben", "and a test")
    assert [n.text for n in await second.notes_after(run.run_id, 0)] == [
        "use the helper",
        "and a test",
    ]
    assert [n.text for n in await first.notes_after(run.run_id, one.id)] == ["and a test"]


async def test_pg_a_store_opened_after_an_upgrade_applies_only_its_new_migrations(
    postgres_url: str,
) -> None:
    first = Schema(("CREATE TABLE widgets (id INT);",), "widget_schema", 0x7A5C_00FF)
    newer = (*first.migrations, "ALTER TABLE widgets ADD tag TEXT;")
    later = Schema(newer, first.version_table, first.lock)
    pools = await asyncio.gather(*(open_migrated(postgres_url, first) for _ in range(3)))
    async with pools[0].connection() as conn:  # three processes at once: migrated once
        await conn.execute("INSERT INTO widgets VALUES (1)")
    upgraded = await open_migrated(postgres_url, later)  # a release with one more
    async with upgraded.connection() as conn:
        await conn.execute("INSERT INTO widgets VALUES (2, 'new')")
        cursor = await conn.execute("SELECT id, tag FROM widgets ORDER BY id")
        assert [tuple(row.values()) for row in await cursor.fetchall()] == [(1, None), (2, "new")]
        cursor = await conn.execute("SELECT version FROM widget_schema")
        assert [row["version"] for row in await cursor.fetchall()] == [2]
    for pool in (*pools, upgraded):
        await pool.close()
