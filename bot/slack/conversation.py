"""Replies in a run's thread, and `:x:` on its root: people steering a run in words.

A reply by the requester or an approver, while the agent works, is handed to the run
(`RunManager.tell`): the model reads it at its next turn. While the run waits for a
review, a reply is a request for changes, through the same claim as the button. The
reply is acknowledged with a reaction. A `:x:` on the root message stops the run like
Cancel. Replies by anyone else, the bot's own messages, edits and other events are
ignored. These arrive as Events API events (`message.channels`, `reaction_added`),
which the app subscribes to in `manifest.yml` (`BOT_EVENTS` here).
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from agent.runs.manager import RunRefused
from agent.runs.records import RunRecord
from bot.slack import review
from bot.slack.deps import SlackDeps
from bot.slack.ids import ReviewRef
from bot.slack.mrkdwn import mention
from bot.slack.runview import CloseReview

log = logging.getLogger(__name__)

BOT_EVENTS = ("message.channels", "reaction_added")
"""The bot events the app subscribes to; manifest.yml lists the same (a test checks)."""

HEARD = "eyes"  # the reaction on a reply the run took
STOP = "x"  # the reaction on a root message that cancels its run
FEEDBACK_LIMIT = 4000  # ReviewDecision.feedback's own limit


def register(app: AsyncApp, deps: SlackDeps) -> None:
    async def on_message(event: dict[str, Any], client: AsyncWebClient) -> None:
        await _replied(deps, client, event)

    async def on_reaction(event: dict[str, Any], client: AsyncWebClient) -> None:
        await _reacted(deps, client, event)

    app.event("message")(deps.after_ack(on_message))
    app.event("reaction_added")(deps.after_ack(on_reaction))


async def _replied(deps: SlackDeps, client: AsyncWebClient, event: dict[str, Any]) -> None:
    if event.get("subtype") or event.get("bot_id") or not event.get("user"):
        return  # edits, deletions, joins, and bots (this one included)
    thread_ts, ts = event.get("thread_ts"), str(event.get("ts", ""))
    if not thread_ts or thread_ts == ts:
        return  # not a reply
    channel, user = str(event.get("channel", "")), str(event["user"])
    run = await deps.run_at(channel, str(thread_ts))
    if run is None or not _may_steer(deps, run, user):
        return
    text = str(event.get("text") or "").strip()
    if not text:
        return
    if len(text) > FEEDBACK_LIMIT:
        await _tell(client, channel, user, str(thread_ts), "Keep it under 4000 characters.")
        return
    name = await _name(client, user)
    try:
        pending = await _pending(deps, run)
        said = await deps.manager.tell(run.run_id, text, by=user, by_name=name)
    except RunRefused as refused:
        await _tell(client, channel, user, str(thread_ts), review.refusal_text(refused))
        return
    if said == "revise" and pending is not None:
        ref, request = pending
        note = f":pencil2: Changes requested by {mention(user)} in a reply"
        await deps.reporter.close_review(CloseReview(ref, request, note))
    await _react(client, channel, ts, HEARD)


async def _pending(deps: SlackDeps, run: RunRecord) -> tuple[ReviewRef, Any] | None:
    """The review a reply would answer, read before it is answered (to close its message)."""
    if run.status != "awaiting_review":
        return None
    _, interrupt_id, request = await deps.manager.pending_review(run.run_id)
    return ReviewRef(run.run_id, interrupt_id), request


async def _reacted(deps: SlackDeps, client: AsyncWebClient, event: dict[str, Any]) -> None:
    item = event.get("item") or {}
    if event.get("reaction") != STOP or item.get("type") != "message":
        return
    channel, user = str(item.get("channel", "")), str(event.get("user", ""))
    root_ts = str(item.get("ts", ""))
    run = await deps.run_at(channel, root_ts)
    if run is None or not run.active or not _may_steer(deps, run, user):
        return
    refused = await review.cancel(deps, run, user)
    if refused is not None:
        await _tell(client, channel, user, root_ts, refused)


def _may_steer(deps: SlackDeps, run: RunRecord, user: str) -> bool:
    """The requester and the approvers steer a run; with no approvers set, anyone may."""
    return user == run.requester or deps.may_review(user)


async def _name(client: AsyncWebClient, user: str) -> str:
    """How to name the person to the model and in a pull request; their id if unknown."""
    try:
        found = await client.users_info(user=user)
    except SlackApiError:
        return ""
    person = found.get("user") or {}
    profile = person.get("profile") or {}
    return str(profile.get("display_name") or person.get("name") or "")


async def _react(client: AsyncWebClient, channel: str, ts: str, name: str) -> None:
    try:
        await client.reactions_add(channel=channel, timestamp=ts, name=name)
    except SlackApiError as error:  # the reply was taken; a missing mark is no failure
        if error.response.get("error") != "already_reacted":
            log.warning("could not acknowledge a reply: %s", error.response.get("error"))


async def _tell(
    client: AsyncWebClient, channel: str, user: str, thread: str | None, text: str
) -> None:
    await client.chat_postEphemeral(channel=channel, user=user, text=text, thread_ts=thread)
