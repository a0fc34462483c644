"""What Slack sends, and what is sent to it, taken from people, tickets and repositories.

Everything goes through the bot's real HTTP endpoint with LocalSlack's real signing:
text from a ticket is escaped, a button only acts on its own run, a retried or
replayed request does nothing twice, and a request that is unsigned or malformed is
refused with 401 or 400, never 500.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import pytest

from bot.slack import ids
from localslack import LocalSlack
from localslack.signing import sign_request, signed_headers
from tests.bot.conftest import SIGNING_SECRET, StartBot
from tests.bot.support import CHANNEL, action_ids, eventually, open_review, root_of, text_at

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "demo"
PINGING_TITLE = "<!channel> Tasks due today & <https://evil.example|your bank> overdue"


@pytest.fixture
def tickets(tmp_path: Path) -> Path:
    """The demo's tickets, and TASK-103 whose title pings the channel and fakes a link."""
    folder = tmp_path / "tickets"
    shutil.copytree(EXAMPLES / "tickets", folder)
    text = (folder / "TASK-101.md").read_text()
    old = "# Tasks due today are reported as overdue"
    (folder / "TASK-103.md").write_text(text.replace(old, f"# {PINGING_TITLE}"))
    return folder


async def test_a_ticket_title_reaches_slack_escaped(
    start_bot: StartBot, slack: LocalSlack, tickets: Path
) -> None:
    async with start_bot(TASKMASTER_TICKETS=str(tickets)):
        await slack.slash_command("TASK-103")
        await eventually(lambda: slack.calls_to("chat.update"))
    sent = [
        json.dumps(call.params)
        for call in slack.calls
        if call.method in ("chat.postMessage", "chat.update")
    ]
    assert any("&lt;!channel&gt;" in params for params in sent)
    assert not any("<!channel>" in params or "<https://evil" in params for params in sent)


async def _two_reviews(slack: LocalSlack) -> tuple[object, object, object, object]:
    await slack.slash_command("TASK-101")
    await slack.slash_command("TASK-102")
    first = await eventually(lambda: root_of(slack, "TASK-101"))
    second = await eventually(lambda: root_of(slack, "TASK-102"))
    return (
        first,
        await eventually(lambda: open_review(slack, first)),
        second,
        (await eventually(lambda: open_review(slack, second))),
    )


async def test_a_button_value_naming_another_run_changes_nothing(
    start_bot: StartBot, slack: LocalSlack
) -> None:
    async with start_bot() as bot:
        root_a, review_a, root_b, review_b = await _two_reviews(slack)
        other_run = next(
            element["value"]
            for block in review_b.blocks  # type: ignore[attr-defined]
            for element in block.get("elements", [])
            if element.get("action_id") == ids.APPROVE
        )
        before = len(slack.ephemerals)

        click = await slack.click(
            CHANNEL,
            review_a.ts,  # type: ignore[attr-defined]
            ids.APPROVE,
            user="U_BEN",
            value=other_run,
        )

        assert click.status == 200
        told = await eventually(lambda: slack.ephemerals[before:])
        assert "does not belong" in told[0].text
        runs = await bot.bot.manager.store.recent()
        assert {run.status for run in runs} == {"awaiting_review"}
        for review in (review_a, review_b):
            message = slack.message(CHANNEL, review.ts)  # type: ignore[attr-defined]
            assert ids.APPROVE in action_ids(message)  # neither review was closed
        # The same button with its own value still works.
        await slack.click(CHANNEL, review_b.ts, ids.APPROVE, user="U_BEN")  # type: ignore[attr-defined]
        await eventually(lambda: "*Done*" in text_at(slack, root_b.ts))  # type: ignore[attr-defined]
        assert "Awaiting review" in text_at(slack, root_a.ts)  # type: ignore[attr-defined]


async def test_a_replayed_or_retried_command_starts_nothing(
    start_bot: StartBot, slack: LocalSlack
) -> None:
    async with start_bot() as bot:
        first = await slack.slash_command("TASK-101")
        assert first.status == 200
        root = await eventually(lambda: root_of(slack, "TASK-101"))
        sent = slack.delivery.sent[-1]

        replayed = await slack.delivery.resend(sent)
        retried = await slack.delivery.resend(sent, headers={"X-Slack-Retry-Num": "1"})

        assert (replayed.status, retried.status) == (200, 200)
        await eventually(lambda: open_review(slack, root))
        assert len(await bot.bot.manager.store.recent()) == 1
        assert len(slack.messages(CHANNEL)) == 1
        assert not any("already has an active run" in e.text for e in slack.ephemerals)


async def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    async with aiohttp.ClientSession() as http, http.post(url, data=body, headers=headers) as got:
        return got.status


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.mark.parametrize(
    "body",
    [
        urlencode({"payload": "{not json"}).encode(),
        urlencode({"payload": json.dumps(["a", "list"])}).encode(),
        b"\xff\xfe payload",
        b"payload=%7B&&&=",
    ],
)
async def test_a_malformed_signed_request_gets_400(
    start_bot: StartBot, slack: LocalSlack, body: bytes
) -> None:
    async with start_bot() as bot:
        status = await _post(bot.url, body, {**FORM, **signed_headers(SIGNING_SECRET, body)})
    assert status == 400


async def test_a_malformed_signed_json_event_gets_400(start_bot: StartBot) -> None:
    body = b'["event_callback"]'
    headers = {"Content-Type": "application/json", **signed_headers(SIGNING_SECRET, body)}
    async with start_bot() as bot:
        assert await _post(bot.url, body, headers) == 400


async def test_unsigned_or_badly_signed_requests_get_401(start_bot: StartBot) -> None:
    body = urlencode({"command": "/taskmaster", "text": "TASK-101"}).encode()
    now = str(int(time.time()))
    cases = [
        {},  # no signature at all
        {
            "X-Slack-Request-Timestamp": "soon",
            "X-Slack-Signature": sign_request(SIGNING_SECRET, "soon", body),
        },
        {"X-Slack-Request-Timestamp": now, "X-Slack-Signature": "v0=" + "0" * 64},
        signed_headers(SIGNING_SECRET, body, now=time.time() - 3600),  # outside the window
        {"X-Slack-Request-Timestamp": "-5", "X-Slack-Signature": "v0=1"},
    ]
    async with start_bot() as bot:
        statuses = [await _post(bot.url, body, {**FORM, **headers}) for headers in cases]
        runs = await bot.bot.manager.store.recent()
    assert statuses == [401] * len(cases)
    assert runs == []


async def test_a_huge_ticket_stays_within_slack_limits_and_a_bounded_database(
    start_bot: StartBot, slack: LocalSlack, tmp_path: Path, data_dir: Path
) -> None:
    folder = tmp_path / "huge-tickets"
    shutil.copytree(EXAMPLES / "tickets", folder)
    ticket = folder / "TASK-101.md"
    title = "Tasks due today are reported as overdue " * 2500  # 99 KB
    text = ticket.read_text().replace("# Tasks due today are reported as overdue", f"# {title}")
    ticket.write_text(text + "\n" + "Details. " * 120_000)  # and a 1 MB description
    async with start_bot(TASKMASTER_TICKETS=str(folder)) as bot:
        await slack.slash_command("TASK-101")
        root = await eventually(lambda: root_of(slack, "TASK-101"))
        review = await eventually(lambda: open_review(slack, root), within=60)
        await slack.click(CHANNEL, review.ts, ids.APPROVE, user="U_BEN")
        await eventually(lambda: "*Done*" in text_at(slack, root.ts), within=60)
        [run] = await bot.bot.manager.store.recent()
    assert run.title is not None and len(run.title) <= 200
    [pull_request] = [
        json.loads(line) for line in (data_dir / "pull_requests.jsonl").read_text().splitlines()
    ]
    assert len(pull_request["title"]) <= 256 and "\n" not in pull_request["title"]
    assert (data_dir / "taskmaster.db").stat().st_size < 4_000_000
    # The slack fixture then checks that Slack refused none of the calls (no msg_too_long).
