"""The feedback modal's submission: "Request changes" with what to change.

Problems the person can fix (no text, too long, not an approver) keep the modal open
with an error under the field. Otherwise the modal closes at once (the ack) and the
decision is applied; a refusal (somebody decided first) arrives as an ephemeral
message in the review's channel, since the modal is gone by then.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from agent.models import ReviewDecision
from bot.slack import ids, review
from bot.slack.blocks import FEEDBACK_LIMIT
from bot.slack.deps import SlackDeps
from bot.slack.ids import FeedbackContext


def register(app: AsyncApp, deps: SlackDeps) -> None:
    async def on_feedback(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        user = str(body["user"]["id"])
        field = view["state"]["values"].get(ids.FEEDBACK_BLOCK, {}).get(ids.FEEDBACK_INPUT, {})
        feedback = str(field.get("value") or "").strip()
        problem = _problem(deps, user, feedback)
        if problem is not None:
            await ack(response_action="errors", errors={ids.FEEDBACK_BLOCK: problem})
            return
        await ack()
        context = FeedbackContext.decode(str(view["private_metadata"]))
        name = str(body["user"].get("username") or body["user"].get("name") or "")
        decision = ReviewDecision(action="revise", by=user, by_name=name, feedback=feedback)
        refused = await review.decide(deps, context.review, decision, message_ts=context.message_ts)
        if refused is not None:
            await client.chat_postEphemeral(
                channel=context.channel, user=user, text=refused, thread_ts=context.message_ts
            )

    app.view(ids.FEEDBACK_VIEW)(on_feedback)


def _problem(deps: SlackDeps, user: str, feedback: str) -> str | None:
    if not deps.may_review(user):
        return review.not_allowed_text(deps)
    if not feedback:
        return "Say what should change, so TaskMaster knows what to revise."
    if len(feedback) > FEEDBACK_LIMIT:
        return f"Keep it under {FEEDBACK_LIMIT} characters."
    return None
