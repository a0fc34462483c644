"""The two messages of a run that are edited in place: the root message and the progress card.

Pure functions of a `RunView` (and the time, for the elapsed line), so the reporter can
re-render the latest state whenever it writes, and a late write never shows old state.
"""

from __future__ import annotations

from datetime import datetime

from agent.events import STEP_LABELS, STEPS
from bot.slack import ids
from bot.slack.kit import Message, actions, button, confirm, context, section
from bot.slack.mrkdwn import clip, duration, escape, link, mention
from bot.slack.runview import Mark, RunView

MARKS: dict[Mark, str] = {
    "done": ":white_check_mark:",
    "current": ":arrow_forward:",
    "failed": ":x:",
    "pending": ":white_large_square:",
}


def status_line(view: RunView) -> str:
    """The root message's status: where the run is, and its result once it ends."""
    match view.phase:
        case "running":
            return ":hourglass_flowing_sand: *Running*: progress in the thread"
        case "awaiting_review":
            return ":eyes: *Awaiting review* in the thread"
        case "done":
            pr = view.pull_request
            if pr is None:
                return ":white_check_mark: *Done*"
            return f":white_check_mark: *Done*: {link(pr.url, f'pull request #{pr.number}')}"
        case "rejected":
            who = f" by {mention(view.decided_by)}" if view.decided_by else ""
            return f":no_entry_sign: *Rejected*{who}; nothing was pushed"
        case "cancelled":
            who = f" by {mention(view.cancelled_by)}" if view.cancelled_by else ""
            return f":black_square_for_stop: *Cancelled*{who}"
        case "failed":
            return ":x: *Failed*: the reason is in the thread"


STATUS_WORDS = {
    "running": "running",
    "awaiting_review": "awaiting review",
    "done": "done",
    "rejected": "rejected",
    "cancelled": "cancelled",
    "failed": "failed",
}


def root_message(view: RunView) -> Message:
    """Ticket, title, who asked, status, and a Cancel button while the run is active."""
    title = f"*{escape(view.ticket)}*"
    if view.title:
        title += f": {escape(clip(view.title, 200))}"
    blocks = [
        section(title),
        context(f"Requested by {mention(view.requester)} · run `{view.run_id}`"),
        section(status_line(view)),
    ]
    if not view.finished and not view.delivering:
        stop = confirm(
            "Cancel this run?",
            f"TaskMaster stops working on {escape(view.ticket)} and pushes nothing.",
            "Cancel run",
            "Keep going",
        )
        cancel = button("Cancel", ids.CANCEL, view.run_id, confirm=stop)
        blocks.append(actions(cancel, block_id=ids.ROOT_ACTIONS_BLOCK))
    text = f"{view.ticket}: {view.title or 'TaskMaster run'} ({STATUS_WORDS[view.phase]})"
    return text, blocks


def progress_message(view: RunView, now: datetime) -> Message:
    """The checklist of steps, what the agent does now, and the time so far."""
    elapsed = duration(view.elapsed(now))
    if view.finished:
        heading = f"*Finished* ({STATUS_WORDS[view.phase]}) in {elapsed}"
    elif view.phase == "awaiting_review":
        heading = f"*Waiting for a review* · {elapsed} so far"
    else:
        heading = f"*Working on {escape(view.ticket)}* · {elapsed} so far"
    checklist = "\n".join(_step_line(view.marks[step], STEP_LABELS[step]) for step in STEPS)
    blocks = [section(heading), section(checklist)]
    if view.line:
        blocks.append(context(f"_{escape(clip(view.line, 300))}_"))
    current = next((STEP_LABELS[s] for s in STEPS if view.marks[s] == "current"), None)
    text = f"{view.ticket}: {current or STATUS_WORDS[view.phase]} ({elapsed})"
    return text, blocks


def _step_line(mark: Mark, label: str) -> str:
    return f"{MARKS[mark]} *{label}*" if mark == "current" else f"{MARKS[mark]} {label}"
