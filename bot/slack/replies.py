"""The milestone replies of a run's thread: plan, tests, decisions, result, errors.

Pure functions, event data in, `(text, blocks)` out. Error replies show only the
message written for people (`ErrorRaised.message`); details stay in the log.
"""

from __future__ import annotations

from agent.errors import ErrorKind
from agent.models import FinalStatus, Plan, PullRequest, ReviewAction, TestResult
from bot.slack.kit import Message, context, section
from bot.slack.mrkdwn import clip, code_block, escape, link, mention

TAIL_LIMIT = 1500

DECISION_LINES: dict[ReviewAction, str] = {
    "approve": "approved: delivering the change",
    "revise": "revising the change with the feedback",
    "reject": "rejected: discarding the change",
}

ERROR_TITLES: dict[ErrorKind, str] = {
    ErrorKind.TICKET_NOT_FOUND: "Ticket not found",
    ErrorKind.AUTH: "Access refused",
    ErrorKind.RATE_LIMITED: "Rate limited",
    ErrorKind.TIMEOUT: "Timed out",
    ErrorKind.CONNECTION: "Service unreachable",
    ErrorKind.MODEL_OUTPUT: "The model's answer was unusable",
    ErrorKind.GIT: "Git failed",
    ErrorKind.TESTS: "Tests could not run",
    ErrorKind.BUDGET_EXHAUSTED: "Out of budget",
    ErrorKind.INVALID_INPUT: "Invalid input",
    ErrorKind.INTERNAL: "Something went wrong",
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
    return f"Plan: {clip(plan.summary, 200)}", blocks


def tests_reply(result: TestResult) -> Message:
    blocks = [section(tests_line(result))]
    if not result.ok and result.output_tail.strip():
        blocks.append(section(code_block(result.output_tail[-TAIL_LIMIT:], TAIL_LIMIT + 100)))
    return f"Tests: {result.headline}", blocks


def revise_reply(by: str, feedback: str) -> Message:
    quoted = "\n".join(f">{escape(line)}" for line in clip(feedback, 2500).splitlines())
    text = f":pencil2: Changes requested by {mention(by)}"
    return "Changes requested", [section(f"{text}\n{quoted}" if quoted else text)]


def pull_request_reply(pull_request: PullRequest) -> Message:
    label = f"#{pull_request.number} {pull_request.title}"
    text = f":rocket: Pull request opened: {link(pull_request.url, clip(label, 200))}"
    return f"Pull request opened: {pull_request.url}", [
        section(text),
        context(f"Branch `{escape(pull_request.branch)}`"),
    ]


def ticket_reply(ticket: str, transition: str | None) -> Message:
    text = f":link: Linked the pull request on {escape(ticket)}"
    if transition:
        text += f" and moved it to *{escape(transition)}*"
    return f"{text}.", [context(text + ".")]


def error_reply(kind: ErrorKind, message: str) -> Message:
    title = ERROR_TITLES.get(kind, "Something went wrong")
    return f"{title}: {clip(message, 300)}", [section(f":warning: *{title}*\n{escape(message)}")]


def finished_reply(
    status: FinalStatus, decided_by: str | None, cancelled_by: str | None
) -> Message | None:
    """The closing reply; a finished run's pull request and errors have replies already."""
    if status == "rejected":
        who = f" by {mention(decided_by)}" if decided_by else ""
        text = f":no_entry_sign: Rejected{who}. Nothing was pushed."
    elif status == "cancelled":
        who = f" by {mention(cancelled_by)}" if cancelled_by else ""
        text = f":black_square_for_stop: Cancelled{who}. Nothing was pushed."
    else:
        return None
    return text, [section(text)]


def closed_review_note(status: FinalStatus, cancelled_by: str | None) -> str:
    if status == "cancelled":
        return f"Run cancelled by {mention(cancelled_by)}" if cancelled_by else "Run cancelled"
    return f"Run {status}"
