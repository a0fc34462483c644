"""Button clicks: Approve, Request changes, Reject on a review; Cancel and Retry on a run;
"Start another run" when the ticket already has an open pull request.

Every click is acked first. Who may click is checked before anything changes. Request
changes and Reject open their modals straight after the ack, before any other work,
because the trigger id they need expires three seconds after the click.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from agent.models import ReviewAction, ReviewDecision
from bot.slack import ids, review
from bot.slack.blocks import feedback_modal, reject_modal
from bot.slack.commands import start_run
from bot.slack.deps import SlackDeps
from bot.slack.ids import FeedbackContext, ReviewRef


def register(app: AsyncApp, deps: SlackDeps) -> None:
    async def on_approve(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        await _decide(deps, "approve", body, respond)

    async def on_reject(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        if not deps.may_review(str(body["user"]["id"])):
            await _tell(respond, review.not_allowed_text(deps))
            return
        clicked = _Click(body)
        context = FeedbackContext(
            clicked.review, clicked.channel, clicked.message_ts, clicked.thread_ts
        )
        ticket = _ticket_of(body)
        # Nothing before this call: the trigger id is only good for three seconds.
        await client.views_open(trigger_id=body["trigger_id"], view=reject_modal(context, ticket))

    async def on_revise(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        user = body["user"]["id"]
        if not deps.may_review(user):
            await _tell(respond, review.not_allowed_text(deps))
            return
        clicked = _Click(body)
        feedback = FeedbackContext(
            clicked.review, clicked.channel, clicked.message_ts, clicked.thread_ts
        )
        # Nothing before this call: the trigger id is only good for three seconds.
        await client.views_open(trigger_id=body["trigger_id"], view=feedback_modal(feedback))

    async def on_retry(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        user = str(body["user"]["id"])
        run = await deps.manager.store.get(str(body["actions"][0]["value"]))
        refused = await _root_click(deps, body)
        if refused is None and run is not None:
            refused = await review.retry(deps, run, user)
        if refused is not None:
            await _tell(respond, refused)

    async def on_start_anyway(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        await respond(delete_original=True)  # the question is answered
        user, channel = str(body["user"]["id"]), str(body["container"]["channel_id"])
        key = str(body["actions"][0]["value"])
        await start_run(deps, client, respond, key, user, channel, anyway=True)

    async def on_never_mind(ack: AsyncAck, respond: AsyncRespond) -> None:
        await ack()
        await respond(delete_original=True)

    async def on_cancel(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        user = body["user"]["id"]
        run_id = str(body["actions"][0]["value"])
        run = await deps.manager.store.get(run_id)
        refused = await _root_click(deps, body)
        if refused is None and run is not None:
            refused = await review.cancel(deps, run, user)
        if refused is not None:
            await _tell(respond, refused)

    app.action(ids.APPROVE)(deps.after_ack(on_approve))
    app.action(ids.REJECT)(deps.after_ack(on_reject))
    app.action(ids.REVISE)(deps.after_ack(on_revise))
    app.action(ids.CANCEL)(deps.after_ack(on_cancel))
    app.action(ids.RETRY)(deps.after_ack(on_retry))
    app.action(ids.START_ANYWAY)(deps.after_ack(on_start_anyway))
    app.action(ids.NEVER_MIND)(deps.after_ack(on_never_mind))


class _Click:
    """Where a review button was clicked and which review it answers."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.user = str(body["user"]["id"])
        self.name = str(body["user"].get("username") or body["user"].get("name") or "")
        self.review = ReviewRef.decode(str(body["actions"][0]["value"]))
        self.channel = str(body["container"]["channel_id"])
        self.message_ts = str(body["container"]["message_ts"])
        self.thread_ts = _thread_of(body)


def _thread_of(body: dict[str, Any]) -> str | None:
    """The thread the clicked message is in, as Slack says it (None for a root message)."""
    thread = body["container"].get("thread_ts") or body.get("message", {}).get("thread_ts")
    return str(thread) if thread else None


async def _root_click(deps: SlackDeps, body: dict[str, Any]) -> str | None:
    """Why a Cancel or Retry click does not come from its run's root message, or None."""
    return await review.foreign(
        deps,
        str(body["actions"][0]["value"]),
        channel=str(body["container"]["channel_id"]),
        message_ts=str(body["container"]["message_ts"]),
        thread_ts=_thread_of(body),
    )


async def _decide(
    deps: SlackDeps, action: ReviewAction, body: dict[str, Any], respond: AsyncRespond
) -> None:
    clicked = _Click(body)
    if not deps.may_review(clicked.user):
        await _tell(respond, review.not_allowed_text(deps))
        return
    decision = ReviewDecision(action=action, by=clicked.user, by_name=clicked.name)
    refused = await review.decide(
        deps,
        clicked.review,
        decision,
        message_ts=clicked.message_ts,
        clicked_in=(clicked.channel, clicked.thread_ts),
    )
    if refused is not None:
        await _tell(respond, refused)


def _ticket_of(body: dict[str, Any]) -> str:
    """The ticket key of the review message clicked (its header says it), for the modal."""
    for block in body.get("message", {}).get("blocks") or []:
        if block.get("type") == "header":
            return str(block["text"]["text"]).rpartition(": ")[2] or "this ticket"
    return "this ticket"


async def _tell(respond: AsyncRespond, text: str) -> None:
    """A private answer to the person who clicked; the message itself stays as it is."""
    await respond(text=text, response_type="ephemeral", replace_original=False)
