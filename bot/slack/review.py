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


async def decide(
    deps: SlackDeps, ref: ReviewRef, decision: ReviewDecision, *, message_ts: str
) -> str | None:
    """Apply `decision` to the review `ref`; None on success, else why it was refused.

    The request is read before deciding because afterwards it is no longer pending,
    and the closed review message (`message_ts`) is rebuilt from it: this works after
    a restart, with nothing kept in memory.
    """
    manager = deps.manager
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
