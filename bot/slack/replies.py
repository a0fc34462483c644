"""The milestone replies of a run's thread: plan, failing tests, decisions, result, failure.

Pure functions, event data in, `(text, blocks)` out. A failure shows only the message
written for people (`ErrorRaised.message`); details stay in the log.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.events import STEP_LABELS
from agent.models import FinalStatus, Plan, PullRequest, ReviewAction, TestResult
from bot.slack.kit import Message, context, section
from bot.slack.mrkdwn import clip, code_block, escape, link, mention, sentence

if TYPE_CHECKING:
    from bot.slack.runview import RunView

TAIL_LIMIT = 1500

DECISION_LINES: dict[ReviewAction, str] = {
    "approve": "approved: delivering the change",
    "revise": "revising the change with the feedback",
    "reject": "rejected: discarding the change",
}


def tests_line(result: TestResult | None) -> str:
    """One line for a test run, with a mark people can scan."""
    if result is None:
        return ":grey_question: No test command was found, so no tests ran."
    mark = ":white_check_mark:" if result.ok else ":x:"
    return (
        f"{mark} Tests: {escape(result.headline)} "
        f"(`{escape(clip(result.command, 200))}`, {result.duration:.1f}s)"
    )


def plan_reply(plan: Plan) -> Message:
    lines = [f":memo: *Plan*\n{escape(plan.summary)}"]
    lines += [f"{number}. {escape(step)}" for number, step in enumerate(plan.steps, start=1)]
    blocks = [section("\n".join(lines))]
    if plan.modules:
        modules = ", ".join(f"`{escape(module)}`" for module in plan.modules[:20])
        blocks.append(context(f"Scope: {modules}"))
    return f"Plan: {escape(clip(plan.summary, 200))}", blocks


def tests_reply(result: TestResult) -> Message:
    blocks = [section(tests_line(result))]
    if not result.ok and result.output_tail.strip():
        blocks.append(section(code_block(result.output_tail[-TAIL_LIMIT:], TAIL_LIMIT + 100)))
    return f"Tests: {escape(result.headline)}", blocks


def quoted(text: str, limit: int = 2500) -> str:
    return "\n".join(f">{escape(line)}" for line in clip(text, limit).splitlines())


def revise_reply(by: str, feedback: str) -> Message:
    said = quoted(feedback)
    text = f":pencil2: Changes requested by {mention(by)}"
    return "Changes requested", [section(f"{text}\n{said}" if said else text)]


def pull_request_reply(pull_request: PullRequest) -> Message:
    label = f"#{pull_request.number} {pull_request.title}"
    text = f":rocket: Pull request opened: {link(pull_request.url, clip(label, 200))}"
    return f"Pull request opened: {pull_request.url}", [
        section(text),
        context(f"Branch `{escape(pull_request.branch)}`"),
    ]


def ticket_note(ticket: str, transition: str | None, decided: ReviewAction | None) -> str:
    """What TaskMaster did on the ticket, for the progress card and the closing reply."""
    if decided == "reject":
        return f"the reason is on {escape(ticket)}"
    text = f"linked the pull request on {escape(ticket)}"
    return f"{text} and moved it to *{escape(transition)}*" if transition else text


def failure_text(view: RunView) -> str:
    """What failed, in one line for people: the step and the error's own words."""
    where = f" at *{STEP_LABELS[view.failed_step]}*" if view.failed_step else ""
    return f"Failed{where}: {escape(clip(view.failure or 'the reason is in the log', 500))}"


def finished_reply(view: RunView) -> Message | None:
    """The closing reply; a delivered run's pull request has its reply already."""
    if view.phase == "rejected":
        who = f" by {mention(view.decided_by)}" if view.decided_by else ""
        text = f":no_entry_sign: Rejected{who}. Nothing was pushed."
        if view.reason:
            text += f"\n{quoted(view.reason, 1500)}"
            if view.ticket_note:
                text += f"\n_{sentence(view.ticket_note)}._"
    elif view.phase == "cancelled":
        who = f" by {mention(view.cancelled_by)}" if view.cancelled_by else ""
        text = f":black_square_for_stop: Cancelled{who}. Nothing was pushed."
    elif view.phase == "failed":
        text = (
            f":x: {mention(view.requester)} {failure_text(view)}\n"
            "*Retry* on the message above continues it from where it stopped."
        )
        failed = escape(clip(view.failure or "failed", 300))
        return f"{escape(view.ticket)}: {failed}", [section(text)]
    else:
        return None
    return text.splitlines()[0], [section(text)]


def closed_review_note(status: FinalStatus, cancelled_by: str | None) -> str:
    if status == "cancelled":
        return f"Run cancelled by {mention(cancelled_by)}" if cancelled_by else "Run cancelled"
    return f"Run {status}"
