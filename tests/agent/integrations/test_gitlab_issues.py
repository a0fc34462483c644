"""GitLabTicketSource against the fake GitLab: keys, issues as tickets, notes and labels."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from agent.errors import ErrorKind, TaskmasterError
from agent.integrations import registry
from agent.integrations.gitlab_issues import GitLabTicketSource
from agent.integrations.http import RESET_MARGIN, RetryPolicy
from agent.models import PullRequest, Ticket
from agent.settings import SettingsError, load_settings
from tests.fakes import Sleeps
from tests.fakes.gitlab import FakeGitLab, Project

TOKEN = "canary-glpat-ISSUES"
PATH = "acme/platform/app"
ISSUE = "/api/v4/projects/acme%2Fplatform%2Fapp/issues/12"
NOTES = f"{ISSUE}/notes"
DESCRIPTION = """\
`TaskService.overdue()` includes tasks due **today**.

```markdown
- [ ] not a criterion: this is inside a code block
```

## Acceptance criteria

- A task due today is not overdue.
- A regression test covers it.
"""
TASKS = """\
Due today is not overdue.

- [ ] A task due today is not overdue
- [x] Completed tasks are never overdue
* [ ] A regression test covers it
- plain bullet, not a task
"""


@pytest.fixture
async def gitlab() -> AsyncIterator[FakeGitLab]:
    async with FakeGitLab(token=TOKEN) as fake:
        yield fake


@pytest.fixture
def project(gitlab: FakeGitLab) -> Project:
    project = gitlab.add_project(PATH, "file:///nowhere.git", id=42)
    gitlab.add_issue(
        project,
        12,
        "Tasks due today are reported as overdue",
        DESCRIPTION,
        labels=("bug", "priority::high"),
    )
    return project


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def source(gitlab: FakeGitLab, http: aiohttp.ClientSession, **extra: Any) -> GitLabTicketSource:
    values = {"GITLAB_URL": gitlab.url, "GITLAB_PROJECT": PATH, "GITLAB_TOKEN": TOKEN, **extra}
    settings = load_settings(values, env_file=None)
    return GitLabTicketSource(settings, http, retry=RetryPolicy(sleep=Sleeps()))


def merge_request(gitlab: FakeGitLab, number: int = 3) -> PullRequest:
    url = f"{gitlab.url}/{PATH}/-/merge_requests/{number}"
    return PullRequest(number=number, url=url, branch="taskmaster/12-x", title="[#12] Fix [it]")


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("#12", "#12"),
        (" #12 ", "#12"),
        ("acme/platform/app#12", "#12"),  # the configured project: one key per issue
        ("ACME/Platform/App#12", "#12"),
        ("other/group/tool#3", "other/group/tool#3"),
        ("Other/Tool#3", "other/tool#3"),
    ],
)
async def test_gitlab_keys_are_hash_numbers_in_a_project(
    gitlab: FakeGitLab, http: aiohttp.ClientSession, typed: str, key: str
) -> None:
    assert source(gitlab, http).parse_key(typed) == key


@pytest.mark.parametrize(
    "typed",
    ["12", "TASK-101", "#0", "#12a", "app#12", "a/../b#1", "a//b#1", "-a/b#1", "#1?x", ""],
)
async def test_gitlab_keys_refuse_anything_else_saying_what_keys_look_like(
    gitlab: FakeGitLab, http: aiohttp.ClientSession, typed: str
) -> None:
    with pytest.raises(TaskmasterError) as raised:
        source(gitlab, http).parse_key(typed)
    assert raised.value.kind == ErrorKind.INVALID_INPUT
    assert raised.value.message.endswith("Keys look like #12 or group/project#12.")


async def test_gitlab_fetch_turns_an_issue_into_a_ticket(
    gitlab: FakeGitLab, project: Project, http: aiohttp.ClientSession
) -> None:
    ticket = await source(gitlab, http).fetch("#12")

    assert ticket == Ticket(
        key="#12",
        title="Tasks due today are reported as overdue",
        description=DESCRIPTION,
        type="Issue",
        priority="high",
        status="Open",
        labels=("bug", "priority::high"),
        acceptance_criteria=("A task due today is not overdue.", "A regression test covers it."),
        url=f"{gitlab.url}/{PATH}/-/issues/12",
    )
    [request] = gitlab.to("GET", ISSUE)
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"


async def test_gitlab_fetch_reads_criteria_from_a_task_list(
    gitlab: FakeGitLab, project: Project, http: aiohttp.ClientSession
) -> None:
    gitlab.add_issue(project, 13, "Tasks", TASKS, issue_type="test_case")

    ticket = await source(gitlab, http).fetch("#13")

    assert ticket.acceptance_criteria == (
        "A task due today is not overdue",
        "Completed tasks are never overdue",
        "A regression test covers it",
    )
    assert ticket.type == "Test case"


async def test_gitlab_fetch_of_another_project_encodes_its_path(
    gitlab: FakeGitLab, project: Project, http: aiohttp.ClientSession
) -> None:
    other = gitlab.add_project("other/group/tool", "file:///tool.git", id=7)
    gitlab.add_issue(other, 3, "Elsewhere")

    ticket = await source(gitlab, http).fetch("other/group/tool#3")

    assert ticket.key == "other/group/tool#3" and ticket.title == "Elsewhere"
    assert [r.path for r in gitlab.requests] == ["/api/v4/projects/other%2Fgroup%2Ftool/issues/3"]


async def test_gitlab_fetch_with_a_numeric_project_id(
    gitlab: FakeGitLab, project: Project, http: aiohttp.ClientSession
) -> None:
    ticket = await source(gitlab, http, GITLAB_PROJECT="42").fetch("#12")

    assert ticket.key == "#12"
    assert [r.path for r in gitlab.requests] == ["/api/v4/projects/42/issues/12"]


@pytest.mark.parametrize("key", ["#99", "nobody/there#1"])
async def test_gitlab_fetch_unknown_issue_is_ticket_not_found(
    gitlab: FakeGitLab, project: Project, http: aiohttp.ClientSession, key: str
) -> None:
    with pytest.raises(TaskmasterError) as caught:
        await source(gitlab, http).fetch(key)
    assert caught.value.kind == ErrorKind.TICKET_NOT_FOUND
    assert "GitLab has no issue" in caught.value.message


@pytest.mark.parametrize("key", ["#1/../../x", "#1?private_token=x", "TASK-1", ""])
async def test_gitlab_fetch_checks_the_key_before_any_request(
    gitlab: FakeGitLab, project: Project, http: aiohttp.ClientSession, key: str
) -> None:
    with pytest.raises(TaskmasterError) as caught:
        await source(gitlab, http).fetch(key)
    assert caught.value.kind == ErrorKind.INVALID_INPUT
    assert gitlab.requests == []


async def test_gitlab_plain_note_is_posted_as_given(
    gitlab: FakeGitLab, project: Project, http: aiohttp.ClientSession
) -> None:
    tickets = source(gitlab, http)
    ticket = await tickets.fetch("#12")

    note_id = await tickets.note(ticket, "Rejected by ben: not now.")

    [posted] = gitlab.to("POST", NOTES)
    assert posted.body == {"body": "Rejected by ben: not now."}
    assert [str(n["id"]) for n in gitlab.user_notes(project, 12)] == [note_id]


async def test_gitlab_note_is_posted_once_and_reused_past_a_page_of_others(
    gitlab: FakeGitLab, project: Project, http: aiohttp.ClientSession
) -> None:
    tickets = source(gitlab, http)
    ticket = await tickets.fetch("#12")
    for n in range(120):  # more than a page (100), so the lookup must page
        gitlab.add_note(project, 12, f"comment {n}")
    pull = merge_request(gitlab)
    # GitLab's own cross-reference is a system note that names the merge request: not ours.
    gitlab.add_note(project, 12, f"mentioned in merge request !3 {pull.url}", system=True)

    first = await tickets.comment(ticket, pull)
    second = await tickets.comment(ticket, pull)

    assert first == second
    [posted] = gitlab.to("POST", NOTES)
    assert posted.body == {
        "body": f"TaskMaster opened [\\[#12\\] Fix \\[it\\]]({pull.url}) for this issue."
    }
    mine = [n for n in gitlab.user_notes(project, 12) if pull.url in n["body"]]
    assert [str(n["id"]) for n in mine] == [first]
    pages = [r.query["page"] for r in gitlab.to("GET", NOTES)]
    assert pages == ["1", "2", "1", "2"]  # the first reads both pages, the second finds it
    assert all(r.query["sort"] == "asc" for r in gitlab.to("GET", NOTES))


async def test_gitlab_note_whose_answer_was_lost_is_not_posted_twice(
    gitlab: FakeGitLab, project: Project, http: aiohttp.ClientSession
) -> None:
    tickets = source(gitlab, http)
    ticket = await tickets.fetch("#12")
    gitlab.fail("POST", NOTES, 502, after=True)  # GitLab stored it, then the answer was lost

    with pytest.raises(TaskmasterError) as caught:
        await tickets.comment(ticket, merge_request(gitlab))
    assert caught.value.kind == ErrorKind.CONNECTION
    assert len(gitlab.to("POST", NOTES)) == 1  # a POST is not retried on a 5xx
    note_id = await tickets.comment(ticket, merge_request(gitlab))  # the retry finds it

    assert len(gitlab.to("POST", NOTES)) == 1
    assert [str(n["id"]) for n in gitlab.user_notes(project, 12)] == [note_id]


async def test_gitlab_note_rate_limited_waits_until_reset(
    gitlab: FakeGitLab, project: Project, http: aiohttp.ClientSession
) -> None:
    """GitLab's note rate limit answers 429 with RateLimit-Reset and no Retry-After."""
    sleeps = Sleeps()
    values = {"GITLAB_URL": gitlab.url, "GITLAB_PROJECT": PATH, "GITLAB_TOKEN": TOKEN}
    tickets = GitLabTicketSource(
        load_settings(values, env_file=None), http, retry=RetryPolicy(sleep=sleeps)
    )
    ticket = await tickets.fetch("#12")
    reset = int(time.time()) + 4
    gitlab.fail("POST", NOTES, 429, headers={"RateLimit-Reset": str(reset)})

    await tickets.comment(ticket, merge_request(gitlab))

    [waited] = sleeps.waits
    assert 2.5 < waited <= 4.0 + RESET_MARGIN
    assert len(gitlab.user_notes(project, 12)) == 1


async def test_gitlab_done_labels_are_added_once(
    gitlab: FakeGitLab, project: Project, http: aiohttp.ClientSession
) -> None:
    tickets = source(gitlab, http, GITLAB_DONE_LABELS="workflow::review, taskmaster")
    ticket = await tickets.fetch("#12")

    assert await tickets.transition(ticket) == "workflow::review, taskmaster"
    assert await tickets.transition(ticket) == "workflow::review, taskmaster"

    assert project.issues[12]["labels"] == [
        "bug",
        "priority::high",
        "workflow::review",
        "taskmaster",
    ]
    [first, _] = gitlab.to("PUT", ISSUE)
    assert first.body == {"add_labels": "workflow::review,taskmaster"}


async def test_gitlab_without_done_labels_changes_nothing(
    gitlab: FakeGitLab, project: Project, http: aiohttp.ClientSession
) -> None:
    tickets = source(gitlab, http)
    assert await tickets.transition(await tickets.fetch("#12")) is None
    assert gitlab.to("PUT", ISSUE) == []


async def test_gitlab_issues_refused_token_is_auth_without_the_token(
    gitlab: FakeGitLab,
    project: Project,
    http: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    gitlab.token = "revoked"

    with pytest.raises(TaskmasterError) as caught:
        await source(gitlab, http).fetch("#12")

    assert caught.value.kind == ErrorKind.AUTH
    assert caught.value.message.split()[0] == "GITLAB_TOKEN"
    assert TOKEN not in caught.value.message + repr(caught.value) + caplog.text


async def test_gitlab_tickets_chosen_without_their_settings_name_the_missing_one(
    http: aiohttp.ClientSession,
) -> None:
    with pytest.raises(SettingsError, match=r"^GITLAB_PROJECT is not set"):
        registry.ticket_source(load_settings({"TASKMASTER_TICKETS": "gitlab"}, env_file=None), http)
    values = {"TASKMASTER_TICKETS": "gitlab", "GITLAB_PROJECT": "a/b"}
    chosen = load_settings(values, env_file=None)
    with pytest.raises(SettingsError, match=r"^GITLAB_TOKEN is not set"):
        registry.ticket_source(chosen, http)
