"""The agent commands of a run's code channel: `/approve`, `/request-changes`, `/cancel`.

Each goes through the same checks and claims as the buttons (`review.decide`,
`review.cancel`), so a command racing a click decides once. A command names no run:
the channel's own properties link back to the run's root message
(`agent_session.origin_link`), which the registry knows.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from agent.models import ReviewAction, ReviewDecision
from agent.runs.manager import RunRefused
from agent.runs.store import RunRecord
from bot.slack import review
from bot.slack.code_channels import APPROVE, CANCEL, REVISE
from bot.slack.deps import SlackDeps
from bot.slack.ids import ReviewRef


def register(app: AsyncApp, deps: SlackDeps) -> None:
    async def on_command(
        ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        refused = await run_command(deps, client, command)
        if refused is not None:
            await respond(text=refused, response_type="ephemeral")

    for name in (APPROVE, REVISE, CANCEL):
        app.command(f"/{name}")(deps.after_ack(on_command))


async def run_command(
    deps: SlackDeps, client: AsyncWebClient, command: dict[str, Any]
) -> str | None:
    """Apply one agent command; what to tell the person privately, or None."""
    user, channel = str(command["user_id"]), str(command["channel_id"])
    name = str(command.get("command") or "").lstrip("/")
    run = await run_of_channel(deps, client, channel)
    if run is None:
        return "This channel is not a TaskMaster run's code channel."
    if name == CANCEL:
        return await review.cancel(deps, run, user)
    if not deps.may_review(user):
        return review.not_allowed_text(deps)
    feedback = str(command.get("text") or "").strip()
    if name == REVISE and not feedback:
        return "Say what to change: `/request-changes what to change`."
    action: ReviewAction = "approve" if name == APPROVE else "revise"
    try:
        _, interrupt_id, _ = await deps.manager.pending_review(run.run_id)
    except RunRefused as refused:
        return review.refusal_text(refused)
    decision = ReviewDecision(
        action=action,
        by=user,
        by_name=str(command.get("user_name") or ""),
        feedback=feedback[:4000],
    )
    ref = ReviewRef(run.run_id, interrupt_id)
    thread = await deps.threads.get(run.run_id)
    review_ts = thread.review_ts if thread is not None else None
    return await review.decide(deps, ref, decision, message_ts=review_ts or "")


async def run_of_channel(deps: SlackDeps, client: AsyncWebClient, channel: str) -> RunRecord | None:
    """The run a code channel belongs to, from the channel's link to its root message."""
    try:
        info = await client.conversations_info(channel=channel)
    except SlackApiError:
        return None
    properties = (info.get("channel") or {}).get("properties") or {}
    origin = (properties.get("agent_session") or {}).get("origin_link") or {}
    if not origin.get("channel_id") or not origin.get("ts"):
        return None
    return await deps.run_at(str(origin["channel_id"]), str(origin["ts"]))
