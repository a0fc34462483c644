"""`/taskmaster` help, status, cancel, busy tickets, and errors told in people's words."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.slack import ids
from bot.slack.server import BotHandle
from localslack import LocalSlack
from tests.bot.conftest import StartBot
from tests.bot.gated import Gate, gated_runtime
from tests.bot.support import (
    CHANNEL,
    action_ids,
    assert_valid_block_kit,
    block_text,
    eventually,
    open_review,
    root_of,
    text_at,
    thread_of,
    thread_text,
)


def _no_tracebacks(slack: LocalSlack) -> None:
    said = [block_text(m) for m in slack.messages(CHANNEL)]
    said += [e.text for e in slack.ephemerals]
    for root in slack.messages(CHANNEL):
        said += [block_text(m) for m in thread_of(slack, root)]
    assert not [text for text in said if "Traceback" in text or 'File "' in text]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "/taskmaster status [KEY]"),
        ("help", "/taskmaster cancel KEY"),
        ("fix everything now", "Usage:"),
        ("cancel", "Usage:"),
        ("task101", "is not a ticket key"),
        ("status nope", "is not a ticket key"),
    ],
    ids=["empty", "help", "words", "cancel-without-key", "malformed-key", "status-bad-key"],
)
async def test_commands_answer_privately_and_start_nothing(
    bot: BotHandle, slack: LocalSlack, text: str, expected: str
) -> None:
    result = await slack.slash_command(text)

    assert result.acked_in_time
    answer = await eventually(lambda: slack.ephemerals)
    assert expected in answer[0].text
    assert slack.messages(CHANNEL) == []
    assert await bot.bot.manager.store.recent() == []
    _no_tracebacks(slack)


async def test_commands_unknown_ticket_fails_friendly_in_thread(
    bot: BotHandle, slack: LocalSlack
) -> None:
    await slack.slash_command("NOPE-999")

    root = await eventually(lambda: root_of(slack, "NOPE-999"))
    await eventually(lambda: "*Failed*" in text_at(slack, root.ts))
    await eventually(lambda: "Ticket not found" in thread_text(slack, root))
    assert "NOPE-999" in thread_text(slack, root)
    assert action_ids(slack.message(CHANNEL, root.ts)) == []
    await eventually(lambda: ":x: Ticket" in block_text(thread_of(slack, root)[0]))
    _no_tracebacks(slack)
    assert_valid_block_kit(slack)


async def test_commands_run_error_is_told_in_thread(
    start_bot: StartBot, slack: LocalSlack, tmp_path: Path, bot_env: dict[str, str]
) -> None:
    # A ticket the scripted model has no script for: the run fails inside the graph.
    tickets = tmp_path / "tickets"
    shutil.copytree(bot_env["TASKMASTER_TICKETS"], tickets)
    (tickets / "TASK-103.md").write_text("# Add a snooze limit\n\nAt most 30 days.\n")
    async with start_bot(TASKMASTER_TICKETS=str(tickets)):
        await slack.slash_command("TASK-103")

        root = await eventually(lambda: root_of(slack, "TASK-103"))
        await eventually(lambda: "*Failed*" in text_at(slack, root.ts))
        await eventually(lambda: ":warning:" in thread_text(slack, root))
        assert "No script for TASK-103" in thread_text(slack, root)
        _no_tracebacks(slack)


async def test_commands_busy_ticket_links_to_its_thread(bot: BotHandle, slack: LocalSlack) -> None:
    await slack.slash_command("TASK-101", user="U_ANA")
    root = await eventually(lambda: root_of(slack, "TASK-101"))

    again = await slack.slash_command("TASK-101", user="U_BEN")

    assert again.acked_in_time
    busy = await eventually(lambda: [e for e in slack.ephemerals if e.user == "U_BEN"])
    assert "already has an active run" in busy[0].text
    assert f"/archives/{CHANNEL}/p{root.ts.replace('.', '')}" in busy[0].text
    assert len(slack.messages(CHANNEL)) == 1
    await eventually(lambda: open_review(slack, root))  # stop at rest, not inside a git call


async def test_commands_status_lists_active_runs(bot: BotHandle, slack: LocalSlack) -> None:
    await slack.slash_command("TASK-101")
    root = await eventually(lambda: root_of(slack, "TASK-101"))

    await slack.slash_command("status", user="U_BEN")
    await slack.slash_command("status TASK-102", user="U_CHO")

    listing = await eventually(lambda: [e for e in slack.ephemerals if e.user == "U_BEN"])
    assert "*TASK-101*" in listing[0].text
    assert f"p{root.ts.replace('.', '')}" in listing[0].text
    other = await eventually(lambda: [e for e in slack.ephemerals if e.user == "U_CHO"])
    assert "No active run for TASK-102" in other[0].text
    await eventually(lambda: open_review(slack, root))  # stop at rest, not inside a git call
    assert_valid_block_kit(slack)


async def test_commands_cancel_stops_run_and_closes_review(
    bot: BotHandle, slack: LocalSlack
) -> None:
    await slack.slash_command("TASK-101")
    root = await eventually(lambda: root_of(slack, "TASK-101"))
    review = await eventually(lambda: open_review(slack, root))

    await slack.slash_command("cancel TASK-101", user="U_BEN")

    await eventually(lambda: "*Cancelled* by <@U_BEN>" in text_at(slack, root.ts))
    assert action_ids(slack.message(CHANNEL, root.ts)) == []
    await eventually(lambda: "Run cancelled by <@U_BEN>" in text_at(slack, review.ts))
    assert action_ids(slack.message(CHANNEL, review.ts)) == []
    assert any("Cancelled the run for TASK-101" in e.text for e in slack.ephemerals)

    _no_tracebacks(slack)
    assert_valid_block_kit(slack)


async def test_commands_cancel_button_stops_running_run(
    start_bot: StartBot, slack: LocalSlack
) -> None:
    gate = Gate()  # holds the run at a known point: waiting for the model
    async with start_bot(runtime=gated_runtime(gate)) as handle:
        await slack.slash_command("TASK-101", user="U_ANA")
        root = await eventually(lambda: root_of(slack, "TASK-101"))
        await eventually(gate.waiting.is_set)

        click = await slack.click(CHANNEL, root.ts, ids.CANCEL, user="U_ANA")

        assert click.acked_in_time
        await eventually(lambda: "*Cancelled* by <@U_ANA>" in text_at(slack, root.ts))
        assert (await handle.bot.manager.store.recent())[0].status == "cancelled"
        await eventually(lambda: "Cancelled by <@U_ANA>" in thread_text(slack, root))
        progress = block_text(thread_of(slack, root)[0])
        assert ":white_check_mark: Workspace" in progress and ":x:" not in progress
        assert_valid_block_kit(slack)


async def test_commands_slack_refusal_is_told_plainly_and_frees_ticket(
    bot: BotHandle, slack: LocalSlack
) -> None:
    slack.fail("chat.postMessage", status=404)  # not retried: the root message is refused

    await slack.slash_command("TASK-101")

    answer = await eventually(lambda: slack.ephemerals)
    assert "Something went wrong inside TaskMaster" in answer[0].text
    assert slack.messages(CHANNEL) == []
    runs = await bot.bot.manager.store.recent()
    assert [run.status for run in runs] == ["cancelled"]  # the ticket is not held

    await slack.slash_command("TASK-101")
    root = await eventually(lambda: root_of(slack, "TASK-101"))
    await eventually(lambda: open_review(slack, root))  # stop at rest, not inside a git call
    _no_tracebacks(slack)
