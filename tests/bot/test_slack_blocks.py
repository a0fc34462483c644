"""Block Kit builders and the run view, on their own: Slack's limits and the checklist."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk.models.blocks import Block

from agent.errors import ErrorKind
from agent.events import (
    DecisionMade,
    ErrorRaised,
    ReviewRequested,
    RunFinished,
    RunQueued,
    RunStarted,
    Step,
    TestsRan,
    TicketLoaded,
    ToolUsed,
    UsageReported,
)
from agent.models import FileStat, Plan, ReviewRequest, TestResult, Ticket
from agent.runs.records import RunRecord
from agent.usage import RunUsage
from bot.slack import blocks as review_blocks
from bot.slack import ids
from bot.slack.blocks import feedback_modal, reject_modal
from bot.slack.cards import progress_message, root_message
from bot.slack.ids import FeedbackContext, ReviewRef
from bot.slack.reviewers import Reviewers
from bot.slack.runview import CloseReview, PostReview, Reply, RunView
from bot.slack.threads import Thread
from localslack.blockkit import message_problems, view_problems

REF = ReviewRef("0123456789ab", "f" * 32)
APPROVERS = Reviewers(frozenset({"U_BEN", "U_CHO"}))


def review_message(
    ref: ReviewRef,
    request: ReviewRequest,
    *,
    reviewers: Reviewers = APPROVERS,
    closed: str | None = None,
) -> tuple[str, list[dict[str, Any]]]:
    return review_blocks.review_message(
        ref, request, requester="U_ANA", reviewers=reviewers, closed=closed
    )


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


def _said(blocks: Any) -> str:
    return json.dumps(blocks, ensure_ascii=False)


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
    assert "confirm" not in buttons[2]  # Reject asks why, in its own modal
    assert blocks[0]["text"]["text"] == "Review 1 of 4: TASK-7"


def test_blocks_review_calls_requester_and_approvers_and_says_who_may_approve() -> None:
    text, blocks = review_message(REF, _request())

    said = json.dumps(blocks)
    assert text.startswith("<@U_ANA> <@U_BEN> <@U_CHO>: review 1 of 4")  # the notification
    assert "<@U_ANA> <@U_BEN> <@U_CHO>: the change for *TASK-7* is ready" in said
    assert "<@U_BEN>, <@U_CHO> may approve" in said
    assert said.count("Tests: 3 passed") == 1  # the test result, once

    _, group = review_message(REF, _request(), reviewers=Reviewers(group="S0REVIEW"))
    assert "<@U_ANA> <!subteam^S0REVIEW>: the change" in json.dumps(group)
    assert "<!subteam^S0REVIEW> may approve" in json.dumps(group)
    _, anyone = review_message(REF, _request(), reviewers=Reviewers())
    assert "anyone in this channel may approve" in json.dumps(anyone)


def test_blocks_second_review_shows_what_changed_since_the_first() -> None:
    since = "--- a/t.py\n+++ b/t.py\n@@ -1 +1,2 @@\n x\n+def test_new(): pass\n"
    _, blocks = review_message(REF, _request(iteration=2, revisions_left=2, since_last=since))

    said = json.dumps(blocks)
    assert "*Changes since review 1*" in said and "test_new" in said
    assert "a &lt;= b" not in said  # review 1's change is in the file, not repeated here
    assert "TASK-7-review-2.diff" in said

    _, nothing = review_message(REF, _request(iteration=2, revisions_left=2, since_last=""))
    assert "*No changes since review 1*" in json.dumps(nothing)


def test_blocks_long_diff_preview_is_short_and_points_at_the_file() -> None:
    diff = "".join(f"+line {n}\n" for n in range(200))
    _, blocks = review_message(REF, _request(diff=diff))

    said = json.dumps(blocks)
    assert "line 24" in said and "line 25" not in said
    assert "more lines in the attached diff" in said


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
    _, second = review_message(REF, request.model_copy(update={"iteration": 2, "since_last": diff}))
    _within_limits(second)


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


def test_blocks_reject_modal_asks_why_without_insisting() -> None:
    context = FeedbackContext(REF, "C1", "123.456")
    view = reject_modal(context, "TASK-7")

    assert view["callback_id"] == ids.REJECT_VIEW
    field = view["blocks"][1]
    assert field["optional"] is True and field["block_id"] == ids.REASON_BLOCK
    assert "onto the ticket" in field["label"]["text"]
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


def _started(view: RunView, *names: str) -> None:
    for name in names:
        view.apply(Step(name=name, status="started"))  # type: ignore[arg-type]
        view.apply(Step(name=name, status="done"))  # type: ignore[arg-type]


def test_card_ticks_each_step_and_says_what_happens_now() -> None:
    view = RunView("r1", "TASK-7", "U1", "C1", root_ts="1.0")
    view.apply(RunStarted(ticket="TASK-7", requester="U1"))
    _started(view, "ticket", "workspace")
    changes = view.apply(Step(name="plan", status="started"))
    assert changes.checklist  # a step: shown soon
    line = view.apply(ToolUsed(line="reading src/app.py"))
    assert not line.checklist and line.progress  # only the "now:" line: at the heartbeat

    _, blocks = progress_message(view, view.started_at + timedelta(seconds=83))
    said = _said(blocks)
    assert ":white_check_mark: Ticket" in said and ":white_check_mark: Workspace" in said
    assert ":arrow_forward: *Plan*" in said and ":white_large_square: Implement" in said
    assert "*now:* _reading src/app.py_" in said
    assert "1:23 working" in said
    assert "tokens" not in said  # not known: not shown


def test_card_shows_waiting_for_review_apart_from_working_time() -> None:
    view = RunView("r1", "TASK-7", "U1", "C1", root_ts="1.0")
    start = view.started_at
    view.apply(ReviewRequested(interrupt_id="i1", request=_request()))
    assert view.waiting_since is not None
    view.waiting_since = start + timedelta(seconds=40)  # it worked 40 s, then waited

    _, waiting = progress_message(view, start + timedelta(seconds=100))
    assert "*Waiting for a review* since <!date^" in _said(waiting)
    assert "40s working" in _said(waiting)

    view.waited, view.waiting_since = 60.0, None  # a person decided after a minute
    view.finished_at = start + timedelta(seconds=130)
    view.phase = "done"
    _, done = progress_message(view, start + timedelta(seconds=500))
    assert "1:10 working · 1:00 waiting for review" in _said(done)


def test_card_shows_tokens_and_cost_when_known() -> None:
    view = RunView("r1", "TASK-7", "U1", "C1", root_ts="1.0")
    view.record_usage(12_345, 0.0412)
    _, blocks = progress_message(view, view.started_at)
    assert "12,345 tokens · $0.04" in _said(blocks)


def test_runview_tests_are_a_reply_only_when_the_harness_run_fails() -> None:
    view = RunView("r1", "TASK-7", "U1", "C1", root_ts="1.0")
    passing = TestResult(command="pytest", ok=True, passed=17)
    failing = TestResult(command="pytest", ok=False, passed=16, failed=1, exit_code=1)
    _started(view, "ticket", "workspace", "plan")
    view.apply(Step(name="implement", status="started"))
    assert view.apply(TestsRan(result=failing)).milestones == []  # the agent's own run
    assert view.line == "tests: 16 passed, 1 failed (exit 1)"
    view.apply(Step(name="test", status="started"))
    assert view.apply(TestsRan(result=passing)).milestones == []  # shown in the review
    view.apply(Step(name="test", status="started"))
    [reply] = view.apply(TestsRan(result=failing)).milestones
    assert isinstance(reply, Reply) and "1 failed" in reply.text


def test_root_of_a_failed_run_says_what_failed_and_offers_retry() -> None:
    view = RunView("r1", "TASK-7", "U1", "C1", root_ts="1.0")
    _started(view, "ticket")
    view.apply(Step(name="workspace", status="started"))
    view.apply(Step(name="workspace", status="failed"))
    view.apply(ErrorRaised(kind=ErrorKind.GIT, message="The repository could not be cloned."))
    changes = view.apply(RunFinished(status="failed"))

    _, blocks = root_message(view)
    said = _said(blocks)
    assert "*Failed* at *Workspace*: The repository could not be cloned." in said
    assert [b["action_id"] for b in _buttons(blocks)] == [ids.RETRY]
    [reply] = [m for m in changes.milestones if isinstance(m, Reply)]
    assert "<@U1> Failed at *Workspace*" in _said(reply.blocks)

    view.apply(Step(name="workspace", status="started"))  # retried: it works again
    _, again = root_message(view)
    assert [b["action_id"] for b in _buttons(again)] == [ids.CANCEL]


def test_card_shows_the_engines_usage_event() -> None:
    view = RunView("r1", "TASK-7", "U1", "C1", root_ts="1.0")
    usage = RunUsage().add({"input_tokens": 12_345, "output_tokens": 678}, "gpt-4o")
    view.apply(RunStarted(ticket="TASK-7", requester="U1"))
    view.apply(UsageReported(usage=usage))
    _, blocks = progress_message(view, view.started_at)
    assert "13,023 tokens · $0.04" in _said(blocks)
    view.apply(RunFinished(status="done"))
    _, blocks = progress_message(view, view.started_at)
    assert "13,023 tokens" in _said(blocks)  # and on the finished card


def test_a_view_rebuilt_after_a_restart_keeps_work_and_waiting_apart() -> None:
    """The registry keeps the working seconds; the rest of the run's time so far was
    waiting (here for a review), not work, as the card says."""
    created = datetime.now(UTC) - timedelta(seconds=100)
    record = RunRecord(
        run_id="r1",
        ticket="TASK-7",
        requester="U1",
        status="awaiting_review",
        interrupt_id="i1",
        decision=None,
        error=None,
        created_at=created.isoformat(timespec="seconds"),
        updated_at=created.isoformat(timespec="seconds"),
        worked_s=10.0,
    )
    thread = Thread(run_id="r1", channel="C1", root_ts="1.0")
    view = RunView.from_record(record, thread)
    now = datetime.now(UTC)
    assert 9 <= view.working(now) <= 12
    assert 88 <= view.waiting(now) <= 92
    # A run never reviewed waited for nobody: its time is all the card's working time.
    fresh = RunView.from_record(replace(record, status="running", interrupt_id=None), thread)
    assert fresh.waiting(now) == 0 and fresh.working(now) >= 99
