"""The whole Slack flow end to end: command, thread, review, decision, delivery."""

from __future__ import annotations

import json
from pathlib import Path

from bot.slack import ids
from bot.slack.server import BotHandle
from localslack import LocalSlack
from tests.bot.support import (
    CHANNEL,
    action_ids,
    assert_valid_block_kit,
    block_text,
    eventually,
    open_review,
    pull_requests,
    remote_branches,
    reviews_in,
    root_of,
    text_at,
    thread_of,
    thread_text,
)


async def test_flow_approve_delivers_pull_request(
    bot: BotHandle, slack: LocalSlack, data_dir: Path, remote: Path
) -> None:
    result = await slack.slash_command("TASK-101", user="U_ANA")
    assert result.status == 200
    assert result.acked_in_time

    root = await eventually(lambda: root_of(slack, "TASK-101"), what="the root message")
    assert "<@U_ANA>" in block_text(root)
    assert ids.CANCEL in action_ids(root)

    review = await eventually(lambda: open_review(slack, root), what="the review request")
    assert action_ids(review) == [ids.APPROVE, ids.REVISE, ids.REJECT]
    text = block_text(review)
    assert "Review 1 of 4" in text
    assert "src/tasktrack/models.py" in text
    assert review.text.startswith("<@U_ANA>: review 1 of 4")  # the requester is called
    assert "anyone in this channel may approve" in text
    await eventually(lambda: "Awaiting review" in text_at(slack, root.ts))

    diff = await eventually(lambda: [f for f in slack.files if f.thread_ts == root.ts])
    assert diff[0].snippet_type == "diff" and diff[0].filename == "TASK-101-review-1.diff"
    assert "is_overdue" in diff[0].text
    # The test result shows once: in the review (the agent's own runs only on the card).
    shown = "".join(json.dumps(m.blocks) for m in thread_of(slack, root))
    assert shown.count("Tests: 17 passed") == 1

    progress = thread_of(slack, root)[0]
    await eventually(lambda: "*Waiting for a review*" in block_text(progress))
    assert ":arrow_forward: *Review*" in block_text(progress)
    assert ":white_check_mark: Test" in block_text(progress)

    click = await slack.click(CHANNEL, review.ts, ids.APPROVE, user="U_BEN")
    assert click.acked_in_time
    await eventually(lambda: "Approved by <@U_BEN>" in text_at(slack, review.ts))
    assert ids.APPROVE not in action_ids(slack.message(CHANNEL, review.ts))

    await eventually(lambda: "*Done*" in text_at(slack, root.ts), what="done")
    final_root = slack.message(CHANNEL, root.ts)
    assert action_ids(final_root) == []  # the Cancel button is gone
    prs = pull_requests(data_dir)
    assert len(prs) == 1
    assert prs[0]["url"] in block_text(final_root)
    assert prs[0]["url"] in thread_text(slack, root)
    assert "Approved in TaskMaster by ben." in str(prs[0]["body"])  # a name, not U_BEN
    assert "Discussion: " + slack.base_url in str(prs[0]["body"])  # the thread's link
    branches = await remote_branches(remote)
    assert len(branches) == 1
    assert branches[0].startswith("taskmaster/TASK-101-")

    await eventually(lambda: "*Finished* (done)" in block_text(thread_of(slack, root)[0]))
    progress_text = block_text(thread_of(slack, root)[0])
    assert ":arrow_forward:" not in progress_text and ":x:" not in progress_text
    assert "Traceback" not in thread_text(slack, root)
    assert_valid_block_kit(slack)


async def test_flow_request_changes_gives_second_review(bot: BotHandle, slack: LocalSlack) -> None:
    await slack.slash_command("TASK-101")
    root = await eventually(lambda: root_of(slack, "TASK-101"))
    review = await eventually(lambda: open_review(slack, root))

    click = await slack.click(CHANNEL, review.ts, ids.REVISE, user="U_ANA")
    assert click.acked_in_time
    modals = await eventually(lambda: list(slack.open_views.values()), what="the modal")
    modal = modals[0]
    assert modal.callback_id == ids.FEEDBACK_VIEW

    empty = await slack.submit_view(modal.id, {ids.FEEDBACK_BLOCK: {ids.FEEDBACK_INPUT: " "}})
    assert empty.status == 200 and slack.view(modal.id).errors  # kept open with an error

    feedback = "Also cover a task due yesterday."
    sent = await slack.submit_view(modal.id, {ids.FEEDBACK_BLOCK: {ids.FEEDBACK_INPUT: feedback}})
    assert sent.acked_in_time and not slack.view(modal.id).is_open
    await eventually(lambda: "Changes requested by <@U_ANA>" in text_at(slack, review.ts))

    second = await eventually(lambda: open_review(slack, root, iteration=2), within=30)
    assert "Review 2 of 4" in block_text(second)
    assert feedback in thread_text(slack, root)
    assert len(reviews_in(slack, root)) == 2
    assert_valid_block_kit(slack)


async def test_flow_reject_with_a_reason_pushes_nothing_and_notes_it(
    bot: BotHandle, slack: LocalSlack, data_dir: Path, remote: Path
) -> None:
    await slack.slash_command("TASK-101")
    root = await eventually(lambda: root_of(slack, "TASK-101"))
    review = await eventually(lambda: open_review(slack, root))

    await slack.click(CHANNEL, review.ts, ids.REJECT, user="U_CHO")
    [modal] = await eventually(lambda: list(slack.open_views.values()), what="the modal")
    assert modal.callback_id == ids.REJECT_VIEW
    reason = "We replace this module next sprint."
    sent = await slack.submit_view(
        modal.id, {ids.REASON_BLOCK: {ids.REASON_INPUT: reason}}, user="U_CHO"
    )
    assert sent.acked_in_time and not slack.view(modal.id).is_open

    await eventually(lambda: "*Rejected*" in text_at(slack, root.ts))
    assert "Rejected by <@U_CHO>" in text_at(slack, review.ts)
    await eventually(lambda: f">{reason}" in thread_text(slack, root))
    assert "The reason is on TASK-101" in thread_text(slack, root)
    comments = (data_dir / "ticket_comments.jsonl").read_text()
    assert reason in comments and "rejected by cho" in comments
    assert action_ids(slack.message(CHANNEL, root.ts)) == []
    assert await remote_branches(remote) == []
    assert pull_requests(data_dir) == []
    assert_valid_block_kit(slack)


async def test_flow_reject_without_a_reason(bot: BotHandle, slack: LocalSlack) -> None:
    await slack.slash_command("TASK-101")
    root = await eventually(lambda: root_of(slack, "TASK-101"))
    review = await eventually(lambda: open_review(slack, root))

    await slack.click(CHANNEL, review.ts, ids.REJECT, user="U_BEN")
    [modal] = await eventually(lambda: list(slack.open_views.values()))
    await slack.submit_view(modal.id, {ids.REASON_BLOCK: {ids.REASON_INPUT: ""}}, user="U_BEN")

    await eventually(lambda: "*Rejected* by <@U_BEN>" in text_at(slack, root.ts))
    assert "Rejected by <@U_BEN>. Nothing was pushed." in thread_text(slack, root)
