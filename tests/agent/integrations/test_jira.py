"""JiraTicketSource against a fake Jira Cloud served over real HTTP on 127.0.0.1."""

from __future__ import annotations

import base64
import logging
import traceback
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import unused_port

from agent.errors import ErrorKind, RateLimited, TaskmasterError
from agent.integrations.http import RetryPolicy
from agent.integrations.jira import JiraTicketSource
from agent.models import PullRequest, Ticket
from agent.settings import Settings, SettingsError
from tests.fakes import Sleeps
from tests.fakes.jira import (
    SAMPLE_CRITERIA,
    SAMPLE_DESCRIPTION,
    SAMPLE_MARKDOWN,
    FakeJira,
    bullets,
    doc,
    item,
    para,
    text,
)

EMAIL = "bot@example.com"
TOKEN = "canary-tok-XYZ"
SECRETS = (TOKEN, base64.b64encode(f"{EMAIL}:{TOKEN}".encode()).decode())
PR = PullRequest(
    number=7, url="https://github.com/acme/app/pull/7", branch="taskmaster/TASK-101-x", title="Fix"
)


@pytest.fixture
async def jira() -> AsyncIterator[FakeJira]:
    async with FakeJira(EMAIL, TOKEN) as fake:
        fake.add_issue(
            "TASK-101",
            "Flag overdue tasks",
            description=SAMPLE_DESCRIPTION,
            type="Bug",
            priority="High",
            labels=("backend",),
            components=("tasks", "api"),
        )
        yield fake


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def settings(url: str, **extra: Any) -> Settings:
    values = {"JIRA_URL": url, "JIRA_EMAIL": EMAIL, "JIRA_API_TOKEN": TOKEN, **extra}
    return Settings.model_validate(values)


def source(
    jira: FakeJira, http: aiohttp.ClientSession, sleeps: Sleeps | None = None, **extra: Any
) -> JiraTicketSource:
    retry = RetryPolicy(sleep=sleeps or Sleeps())
    return JiraTicketSource(settings(jira.url, **extra), http, retry=retry)


def assert_no_secret(*texts: str) -> None:
    for secret in SECRETS:
        for value in texts:
            assert secret not in value


def everything_about(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)) + repr(exc)


async def test_jira_fetch_turns_an_adf_description_into_a_ticket(
    jira: FakeJira, http: aiohttp.ClientSession
) -> None:
    ticket = await source(jira, http).fetch("TASK-101")

    assert ticket == Ticket(
        key="TASK-101",
        title="Flag overdue tasks",
        description=SAMPLE_MARKDOWN,
        type="Bug",
        priority="High",
        status="To Do",
        labels=("backend",),
        components=("tasks", "api"),
        acceptance_criteria=SAMPLE_CRITERIA,
        url=f"{jira.url}/browse/TASK-101",
    )
    [request] = jira.to("GET", "/rest/api/3/issue/TASK-101")
    assert request.query["fields"].split(",") == [
        "summary",
        "issuetype",
        "priority",
        "labels",
        "components",
        "status",
        "description",
    ]
    assert request.headers["Authorization"] == f"Basic {SECRETS[1]}"


async def test_jira_fetch_reads_criteria_from_the_custom_field_by_id(
    jira: FakeJira, http: aiohttp.ClientSession
) -> None:
    field = doc(bullets(item(text("Exports CSV")), item(text("Has a header row"))))
    jira.add_issue(
        "TASK-7", "Export", description=doc(para(text("Plain."))), customfield_10050=field
    )

    ticket = await source(jira, http, JIRA_ACCEPTANCE_FIELD="customfield_10050").fetch("TASK-7")

    assert ticket.acceptance_criteria == ("Exports CSV", "Has a header row")
    assert ticket.description == "Plain."
    assert "customfield_10050" in jira.to("GET", "/rest/api/3/issue/TASK-7")[0].query["fields"]
    assert jira.to("GET", "/rest/api/3/field") == []


async def test_jira_fetch_reads_criteria_from_a_text_field_named_by_display_name(
    jira: FakeJira, http: aiohttp.ClientSession
) -> None:
    jira.add_issue("TASK-8", "Import", customfield_10050="- Reads CSV\n- Skips blank lines\n")
    tickets = source(jira, http, JIRA_ACCEPTANCE_FIELD="acceptance criteria")

    ticket = await tickets.fetch("TASK-8")
    await tickets.fetch("TASK-8")

    assert ticket.acceptance_criteria == ("Reads CSV", "Skips blank lines")
    assert ticket.description == ""
    assert len(jira.to("GET", "/rest/api/3/field")) == 1  # resolved once, then remembered


async def test_jira_fetch_prefers_the_description_heading_over_the_field(
    jira: FakeJira, http: aiohttp.ClientSession
) -> None:
    jira.issues["TASK-101"]["customfield_10050"] = "- from the field"
    ticket = await source(jira, http, JIRA_ACCEPTANCE_FIELD="customfield_10050").fetch("TASK-101")
    assert ticket.acceptance_criteria == SAMPLE_CRITERIA


async def test_jira_fetch_unknown_key_is_ticket_not_found(
    jira: FakeJira, http: aiohttp.ClientSession
) -> None:
    with pytest.raises(TaskmasterError) as caught:
        await source(jira, http).fetch("TASK-999")
    assert caught.value.kind == ErrorKind.TICKET_NOT_FOUND
    assert "TASK-999" in caught.value.message


@pytest.mark.parametrize("key", ["task-1", "TASK-1/../../x", "TASK-1?fields=*all", ""])
async def test_jira_fetch_checks_the_key_before_any_request(
    jira: FakeJira, http: aiohttp.ClientSession, key: str
) -> None:
    with pytest.raises(TaskmasterError) as caught:
        await source(jira, http).fetch(key)
    assert caught.value.kind == ErrorKind.INVALID_INPUT
    assert jira.requests == []


async def test_jira_comment_is_posted_once_and_reused(
    jira: FakeJira, http: aiohttp.ClientSession
) -> None:
    tickets = source(jira, http)
    ticket = await tickets.fetch("TASK-101")
    jira.max_results = 1  # make the lookup page through the earlier comments
    for n in range(2):
        jira.comments["TASK-101"].append({"id": f"9{n}", "body": doc(para(text("older")))})

    first = await tickets.comment(ticket, PR)
    second = await tickets.comment(ticket, PR)

    assert first == second
    assert len(jira.to("POST", "/rest/api/3/issue/TASK-101/comment")) == 1
    posted = jira.comments["TASK-101"][-1]
    assert posted["id"] == first
    link = posted["body"]["content"][0]["content"][-1]
    assert link["marks"] == [{"type": "link", "attrs": {"href": PR.url}}]
    assert "#7" in posted["body"]["content"][0]["content"][0]["text"]


async def test_jira_note_posts_the_text_as_paragraphs(
    jira: FakeJira, http: aiohttp.ClientSession
) -> None:
    tickets = source(jira, http)
    ticket = await tickets.fetch("TASK-101")

    comment_id = await tickets.note(ticket, "Rejected by ben.\n\nWe replace this module.")

    [posted] = jira.comments["TASK-101"]
    assert posted["id"] == comment_id
    paragraphs = [p["content"][0]["text"] for p in posted["body"]["content"]]
    assert paragraphs == ["Rejected by ben.", "We replace this module."]


async def test_jira_comment_whose_answer_was_lost_is_not_posted_twice(
    jira: FakeJira, http: aiohttp.ClientSession
) -> None:
    tickets = source(jira, http)
    ticket = await tickets.fetch("TASK-101")
    path = "/rest/api/3/issue/TASK-101/comment"
    jira.fail("POST", path, 502, after=True)  # Jira stored it, then the answer was lost

    with pytest.raises(TaskmasterError) as caught:
        await tickets.comment(ticket, PR)
    assert caught.value.kind == ErrorKind.CONNECTION
    again = await tickets.comment(ticket, PR)  # the run's retry

    assert len(jira.to("POST", path)) == 1
    assert [c["id"] for c in jira.comments["TASK-101"]] == [again]


async def test_jira_transition_is_made_when_configured_and_skipped_when_there(
    jira: FakeJira, http: aiohttp.ClientSession
) -> None:
    tickets = source(jira, http, JIRA_TRANSITION="in review")
    ticket = await tickets.fetch("TASK-101")

    assert await tickets.transition(ticket) == "In Review"
    assert jira.issues["TASK-101"]["status"]["name"] == "In Review"
    assert await tickets.transition(ticket) == "In Review"

    [posted] = jira.to("POST", "/rest/api/3/issue/TASK-101/transitions")
    assert posted.body == {"transition": {"id": "21"}}


async def test_jira_transition_matches_the_transition_name_too(
    jira: FakeJira, http: aiohttp.ClientSession
) -> None:
    tickets = source(jira, http, JIRA_TRANSITION="Start progress")
    assert await tickets.transition(await tickets.fetch("TASK-101")) == "In Progress"


async def test_jira_transition_is_none_without_a_setting(
    jira: FakeJira, http: aiohttp.ClientSession
) -> None:
    tickets = source(jira, http)
    ticket = await tickets.fetch("TASK-101")
    assert await tickets.transition(ticket) is None
    assert len(jira.requests) == 1


async def test_jira_transition_that_does_not_exist_names_the_setting_and_the_options(
    jira: FakeJira, http: aiohttp.ClientSession
) -> None:
    tickets = source(jira, http, JIRA_TRANSITION="Shipped")
    with pytest.raises(TaskmasterError) as caught:
        await tickets.transition(await tickets.fetch("TASK-101"))
    assert caught.value.kind == ErrorKind.INVALID_INPUT
    assert "JIRA_TRANSITION" in caught.value.message
    assert "Start progress, Ready for review, Done" in caught.value.message


async def test_jira_rate_limit_waits_retry_after_and_succeeds(
    jira: FakeJira, http: aiohttp.ClientSession
) -> None:
    jira.fail("GET", "/rest/api/3/issue/TASK-101", 429, headers={"Retry-After": "1"})
    sleeps = Sleeps(real=True)

    ticket = await source(jira, http, sleeps).fetch("TASK-101")

    assert ticket.key == "TASK-101"
    first, second = jira.to("GET", "/rest/api/3/issue/TASK-101")
    assert second.at - first.at >= 1.0  # never sooner than Jira allowed


async def test_jira_rate_limit_longer_than_the_bound_fails_at_once_and_holds_the_gate(
    jira: FakeJira, http: aiohttp.ClientSession
) -> None:
    jira.fail("GET", "/rest/api/3/issue/TASK-101", 429, times=10, headers={"Retry-After": "3600"})
    sleeps = Sleeps()
    tickets = source(jira, http, sleeps)
    with pytest.raises(RateLimited) as caught:
        await tickets.fetch("TASK-101")
    assert caught.value.kind == ErrorKind.RATE_LIMITED and caught.value.retryable
    assert caught.value.wait == 3600.0
    assert "TASKMASTER_RATE_LIMIT_WAIT=120s" in caught.value.message
    assert sleeps.waits == []  # no hour-long sleep
    # Any other request to Jira within that hour is refused without being sent.
    with pytest.raises(RateLimited):
        await tickets.fetch("TASK-102")
    assert len(jira.requests) == 1


async def test_jira_iso_reset_time_is_honoured_when_there_is_no_retry_after(
    jira: FakeJira, http: aiohttp.ClientSession
) -> None:
    reset = datetime.now(UTC) + timedelta(minutes=10)
    headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset.strftime("%Y-%m-%dT%H:%MZ")}
    jira.fail("GET", "/rest/api/3/issue/TASK-101", 429, headers=headers)
    with pytest.raises(RateLimited) as caught:
        await source(jira, http, Sleeps()).fetch("TASK-101")
    assert caught.value.wait is not None and 8 * 60 < caught.value.wait <= 10 * 60 + 1


async def test_jira_server_errors_are_retried_then_reported(
    jira: FakeJira, http: aiohttp.ClientSession
) -> None:
    jira.fail("GET", "/rest/api/3/issue/TASK-101", 503, times=2)
    assert (await source(jira, http).fetch("TASK-101")).key == "TASK-101"

    jira.fail("GET", "/rest/api/3/issue/TASK-101", 500, times=4)
    with pytest.raises(TaskmasterError) as caught:
        await source(jira, http).fetch("TASK-101")
    assert caught.value.kind == ErrorKind.CONNECTION
    assert len(jira.to("GET", "/rest/api/3/issue/TASK-101")) == 3 + 4


async def test_jira_refused_token_is_auth_naming_the_setting_without_the_token(
    jira: FakeJira, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    jira.token = "another-token"  # Jira no longer accepts ours

    with pytest.raises(TaskmasterError) as caught:
        await source(jira, http).fetch("TASK-101")

    assert caught.value.kind == ErrorKind.AUTH
    host = jira.url.removeprefix("http://")
    assert caught.value.message == (
        f"JIRA_API_TOKEN was refused by {host} (check JIRA_EMAIL and JIRA_API_TOKEN)"
    )
    assert len(jira.requests) == 1  # a refusal is not retried
    assert_no_secret(everything_about(caught.value), caplog.text)
    assert_no_secret(*(r.getMessage() for r in caplog.records))


async def test_jira_canary_token_appears_in_no_message_or_log(
    jira: FakeJira, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    jira.fail("GET", "/rest/api/3/issue/TASK-101", 500)
    jira.fail("POST", "/rest/api/3/issue/TASK-101/comment", 401)
    tickets = source(jira, http, JIRA_TRANSITION="Nowhere")

    ticket = await tickets.fetch("TASK-101")
    errors = []
    for effect in (tickets.comment(ticket, PR), tickets.transition(ticket)):
        with pytest.raises(TaskmasterError) as caught:
            await effect
        errors.append(everything_about(caught.value))

    assert caplog.records  # the failures were logged...
    assert_no_secret(*errors, caplog.text, *(r.getMessage() for r in caplog.records))


async def test_jira_closed_port_is_connection(http: aiohttp.ClientSession) -> None:
    url = f"http://127.0.0.1:{unused_port()}"
    sleeps = Sleeps()
    tickets = JiraTicketSource(settings(url), http, retry=RetryPolicy(sleep=sleeps))

    with pytest.raises(TaskmasterError) as caught:
        await tickets.fetch("TASK-101")

    assert caught.value.kind == ErrorKind.CONNECTION
    assert "127.0.0.1" in caught.value.message
    assert len(sleeps.waits) == 3  # a GET is retried before giving up


async def test_jira_missing_setting_is_named(http: aiohttp.ClientSession) -> None:
    incomplete = Settings.model_validate({"JIRA_URL": "https://acme.atlassian.net"})
    with pytest.raises(SettingsError, match="JIRA_EMAIL"):
        JiraTicketSource(incomplete, http)


async def test_jira_503_with_retry_after_is_retried_no_sooner(
    jira: FakeJira, http: aiohttp.ClientSession
) -> None:
    jira.fail("GET", "/rest/api/3/issue/TASK-101", 503, headers={"Retry-After": "1"})
    ticket = await source(jira, http, Sleeps(real=True)).fetch("TASK-101")
    assert ticket.key == "TASK-101"
    first, second = jira.to("GET", "/rest/api/3/issue/TASK-101")
    assert second.at - first.at >= 1.0
