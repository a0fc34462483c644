"""Block Kit builders and the run view, on their own: Slack's limits and the checklist."""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.models.blocks import Block

from agent.events import (
    DecisionMade,
    ReviewRequested,
    RunFinished,
    RunQueued,
    RunStarted,
    Step,
    TicketLoaded,
)
from agent.models import FileStat, Plan, ReviewRequest, TestResult, Ticket
from bot.slack import ids
from bot.slack.blocks import feedback_modal, review_message
from bot.slack.cards import progress_message, root_message
from bot.slack.ids import FeedbackContext, ReviewRef
from bot.slack.runview import CloseReview, PostReview, Reply, RunView
from localslack.blockkit import message_problems, view_problems

REF = ReviewRef("0123456789ab", "f" * 32)


def _request(**changes: Any) -> ReviewRequest:
    values: dict[str, Any] = {
        "ticket": Ticket(key="TASK-7", title="Fix <b>bold</b> & co"),
        "plan": Plan(summary="Do it", steps=("one", "two")),
        "iteration": 1,
        "revisions_left": 3,
        "diff": "--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-a < b\n+a <= b\n",
        "diff_hash": "h",
        "files": (FileStat(path="x.py", added=1, removed=1),),
        "tests": TestResult(command="pytest", ok=True, passed=3),
        "touches_tests": True,
    }
    values.update(changes)
    return ReviewRequest(**values)


def _buttons(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for b in blocks if b["type"] == "actions" for e in b["elements"]]


def _within_limits(blocks: list[dict[str, Any]]) -> None:
    assert message_problems(blocks) == []
    assert len(blocks) <= 50
    for raw in blocks:
        block = Block.parse(raw)
        assert block is not None
        block.validate_json()
        if raw["type"] == "section":
            assert len(raw["text"]["text"]) <= 3000
    for button in _buttons(blocks):
        assert len(button["value"]) <= 2000


def test_blocks_review_buttons_carry_run_and_interrupt() -> None:
    _, blocks = review_message(REF, _request())

    buttons = _buttons(blocks)
    assert [b["action_id"] for b in buttons] == [ids.APPROVE, ids.REVISE, ids.REJECT]
    assert {b["value"] for b in buttons} == {f"{REF.run_id}:{REF.interrupt_id}"}
    assert ReviewRef.decode(buttons[0]["value"]) == REF
    assert buttons[0]["style"] == "primary" and buttons[2]["style"] == "danger"
    assert "confirm" in buttons[2]
    assert blocks[0]["text"]["text"] == "Review 1 of 4: TASK-7"


def test_blocks_review_escapes_and_warns_without_tests() -> None:
    _, blocks = review_message(REF, _request(touches_tests=False))
    text = json.dumps(blocks)

    assert "&lt;b&gt;bold&lt;/b&gt; &amp; co" in text
    assert "a &lt;= b" in text
    assert "No test file changed" in text


def test_blocks_review_without_revisions_left_has_no_revise_button() -> None:
    _, blocks = review_message(REF, _request(iteration=4, revisions_left=0))

    assert [b["action_id"] for b in _buttons(blocks)] == [ids.APPROVE, ids.REJECT]
    assert "No revisions left" in json.dumps(blocks)
    assert blocks[0]["text"]["text"] == "Review 4 of 4: TASK-7"


def test_blocks_review_stays_within_limits_for_huge_changes() -> None:
    deep = "deep/" * 40
    files = tuple(FileStat(path=f"src/{deep}{n}.py", added=n, removed=1) for n in range(300))
    diff = "".join(f"+line {n} with <html> & ``` fences\n" for n in range(20_000))
    request = _request(
        ticket=Ticket(key="TASK-7", title="T" * 5000),
        plan=Plan(summary="P" * 10_000),
        summary="S" * 10_000,
        files=files,
        diff=diff,
        tests=TestResult(command="pytest " * 500, ok=False, failed=3, output_tail="x" * 50_000),
    )

    text, blocks = review_message(REF, request)

    _within_limits(blocks)
    assert len(text) <= 3000
    assert "more in the attached diff" in json.dumps(blocks)
    _, closed = review_message(REF, request, closed="Approved by <@U1>")
    _within_limits(closed)
    assert _buttons(closed) == []


def test_blocks_feedback_modal_carries_review() -> None:
    context = FeedbackContext(REF, "C1", "123.456")
    view = feedback_modal(context)

    assert view["callback_id"] == ids.FEEDBACK_VIEW
    assert FeedbackContext.decode(view["private_metadata"]) == context
    field = view["blocks"][1]
    assert field["block_id"] == ids.FEEDBACK_BLOCK
    assert field["element"]["action_id"] == ids.FEEDBACK_INPUT
    assert field["element"]["multiline"] is True
    assert field["element"]["max_length"] == 3000  # Slack refuses the modal above 3000
    assert view_problems(view) == []


def test_runview_checklist_follows_steps_and_revisions() -> None:
    view = RunView("r1", "TASK-7", "U1", "C1", root_ts="1.0")
    view.apply(TicketLoaded(ticket=Ticket(key="TASK-7", title="Fix it")))
    for name in ("ticket", "workspace", "plan", "implement", "test"):
        view.apply(Step(name=name, status="started"))
        view.apply(Step(name=name, status="done"))
    changes = view.apply(ReviewRequested(interrupt_id="i1", request=_request()))
    assert isinstance(changes.milestones[0], PostReview) and changes.urgent
    assert view.marks["review"] == "pending" and view.phase == "awaiting_review"

    view.apply(Step(name="review", status="started"))
    revise = view.apply(DecisionMade(action="revise", by="U2", feedback="more tests"))
    view.apply(Step(name="implement", status="started"))

    reply = revise.milestones[0]
    assert isinstance(reply, Reply) and ">more tests" in json.dumps(reply.blocks)
    assert view.marks["plan"] == "done" and view.marks["implement"] == "current"
    assert view.marks["test"] == "pending" and view.marks["review"] == "pending"
    text, _ = progress_message(view, view.started_at)
    assert "Implement" in text


def test_runview_cancel_closes_open_review_and_root() -> None:
    view = RunView("r1", "TASK-7", "U1", "C1", root_ts="1.0")
    view.apply(ReviewRequested(interrupt_id="i1", request=_request()))

    changes = view.apply(RunFinished(status="cancelled", by="U3"))

    close = [m for m in changes.milestones if isinstance(m, CloseReview)]
    assert close and close[0].note == "Run cancelled by <@U3>"
    _, blocks = root_message(view)
    assert _buttons(blocks) == []
    assert "*Cancelled* by <@U3>" in json.dumps(blocks)


def test_runview_queued_run_says_so_until_its_first_step() -> None:
    view = RunView("r1", "TASK-7", "U1", "C1", root_ts="1.0")
    view.apply(RunStarted(ticket="TASK-7", requester="U1"))
    changes = view.apply(RunQueued(ahead=1))
    assert changes.progress
    _, blocks = progress_message(view, view.started_at)
    assert "waiting for a free slot" in json.dumps(blocks) and "1 ahead" in json.dumps(blocks)
    view.apply(Step(name="ticket", status="started"))
    _, blocks = progress_message(view, view.started_at)
    assert "waiting for a free slot" not in json.dumps(blocks)


def test_blocks_review_shows_every_warning() -> None:
    warnings = tuple(f"Warning number {n}: " + "x" * 600 for n in range(9))
    _, blocks = review_message(REF, _request(warnings=warnings))
    _within_limits(blocks)
    text = json.dumps(blocks)
    for n in range(9):
        assert f"Warning number {n}" in text
