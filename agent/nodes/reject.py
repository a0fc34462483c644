"""A rejection with a reason: the reason goes on the ticket before the change is discarded."""

from __future__ import annotations

from agent.deps import Deps
from agent.events import TicketUpdated, emit
from agent.models import ReviewDecision, Ticket
from agent.state import Json, RunState

REJECTED = "TaskMaster's change for {key} was rejected by {who}, who said: {reason}"


async def note_rejection(state: RunState, deps: Deps) -> Json:
    """Say on the ticket who rejected the change and why (nothing when no reason was given).

    The comment's id is checkpointed, so a retry after a crash does not comment twice.
    """
    decision = ReviewDecision.model_validate(state["decision"])
    reason = decision.feedback.strip()
    if not reason or state.get("rejection_comment_id"):
        return {}
    ticket = Ticket.model_validate(state["ticket"])
    text = REJECTED.format(key=ticket.key, who=decision.who, reason=reason)
    comment_id = await deps.tickets.note(ticket, text)
    emit(TicketUpdated(ticket=ticket.key, comment_id=comment_id))
    return {"rejection_comment_id": comment_id}
