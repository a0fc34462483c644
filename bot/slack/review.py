"""Applying a reviewer's decision from Slack: shared by the buttons and the feedback modal.

The run lifecycle decides who wins (one conditional update in the registry); this
module only turns the outcome into Slack: the review message loses its buttons and
says who decided, or the person who lost the race is told why, privately.
"""

from __future__ import annotations

from agent.models import ReviewAction, ReviewDecision
from agent.runs.manager import RunRefused
from agent.runs.store import RunRecord
from bot.slack.deps import SlackDeps
from bot.slack.ids import ReviewRef
from bot.slack.mrkdwn import mention
from bot.slack.runview import CloseReview

DECIDED: dict[ReviewAction, str] = {
    "approve": ":white_check_mark: Approved by {who}",
    "revise": ":pencil2: Changes requested by {who}",
    "reject": ":no_entry_sign: Rejected by {who}",
}


def refusal_text(refused: RunRefused) -> str:
    """The lifecycle's words for the person, with the decider shown as a mention."""
    decision = refused.run.decision if refused.run else None
    if decision is not None and decision.by in refused.message:
        return refused.message.replace(decision.by, mention(decision.by))
    return refused.message


def not_allowed_text(deps: SlackDeps) -> str:
    return f"Only {deps.approvers_text} may review TaskMaster's changes here."


FOREIGN = "That button does not belong to the message it was clicked on; nothing changed."


async def foreign(
    deps: SlackDeps, run_id: str, *, channel: str, message_ts: str, thread_ts: str | None
) -> str | None:
    """Why a button's run is not the run of the message it came from, or None.

    A review button is in the run's thread (its review message), Cancel and Retry are
    on its root message: a value naming another run (a forged or replayed request)
    changes nothing, and no other run's message is touched.
    """
    if await deps.manager.store.get(run_id) is None:
        return "This run no longer exists."
    thread = await deps.threads.get(run_id)
    if thread is None or thread.channel != channel or thread.root_ts is None:
        return FOREIGN
    if message_ts in (thread.root_ts, thread.review_ts) or thread_ts == thread.root_ts:
        return None
    return FOREIGN


async def decide(
    deps: SlackDeps,
    ref: ReviewRef,
    decision: ReviewDecision,
    *,
    message_ts: str,
    clicked_in: tuple[str, str | None] | None = None,
) -> str | None:
    """Apply `decision` to the review `ref`; None on success, else why it was refused.

    The request is read before deciding because afterwards it is no longer pending,
    and the closed review message (`message_ts`) is rebuilt from it: this works after
    a restart, with nothing kept in memory. `clicked_in` (channel, thread) is where
    the button or the modal's message was: it must be the run's own.
    """
    manager = deps.manager
    if clicked_in is not None:
        channel, thread_ts = clicked_in
        where = await foreign(
            deps, ref.run_id, channel=channel, message_ts=message_ts, thread_ts=thread_ts
        )
        if where is not None:
            return where
    try:
        _, _, request = await manager.pending_review(ref.run_id)
        await manager.decide(ref.run_id, decision, interrupt_id=ref.interrupt_id)
    except RunRefused as refused:
        return refusal_text(refused)
    note = DECIDED[decision.action].format(who=mention(decision.by))
    await deps.reporter.close_review(CloseReview(ref, request, note, message_ts=message_ts))
    return None


async def retry(deps: SlackDeps, run: RunRecord, user: str) -> str | None:
    """Continue a failed run from its last checkpoint, for its requester or an approver."""
    if user != run.requester and not deps.may_review(user):
        return f"Only the requester or {deps.approvers_text} may retry it."
    try:
        await deps.manager.resume(run.run_id)
    except RunRefused as refused:
        return refusal_text(refused)
    return None


async def cancel(deps: SlackDeps, run: RunRecord, user: str) -> str | None:
    """Cancel `run` for `user` (its requester or an approver); the refusal to show, or None."""
    if user != run.requester and not deps.may_review(user):
        return f"Only the requester or {deps.approvers_text} may cancel it."
    try:
        await deps.manager.cancel(run.run_id, by=user)
    except RunRefused as refused:
        return refusal_text(refused)
    return None
