"""Delivery against the fake Jira and GitHub, with a real bare repository behind GitHub.

Runs go in-process (`open_runtime`) or through the `taskmaster` command in separate
processes, which the crash tests kill with SIGKILL while the fake holds the request
whose answer TaskMaster has not recorded yet.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import shutil
import signal
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from agent.errors import ErrorKind
from agent.events import ErrorRaised, Event, RunFinished, TicketLoaded
from agent.git import git
from agent.models import ReviewDecision
from agent.runs.manager import RunManager
from agent.runs.runtime import open_runtime
from agent.runs.store import RunRecord, RunStore
from agent.settings import load_settings
from tests.cli import Result, run_cli, spawn_cli
from tests.fakes import Hold
from tests.fakes.github import FakeGitHub
from tests.fakes.jira import FakeJira, bullets, doc, heading, item, para, text

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "demo"
KEY = "TASK-101"
SUMMARY = "Tasks due today are reported as overdue"
REPOSITORY = "acme/tasktrack"
DEFAULT_BRANCH = "trunk"  # not "main": the base must come from GitHub, not be assumed
JIRA_EMAIL = "bot@example.com"
GITHUB_TOKEN = "canary-gh-123"
JIRA_TOKEN = "canary-jira-456"
CANARIES = (
    GITHUB_TOKEN,
    JIRA_TOKEN,
    base64.b64encode(f"x-access-token:{GITHUB_TOKEN}".encode()).decode(),
    base64.b64encode(f"{JIRA_EMAIL}:{JIRA_TOKEN}".encode()).decode(),
)
PULLS = f"/repos/{REPOSITORY}/pulls"
ISSUE = f"/rest/api/3/issue/{KEY}"
COMMENTS = f"{ISSUE}/comment"
E = TypeVar("E")


def code(value: str) -> dict[str, Any]:
    return text(value, {"type": "code"})


# examples/demo/tickets/TASK-101.md as Jira Cloud stores it.
DESCRIPTION = doc(
    para(
        code("TaskService.overdue()"),
        text(" includes tasks whose due date is "),
        text("today", {"type": "strong"}),
        text(". A task is only overdue once its due day has passed; on the day itself it "),
        text("is simply due."),
    ),
    para(text("The one-line formatter shows the same thing: a task due today is printed with ")),
    heading("Steps to reproduce"),
    {
        "type": "codeBlock",
        "attrs": {"language": "python"},
        "content": [
            text(
                "from datetime import date\nfrom tasktrack import TaskService\n\n"
                "tasks = TaskService(today=lambda: date(2024, 5, 14))\n"
                'tasks.add("Send the weekly report", due=date(2024, 5, 14))\n'
                "print(tasks.overdue())"
            )
        ],
    },
    heading("Expected"),
    para(code("[]"), text(": the report is due today, not overdue.")),
    heading("Acceptance criteria"),
    bullets(
        item(text("A task due today is not overdue; a task due yesterday or earlier still is.")),
        item(text("Completed tasks and tasks without a due date are still never overdue.")),
        item(text("A regression test covers the task-due-today case.")),
    ),
)


class Recorder:
    """An event sink that keeps what it was given."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    async def __call__(self, run: RunRecord, event: Event) -> None:
        self.events.append(event)

    def of(self, kind: type[E]) -> list[E]:
        return [event for event in self.events if isinstance(event, kind)]


@dataclass
class World:
    """The fakes, the bare repository GitHub serves, and a private data folder."""

    home: Path
    bare: Path
    jira: FakeJira
    github: FakeGitHub

    @property
    def data(self) -> Path:
        return self.home / "data"

    def settings_env(self) -> dict[str, str]:
        return {
            "TASKMASTER_TICKETS": "jira",
            "JIRA_URL": self.jira.url,
            "JIRA_EMAIL": JIRA_EMAIL,
            "JIRA_API_TOKEN": JIRA_TOKEN,
            "JIRA_TRANSITION": "In Review",
            "GITHUB_REPOSITORY": REPOSITORY,
            "GITHUB_TOKEN": GITHUB_TOKEN,
            "GITHUB_API_URL": self.github.url,
            "TASKMASTER_MODEL": f"scripted:{EXAMPLES / 'scripts'}",
            "TASKMASTER_DATA_DIR": str(self.data),
        }

    def process_env(self) -> dict[str, str]:
        ours = ("TASKMASTER_", "SLACK_", "JIRA_", "GITHUB_")
        env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
        return {**env, **self.settings_env()}

    # -- in-process ---------------------------------------------------------------------

    def runtime(self, sink: Recorder) -> AbstractAsyncContextManager[RunManager]:
        settings = load_settings(self.settings_env(), env_file=None)
        return open_runtime(settings, self.process_env(), sink)

    # -- the command, in its own process group ----------------------------------------------

    async def spawn(self, *args: str) -> asyncio.subprocess.Process:
        return await spawn_cli(self.home, self.process_env(), *args)

    async def cli(self, *args: str) -> Result:
        return await run_cli(self.home, self.process_env(), *args)

    # -- what is left behind ---------------------------------------------------------------

    async def record(self, run_id: str) -> RunRecord:
        store = await RunStore.open(self.data / "taskmaster.db")
        try:
            return await store.require(run_id)
        finally:
            await store.close()

    async def only_run(self) -> RunRecord:
        store = await RunStore.open(self.data / "taskmaster.db")
        try:
            [run] = await store.recent(limit=10)
            return run
        finally:
            await store.close()

    async def branches(self) -> list[str]:
        out = await git(
            "branch", "--list", "taskmaster/*", "--format=%(refname:short)", cwd=self.bare
        )
        return out.split()

    def comments(self) -> list[dict[str, Any]]:
        return self.jira.comments[KEY]

    def files_holding_a_secret(self) -> list[str]:
        found = []
        for path in self.data.rglob("*"):
            if path.is_file():
                content = path.read_bytes()
                found += [f"{path}: {c}" for c in CANARIES if c.encode() in content]
        return found

    def workspace_configs(self) -> list[Path]:
        return list((self.data / "workspaces").glob("*/.git/config"))


def assert_no_secret(*texts: str) -> None:
    for value in texts:
        for canary in CANARIES:
            assert canary not in value


async def _bare_repo(tmp_path: Path) -> Path:
    seed, bare = tmp_path / "seed", tmp_path / "tasktrack.git"
    shutil.copytree(EXAMPLES / "repo", seed)
    await git("init", "-q", "-b", DEFAULT_BRANCH, cwd=seed)
    await git("add", "--all", ".", cwd=seed)
    await git("commit", "-q", "-m", "Initial commit of tasktrack", cwd=seed)
    await git("clone", "-q", "--bare", str(seed), str(bare))
    return bare


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    bare = await _bare_repo(tmp_path)
    async with (
        FakeJira(JIRA_EMAIL, JIRA_TOKEN) as jira,
        FakeGitHub(
            bare.as_uri(),
            repository=REPOSITORY,
            default_branch=DEFAULT_BRANCH,
            token=GITHUB_TOKEN,
        ) as github,
    ):
        jira.add_issue(
            KEY,
            SUMMARY,
            description=DESCRIPTION,
            type="Bug",
            priority="High",
            labels=("overdue", "regression-risk"),
            components=("models", "service"),
        )
        yield World(tmp_path, bare, jira, github)


async def _deliver_in_process(world: World, recorder: Recorder) -> RunRecord:
    async with world.runtime(recorder) as manager:
        run = await manager.start(KEY, "U_ANA")
        assert (await manager.wait(run.run_id)).status == "awaiting_review"
        await manager.decide(run.run_id, ReviewDecision(action="approve", by="ana"))
        record: RunRecord = await manager.wait(run.run_id)
        return record


async def test_delivery_opens_one_pull_request_and_updates_the_jira_ticket(
    world: World,
) -> None:
    recorder = Recorder()
    record = await _deliver_in_process(world, recorder)

    assert record.status == "done"
    [loaded] = recorder.of(TicketLoaded)
    assert loaded.ticket.type == "Bug" and len(loaded.ticket.acceptance_criteria) == 3
    [created] = world.github.to("POST", PULLS)
    [pull] = world.github.pulls
    assert pull["title"] == f"[{KEY}] {SUMMARY}"
    assert pull["head"]["ref"].startswith(f"taskmaster/{KEY}-")
    assert pull["base"]["ref"] == DEFAULT_BRANCH
    assert await world.branches() == [pull["head"]["ref"]]
    body = created.body["body"]
    assert "## Plan" in body and "Make the comparison strict" in body
    assert "## Tests" in body and "passed, 0 failed" in body
    assert f"{world.jira.url}/browse/{KEY}" in body
    [comment] = world.comments()
    assert pull["html_url"] in json.dumps(comment["body"])
    assert world.jira.issues[KEY]["status"]["name"] == "In Review"
    [moved] = world.jira.to("POST", f"{ISSUE}/transitions")
    assert moved.body == {"transition": {"id": "21"}}
    [finished] = recorder.of(RunFinished)
    assert finished.status == "done" and finished.pull_request is not None
    assert finished.pull_request.url == pull["html_url"]
    assert not (world.data / "workspaces" / record.run_id).exists()


async def _awaiting_review(world: World) -> str:
    started = await world.cli("run", KEY)
    assert started.code == 0, started.err
    assert "Waiting for review" in started.out
    run = await world.only_run()
    assert run.status == "awaiting_review"
    return run.run_id


async def _approve_and_kill_when_held(world: World, run_id: str, held: Hold) -> None:
    """`taskmaster resume RUN_ID approve` in a process killed while `held` is held."""
    proc = await world.spawn("resume", run_id, "approve", "--by", "ana")
    output = asyncio.create_task(proc.communicate())
    arrived = asyncio.create_task(held.arrived.wait())
    done, _ = await asyncio.wait({output, arrived}, timeout=120, return_when="FIRST_COMPLETED")
    if arrived not in done:
        arrived.cancel()
        out, err = await output if output in done else (b"", b"")
        pytest.fail(f"the held request never came: {out.decode()}{err.decode()}")
    os.killpg(proc.pid, signal.SIGKILL)
    await output
    assert proc.returncode == -signal.SIGKILL
    # The dead client's request: answer it as the crash scenario says, to nobody.
    (held.release if held.after else held.drop)()
    assert (await world.record(run_id)).status == "running"


async def _resume_to_done(world: World, run_id: str) -> None:
    resumed = await world.cli("resume", run_id)
    assert resumed.code == 0, resumed.out + resumed.err
    assert (await world.record(run_id)).status == "done"


@pytest.mark.parametrize("after", [True, False], ids=["created-then-killed", "killed-before"])
async def test_delivery_killed_before_the_pull_request_is_recorded_opens_one(
    world: World, after: bool
) -> None:
    run_id = await _awaiting_review(world)
    held = world.github.hold("POST", PULLS, after=after)

    await _approve_and_kill_when_held(world, run_id, held)
    assert len(await world.branches()) == 1  # pushed before the pull request
    assert len(world.github.pulls) == (1 if after else 0)
    assert world.comments() == []
    await _resume_to_done(world, run_id)

    [pull] = world.github.pulls
    assert len(world.github.to("POST", PULLS)) == (1 if after else 2)
    [comment] = world.comments()
    assert pull["html_url"] in json.dumps(comment["body"])
    assert len(world.jira.to("POST", f"{ISSUE}/transitions")) == 1


@pytest.mark.parametrize("after", [True, False], ids=["created-then-killed", "killed-before"])
async def test_delivery_killed_before_the_ticket_comment_is_recorded_comments_once(
    world: World, after: bool
) -> None:
    run_id = await _awaiting_review(world)
    held = world.jira.hold("POST", COMMENTS, after=after)

    await _approve_and_kill_when_held(world, run_id, held)
    assert len(world.github.pulls) == 1
    assert len(world.comments()) == (1 if after else 0)
    await _resume_to_done(world, run_id)

    [pull] = world.github.pulls
    assert len(world.github.to("POST", PULLS)) == 1
    [comment] = world.comments()
    assert pull["html_url"] in json.dumps(comment["body"])
    assert len(world.jira.to("POST", COMMENTS)) == (1 if after else 2)
    assert world.jira.issues[KEY]["status"]["name"] == "In Review"


async def test_delivery_rides_out_server_errors_and_a_rate_limit(world: World) -> None:
    world.github.fail("POST", PULLS, 500, times=2)
    world.jira.fail("GET", ISSUE, 429, headers={"Retry-After": "1"})

    record = await _deliver_in_process(world, Recorder())

    assert record.status == "done"
    limited, fetched = world.jira.to("GET", ISSUE)[:2]
    assert "summary" in limited.query["fields"] and "summary" in fetched.query["fields"]
    assert fetched.at - limited.at >= 1.0  # Retry-After was honoured
    assert len(world.github.to("POST", PULLS)) == 3
    assert len(world.github.pulls) == 1
    assert len(world.comments()) == 1


def _refuse(world: World, where: str) -> str:
    """Make one service refuse the token at `where`; returns the setting to check."""
    if where == "jira-fetch":
        world.jira.token = "revoked"
        return "JIRA_API_TOKEN"
    if where == "github-repository":
        world.github.token = "revoked"
        return "GITHUB_TOKEN"
    world.github.fail("GET", PULLS, 401)  # after the clone and the push
    return "GITHUB_TOKEN"


@pytest.mark.parametrize("where", ["jira-fetch", "github-repository", "github-pulls"])
async def test_delivery_refused_token_is_an_auth_error_that_leaks_no_token(
    world: World, where: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    setting = _refuse(world, where)
    recorder = Recorder()

    async with world.runtime(recorder) as manager:
        run = await manager.start(KEY, "U_ANA")
        record = await manager.wait(run.run_id)
        if record.status == "awaiting_review":
            await manager.decide(run.run_id, ReviewDecision(action="approve", by="ana"))
            record = await manager.wait(run.run_id)

    assert record.status == "failed"
    [error] = recorder.of(ErrorRaised)
    assert error.kind == ErrorKind.AUTH
    assert setting in error.message and setting == error.message.split()[0]
    assert [event.status for event in recorder.of(RunFinished)] == ["failed"]
    if where == "github-pulls":
        assert world.workspace_configs()  # the check below is not vacuous
    assert world.files_holding_a_secret() == []
    assert_no_secret(
        caplog.text,
        *(r.getMessage() for r in caplog.records),
        *(event.model_dump_json() for event in recorder.events),
        record.error or "",
    )


async def test_cli_refused_token_is_an_auth_error_that_leaks_no_token(world: World) -> None:
    _refuse(world, "github-pulls")

    result = await world.cli("run", KEY, "--decide", "approve", "--by", "ana")

    assert result.code == 1
    assert "GITHUB_TOKEN was refused" in result.out and "(auth)" in result.out
    assert "Traceback" not in result.out + result.err
    assert world.workspace_configs()
    assert world.files_holding_a_secret() == []
    assert_no_secret(result.out, result.err)
    assert (await world.only_run()).status == "failed"


async def test_delivery_unknown_jira_key_clones_nothing(world: World) -> None:
    recorder = Recorder()
    async with world.runtime(recorder) as manager:
        run = await manager.start("TASK-999", "U_ANA")
        record = await manager.wait(run.run_id)

    assert record.status == "failed"
    [error] = recorder.of(ErrorRaised)
    assert error.kind == ErrorKind.TICKET_NOT_FOUND and "TASK-999" in error.message
    assert not (world.data / "workspaces").exists()
    assert world.github.requests == []
    assert await world.branches() == []
