"""People talking to a run: words while it works, changes asked in words, a reason to reject.

The demo on the real lifecycle (git, tests, SQLite); the scripted model is held at a
gate where a test needs the run at a known point, and shows what it was sent.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import HumanMessage

from agent.errors import ErrorKind, TaskmasterError
from agent.models import ReviewDecision
from agent.runs.manager import RunManager, RunRefused
from agent.runs.runtime import open_runtime
from agent.settings import Settings
from tests.agent.test_lifecycle import Recorder
from tests.bot.gated import Gate, gated_runtime


@pytest.fixture
def gate() -> Gate:
    return Gate()


@pytest.fixture
async def manager(demo_settings: Settings, gate: Gate) -> AsyncIterator[RunManager]:
    runtime: Callable[..., Any] = gated_runtime(gate)
    async with runtime(demo_settings, {}, Recorder()) as running:
        yield running


def _said(messages: list[Any], text: str) -> list[HumanMessage]:
    return [m for m in messages if isinstance(m, HumanMessage) and text in m.text]


async def test_words_while_it_works_reach_the_next_model_call(
    manager: RunManager, gate: Gate
) -> None:
    run = await manager.start("TASK-101", "U_ANA")
    await asyncio.wait_for(gate.waiting.wait(), 30)  # the plan call, held

    said = await manager.tell(run.run_id, "Keep the docstring short.", by="U_ANA", by_name="ana")
    gate.open()
    assert (await manager.wait(run.run_id)).status == "awaiting_review"

    assert said == "noted"
    first = next(n for n, call in enumerate(gate.calls) if _said(call, "docstring short"))
    assert first == 1  # the plan call was already on its way; the very next one has it
    [words] = _said(gate.calls[first], "docstring short")
    assert words.text.startswith("ana wrote to you while you work")
    assert gate.calls[first][-1] is words  # the newest thing the model reads
    assert all(len(_said(call, "docstring short")) == 1 for call in gate.calls[first:])


async def test_words_while_it_waits_for_review_ask_for_changes(
    manager: RunManager, gate: Gate
) -> None:
    gate.open()
    run = await manager.start("TASK-101", "U_ANA")
    assert (await manager.wait(run.run_id)).status == "awaiting_review"

    said = await manager.tell(run.run_id, "Also cover TaskService.overdue().", by="U_BEN")
    assert said == "revise"
    assert (await manager.wait(run.run_id)).status == "awaiting_review"

    record, _, second = await manager.pending_review(run.run_id)
    assert second.iteration == 2 and record.decision is not None
    assert record.decision.by == "U_BEN" and record.decision.action == "revise"
    assert second.since_last is not None
    assert "test_overdue_leaves_out_tasks_due_today" in second.since_last
    assert "self.due < today" not in second.since_last  # review 1's change is not repeated
    assert "self.due < today" in second.diff  # the whole change still is


async def test_words_for_a_finished_run_are_refused(manager: RunManager, gate: Gate) -> None:
    gate.open()
    run = await manager.start("TASK-101", "U_ANA")
    await manager.wait(run.run_id)
    await manager.decide(run.run_id, ReviewDecision(action="reject", by="U_ANA"))
    await manager.wait(run.run_id)

    with pytest.raises(RunRefused) as refused:
        await manager.tell(run.run_id, "wait!", by="U_ANA")
    assert refused.value.reason == "finished"


async def test_a_rejection_reason_goes_on_the_ticket(
    manager: RunManager, gate: Gate, demo_settings: Settings
) -> None:
    gate.open()
    run = await manager.start("TASK-101", "U_ANA")
    await manager.wait(run.run_id)
    reason = "We are replacing this module next sprint."
    decision = ReviewDecision(action="reject", by="U_BEN", by_name="ben", feedback=reason)

    await manager.decide(run.run_id, decision)

    assert (await manager.wait(run.run_id)).status == "rejected"
    comments = demo_settings.data_dir / "ticket_comments.jsonl"
    [entry] = [json.loads(line) for line in comments.read_text().splitlines()]
    assert entry["ticket"] == "TASK-101"
    assert (
        entry["body"] == f"TaskMaster's change for TASK-101 was rejected by ben, who said: {reason}"
    )


async def test_a_ticket_is_checked_before_a_run_and_an_open_pull_request_is_found(
    demo_settings: Settings,
) -> None:
    async with open_runtime(demo_settings, {}, Recorder()) as manager:
        with pytest.raises(TaskmasterError) as missing:
            await manager.fetch_ticket("TASK-999")
        assert missing.value.kind is ErrorKind.TICKET_NOT_FOUND
        assert await manager.store.recent() == []

        ticket = await manager.fetch_ticket("task-101")
        assert ticket.key == "TASK-101"
        assert await manager.open_pull_request("TASK-101") is None
        run = await manager.create("TASK-101", "U_ANA")
        manager.launch(run, ticket=ticket)
        await manager.wait(run.run_id)
        await manager.decide(run.run_id, ReviewDecision(action="approve", by="U_ANA"))
        done = await manager.wait(run.run_id)

        assert done.pull_request is not None and done.pull_request.number == 1
        found = await manager.open_pull_request("TASK-101")
        assert found is not None and found.url == done.pull_request.url
        assert (await manager.store.latest_for("TASK-101")) == done
        assert Path(demo_settings.data_dir / "pull_requests.jsonl").is_file()
