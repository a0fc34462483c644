"""The run lifecycle on the demo: real git, real tests, real SQLite, the scripted model."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TypeVar

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from agent.errors import ErrorKind, TaskmasterError
from agent.events import ErrorRaised, Event, ReviewRequested, RunFinished, RunQueued
from agent.git import git
from agent.models import ReviewDecision
from agent.runs.checkpoints import thread_id
from agent.runs.lease import holder_alive
from agent.runs.manager import RunManager, RunRefused
from agent.runs.runtime import open_runtime
from agent.runs.store import RunRecord, TicketBusy
from agent.settings import Settings, load_settings

E = TypeVar("E")


class Recorder:
    """An event sink that keeps what it was given."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    async def __call__(self, run: RunRecord, event: Event) -> None:
        self.events.append(event)

    def of(self, kind: type[E]) -> list[E]:
        return [event for event in self.events if isinstance(event, kind)]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def manager(demo_settings: Settings, recorder: Recorder) -> AsyncIterator[RunManager]:
    async with open_runtime(demo_settings, {}, recorder) as running:
        yield running


async def _review(manager: RunManager, key: str = "TASK-101") -> RunRecord:
    run = await manager.start(key, "U_ANA")
    record = await manager.wait(run.run_id)
    assert record.status == "awaiting_review", record
    return record


async def _remote_branches(settings: Settings) -> list[str]:
    out = await git(
        "branch",
        "--list",
        "taskmaster/*",
        "--format=%(refname:short)",
        cwd=Path(settings.repo or ""),
    )
    return out.split()


def _pull_requests(settings: Settings) -> list[dict[str, object]]:
    path = settings.data_dir / "pull_requests.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


async def test_run_waits_for_review_with_the_diff_and_passing_tests(
    manager: RunManager, demo_settings: Settings
) -> None:
    record = await _review(manager)
    _, _, request = await manager.pending_review(record.run_id)
    assert "self.due < today" in request.diff
    assert request.tests is not None and request.tests.ok and request.tests.passed > 0
    assert {f.path for f in request.files} == {"src/tasktrack/models.py", "tests/test_models.py"}
    assert request.touches_tests
    assert await _remote_branches(demo_settings) == []  # nothing leaves without a click


async def test_approve_pushes_branch_opens_pull_request_and_cleans_up(
    manager: RunManager, demo_settings: Settings, recorder: Recorder
) -> None:
    record = await _review(manager)
    await manager.decide(record.run_id, ReviewDecision(action="approve", by="ana"))
    done = await manager.wait(record.run_id)
    assert done.status == "done"
    [branch] = await _remote_branches(demo_settings)
    assert branch.startswith("taskmaster/TASK-101-")
    [pull_request] = _pull_requests(demo_settings)
    assert pull_request["branch"] == branch and pull_request["ticket"] == "TASK-101"
    assert not (demo_settings.data_dir / "workspaces" / record.run_id).exists()
    finished = recorder.of(RunFinished)
    assert [event.status for event in finished] == ["done"]


async def test_revise_sends_feedback_to_the_model_and_second_review_delivers(
    manager: RunManager, demo_settings: Settings
) -> None:
    record = await _review(manager)
    feedback = "Please also cover TaskService.overdue() with a test."
    await manager.decide(
        record.run_id, ReviewDecision(action="revise", by="ana", feedback=feedback)
    )
    second = await manager.wait(record.run_id)
    assert second.status == "awaiting_review"
    _, _, request = await manager.pending_review(record.run_id)
    assert request.iteration == 2

    messages = (await manager.snapshot(record.run_id)).values["messages"]
    asked = next(
        i for i, m in enumerate(messages) if isinstance(m, HumanMessage) and feedback in m.text
    )
    assert isinstance(messages[asked + 1], AIMessage)  # the very next model call saw it

    await manager.decide(record.run_id, ReviewDecision(action="approve", by="ana"))
    assert (await manager.wait(record.run_id)).status == "done"
    [branch] = await _remote_branches(demo_settings)
    pushed = await git("diff", "--stat", "main", branch, cwd=Path(demo_settings.repo or ""))
    assert set(request_paths(request.diff)) <= set(pushed.split())


def request_paths(diff: str) -> list[str]:
    return [line.split(" b/")[-1] for line in diff.splitlines() if line.startswith("diff --git")]


async def test_revisions_are_bounded_by_the_setting(
    demo_env: dict[str, str], recorder: Recorder
) -> None:
    settings = load_settings(demo_env, env_file=None, overrides={"TASKMASTER_MAX_REVISIONS": "0"})
    async with open_runtime(settings, {}, recorder) as manager:
        record = await _review(manager)
        with pytest.raises(RunRefused, match="No revisions left") as refused:
            await manager.decide(
                record.run_id, ReviewDecision(action="revise", by="ana", feedback="more")
            )
        assert refused.value.reason == "not_allowed"
        assert (await manager.store.require(record.run_id)).status == "awaiting_review"
        await manager.decide(record.run_id, ReviewDecision(action="reject", by="ana"))
        assert (await manager.wait(record.run_id)).status == "rejected"


async def test_reject_pushes_nothing_and_removes_the_workspace(
    manager: RunManager, demo_settings: Settings
) -> None:
    record = await _review(manager)
    assert (demo_settings.data_dir / "workspaces" / record.run_id).is_dir()
    await manager.decide(record.run_id, ReviewDecision(action="reject", by="ana"))
    assert (await manager.wait(record.run_id)).status == "rejected"
    assert await _remote_branches(demo_settings) == []
    assert _pull_requests(demo_settings) == []
    assert not (demo_settings.data_dir / "workspaces" / record.run_id).exists()


async def test_decisions_on_unknown_finished_or_stale_reviews_are_refused(
    manager: RunManager,
) -> None:
    approve = ReviewDecision(action="approve", by="ana")
    with pytest.raises(RunRefused) as unknown:
        await manager.decide("no-such-run", approve)
    assert unknown.value.reason == "unknown"
    assert not (await manager.snapshot("no-such-run")).created_at  # no graph started for it

    record = await _review(manager)
    with pytest.raises(RunRefused) as stale:
        await manager.decide(record.run_id, approve, interrupt_id="an-old-review")
    assert stale.value.reason == "stale"
    await manager.decide(record.run_id, ReviewDecision(action="reject", by="ana"))
    await manager.wait(record.run_id)
    with pytest.raises(RunRefused, match="Already rejected by ana") as finished:
        await manager.decide(record.run_id, approve)
    assert finished.value.reason == "decided"


async def test_approval_is_bound_to_the_reviewed_change(
    manager: RunManager, demo_settings: Settings, recorder: Recorder
) -> None:
    record = await _review(manager)
    workspace = demo_settings.data_dir / "workspaces" / record.run_id
    (workspace / "src" / "tasktrack" / "models.py").write_text("# changed after review\n")
    await manager.decide(record.run_id, ReviewDecision(action="approve", by="ana"))
    failed = await manager.wait(record.run_id)
    assert failed.status == "failed"
    [error] = recorder.of(ErrorRaised)
    assert "changed after the review" in error.message
    assert await _remote_branches(demo_settings) == []


async def test_unknown_ticket_fails_with_ticket_not_found_before_cloning(
    manager: RunManager, demo_settings: Settings, recorder: Recorder
) -> None:
    run = await manager.start("TASK-999", "U_ANA")
    assert (await manager.wait(run.run_id)).status == "failed"
    [error] = recorder.of(ErrorRaised)
    assert error.kind == ErrorKind.TICKET_NOT_FOUND
    assert not (demo_settings.data_dir / "workspaces" / run.run_id).exists()


async def test_malformed_key_is_refused_before_anything_starts(manager: RunManager) -> None:
    with pytest.raises(TaskmasterError) as refused:
        await manager.create("rm -rf /", "U_ANA")
    assert refused.value.kind == ErrorKind.INVALID_INPUT
    assert await manager.store.recent() == []


async def test_one_active_run_per_ticket(manager: RunManager) -> None:
    record = await _review(manager)
    with pytest.raises(TicketBusy) as busy:
        await manager.create("task-101", "U_BEN")
    assert busy.value.run.run_id == record.run_id


async def test_finished_run_keeps_only_its_latest_checkpoint(
    manager: RunManager, demo_settings: Settings
) -> None:
    record = await _review(manager)
    await manager.decide(record.run_id, ReviewDecision(action="reject", by="ana"))
    await manager.wait(record.run_id)
    with sqlite3.connect(demo_settings.db_path) as db:
        (count,) = db.execute(
            "SELECT count(*) FROM checkpoints WHERE thread_id = ?", (thread_id(record.run_id),)
        ).fetchone()
    assert count == 1
    assert (await manager.snapshot(record.run_id)).values["outcome"] == "rejected"


async def test_review_events_carry_the_pending_interrupt(
    manager: RunManager, recorder: Recorder
) -> None:
    record = await _review(manager)
    [requested] = recorder.of(ReviewRequested)
    assert requested.interrupt_id == record.interrupt_id


async def test_runs_beyond_the_limit_wait_in_order_and_say_so(
    demo_env: dict[str, str], recorder: Recorder
) -> None:
    settings = load_settings(demo_env, env_file=None, overrides={"TASKMASTER_MAX_RUNS": "1"})
    async with open_runtime(settings, {}, recorder) as manager:
        first = await manager.start("TASK-101", "U_ANA")
        second = await manager.start("TASK-102", "U_BEN")
        assert (await manager.wait(first.run_id)).status == "awaiting_review"
        assert (await manager.wait(second.run_id)).status == "awaiting_review"
    [queued] = recorder.of(RunQueued)
    assert queued.ahead == 0


async def test_second_run_of_a_delivered_ticket_gets_its_own_branch(
    manager: RunManager, demo_settings: Settings
) -> None:
    for _ in range(2):
        record = await _review(manager)
        await manager.decide(record.run_id, ReviewDecision(action="approve", by="ana"))
        assert (await manager.wait(record.run_id)).status == "done"
    first, second = sorted(await _remote_branches(demo_settings))
    assert second == f"{first}-2"
    assert [pr["branch"] for pr in _pull_requests(demo_settings)] == [first, second]


async def test_fifty_runs_at_once_all_reach_their_end(
    manager: RunManager, recorder: Recorder
) -> None:
    runs = [await manager.start(f"LOAD-{n}", "U_ANA") for n in range(1, 51)]
    ended = [await manager.wait(run.run_id) for run in runs]
    assert {run.status for run in ended} == {"failed"}
    kinds = {event.kind for event in recorder.of(ErrorRaised)}
    assert kinds == {ErrorKind.TICKET_NOT_FOUND}  # not "database is locked"


async def test_an_approved_run_cannot_be_cancelled_while_it_delivers(
    manager: RunManager, demo_settings: Settings
) -> None:
    record = await _review(manager)
    assert record.interrupt_id is not None
    approve = ReviewDecision(action="approve", by="ana")
    # Another process won the click and is about to deliver.
    assert await manager.store.claim_review(record.run_id, record.interrupt_id, approve)
    with pytest.raises(RunRefused, match="being delivered") as refused:
        await manager.cancel(record.run_id, by="ben")
    assert refused.value.reason == "not_allowed"
    await manager.resume(record.run_id)  # that process died: the claimed decision is applied
    assert (await manager.wait(record.run_id)).status == "done"
    assert len(await _remote_branches(demo_settings)) == 1


async def test_retrying_a_failed_run_while_another_has_the_ticket_is_refused(
    manager: RunManager, demo_settings: Settings
) -> None:
    first = await _review(manager)
    workspace = demo_settings.data_dir / "workspaces" / first.run_id
    (workspace / "README.md").write_text("changed after review\n")
    await manager.decide(first.run_id, ReviewDecision(action="approve", by="ana"))
    assert (await manager.wait(first.run_id)).status == "failed"
    second = await _review(manager)
    with pytest.raises(RunRefused, match=second.run_id) as refused:
        await manager.resume(first.run_id)
    assert refused.value.reason == "not_allowed"
    assert (await manager.store.require(first.run_id)).status == "failed"


async def test_a_run_driven_by_another_live_process_is_left_to_it(
    manager: RunManager, demo_settings: Settings
) -> None:
    record = await _review(manager)
    await manager.store.transition(record.run_id, "running", only_from=("awaiting_review",))
    other = f"{socket.gethostname()}:{os.getpid()}:another-manager"
    assert await manager.store.take_lease(record.run_id, other, 60, holder_alive)

    with pytest.raises(RunRefused, match="Another TaskMaster process") as refused:
        await manager.resume(record.run_id)
    assert refused.value.reason == "stale"
    assert await manager.recover() == []
    assert (await manager.store.require(record.run_id)).owner == other
