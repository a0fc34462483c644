"""The two messages of a run that are edited in place: the root message and the progress card.

Pure functions of a `RunView` (and the time, for the clock), so the reporter can
re-render the latest state whenever it writes, and a late write never shows old state.
The root message says where the run is at a glance; the card has the checklist, what
the agent does now, the time spent working and the time spent waiting for people.
"""

from __future__ import annotations

from datetime import datetime

from agent.events import STEP_LABELS, STEPS
from bot.slack import ids
from bot.slack.kit import Message, actions, button, confirm, context, section
from bot.slack.mrkdwn import clip, duration, escape, link, mention, sentence
from bot.slack.replies import failure_text
from bot.slack.runview import Mark, RunView

MARKS: dict[Mark, str] = {
    "done": ":white_check_mark:",
    "current": ":arrow_forward:",
    "failed": ":x:",
    "pending": ":white_large_square:",
}

STATUS_WORDS = {
    "running": "running",
    "awaiting_review": "awaiting review",
    "done": "done",
    "rejected": "rejected",
    "cancelled": "cancelled",
    "failed": "failed",
}


def status_line(view: RunView) -> str:
    """The root message's status: where the run is, and its result once it ends."""
    match view.phase:
        case "running" if view.delivering:
            who = f" by {mention(view.decided_by)}" if view.decided_by else ""
            return f":rocket: *Approved*{who}: opening the pull request"
        case "running":
            return ":hourglass_flowing_sand: *Running*: progress in the thread"
        case "awaiting_review":
            return f":eyes: *Awaiting review* (review {max(view.reviews, 1)}) in the thread"
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
            return f":x: {failure_text(view).replace('Failed', '*Failed*', 1)}"


def root_message(view: RunView) -> Message:
    """Ticket, title, who asked, status; Cancel while it works, Retry once it failed."""
    title = f"*{escape(view.ticket)}*"
    if view.title:
        title += f": {escape(clip(view.title, 200))}"
    blocks = [
        section(title),
        context(f"Requested by {mention(view.requester)} · run `{view.run_id}`"),
        section(status_line(view)),
    ]
    if view.phase == "failed":
        retry = button("Retry", ids.RETRY, view.run_id, style="primary")
        blocks.append(actions(retry, block_id=ids.ROOT_ACTIONS_BLOCK))
    elif not view.finished and not view.delivering:
        stop = confirm(
            "Cancel this run?",
            f"TaskMaster stops working on {escape(view.ticket)} and pushes nothing.",
            "Cancel run",
            "Keep going",
        )
        cancel = button("Cancel", ids.CANCEL, view.run_id, confirm=stop)
        blocks.append(actions(cancel, block_id=ids.ROOT_ACTIONS_BLOCK))
    title = escape(clip(view.title or "TaskMaster run", 200))
    text = f"{escape(view.ticket)}: {title} ({STATUS_WORDS[view.phase]})"
    return text, blocks


def progress_message(view: RunView, now: datetime) -> Message:
    """The checklist of steps, what the agent does now, and the time so far."""
    times = _times(view, now)
    if view.finished:
        heading = f"*Finished* ({STATUS_WORDS[view.phase]}) · {times}"
    elif view.phase == "awaiting_review" and view.waiting_since is not None:
        since = _clock(view.waiting_since)
        heading = f"*Waiting for a review* since {since} · {times}"
    else:
        heading = f"*Working on {escape(view.ticket)}* · {times}"
    checklist = "\n".join(_step_line(view.marks[step], STEP_LABELS[step]) for step in STEPS)
    blocks = [section(heading), section(checklist)]
    notes = []
    if view.line and view.phase == "running":
        notes.append(f"*now:* _{escape(clip(view.line, 300))}_")
    if view.finished and view.ticket_note:
        notes.append(f"_{sentence(view.ticket_note)}_")
    if view.tokens is not None:
        spent = f"{view.tokens:,} tokens"
        if view.cost is not None:
            spent += f" · ${view.cost:.2f}"
        notes.append(spent)
    if notes:
        blocks.append(context(*notes))
    current = next((STEP_LABELS[s] for s in STEPS if view.marks[s] == "current"), None)
    working = duration(view.working(now))
    text = f"{escape(view.ticket)}: {current or STATUS_WORDS[view.phase]} ({working} working)"
    return text, blocks


def _times(view: RunView, now: datetime) -> str:
    """Working time, and the time people took to review, apart (they are not the agent's)."""
    text = f"{duration(view.working(now))} working"
    waited = view.waiting(view.finished_at or now)
    if waited >= 1 and not (view.phase == "awaiting_review" and view.waited < 1):
        text += f" · {duration(waited)} waiting for review"
    return text


def _clock(moment: datetime) -> str:
    """A time Slack shows in each reader's own time zone (the fallback is UTC)."""
    return f"<!date^{int(moment.timestamp())}^{{time}}|{moment:%H:%M} UTC>"


def _step_line(mark: Mark, label: str) -> str:
    return f"{MARKS[mark]} *{label}*" if mark == "current" else f"{MARKS[mark]} {label}"
