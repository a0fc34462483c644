"""The run lifecycle's tests again, with TASKMASTER_DATABASE_URL on a real PostgreSQL.

The tests are test_lifecycle's own (imported, so they run here too); only the
settings differ: this module's `demo_env` adds the database URL, so the composition
root opens the Postgres registry and LangGraph's Postgres checkpointer.
"""

from __future__ import annotations

import psycopg
import pytest

from agent.models import ReviewDecision
from agent.runs.checkpoints import thread_id
from agent.runs.manager import RunManager
from tests.agent.test_lifecycle import (
    _review,
    manager,
    recorder,
    test_a_run_driven_by_another_live_process_is_left_to_it,
    test_an_approved_run_cannot_be_cancelled_while_it_delivers,
    test_approve_pushes_branch_opens_pull_request_and_cleans_up,
    test_decisions_on_unknown_finished_or_stale_reviews_are_refused,
    test_one_active_run_per_ticket,
    test_reject_pushes_nothing_and_removes_the_workspace,
    test_retrying_a_failed_run_while_another_has_the_ticket_is_refused,
    test_review_events_carry_the_pending_interrupt,
    test_revise_sends_feedback_to_the_model_and_second_review_delivers,
)

__all__ = [
    "manager",
    "recorder",
    "test_a_run_driven_by_another_live_process_is_left_to_it",
    "test_an_approved_run_cannot_be_cancelled_while_it_delivers",
    "test_approve_pushes_branch_opens_pull_request_and_cleans_up",
    "test_decisions_on_unknown_finished_or_stale_reviews_are_refused",
    "test_one_active_run_per_ticket",
    "test_reject_pushes_nothing_and_removes_the_workspace",
    "test_retrying_a_failed_run_while_another_has_the_ticket_is_refused",
    "test_review_events_carry_the_pending_interrupt",
    "test_revise_sends_feedback_to_the_model_and_second_review_delivers",
]


@pytest.fixture
def demo_env(demo_env: dict[str, str], postgres_url: str) -> dict[str, str]:
    return {**demo_env, "TASKMASTER_DATABASE_URL": postgres_url}


async def test_pg_finished_run_keeps_only_its_latest_checkpoint_whole(
    manager: RunManager, postgres_url: str
) -> None:
    record = await _review(manager)
    before = (await manager.snapshot(record.run_id)).values["messages"]
    await manager.decide(record.run_id, ReviewDecision(action="reject", by="ana"))
    await manager.wait(record.run_id)
    async with await psycopg.AsyncConnection.connect(postgres_url) as db:
        cursor = await db.execute(
            "SELECT count(*) FROM checkpoints WHERE thread_id = %s", (thread_id(record.run_id),)
        )
        assert await cursor.fetchone() == (1,)
    after = await manager.snapshot(record.run_id)
    assert after.values["outcome"] == "rejected"
    # The conversation, read back from the one checkpoint left, is the whole run's.
    assert [m.id for m in after.values["messages"]][: len(before)] == [m.id for m in before]
