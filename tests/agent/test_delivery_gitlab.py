"""Delivery with GitLab: merge requests out, GitLab issues in, against the fake GitLab.

A real bare repository stands behind the fake's project. Runs go in-process
(`open_runtime`) or through the `taskmaster` command in separate processes, which the
crash tests kill with SIGKILL while the fake holds the request whose answer TaskMaster
has not recorded yet. Jira tickets with GitLab, and GitLab issues with GitHub, work too.
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
from agent.events import ErrorRaised, Event, PullRequestOpened, RunFinished, TicketUpdated
from agent.git import git
from agent.integrations.local_tickets import parse_front_matter
from agent.models import ReviewDecision
from agent.runs.manager import RunManager
from agent.runs.runtime import open_runtime
from agent.runs.store import RunRecord, RunStore
from agent.settings import load_settings
from tests.cli import Result, run_cli, spawn_cli
from tests.fakes import Hold
from tests.fakes.github import FakeGitHub
from tests.fakes.gitlab import FakeGitLab, Project
from tests.fakes.jira import FakeJira, bullets, doc, heading, item, para, text

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "demo"
SCRIPT = EXAMPLES / "scripts" / "TASK-101.json"  # one file: it serves any key, #12 included
TITLE = "Tasks due today are reported as overdue"
PROJECT = "acme/platform/tasktrack"  # a subgroup: the path must go out URL-encoded
ENCODED = "acme%2Fplatform%2Ftasktrack"
DEFAULT_BRANCH = "trunk"  # not "main": the target must come from GitLab, not be assumed
GITLAB_TOKEN = "canary-glpat-789"
JIRA_TOKEN = "canary-jira-456"
GITHUB_TOKEN = "canary-gh-123"
JIRA_EMAIL = "bot@example.com"
CANARIES = (
    GITLAB_TOKEN,
    JIRA_TOKEN,
    GITHUB_TOKEN,
    base64.b64encode(f"oauth2:{GITLAB_TOKEN}".encode()).decode(),
    base64.b64encode(f"{JIRA_EMAIL}:{JIRA_TOKEN}".encode()).decode(),
    base64.b64encode(f"x-access-token:{GITHUB_TOKEN}".encode()).decode(),
)
API = f"/api/v4/projects/{ENCODED}"
MRS = f"{API}/merge_requests"
ISSUE = f"{API}/issues/12"
NOTES = f"{ISSUE}/notes"
E = TypeVar("E")


def _issue_markdown() -> str:
    """examples/demo/tickets/TASK-101.md's body, as a GitLab issue's description holds it."""
    _, body = parse_front_matter((EXAMPLES / "tickets" / "TASK-101.md").read_text())
    return body.split("\n", 2)[2].strip()  # without the `# Title` line


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
    """The fakes, the bare repository behind GitLab's project, and a private data folder."""

    home: Path
    bare: Path
    gitlab: FakeGitLab
    project: Project
    jira: FakeJira
    github: FakeGitHub
    tickets: str = "gitlab"
    code_host: str = "gitlab"

    @property
    def data(self) -> Path:
        return self.home / "data"

    def settings_env(self) -> dict[str, str]:
        env = {
            "TASKMASTER_TICKETS": self.tickets,
            "TASKMASTER_CODE_HOST": self.code_host,
            "GITLAB_URL": self.gitlab.url,
            "GITLAB_PROJECT": PROJECT,
            "GITLAB_TOKEN": GITLAB_TOKEN,
            "GITLAB_DONE_LABELS": "workflow::review",
            "JIRA_URL": self.jira.url,
            "JIRA_EMAIL": JIRA_EMAIL,
            "JIRA_API_TOKEN": JIRA_TOKEN,
            "TASKMASTER_MODEL": f"scripted:{SCRIPT}",
            "TASKMASTER_DATA_DIR": str(self.data),
        }
        if self.code_host == "github":
            env |= {
                "GITHUB_REPOSITORY": "acme/tasktrack",
                "GITHUB_TOKEN": GITHUB_TOKEN,
                "GITHUB_API_URL": self.github.url,
            }
        return env

    def process_env(self) -> dict[str, str]:
        ours = ("TASKMASTER_", "SLACK_", "JIRA_", "GITHUB_", "GITLAB_")
        env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
        return {**env, **self.settings_env()}

    def runtime(self, sink: Recorder) -> AbstractAsyncContextManager[RunManager]:
        settings = load_settings(self.settings_env(), env_file=None)
        return open_runtime(settings, self.process_env(), sink)

    async def spawn(self, *args: str) -> asyncio.subprocess.Process:
        return await spawn_cli(self.home, self.process_env(), *args)

    async def cli(self, *args: str) -> Result:
        return await run_cli(self.home, self.process_env(), *args)

    async def only_run(self) -> RunRecord:
        store = await RunStore.open(self.data / "taskmaster.db")
        try:
            [run] = await store.recent(limit=10)
            return run
        finally:
            await store.close()

    async def record(self, run_id: str) -> RunRecord:
        store = await RunStore.open(self.data / "taskmaster.db")
        try:
            return await store.require(run_id)
        finally:
            await store.close()

    async def branches(self) -> list[str]:
        out = await git(
            "branch", "--list", "taskmaster/*", "--format=%(refname:short)", cwd=self.bare
        )
        return out.split()

    def notes(self) -> list[dict[str, Any]]:
        """The issue's notes people wrote (GitLab's own system notes left out)."""
        return self.gitlab.user_notes(self.project, 12)

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
        FakeGitLab(token=GITLAB_TOKEN) as gitlab,
        FakeJira(JIRA_EMAIL, JIRA_TOKEN) as jira,
        FakeGitHub(
            bare.as_uri(),
            repository="acme/tasktrack",
            default_branch=DEFAULT_BRANCH,
            token=GITHUB_TOKEN,
        ) as github,
    ):
        project = gitlab.add_project(
            PROJECT, bare.as_uri(), id=42, default_branch=DEFAULT_BRANCH, bare=bare
        )
        gitlab.add_issue(project, 12, TITLE, _issue_markdown(), labels=("bug",))
        description = doc(
            para(text("A task due today is reported as overdue.")),
            heading("Acceptance criteria"),
            bullets(item(text("A task due today is not overdue."))),
        )
        jira.add_issue("TASK-101", TITLE, description=description, type="Bug")
        yield World(tmp_path, bare, gitlab, project, jira, github)


async def _deliver_in_process(world: World, key: str, recorder: Recorder) -> RunRecord:
    async with world.runtime(recorder) as manager:
        run = await manager.start(key, "U_ANA")
        assert (await manager.wait(run.run_id)).status == "awaiting_review"
        await manager.decide(run.run_id, ReviewDecision(action="approve", by="ana"))
        record: RunRecord = await manager.wait(run.run_id)
        return record


async def test_jira_ticket_with_gitlab_opens_one_merge_request_that_the_comment_links(
    world: World,
) -> None:
    world.tickets = "jira"
    recorder = Recorder()

    record = await _deliver_in_process(world, "TASK-101", recorder)

    assert record.status == "done", record.error
    [created] = world.gitlab.to("POST", MRS)
    [mr] = world.project.merge_requests
    assert mr["title"] == f"[TASK-101] {TITLE}"
    assert mr["source_branch"].startswith("taskmaster/TASK-101-")
    assert mr["target_branch"] == DEFAULT_BRANCH
    assert await world.branches() == [mr["source_branch"]]
    description = created.body["description"]
    assert "## Plan" in description and "## Tests" in description
    assert "passed, 0 failed" in description and f"{world.jira.url}/browse/TASK-101" in description
    [comment] = world.jira.comments["TASK-101"]
    assert mr["web_url"] in json.dumps(comment["body"])
    [opened] = recorder.of(PullRequestOpened)
    assert opened.pull_request.url == mr["web_url"] and opened.pull_request.number == mr["iid"]


async def test_gitlab_issue_with_github_opens_one_pull_request_that_one_note_links(
    world: World,
) -> None:
    world.code_host = "github"
    recorder = Recorder()

    record = await _deliver_in_process(world, "#12", recorder)

    assert record.status == "done", record.error
    assert world.project.merge_requests == []
    [pull] = world.github.pulls
    assert pull["title"] == f"[#12] {TITLE}"
    assert pull["head"]["ref"].startswith("taskmaster/12-tasks-due-today")
    assert f"{world.gitlab.url}/{PROJECT}/-/issues/12" in pull["body"]
    [note] = world.notes()
    assert pull["html_url"] in note["body"]
    assert world.project.issues[12]["labels"] == ["bug", "workflow::review"]
    [updated] = recorder.of(TicketUpdated)
    assert updated.ticket == "#12" and updated.transition == "workflow::review"


async def test_gitlab_issue_from_the_terminal_opens_one_merge_request_and_one_note(
    world: World,
) -> None:
    result = await world.cli("run", "#12", "--decide", "approve", "--by", "ana")

    assert result.code == 0, result.out + result.err
    assert "#12: Tasks due today are reported as overdue" in result.out
    [mr] = world.project.merge_requests
    assert mr["title"] == f"[#12] {TITLE}" and mr["target_branch"] == DEFAULT_BRANCH
    assert mr["source_branch"].startswith("taskmaster/12-tasks-due-today")
    assert f"#{mr['iid']} opened: {mr['web_url']}" in result.out
    [note] = world.notes()
    assert mr["web_url"] in note["body"]
    # GitLab cross-referenced the issue from the merge request's description on its own.
    system = [n["body"] for n in world.project.notes[12] if n["system"]]
    assert system == [f"mentioned in merge request !{mr['iid']}"]
    assert (await world.only_run()).status == "done"
    assert [r.path for r in world.gitlab.requests if "%2F" not in r.path] == []


async def _awaiting_review(world: World) -> str:
    started = await world.cli("run", "#12")
    assert started.code == 0, started.out + started.err
    assert "Waiting for review" in started.out
    run = await world.only_run()
    assert run.status == "awaiting_review" and run.ticket == "#12"
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
async def test_killed_before_the_merge_request_is_recorded_still_opens_one(
    world: World, after: bool
) -> None:
    run_id = await _awaiting_review(world)
    held = world.gitlab.hold("POST", MRS, after=after)

    await _approve_and_kill_when_held(world, run_id, held)
    assert len(await world.branches()) == 1  # pushed before the merge request
    assert len(world.project.merge_requests) == (1 if after else 0)
    assert world.notes() == []
    await _resume_to_done(world, run_id)

    [mr] = world.project.merge_requests
    assert len(world.gitlab.to("POST", MRS)) == (1 if after else 2)
    [note] = world.notes()
    assert mr["web_url"] in note["body"]


@pytest.mark.parametrize("after", [True, False], ids=["posted-then-killed", "killed-before"])
async def test_killed_before_the_note_is_recorded_still_posts_one(
    world: World, after: bool
) -> None:
    run_id = await _awaiting_review(world)
    held = world.gitlab.hold("POST", NOTES, after=after)

    await _approve_and_kill_when_held(world, run_id, held)
    assert len(world.project.merge_requests) == 1
    assert len(world.notes()) == (1 if after else 0)
    await _resume_to_done(world, run_id)

    [mr] = world.project.merge_requests
    assert len(world.gitlab.to("POST", MRS)) == 1
    [note] = world.notes()
    assert mr["web_url"] in note["body"]
    assert len(world.gitlab.to("POST", NOTES)) == (1 if after else 2)
    assert world.project.issues[12]["labels"] == ["bug", "workflow::review"]


async def test_delivery_rides_out_server_errors_and_waits_as_a_429_tells(world: World) -> None:
    world.gitlab.fail("POST", MRS, 500, times=2)
    world.gitlab.fail("GET", ISSUE, 429, headers={"Retry-After": "1"})

    record = await _deliver_in_process(world, "#12", Recorder())

    assert record.status == "done", record.error
    limited, fetched = world.gitlab.to("GET", ISSUE)[:2]
    assert fetched.at - limited.at >= 1.0  # Retry-After was honoured
    assert len(world.gitlab.to("POST", MRS)) == 3
    assert len(world.project.merge_requests) == 1
    assert len(world.notes()) == 1


async def test_delivery_finds_an_open_merge_request_on_409_and_reuses_it(world: World) -> None:
    # Another process opened it between our lookup and our create: GitLab answers 409.
    lookup = world.gitlab.hold("GET", MRS, after=True)

    async def open_theirs() -> None:
        await lookup.arrived.wait()
        [branch] = await world.branches()
        world.project.merge_requests.append(
            {
                "id": 1,
                "iid": 1,
                "title": "theirs",
                "description": "",
                "state": "opened",
                "source_branch": branch,
                "target_branch": DEFAULT_BRANCH,
                "draft": False,
                "web_url": f"{world.gitlab.url}/{PROJECT}/-/merge_requests/1",
            }
        )
        lookup.release()

    theirs = asyncio.create_task(open_theirs())
    record = await _deliver_in_process(world, "#12", Recorder())
    await theirs

    assert record.status == "done", record.error
    [conflict] = world.gitlab.to("POST", MRS)
    assert conflict.body["title"] == f"[#12] {TITLE}"
    [mr] = world.project.merge_requests
    assert mr["title"] == "theirs"
    [note] = world.notes()
    assert mr["web_url"] in note["body"]


def _refuse(world: World, where: str) -> None:
    if where == "issue":
        world.gitlab.token = "revoked"
    elif where == "merge-request":
        world.gitlab.fail("POST", MRS, 401)  # after the clone and the push
    else:
        world.gitlab.fail("GET", NOTES, 403)  # after the merge request


@pytest.mark.parametrize("where", ["issue", "merge-request", "notes"])
async def test_canary_token_is_in_no_log_event_row_git_config_or_error(
    world: World, where: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _refuse(world, where)
    recorder = Recorder()

    async with world.runtime(recorder) as manager:
        run = await manager.start("#12", "U_ANA")
        record = await manager.wait(run.run_id)
        if record.status == "awaiting_review":
            await manager.decide(run.run_id, ReviewDecision(action="approve", by="ana"))
            record = await manager.wait(run.run_id)

    assert record.status == "failed"
    [error] = recorder.of(ErrorRaised)
    assert error.kind == ErrorKind.AUTH
    assert error.message.split()[0] == "GITLAB_TOKEN"
    assert [event.status for event in recorder.of(RunFinished)] == ["failed"]
    if where != "issue":
        assert world.workspace_configs()  # the check below is not vacuous
        assert await world.branches()  # and the token did go to git
    assert world.files_holding_a_secret() == []
    assert_no_secret(
        caplog.text,
        *(r.getMessage() for r in caplog.records),
        *(event.model_dump_json() for event in recorder.events),
        record.error or "",
        *(path.read_text() for path in world.workspace_configs()),
    )


async def test_cli_refused_gitlab_token_is_an_auth_line_that_leaks_no_token(world: World) -> None:
    world.gitlab.fail("POST", MRS, 401)

    result = await world.cli("run", "#12", "--decide", "approve", "--by", "ana")

    assert result.code == 1
    assert "GITLAB_TOKEN was refused" in result.out and "(auth)" in result.out
    assert "Traceback" not in result.out + result.err
    assert world.workspace_configs()
    assert world.files_holding_a_secret() == []
    assert_no_secret(result.out, result.err)


async def test_cli_gitlab_chosen_without_a_token_stops_with_one_line(world: World) -> None:
    env = world.process_env()
    del env["GITLAB_TOKEN"]

    result = await run_cli(world.home, env, "run", "#12")

    assert result.code == 2
    assert result.err.strip() == (
        "taskmaster: GITLAB_TOKEN is not set: add it to .env (see .env.example)"
    )


@pytest.mark.parametrize("typed", ["TASK-101", "12", "acme#12"])
async def test_cli_gitlab_tickets_refuse_other_keys_before_anything_starts(
    world: World, typed: str
) -> None:
    result = await world.cli("run", typed)

    assert result.code == 2
    assert "Keys look like #12 or group/project#12" in result.err
    assert world.gitlab.requests == [] and not (world.data / "workspaces").exists()
