"""Slack's Stop button on an agent session: `agent_session_stopped` cancels the run.

Slack shows Stop while a session is `processing` (TASKMASTER_SLACK_SURFACE=agent) and,
when a person clicks it, stops the run's stream and sends this event. The run is
cancelled exactly as the Cancel button cancels it (the requester or an approver, the
same lifecycle call), and the reporter then closes the session. Anybody else is told
privately that they may not; the run goes on and its next update opens a new stream.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack import review
from bot.slack.deps import SlackDeps

AGENT_EVENTS = ("agent_session_stopped",)
"""The agent surface's bot events; manifest.agent.yml lists them (a test checks)."""


def register(app: AsyncApp, deps: SlackDeps) -> None:
    async def on_stopped(event: dict[str, Any], client: AsyncWebClient) -> None:
        await stopped(deps, client, event)

    app.event("agent_session_stopped")(deps.after_ack(on_stopped))


async def stopped(deps: SlackDeps, client: AsyncWebClient, event: dict[str, Any]) -> None:
    channel, thread_ts = str(event.get("channel", "")), str(event.get("thread_ts") or "")
    user = str(event.get("user", ""))
    run = await deps.run_at(channel, thread_ts) if thread_ts else None
    if run is None:
        return  # not a run's session
    deps.reporter.stream_stopped(run.run_id)
    if not run.active:
        return
    refused = await review.cancel(deps, run, user)
    if refused is not None:
        await client.chat_postEphemeral(
            channel=channel, user=user, text=refused, thread_ts=thread_ts
        )
