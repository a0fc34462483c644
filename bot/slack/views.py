"""The two modals' submissions: "Request changes" with what to change, and "Reject" with
an optional reason.

Problems the person can fix (no text, too long, not an approver) keep the modal open
with an error under the field. Otherwise the modal closes at once (the ack) and the
decision is applied; a refusal (somebody decided first) arrives as an ephemeral
message in the review's thread, since the modal is gone by then.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from agent.models import ReviewAction, ReviewDecision
from bot.slack import ids, review
from bot.slack.blocks import FEEDBACK_LIMIT
from bot.slack.deps import SlackDeps
from bot.slack.ids import FeedbackContext


def register(app: AsyncApp, deps: SlackDeps) -> None:
    async def on_feedback(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await _submitted(deps, ack, body, view, client, "revise")

    async def on_reject(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await _submitted(deps, ack, body, view, client, "reject")

    app.view(ids.FEEDBACK_VIEW)(deps.after_ack(on_feedback))
    app.view(ids.REJECT_VIEW)(deps.after_ack(on_reject))


async def _submitted(
    deps: SlackDeps,
    ack: AsyncAck,
    body: dict[str, Any],
    view: dict[str, Any],
    client: AsyncWebClient,
    action: ReviewAction,
) -> None:
    user = str(body["user"]["id"])
    block, field_id = (
        (ids.FEEDBACK_BLOCK, ids.FEEDBACK_INPUT)
        if action == "revise"
        else (ids.REASON_BLOCK, ids.REASON_INPUT)
    )
    field = view["state"]["values"].get(block, {}).get(field_id, {})
    text = str(field.get("value") or "").strip()
    problem = _problem(deps, user, text, required=action == "revise")
    if problem is not None:
        await ack(response_action="errors", errors={block: problem})
        return
    await ack()
    context = FeedbackContext.decode(str(view["private_metadata"]))
    name = str(body["user"].get("username") or body["user"].get("name") or "")
    decision = ReviewDecision(action=action, by=user, by_name=name, feedback=text)
    refused = await review.decide(
        deps,
        context.review,
        decision,
        message_ts=context.message_ts,
        clicked_in=(context.channel, context.thread_ts),
    )
    if refused is not None:
        await client.chat_postEphemeral(
            channel=context.channel, user=user, text=refused, thread_ts=context.message_ts
        )


def _problem(deps: SlackDeps, user: str, feedback: str, *, required: bool) -> str | None:
    if not deps.may_review(user):
        return review.not_allowed_text(deps)
    if required and not feedback:
        return "Say what should change, so TaskMaster knows what to revise."
    if len(feedback) > FEEDBACK_LIMIT:
        return f"Keep it under {FEEDBACK_LIMIT} characters."
    return None
