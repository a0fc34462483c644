"""What a SIGKILL between two writes leaves, and what a person then finds.

The registry and the checkpoint are two writes; a process can die between them. Each
test makes the state a kill at that instant leaves (by running the demo to its review
and then undoing the second write in the SQLite file, exactly as the kill would have)
and checks that `taskmaster resume` and `serve`'s start-up continue it: nobody is asked
twice, exactly one pull request.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import aiohttp
import pytest

from localslack import LocalSlack
from tests.bot.conftest import StartBot
from tests.bot.support import eventually, open_review, root_of, text_at, thread_text
from tests.kills import REVIEW_HEADER, Home, clean_env, reach_review


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(tmp_path, clean_env())


def _db(home: Home) -> sqlite3.Connection:
    return sqlite3.connect(home.data / "taskmaster.db")


async def _approve_delivers_once(home: Home, run_id: str) -> None:
    approved = await home("resume", run_id, "approve", "--by", "ana")
    assert approved.code == 0, approved.err
    assert REVIEW_HEADER not in approved.out
    [run] = await home.runs()
    assert run["status"] == "done"
    assert await home.effects() == (1, 1, 1)


async def test_kill_after_the_review_checkpoint_before_the_registry_pauses_on_resume(
    home: Home,
) -> None:
    run_id = await reach_review(home)
    with _db(home) as db:  # the registry write never happened
        db.execute("UPDATE runs SET status = 'running', interrupt_id = NULL")

    resumed = await home("resume", run_id)

    assert resumed.code == 0, resumed.err
    assert "Waiting for review" in resumed.out and "Plan" not in resumed.out
    [run] = await home.runs()
    assert run["status"] == "awaiting_review"
    await _approve_delivers_once(home, run_id)


async def test_registry_ahead_of_the_checkpoint_at_the_pause_is_driven_to_the_review(
    home: Home,
) -> None:
    run_id = await reach_review(home)
    with _db(home) as db:  # the review's interrupt never reached the checkpoint
        deleted = db.execute("DELETE FROM writes WHERE channel = '__interrupt__'").rowcount
        assert deleted >= 1
    refused = await home("resume", run_id, "approve", "--by", "ana")
    assert refused.code == 2 and "no longer pending" in refused.err

    resumed = await home("resume", run_id)

    assert resumed.code == 0, resumed.err
    assert "Waiting for review" in resumed.out
    await _approve_delivers_once(home, run_id)


@pytest.mark.parametrize("status", ["resuming", "running"])
async def test_a_claimed_approval_is_applied_after_a_kill_without_asking_again(
    home: Home, status: str
) -> None:
    run_id = await reach_review(home)
    decision = {"action": "approve", "by": "ana", "by_name": "", "feedback": ""}
    with _db(home) as db:  # claimed (and, for "running", driven) but not yet checkpointed
        db.execute("UPDATE runs SET status = ?, decision = ?", (status, json.dumps(decision)))

    resumed = await home("resume", run_id)

    assert resumed.code == 0, resumed.err
    assert REVIEW_HEADER not in resumed.out and "Waiting for review" not in resumed.out
    [run] = await home.runs()
    assert run["status"] == "done" and run["decided_by"] == "ana"
    assert await home.effects() == (1, 1, 1)


async def test_serve_starts_over_a_run_it_cannot_continue_and_says_why(
    start_bot: StartBot, slack: LocalSlack, data_dir: Path
) -> None:
    async with start_bot():
        await slack.slash_command("TASK-101")
        root = await eventually(lambda: root_of(slack, "TASK-101"))
        await eventually(lambda: open_review(slack, root))
    # A claimed approval over a checkpoint nobody can read: nothing can continue it.
    with sqlite3.connect(data_dir / "taskmaster.db") as db:
        db.execute("UPDATE runs SET status = 'resuming'")
        db.execute("UPDATE checkpoints SET checkpoint = X'C1'")

    async with start_bot() as restarted, aiohttp.ClientSession() as http:
        async with http.get(restarted.health_url) as health:
            assert health.status == 200
        [run] = await restarted.bot.manager.store.recent()
        assert run.status == "failed" and "could not be continued" in (run.error or "")
        await eventually(lambda: "could not be continued" in thread_text(slack, root))
        await eventually(lambda: "Failed" in text_at(slack, root.ts))
        await slack.slash_command("TASK-102")  # and it serves
        other = await eventually(lambda: root_of(slack, "TASK-102"))
        await eventually(lambda: open_review(slack, other))
