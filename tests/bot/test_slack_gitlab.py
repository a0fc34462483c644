"""`/taskmaster #12` in Slack with GitLab issues and a GitLab code host, end to end."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.slack import ids
from localslack import LocalSlack
from tests.bot.conftest import StartBot
from tests.bot.support import (
    CHANNEL,
    assert_valid_block_kit,
    block_text,
    eventually,
    open_review,
    root_of,
    text_at,
    thread_text,
)
from tests.fakes.gitlab import FakeGitLab, Project

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "demo"
TOKEN = "canary-glpat-slack"
PROJECT = "acme/platform/tasktrack"
TITLE = "Tasks due today are reported as overdue"


@pytest.fixture
async def gitlab() -> AsyncIterator[FakeGitLab]:
    async with FakeGitLab(token=TOKEN) as fake:
        yield fake


@pytest.fixture
def project(gitlab: FakeGitLab, remote: Path) -> Project:
    """The demo's remote behind a GitLab project in a subgroup, with the demo bug as #12."""
    project = gitlab.add_project(PROJECT, remote.as_uri(), id=7, bare=remote / ".git")
    ticket = (EXAMPLES / "tickets" / "TASK-101.md").read_text()
    gitlab.add_issue(project, 12, TITLE, ticket.split(f"# {TITLE}", 1)[1].strip())
    return project


@pytest.fixture
def gitlab_env(gitlab: FakeGitLab) -> dict[str, str]:
    return {
        "TASKMASTER_TICKETS": "gitlab",
        "TASKMASTER_CODE_HOST": "gitlab",
        "GITLAB_URL": gitlab.url,
        "GITLAB_PROJECT": PROJECT,
        "GITLAB_TOKEN": TOKEN,
        "TASKMASTER_MODEL": f"scripted:{EXAMPLES / 'scripts' / 'TASK-101.json'}",
    }


async def test_slack_gitlab_issue_opens_one_merge_request_and_one_note(
    start_bot: StartBot,
    slack: LocalSlack,
    gitlab: FakeGitLab,
    project: Project,
    gitlab_env: dict[str, str],
) -> None:
    async with start_bot(**gitlab_env):
        result = await slack.slash_command("#12", user="U_ANA")
        assert result.acked_in_time

        root = await eventually(lambda: root_of(slack, "#12"), what="the root message")
        review = await eventually(lambda: open_review(slack, root), what="the review request")
        assert TITLE in block_text(root) or TITLE in text_at(slack, root.ts)
        await slack.click(CHANNEL, review.ts, ids.APPROVE, user="U_BEN")
        await eventually(lambda: "*Done*" in text_at(slack, root.ts), what="done", within=60)

    [mr] = project.merge_requests
    assert mr["title"] == f"[#12] {TITLE}" and mr["target_branch"] == "main"
    assert mr["source_branch"].startswith("taskmaster/12-tasks-due-today")
    assert "Discussion: " + slack.base_url in mr["description"]  # the thread's link
    [note] = gitlab.user_notes(project, 12)
    assert mr["web_url"] in note["body"]
    assert mr["web_url"] in text_at(slack, root.ts) + thread_text(slack, root)
    assert_valid_block_kit(slack)


@pytest.mark.parametrize("typed", ["TASK-101", "12", "status TASK-1"])
async def test_slack_gitlab_tickets_refuse_other_keys_privately(
    start_bot: StartBot,
    slack: LocalSlack,
    gitlab: FakeGitLab,
    project: Project,
    gitlab_env: dict[str, str],
    typed: str,
) -> None:
    async with start_bot(**gitlab_env) as bot:
        await slack.slash_command(typed)
        [answer] = await eventually(lambda: slack.ephemerals)
        assert "Keys look like #12 or group/project#12" in answer.text
        assert slack.messages(CHANNEL) == []
        assert await bot.bot.manager.store.recent() == []
    assert gitlab.requests == []


async def test_slack_gitlab_help_shows_a_gitlab_key(
    start_bot: StartBot, slack: LocalSlack, project: Project, gitlab_env: dict[str, str]
) -> None:
    async with start_bot(**gitlab_env):
        await slack.slash_command("help")
        [answer] = await eventually(lambda: slack.ephemerals)
    assert "`/taskmaster #12`: start a run" in answer.text
